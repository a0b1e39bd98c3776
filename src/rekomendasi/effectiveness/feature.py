"""The measured effectiveness as a ranker input: ``entry_effect``, without leakage.

The ranker's examples of label year Y may only see what was known by the end of Y-1: an entry's
``entry_effect`` for them is the mean gain of its participants as measured with the data up to the end
of Y-1 (the cut Y-1 of :func:`~rekomendasi.effectiveness.estimate.participant_gains`: windows, and the
later enrolments compared with, end by then), shrunk towards the mean over every such participant with
``PRIOR_PARTICIPANTS`` pseudo-participants (an entry with few participants says little). A served model
carries the values measured up to its training date
(``GainRanker.entry_effects_``) and the catalogue is given them when scoring
(:meth:`~rekomendasi.candidates.Catalogue.with_entry_effects`). Entries never measured, and every entry
when nothing was measured yet, are missing: the effect regression counts a missing value as the mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMN = "entry_effect"
PRIOR_PARTICIPANTS = 10.0


def entry_effect_values(gains: pd.DataFrame, cut: int | None = None) -> dict[str, float]:
    """training_id -> shrunk mean gain of the participants as measured at the end of year ``cut`` (the
    last cut of ``gains`` when None; ``gains`` of
    :func:`~rekomendasi.effectiveness.estimate.participant_gains` with ``every_cut``)."""
    if gains.empty:
        return {}
    gains = gains[gains["cut"] == (gains["cut"].max() if cut is None else cut)]
    if gains.empty:
        return {}
    overall = float(gains["gain"].mean())
    per = gains.groupby("training_id")["gain"].agg(["sum", "size"])
    shrunk = (per["sum"] + PRIOR_PARTICIPANTS * overall) / (per["size"] + PRIOR_PARTICIPANTS)
    return {str(t): float(v) for t, v in shrunk.items()}


def fill_entry_effect(
    features: pd.DataFrame, year: np.ndarray, training_id: np.ndarray, gains: pd.DataFrame
) -> None:
    """Set ``features[COLUMN]`` of each example of label year Y from what was measured by the end of Y-1 (in
    place; rows of a year with nothing measured before it stay missing)."""
    values = np.full(len(features), np.nan)
    ids = pd.Series(training_id, dtype=object)
    for y in np.unique(year):
        rows = np.flatnonzero(year == y)
        known = entry_effect_values(gains, int(y) - 1)
        values[rows] = ids.iloc[rows].map(known).to_numpy(dtype=float)
    features[COLUMN] = values
