"""`rekomendasi features` writes the snapshot; `evaluate-features` judges it against truth/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.features import TABLES, read_snapshot
from rekomendasi.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("REKOMENDASI_FEATURES_DIR", str(root / "features"))
    monkeypatch.setenv("REKOMENDASI_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # the next test of this process reads its own environment


def test_features_writes_every_table(small_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    result = runner.invoke(
        app,
        [
            "features",
            "--data",
            str(small_world),
            "--as-of",
            "2025-12-31",
            "--out",
            str(out),
            "--no-embeddings",
        ],
    )
    assert result.exit_code == 0, result.output
    snapshot = read_snapshot(out)
    assert snapshot.manifest["as_of"] == "2025-12-31" and snapshot.manifest["text_model"] is None
    employees = pd.read_csv(small_world / "employees.csv", dtype={"nip": str})
    assert set(snapshot.performance["nip"]) == set(employees["nip"])
    assert all((out / f"{t}.parquet").exists() for t in TABLES)
    assert "seconds per stage" in result.output


def test_features_with_embeddings_records_the_model(small_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    result = runner.invoke(
        app,
        ["features", "--data", str(small_world), "--as-of", "2025-12-31", "--out", str(out), "--embeddings"],
    )
    assert result.exit_code == 0, result.output
    manifest = read_snapshot(out).manifest
    assert manifest["text_model"] == "all-MiniLM-L6-v2"
    assert {"holdout_top1_lexical", "holdout_top1_embedding", "holdout_top1_combined"} <= set(
        manifest["text_validation"]
    )


def test_features_bad_date_and_missing_snapshot(small_world: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["features", "--data", str(small_world), "--as-of", "30-06-2025", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
    from rekomendasi.errors import ModelNotReady

    with pytest.raises(ModelNotReady, match="rekomendasi features"):
        read_snapshot(tmp_path / "nothing")


def test_evaluate_features_prints_both_estimators(small_world: Path, tmp_path: Path) -> None:
    report = tmp_path / "quality.md"
    result = runner.invoke(
        app, ["evaluate-features", "--data", str(small_world), "--no-embeddings", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "naive" in result.output and "estimator" in result.output and "top1_accuracy" in result.output
    assert "## Competency levels" in report.read_text()
