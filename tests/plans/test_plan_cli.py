"""`rekomendasi plan`: a plan file and its summary; bad input is one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.settings import get_settings

runner = CliRunner()


@pytest.fixture()
def home_env(served_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REKOMENDASI_HOME", str(served_home))
    monkeypatch.setenv("REKOMENDASI_SNAPSHOT_DIR", str(served_home / "snapshot"))
    monkeypatch.setenv("REKOMENDASI_SCORES_DIR", str(served_home / "scores"))
    monkeypatch.setenv("REKOMENDASI_MLFLOW_URI", f"sqlite:///{served_home / 'mlflow' / 'mlflow.db'}")
    monkeypatch.setenv("REKOMENDASI_TEXT_EMBEDDINGS", "false")
    get_settings.cache_clear()
    yield served_home
    get_settings.cache_clear()


def _agency(home: Path) -> str:
    roster = pd.read_parquet(home / "snapshot" / "roster.parquet")
    return str(roster[roster["active"]]["instansi_id"].value_counts().index[0])


def test_plan_writes_the_file_and_prints_the_summary(home_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.csv"
    agency = _agency(home_env)
    result = runner.invoke(
        app,
        [
            "plan",
            "--agency",
            agency,
            "--budget-idr",
            "50000000",
            "--out",
            str(out),
            "--time-limit",
            "20",
            "--what-if-budget",
            "20000000,80000000",
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"nip": str})
    assert {"nip", "training_id", "title", "jp", "cost_idr", "expected_gain", "mandatory", "reason"} <= set(
        table
    )
    assert table["cost_idr"].sum() <= 50_000_000
    assert table["nip"].str.fullmatch(r"\d{18}").all()
    text = " ".join(result.output.split())
    assert "Ringkasan rencana" in text and "Bagaimana jika anggaran" in text
    assert (tmp_path / "plan-what-if.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget-idr", "0"], "budget must be more than Rp 0"),
        (["--budget-idr", "-1"], "budget must be more than Rp 0"),
        (["--budget-idr", "1000", "--unit", "nowhere"], "is not a unit of"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    home_env: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, ["plan", "--agency", _agency(home_env), "--out", str(tmp_path / "p.csv"), *args]
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_unknown_agency_and_missing_store_are_clear(
    home_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(
        app, ["plan", "--agency", "nope", "--budget-idr", "1000", "--out", str(tmp_path / "p.csv")]
    )
    assert result.exit_code == 2 and "has no active employee" in " ".join(result.output.split())
    monkeypatch.setenv("REKOMENDASI_SCORES_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        app, ["plan", "--agency", _agency(home_env), "--budget-idr", "1000", "--out", str(tmp_path / "p.csv")]
    )
    assert result.exit_code == 2
    assert "rekomendasi score" in " ".join(result.output.split())
