"""Pair features of (employee, catalogue entry): gaps and levels on the entry's competencies, text,
the entry itself, how it went for earlier participants, and the employee's context.

Array work only, over one partition's :class:`~rekomendasi.candidates.Matrices`: every input was cut to
the snapshot date when the snapshot was built."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.candidates import EMPLOYEE_COLUMNS, ENTRY_COLUMNS, Candidates, Matrices, generation_score

FEATURES = (
    "generator_score",
    "n_targets",
    "gap_sum",
    "gap_max",
    "level_diff_mean",
    "level_diff_min",
    "level_diff_max",
    "surplus_mean",
    "in_standard_share",
    "uncertainty_mean",
    "text_share_sum",
    "target_level_mean",
    *ENTRY_COLUMNS,
    "peer_share",
    *EMPLOYEE_COLUMNS,
)
"""The pair features, in the order the ranker was fitted with (a champion trained on another order is
refused)."""
CATEGORICAL = ("modality", "jenis_jabatan")


def generation_score_pairs(m: Matrices, emp: np.ndarray, entry: np.ndarray, chunk: int = 5000) -> np.ndarray:
    """The candidate generator's score of each (employee row, entry column) pair."""
    out = np.zeros(len(emp), dtype=np.float32)
    for start in range(0, len(emp), chunk):
        part = slice(start, start + chunk)
        rows, inverse = np.unique(emp[part], return_inverse=True)
        out[part] = generation_score(m, rows)[inverse, entry[part]]
    return out


def pair_matrix(
    m: Matrices, emp: np.ndarray, entry: np.ndarray, generator: np.ndarray | None = None
) -> np.ndarray:
    """[len(emp), len(FEATURES)] float64 feature rows of the (employee row, entry column) pairs.

    Args:
        generator: the pairs' generator scores when the caller has them (candidates carry them as
            ``candidate_score``); computed here otherwise.
    """
    cat = m.catalogue
    comp = cat.targets[entry]
    valid = comp >= 0
    safe = np.where(valid, comp, 0)
    est = np.nan_to_num(m.estimated[emp[:, None], safe], nan=1.0)
    req = m.required[emp[:, None], safe]
    unc = np.nan_to_num(m.uncertainty[emp[:, None], safe], nan=1.0)
    target = cat.target_levels[entry]
    count = valid.sum(axis=1)
    n = np.maximum(count, 1)
    diff = np.where(valid, target - est, np.nan)
    gap = np.where(valid, np.maximum(req - est, 0.0), 0.0)
    with np.errstate(all="ignore"):  # an entry without competencies has all-NaN level differences
        columns = {
            "generator_score": generation_score_pairs(m, emp, entry) if generator is None else generator,
            "n_targets": count,
            "gap_sum": gap.sum(axis=1),
            "gap_max": gap.max(axis=1),
            "level_diff_mean": np.nanmean(diff, axis=1),
            "level_diff_min": np.nanmin(diff, axis=1),
            "level_diff_max": np.nanmax(diff, axis=1),
            "surplus_mean": np.where(valid & (req > 0), est - req, 0.0).sum(axis=1) / n,
            "in_standard_share": np.where(valid, req > 0, False).sum(axis=1) / n,
            "uncertainty_mean": np.where(valid, unc, 0.0).sum(axis=1) / n,
            "text_share_sum": np.where(valid, m.text_share[emp[:, None], safe], 0.0).sum(axis=1),
            "target_level_mean": np.where(valid, target, 0.0).sum(axis=1) / n,
            **{name: cat.features[entry, i] for i, name in enumerate(ENTRY_COLUMNS)},
            "peer_share": m.peer_share[emp, entry],
            **{name: m.context[emp, i] for i, name in enumerate(EMPLOYEE_COLUMNS)},
        }
    out = np.empty((len(emp), len(FEATURES)), dtype=np.float64)
    for i, name in enumerate(FEATURES):
        out[:, i] = columns[name]
    return out


def pair_features(m: Matrices, pairs: pd.DataFrame) -> pd.DataFrame:
    """Feature rows for ``pairs`` (columns ``emp``, ``entry``: row and column indices into ``m``; and
    ``candidate_score`` when they are candidates), in :data:`FEATURES` order. All float64: a logged
    model's signature then accepts missing values."""
    values = pair_matrix(
        m,
        pairs[Candidates.emp].to_numpy(dtype=np.int64),
        pairs[Candidates.entry].to_numpy(dtype=np.int64),
        pairs[Candidates.candidate_score].to_numpy() if Candidates.candidate_score in pairs else None,
    )
    return pd.DataFrame(values, index=pairs.index, columns=list(FEATURES))
