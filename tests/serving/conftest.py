"""A served world for the API tests: the small simulated world, its snapshot, a champion in a scratch
MLflow store, and keys of every role. Built once per session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, build_snapshot, write_snapshot
from rekomendasi.ranking.lifecycle import train_and_register
from rekomendasi.ranking.train import load_train_config
from rekomendasi.registry import MlflowRegistry
from rekomendasi.serving.app import create_app
from rekomendasi.serving.state import Role
from rekomendasi.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 12, 31)


@dataclass
class Served:
    """An app with its settings, keys and known employees."""

    app: FastAPI
    client: TestClient
    settings: Settings
    admin: str
    planner: str  # scoped to ``agency``
    platform: str  # scoped to ``agency``
    agency: str
    nip: str  # an active employee of ``agency``
    other_nip: str  # an active employee of another agency


def served_settings(home: Path, data: Path, **overrides: object) -> Settings:
    """Settings of a served world under ``home`` (nothing read from the environment)."""
    values: dict[str, object] = {
        "home": home,
        "data_dir": data,
        "features_dir": ROOT / "features",
        "training_dir": ROOT / "training",
        "snapshot_dir": home / "snapshot",
        "mlflow_uri": f"sqlite:///{home / 'mlflow' / 'mlflow.db'}",
        "state_db_url": f"sqlite:///{home / 'state.db'}",
        "nip_salt": "test-salt",
        "text_embeddings": False,
        "bulk_max_nips": 5,
        "audit_flush_seconds": 0,  # written before each answer, so tests can read it at once
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def served_home(
    tmp_path_factory: pytest.TempPathFactory, small_world: Path, small_dataset: Dataset, spec: EvidenceSpec
) -> Path:
    """A home with a snapshot and a champion trained on the small world."""
    home = tmp_path_factory.mktemp("served")
    settings = served_settings(home, small_world)
    write_snapshot(build_snapshot(small_dataset, AS_OF, spec, encoder=None), home / "snapshot")
    registry = MlflowRegistry(settings.mlflow_uri, home / "mlflow" / "artifacts")
    config = load_train_config(ROOT / "training" / "train.yaml")
    train_and_register(small_dataset, spec, config, registry, AS_OF, "none (lexical only)")
    return home


@pytest.fixture(scope="session")
def served(served_home: Path, small_world: Path) -> Iterator[Served]:
    settings = served_settings(served_home, small_world)
    app = create_app(settings)
    with TestClient(app) as client:
        state = app.state.service
        engine = state.engine
        assert engine is not None, state.not_ready
        nips = sorted(engine.employees)
        agency = engine.employees[nips[0]].instansi_id
        other = next(n for n in nips if engine.employees[n].instansi_id != agency)
        store = state.store
        yield Served(
            app=app,
            client=client,
            settings=settings,
            admin=store.create_key("admin", Role.ADMIN)[1],
            planner=store.create_key("planner", Role.PLANNER, [agency])[1],
            platform=store.create_key("platform", Role.PLATFORM, [agency])[1],
            agency=agency,
            nip=nips[0],
            other_nip=other,
        )
