"""Row-wise sampling helpers shared by the evidence generators."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Employees


def random_dates(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """One date per row, uniform over the days from ``low`` to ``high`` inclusive (``low`` if
    ``high`` is earlier)."""
    span = np.maximum((high - low).astype("timedelta64[D]").astype(np.int64), 0)
    return low + (rng.random(len(low)) * (span + 1)).astype(np.int64).astype("timedelta64[D]")


def employees_in(frame: pd.DataFrame, date: pd.Timestamp) -> np.ndarray:
    """Row positions of the employees who had entered service on or before ``date``."""
    return np.flatnonzero(frame[Employees.entry_date].to_numpy() <= date.to_datetime64())
