"""Row-wise sampling helpers shared by the evidence generators."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Employees

# Rows per block of a row-wise computation over [row, competency] matrices; results do not depend on it.
BLOCK_ROWS = 65_536


def random_dates(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """One date per row, uniform over the days from ``low`` to ``high`` inclusive (``low`` if
    ``high`` is earlier)."""
    span = np.maximum((high - low).astype("timedelta64[D]").astype(np.int64), 0)
    return low + (rng.random(len(low)) * (span + 1)).astype(np.int64).astype("timedelta64[D]")


def employees_in(frame: pd.DataFrame, date: pd.Timestamp) -> np.ndarray:
    """Row positions of the employees who had entered service on or before ``date``."""
    return np.flatnonzero(frame[Employees.entry_date].to_numpy() <= date.to_datetime64())


def weighted_columns(
    allowed: np.ndarray, rows: np.ndarray, u: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """For each of ``rows``, the column of ``allowed[row]`` that the uniform draw ``u`` picks with
    probability proportional to ``weight`` (1 when None) over the allowed columns.

    Computed :data:`BLOCK_ROWS` rows at a time: a [rows, columns] cumulative sum of tens of millions of
    rows would not fit in memory; each row's pick is the same either way.
    """
    out = np.zeros(len(rows), dtype=np.int64)
    for low in range(0, len(rows), BLOCK_ROWS):
        part = slice(low, min(low + BLOCK_ROWS, len(rows)))
        mass = allowed[rows[part]] if weight is None else allowed[rows[part]] * weight[None, :]
        cdf = np.cumsum(mass, axis=1)
        out[part] = (u[part, None] * cdf[:, -1:] < cdf).argmax(axis=1)
    return out
