"""`rekomendasi train` reads the feedback of the state database and logs what it made of it to MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.registry import MlflowRegistry
from rekomendasi.serving.auth import Role
from rekomendasi.serving.store import Stores
from rekomendasi.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_train_logs_the_feedback_it_read(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    state = tmp_path / "var" / "state.db"
    for name, value in {
        "REKOMENDASI_HOME": str(tmp_path),
        "REKOMENDASI_MLFLOW_URI": uri,
        "REKOMENDASI_STATE_DB_URL": f"sqlite:///{state}",
        "REKOMENDASI_FEATURES_DIR": str(ROOT / "features"),
        "REKOMENDASI_TRAINING_DIR": str(ROOT / "training"),
        "REKOMENDASI_TEXT_EMBEDDINGS": "false",
        "REKOMENDASI_NIP_SALT": "test-salt",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    nip = "198501012010011001"
    with Stores.open(f"sqlite:///{state}", nip_salt="test-salt") as stores:
        principal, _ = stores.keys.create_key("BKD", Role.PLANNER, ["I-1"])
        stores.feedback.add(principal, nip, "TRN-0001", "rejected", "tidak relevan")
        stores.feedback.add(principal, nip, "TRN-0002", "objected", "sudah pernah ikut")
    try:
        result = CliRunner().invoke(app, ["train", "--data", str(small_world)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    version = MlflowRegistry(uri).alias_version("champion")
    assert version is not None
    params = mlflow.MlflowClient(uri).get_run(version.run_id).data.params
    # Recorded today, after the world's as-of date (2025-12-31): read, counted, never trained on.
    assert params["feedback.after_as_of"] == "1" and params["feedback.rejected"] == "0"
    assert params["feedback.objected"] == "1" and params["feedback.completed"] == "0"
