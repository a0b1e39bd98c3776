"""The command line: clear messages and exit codes, never a traceback; nothing written on fatal input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from tests.conftest import edit_csv

runner = CliRunner()


def test_validate_clean_directory_writes_empty_quarantine(world_copy: Path) -> None:
    result = runner.invoke(app, ["validate", "--data", str(world_copy)])
    assert result.exit_code == 0, result.output
    assert "follows the contract" in result.output
    report = pd.read_csv(world_copy / "quarantine.csv")
    assert list(report.columns) == ["table", "row", "column", "value", "reason"] and report.empty


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: edit_csv(d, "employees", lambda f: f.drop(columns=["nip"])),
            "missing required column(s) ['nip']",
        ),
        (lambda d: (d / "catalog.csv").unlink(), "catalog.csv (or .parquet) is missing"),
        (lambda d: (d / "skp.csv").write_bytes(b"\xff\xfe\x00n"), "skp.csv: not valid UTF-8"),
        (lambda d: (d / "skp.csv").write_bytes(b""), "skp.csv: the file is empty"),
        (lambda d: (d / "jp_log.parquet").write_bytes(b"not parquet"), "both jp_log.csv and jp_log.parquet"),
    ],
)
def test_validate_fatal_problem_exits_non_zero_and_writes_nothing(
    world_copy: Path, mutate, message: str
) -> None:  # type: ignore[no-untyped-def]
    mutate(world_copy)
    result = runner.invoke(app, ["validate", "--data", str(world_copy)])
    assert result.exit_code == 2
    assert message in result.output
    assert isinstance(result.exception, SystemExit), "a clear message, not a crash"
    assert "Traceback" not in result.output
    assert not (world_copy / "quarantine.csv").exists()


def test_unreadable_parquet_is_a_clear_error(world_copy: Path) -> None:
    (world_copy / "jp_log.csv").unlink()
    (world_copy / "jp_log.parquet").write_bytes(b"not parquet")
    result = runner.invoke(app, ["validate", "--data", str(world_copy)])
    assert result.exit_code == 2 and "jp_log.parquet: cannot be read as Parquet" in result.output


def test_validate_over_threshold_fails_but_writes_the_report(world_copy: Path, tmp_path: Path) -> None:
    edit_csv(world_copy, "feedback", lambda f: f.assign(source="kucing"))
    report = tmp_path / "q.csv"
    result = runner.invoke(app, ["validate", "--data", str(world_copy), "--quarantine", str(report)])
    assert result.exit_code == 2
    assert "too many rows failed the contract" in result.output
    quarantined = pd.read_csv(report)
    assert set(quarantined["table"]) == {"feedback"} and set(quarantined["column"]) == {"source"}


def test_validate_threshold_is_configurable(world_copy: Path) -> None:
    edit_csv(world_copy, "feedback", lambda f: f.assign(source="kucing"))
    result = runner.invoke(app, ["validate", "--data", str(world_copy), "--max-quarantine-share", "1.0"])
    assert result.exit_code == 0, result.output


def test_validate_missing_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--data", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no such data directory" in result.output


def test_simulate_then_validate_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["simulate", "--out", str(out), "--employees", "60", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert (out / "truth" / "benefit.csv").exists() and (out / "truth" / "README.md").exists()
    result = runner.invoke(app, ["validate", "--data", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "quarantine.csv").empty


def test_simulate_rejects_bad_options(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--as-of", "31/12/2025"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--employees", "0"])
    assert result.exit_code == 2


def test_bench_simulate_records_time_memory_and_machine(tmp_path: Path) -> None:
    import json

    record = tmp_path / "results.jsonl"
    args = ["bench", "simulate", "--employees", "50", "--out", str(tmp_path / "w"), "--record", str(record)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    line = json.loads(record.read_text().splitlines()[-1])
    assert line["bench"] == "simulate" and line["employees"] == 50
    assert line["seconds"] > 0 and line["peak_rss_gb"] > 0 and line["machine"]["cores"] >= 1
