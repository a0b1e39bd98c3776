"""Shared fixtures: small simulated data directories, built once per test session."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.features import EvidenceSpec, load_spec
from rekomendasi.simulate import SimConfig, simulate
from tests.postgres import REQUIRE_ENV, SKIP_MARKER, PostgresServer, PostgresUnavailable, start_server
from tests.served import served, served_home  # noqa: F401  (the served world's fixtures, for every directory)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 80-employee data directory (CSV). Treat as read-only: copy it with ``world_copy``."""
    out = tmp_path_factory.mktemp("tiny") / "data"
    simulate(SimConfig(employees=80, seed=3), out)
    return out


@pytest.fixture()
def world_copy(tiny_world: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the tiny world (without truth/)."""
    target = tmp_path / "data"
    shutil.copytree(tiny_world, target, ignore=shutil.ignore_patterns("truth"))
    return target


@pytest.fixture(scope="session")
def spec() -> EvidenceSpec:
    """The reviewed evidence spec of the repository."""
    return load_spec(ROOT / "src" / "rekomendasi" / "specs" / "evidence.yaml")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 300-employee simulated data directory (CSV) with truth/. Read-only."""
    out = tmp_path_factory.mktemp("small") / "data"
    simulate(SimConfig(employees=300, seed=21), out)
    return out


@pytest.fixture(scope="session")
def small_dataset(small_world: Path) -> Dataset:
    return load_dataset(small_world)


def read_text_table(path: Path) -> pd.DataFrame:
    """Read a contract CSV as raw text cells (no type inference), as an agency's file would hold them."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def edit_csv(data_dir: Path, table: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite ``table``.csv of ``data_dir`` through ``edit`` (cells stay text)."""
    path = data_dir / f"{table}.csv"
    edit(read_text_table(path)).to_csv(path, index=False)


# --- PostgreSQL: a throwaway server per pytest process (tests/postgres.py) -------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth), one per pytest process, stopped at the end.

    Skips LOUDLY (the reason is repeated at the end of the terminal summary) when no server can be
    started here; fails instead with REKOMENDASI_TEST_REQUIRE_POSTGRES=1.
    """
    try:
        server = start_server()
    except PostgresUnavailable as err:
        reason = f"{SKIP_MARKER}: {err}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
        warnings.warn(reason, pytest.PytestWarning, stacklevel=1)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL (``postgresql+psycopg://postgres@127.0.0.1:PORT/t_...``) of a fresh, empty
    database on ``postgres_server``, dropped after the test (open connections are closed by force)."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


BROWSER_SKIP_MARKER = "Chromium UNAVAILABLE"  # tests/ui/conftest.py's skip reason starts with it


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat, loudly, why PostgreSQL or browser tests were skipped (xdist forwards the workers' skip
    reports)."""
    for marker, what, consequence, env in (
        (
            SKIP_MARKER,
            "PostgreSQL",
            "The state store was NOT tested against PostgreSQL.",
            REQUIRE_ENV,
        ),
        (
            BROWSER_SKIP_MARKER,
            "browser",
            "The web page was NOT tested in a browser.",
            "REKOMENDASI_TEST_REQUIRE_BROWSER",
        ),
    ):
        skipped = [
            report
            for report in terminalreporter.stats.get("skipped", [])
            if marker in str(getattr(report, "longrepr", ""))
        ]
        if not skipped:
            continue
        reason = str(skipped[0].longrepr[-1]) if isinstance(skipped[0].longrepr, tuple) else marker
        terminalreporter.write_sep("!", f"{len(skipped)} {what} test(s) SKIPPED", red=True, bold=True)
        terminalreporter.write_line(reason, red=True, bold=True)
        terminalreporter.write_line(f"{consequence} Set {env}=1 to make this an error.", red=True)
