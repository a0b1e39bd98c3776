"""The served world shared by the API, plan and web-page tests: the small simulated world, its snapshot,
a champion in a scratch MLflow store, its scores store, and keys of every role. Built once per pytest
process: its fixtures are registered in the root conftest only, so every directory shares one instance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, build_snapshot, write_snapshot
from rekomendasi.jobs.scores import score_job
from rekomendasi.ranking.lifecycle import train_and_register
from rekomendasi.ranking.train import load_train_config
from rekomendasi.recommend import ScoreOptions
from rekomendasi.registry import MlflowRegistry
from rekomendasi.serving.app import create_app
from rekomendasi.serving.auth import Role
from rekomendasi.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
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

    async def without_lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The app for schemathesis' in-process client. That client starts a lifespan of its own and
        shuts it down when it likes; on the shared app, that shutdown closes the audit writer every
        later test uses (they then get 503). The app is already started by ``client``, so its lifespan
        messages are answered here and never reach it."""
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return


def served_settings(home: Path, data: Path, **overrides: object) -> Settings:
    """Settings of a served world under ``home`` (nothing read from the environment)."""
    values: dict[str, object] = {
        "home": home,
        "data_dir": data,
        "features_dir": ROOT / "features",
        "training_dir": ROOT / "training",
        "snapshot_dir": home / "snapshot",
        "scores_dir": home / "scores",
        "mlflow_uri": f"sqlite:///{home / 'mlflow' / 'mlflow.db'}",
        "state_db_url": f"sqlite:///{home / 'state.db'}",
        "nip_salt": "test-salt",
        "text_embeddings": False,
        "bulk_max_nips": 5,
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
    snapshot = build_snapshot(small_dataset, AS_OF, spec, encoder=None)
    write_snapshot(snapshot, home / "snapshot")
    registry = MlflowRegistry(settings.mlflow_uri, home / "mlflow" / "artifacts")
    config = load_train_config(settings.train_config_path())
    train_and_register(small_dataset, spec, config, registry, AS_OF, "none (lexical only)")
    score_job(snapshot, registry, home / "scores", ScoreOptions(candidates=config.candidates, top_n=50))
    return home


@pytest.fixture(scope="session")
def served(served_home: Path, small_world: Path) -> Iterator[Served]:
    settings = served_settings(served_home, small_world)
    app = create_app(settings)
    with TestClient(app) as client:
        state = app.state.service
        engine = state.engine
        assert engine is not None, state.not_ready
        nips = engine.nips
        agency = engine.employee(nips[0]).instansi_id
        other = next(n for n in nips if engine.employee(n).instansi_id != agency)
        keys = state.stores.keys
        yield Served(
            app=app,
            client=client,
            settings=settings,
            admin=keys.create_key("admin", Role.ADMIN)[1],
            planner=keys.create_key("planner", Role.PLANNER, [agency])[1],
            platform=keys.create_key("platform", Role.PLATFORM, [agency])[1],
            agency=agency,
            nip=nips[0],
            other_nip=other,
        )
