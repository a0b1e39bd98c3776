"""Parameters of one simulated world."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np

from rekomendasi.simulate.assumptions import DEFAULT, Assumptions


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate.

    Attributes:
        employees: number of employees (> 0).
        seed: the world is a pure function of the config; the same seed gives byte-identical files.
        as_of: the last day of the simulated history; the truth folder describes this day.
        years: length of the evidence history, in whole years before ``as_of``.
        fmt: ``csv`` or ``parquet`` for every table.
        daily_report_months: months of daily activity reports kept before ``as_of``.
        assumptions: how evidence, outcomes, the past training policy and missing data behave (the
            defaults are the world of every seed before #15; see :mod:`.assumptions`).
    """

    employees: int
    seed: int = 42
    as_of: dt.date = dt.date(2025, 12, 31)
    years: int = 3
    fmt: str = "csv"
    daily_report_months: int = 6
    assumptions: Assumptions = DEFAULT

    def __post_init__(self) -> None:
        if self.employees <= 0:
            raise ValueError(f"employees must be positive, got {self.employees}")
        if self.years < 1:
            raise ValueError(f"years must be at least 1, got {self.years}")
        if self.fmt not in ("csv", "parquet"):
            raise ValueError(f"fmt must be 'csv' or 'parquet', got {self.fmt!r}")

    @property
    def start(self) -> dt.date:
        """First day of the evidence history."""
        return dt.date(self.as_of.year - self.years + 1, 1, 1)

    @property
    def history_years(self) -> list[int]:
        """Calendar years of evidence, oldest first."""
        return list(range(self.start.year, self.as_of.year + 1))

    def rng(self, stream: str) -> np.random.Generator:
        """An independent random stream per component, so adding one component shifts no other."""
        key = int.from_bytes(hashlib.sha256(stream.encode("utf-8")).digest()[:8], "little")
        return np.random.default_rng([self.seed, key])
