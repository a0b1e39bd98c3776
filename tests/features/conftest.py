"""Fixtures of the feature tier: one small simulated world and its dataset."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.features import EvidenceSpec, load_spec
from rekomendasi.simulate import SimConfig, simulate

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 6, 30)  # half a year before the simulated history ends: later rows are "future"


@pytest.fixture(scope="session")
def spec() -> EvidenceSpec:
    return load_spec(ROOT / "features" / "evidence.yaml")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("features") / "data"
    simulate(SimConfig(employees=300, seed=21), out)
    return out


@pytest.fixture(scope="session")
def small_dataset(small_world: Path) -> Dataset:
    return load_dataset(small_world)
