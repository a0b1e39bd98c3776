"""Point-in-time views: every evidence row dated after the as-of date is dropped before any feature."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rekomendasi.contract import Dataset
from rekomendasi.contract.schemas import (
    Assessments,
    Behaviour,
    DailyReports,
    Employees,
    Feedback,
    Indicators,
    JpLog,
    PublicFeedback,
    Skp,
    TrainingHistory,
)

# The date column of each dated table; period tables are dated at the end of their period.
DATE_COLUMNS = {
    "assessments": Assessments.assessed_on,
    "daily_reports": DailyReports.date,
    "feedback": Feedback.given_on,
    "training_history": TrainingHistory.enrolled_on,
    "jp_log": JpLog.date,
}
PERIOD_COLUMNS = {
    "skp": Skp.period,
    "behaviour": Behaviour.period,
    "indicators": Indicators.period,
    "public_feedback": PublicFeedback.period,
}
PERIOD_TABLES = tuple(PERIOD_COLUMNS)
PERIOD_END = "period_end"
"""The column :func:`as_of_view` adds to every period table: the last day of the row's period."""


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
    return as_of_tables(dataset.tables, as_of)


def as_of_tables(given: Mapping[str, pd.DataFrame], as_of: dt.date) -> dict[str, pd.DataFrame]:
    """:func:`as_of_view` of some of a dataset's tables (those in ``given``; e.g. one agency's rows).

    Every rule is row by row, so the view of part of a table is that part of the table's view. Columns
    beyond the contract's (such as ``_row``) are kept.
    """
    cutoff = pd.Timestamp(as_of)
    tables: dict[str, pd.DataFrame] = dict(given)
    for name, column in DATE_COLUMNS.items():
        if name not in tables:
            continue
        frame = tables[name]
        tables[name] = frame[frame[column] <= cutoff].reset_index(drop=True)
    for name, column in PERIOD_COLUMNS.items():
        if name not in tables:
            continue
        frame = tables[name]
        ends = period_end(frame[column])
        tables[name] = (
            frame[ends <= cutoff].assign(**{PERIOD_END: ends[ends <= cutoff]}).reset_index(drop=True)
        )
    if "employees" in tables:
        employees = tables["employees"]
        tables["employees"] = employees[
            employees[Employees.entry_date].isna() | (employees[Employees.entry_date] <= cutoff)
        ].reset_index(drop=True)
    if "training_history" not in tables:
        return tables
    history = tables["training_history"].copy()
    later = history[TrainingHistory.completed_on] > cutoff
    history.loc[later, TrainingHistory.status] = "enrolled"
    history.loc[
        later,
        [
            TrainingHistory.completed_on,
            TrainingHistory.score,
            TrainingHistory.satisfaction,
            TrainingHistory.jp_earned,
        ],
    ] = pd.NA
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
