"""The simulator is a pure function of its config: same seed, byte-identical files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rekomendasi.simulate import SimConfig, simulate


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    simulate(SimConfig(employees=120, seed=9), tmp_path / "a")
    simulate(SimConfig(employees=120, seed=9), tmp_path / "b")
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a == b
    assert "truth/benefit.csv" in a and "employees.csv" in a


def test_other_seed_gives_another_world(tmp_path: Path) -> None:
    simulate(SimConfig(employees=120, seed=9), tmp_path / "a")
    simulate(SimConfig(employees=120, seed=10), tmp_path / "b")
    assert (tmp_path / "a" / "employees.csv").read_bytes() != (tmp_path / "b" / "employees.csv").read_bytes()


def test_parquet_world_round_trips(tmp_path: Path) -> None:
    from rekomendasi.contract import load_dataset

    simulate(SimConfig(employees=120, seed=9, fmt="parquet"), tmp_path / "p")
    assert (tmp_path / "p" / "employees.parquet").exists()
    assert load_dataset(tmp_path / "p").quarantine.empty
