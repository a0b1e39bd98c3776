"""Shared fixtures: small simulated data directories, built once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.features import EvidenceSpec, load_spec
from rekomendasi.simulate import SimConfig, simulate

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
