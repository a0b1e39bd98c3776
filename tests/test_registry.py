"""Training logs to MLflow, registers versions by alias, and the quality gate decides the champion.

One test uses the local sqlite store; another starts a real `mlflow server` on localhost.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.registry import MODEL_NAME, MlflowRegistry
from rekomendasi.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _env(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    monkeypatch.setenv("REKOMENDASI_MLFLOW_URI", uri)
    monkeypatch.setenv("REKOMENDASI_FEATURES_DIR", str(ROOT / "features"))
    monkeypatch.setenv("REKOMENDASI_TRAINING_DIR", str(ROOT / "training"))
    monkeypatch.setenv("REKOMENDASI_TEXT_EMBEDDINGS", "false")
    get_settings.cache_clear()


def test_train_registers_and_gates_on_sqlite(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    _env(monkeypatch, uri)
    first = runner.invoke(app, ["train", "--data", str(small_world)])
    assert first.exit_code == 0, first.output
    assert "version 1: promoted to champion (no champion yet)" in first.output
    second = runner.invoke(app, ["train", "--data", str(small_world)])
    assert second.exit_code == 0, second.output
    assert "version 2:" in second.output and "on the same validation set" in second.output
    registry = MlflowRegistry(uri)
    assert registry.alias_version("challenger").version == "2"  # type: ignore[union-attr]
    # Same data, same seed: the challenger ties the champion, and a tie is "not worse".
    assert registry.alias_version("champion").version == "2"  # type: ignore[union-attr]
    v1 = next(v for v in registry.versions() if v.version == "1")
    assert v1.tags["embedding_model"] == "none (lexical only)" and len(v1.tags["data_fingerprint"]) == 64
    assert v1.metrics["validation_ndcg_at_10"] > 0
    promoted = runner.invoke(app, ["promote", "1"])
    assert promoted.exit_code == 0 and registry.alias_version("champion").version == "1"  # type: ignore[union-attr]
    missing = runner.invoke(app, ["promote", "9"])
    assert missing.exit_code == 2 and "has no version 9" in missing.output
    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0 and "champion" in listing.output
    model = registry.load("champion")
    assert hasattr(model, "predict") and MODEL_NAME == "rekomendasi-ranker"
    # Jobs and servers load the run's LightGBM-format copy: the same model as MLflow's sklearn flavour,
    # without importing every scikit-learn estimator (and torch through them).
    import mlflow.sklearn

    from rekomendasi.ranking.gain import GainRanker

    assert isinstance(model, GainRanker)
    flavour = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/1")
    X = np.random.default_rng(0).normal(size=(40, len(model.feature_names_in_)))
    assert np.array_equal(model.predict(X), flavour.predict(X))
    # Its requirements are the pinned packages it needs (MLflow's own inference is not run: 20-30 s).
    import mlflow.pyfunc

    from rekomendasi.registry import model_requirements

    needs = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{MODEL_NAME}/1")).read_text().split()
    assert needs == model_requirements() and any(n.startswith("lightgbm==") for n in needs)
    script = (
        "import sys; from rekomendasi.registry import MlflowRegistry; "
        f"MlflowRegistry({uri!r}).load('champion'); print('torch' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip().splitlines()[-1] == "False"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_train_against_a_real_mlflow_server(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 90 s")
        monkeypatch.chdir(tmp_path)
        _env(monkeypatch, f"http://127.0.0.1:{port}")
        result = runner.invoke(app, ["train", "--data", str(small_world)])
        assert result.exit_code == 0, result.output
        registry = MlflowRegistry(f"http://127.0.0.1:{port}")
        assert registry.alias_version("champion").version == "1"  # type: ignore[union-attr]
        assert any((tmp_path / "artifacts").rglob("*.md")), (
            "the evaluation report went to the server's artifact store"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_batch_follows_the_data_contract(
    small_world: Path, small_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    _env(monkeypatch, f"sqlite:///{tmp_path / 'mlflow.db'}")
    missing = runner.invoke(
        app, ["batch", "--data", str(small_world), "--out", str(tmp_path / "r.csv"), "--as-of", "2025-12-31"]
    )
    assert missing.exit_code == 2 and "no champion model yet; run `rekomendasi train" in missing.output
    assert runner.invoke(app, ["train", "--data", str(small_world)]).exit_code == 0
    out = tmp_path / "recommendations.parquet"
    result = runner.invoke(
        app, ["batch", "--data", str(small_world), "--out", str(out), "--as-of", "2025-12-31", "--k", "5"]
    )
    assert result.exit_code == 0, result.output
    recs = pd.read_parquet(out)
    assert list(recs.columns) == ["nip", "rank", "training_id", "score", "reason"]
    employees = small_dataset["employees"]
    assert set(recs["nip"]) <= set(employees.loc[employees["active"].astype(bool), "nip"])
    assert recs.groupby("nip")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert recs.groupby("nip").size().max() == 5
    catalog = small_dataset["catalog"].set_index("training_id")
    assert (
        catalog.loc[recs["training_id"], "active"].all()
        and catalog.loc[recs["training_id"], "mandatory_for"].isna().all()
    )
    assert recs.groupby("nip")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    names = set(small_dataset["competencies"]["name"])
    assert recs["reason"].map(lambda text: any(name in text for name in names)).all()
    assert recs["reason"].str.match(r"^(Menutup|Memperkuat|Mengembangkan)").all()
