"""A served world for the API tests: the small simulated world, its snapshot, a champion in a scratch
MLflow store, and keys of every role. Built once per session.

And for the state-store tests: fresh stores on a sqlite file, a planner key, the state CLI wired as the main
CLI wires it, and small helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from rekomendasi.cli.state import audit_app, feedback_app, keys_app
from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, build_snapshot, write_snapshot
from rekomendasi.jobs.scores import score_job
from rekomendasi.ranking.lifecycle import train_and_register
from rekomendasi.ranking.train import load_train_config
from rekomendasi.recommend import ScoreOptions
from rekomendasi.registry import MlflowRegistry
from rekomendasi.serving.app import create_app
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.store import Stores
from rekomendasi.settings import Settings, get_settings

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


# --- state stores ---------------------------------------------------------------------------------

SALT = "test-salt"
NIP_A = "198501012010011001"
NIP_B = "199002022015022002"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "state.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty state database: a sqlite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture()
def stores(state_url: str) -> Iterator[Stores]:
    """Fresh stores on each kind of state database."""
    with Stores.open(state_url, nip_salt=SALT) as opened:
        yield opened


@pytest.fixture()
def planner(stores: Stores) -> tuple[Principal, str]:
    return stores.keys.create_key("BKD Jawa Barat", Role.PLANNER, ["I-32", "I-33"])


def secret_of(plaintext: str) -> str:
    """The secret part of a key's plaintext ``rk_<key_id>_<secret>``."""
    return plaintext.split("_", 2)[2]


def db_bytes(db_path: Path) -> bytes:
    """Everything sqlite wrote: the database file plus any write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted(db_path.parent.glob(db_path.name + "*")))


# --- the state CLI --------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """The sub-apps wired as the main CLI will wire them, on a fresh sqlite file under a tmp home."""
    monkeypatch.setenv("REKOMENDASI_HOME", str(tmp_path))
    monkeypatch.setenv("REKOMENDASI_STATE_DB_URL", "sqlite:///var/state.db")
    get_settings.cache_clear()
    root = typer.Typer()
    root.add_typer(keys_app, name="keys")
    root.add_typer(audit_app, name="audit")
    root.add_typer(feedback_app, name="feedback")
    yield root
    get_settings.cache_clear()


def assert_clean_failure(result: Result, message: str) -> None:
    """The command failed with exit code 2 and one line naming the problem, no traceback."""
    assert result.exit_code == 2
    output = result.output
    assert message in " ".join(output.split()), output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1
    assert isinstance(result.exception, SystemExit)
