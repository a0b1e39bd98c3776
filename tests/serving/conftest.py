"""For the state-store tests: fresh stores on a sqlite file, a planner key, the state CLI wired as the main
CLI wires it, and small helpers. The served world (``served``, ``served_home``) is in :mod:`tests.served`,
its fixtures registered by the root conftest; its names are importable from here too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from rekomendasi.cli.state import audit_app, feedback_app, keys_app
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.store import Stores
from rekomendasi.settings import get_settings
from tests.served import AS_OF, ROOT, Served, served_settings

__all__ = ["AS_OF", "ROOT", "Served", "served_settings"]

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
