"""``bench batch``'s arithmetic: the fitted slope, the national figure, the results it reads, the plot."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rekomendasi.bench.scale import BatchPoint, national, plot, point_fields, read_points, slope

BASE = BatchPoint(
    employees=100_000,
    dask="local:2",
    workers=2,
    seconds=60.0,
    driver_peak_gb=1.0,
    worker_peak_gb=0.5,
    total_peak_gb=2.0,
    rows=1_000_000,
)


def _points(dask: str, workers: int, a: float, b: float) -> list[BatchPoint]:
    return [
        replace(BASE, employees=n, dask=dask, workers=workers, seconds=a * n**b)
        for n in (100_000, 300_000, 1_000_000)
    ]


def test_the_slope_recovers_a_power_law() -> None:
    fit = slope(_points("local:2", 2, 0.002, 0.9))
    assert fit is not None
    assert fit[0] == pytest.approx(0.002, rel=1e-9) and fit[1] == pytest.approx(0.9, rel=1e-9)
    assert slope(_points("local:2", 2, 1.0, 1.0)[:1]) is None  # one size fits no line


def test_the_national_figure_comes_from_the_most_workers() -> None:
    points = [*_points("local:1", 1, 0.004, 1.0), *_points("local:2", 2, 0.002, 1.0)]
    figure = national(points, workers=16)
    assert figure is not None and figure["from"] == "local:2"
    assert figure["exponent"] == pytest.approx(1.0)
    assert figure["seconds_1m"] == pytest.approx(2000.0)
    assert figure["seconds_4_8m"] == pytest.approx(9600.0)
    # 16 workers of the same speed share the 2 measured workers' work eightfold.
    assert figure["seconds_4_8m_on_16_workers"] == pytest.approx(1200.0)
    assert national(points[:1]) is None


def test_results_keep_the_latest_point_of_each_size_and_runner(tmp_path: Path) -> None:
    record = tmp_path / "results.jsonl"
    old = replace(BASE, seconds=99.0)
    lines = [
        {"bench": "serve", "seconds": 1.0},
        {"bench": "batch", **point_fields(old), "machine": {"cores": 2}},
        {"bench": "batch", **point_fields(BASE), "date": "2026-12-01"},
    ]
    record.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read_points(record) == [BASE]
    assert read_points(tmp_path / "none.jsonl") == []


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = plot([*_points("none", 1, 0.003, 1.0), *_points("local:2", 2, 0.002, 1.0)], tmp_path / "s.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
