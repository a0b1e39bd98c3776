"""Point-in-time views: every evidence row dated after the as-of date is dropped before any feature."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rekomendasi.contract import Dataset

# The date column of each dated table; period tables are dated at the end of their period.
DATE_COLUMNS = {
    "assessments": "assessed_on",
    "daily_reports": "date",
    "feedback": "given_on",
    "training_history": "enrolled_on",
    "jp_log": "date",
}
PERIOD_TABLES = ("skp", "behaviour", "indicators", "public_feedback")


def period_end(period: pd.Series) -> pd.Series:
    """Last day of each ``YYYY`` or ``YYYY-MM`` period."""
    text = period.astype("str")
    annual = text.str.len() == 4
    start = pd.to_datetime(np.where(annual, text + "-01-01", text + "-01"), format="%Y-%m-%d")
    end = np.where(annual, start + pd.offsets.YearEnd(0), start + pd.offsets.MonthEnd(0))
    return pd.Series(pd.to_datetime(end), index=period.index).astype("datetime64[us]")


def as_of_view(dataset: Dataset, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """The dataset as it was known on ``as_of``.

    Evidence dated after ``as_of`` is dropped; period rows count from the end of their period;
    employees who entered after ``as_of`` are not yet employees; a training completed after ``as_of``
    is still ``enrolled`` on that day.
    """
    cutoff = pd.Timestamp(as_of)
    tables: dict[str, pd.DataFrame] = dict(dataset.tables)
    for name, column in DATE_COLUMNS.items():
        frame = tables[name]
        tables[name] = frame[frame[column] <= cutoff].reset_index(drop=True)
    for name in PERIOD_TABLES:
        frame = tables[name]
        ends = period_end(frame["period"])
        tables[name] = frame[ends <= cutoff].assign(period_end=ends[ends <= cutoff]).reset_index(drop=True)
    employees = tables["employees"]
    tables["employees"] = employees[
        employees["entry_date"].isna() | (employees["entry_date"] <= cutoff)
    ].reset_index(drop=True)
    history = tables["training_history"].copy()
    later = history["completed_on"] > cutoff
    history.loc[later, "status"] = "enrolled"
    history.loc[later, ["completed_on", "score", "satisfaction", "jp_earned"]] = pd.NA
    tables["training_history"] = history
    return tables


def age_years(dates: pd.Series, as_of: dt.date) -> np.ndarray:
    """Years between each date and ``as_of`` (0 for the as-of date itself)."""
    return np.maximum((pd.Timestamp(as_of) - dates).dt.days.to_numpy(dtype=float) / 365.25, 0.0)


def decay(age: np.ndarray, half_life: float) -> np.ndarray:
    """Weight in (0, 1] that halves every ``half_life`` years."""
    return np.power(0.5, age / half_life)


def mapping_frame(mapping: Mapping[str, list[str]], key: str, value: str) -> pd.DataFrame:
    """A long frame of a ``{key: [values]}`` mapping."""
    return pd.DataFrame([(k, v) for k, vs in mapping.items() for v in vs], columns=[key, value])
