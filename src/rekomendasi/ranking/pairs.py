"""Pair features of (employee, catalogue entry): gaps and levels on the entry's competencies, text,
the entry itself, how it went for earlier participants, and the employee's context."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rekomendasi.candidates import Matrices, generation_score
from rekomendasi.contract import Dataset
from rekomendasi.contract.enums import JENIS_JABATAN, MODALITY
from rekomendasi.features import Snapshot

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
    "jp",
    "log_cost",
    "modality",
    "english",
    "held_in_province",
    "entry_takers",
    "entry_completion_rate",
    "entry_mean_score",
    "entry_mean_satisfaction",
    "peer_share",
    "jenis_jabatan",
    "predikat_mean",
    "jp_remaining",
    "prior_only_share",
)
CATEGORICAL = ("modality", "jenis_jabatan")


def generation_score_pairs(m: Matrices, emp: np.ndarray, entry: np.ndarray, chunk: int = 5000) -> np.ndarray:
    """The candidate generator's score of each (employee row, entry column) pair."""
    out = np.zeros(len(emp), dtype=np.float32)
    for start in range(0, len(emp), chunk):
        part = slice(start, start + chunk)
        rows, inverse = np.unique(emp[part], return_inverse=True)
        out[part] = generation_score(m, rows)[inverse, entry[part]]
    return out


def entry_history(dataset: Dataset, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per entry, how earlier participants fared (enrolments on or before ``as_of``)."""
    history = dataset["training_history"]
    history = history[history["enrolled_on"] <= as_of]
    finished = history[
        history["status"].isin(["completed", "dropped", "failed"]) & ~(history["completed_on"] > as_of)
    ]
    stats = finished.groupby("training_id").agg(
        entry_takers=("nip", "size"),
        entry_completion_rate=("status", lambda s: float((s == "completed").mean())),
        entry_mean_score=("score", "mean"),
        entry_mean_satisfaction=("satisfaction", lambda s: float(s.astype(float).mean())),
    )
    return stats


@dataclass(frozen=True)
class PairContext:
    """What pair features need beyond the matrices, aligned with them: computed once per snapshot, so
    scoring one employee at request time is array work only."""

    entry_stats: np.ndarray  # [t, 4] entry_takers, completion rate, mean score, mean satisfaction
    employee: np.ndarray  # [n, 4] jenis_jabatan, predikat_mean, jp_remaining, prior_only_share
    modality: np.ndarray  # [t] modality code
    jp: np.ndarray  # [t]
    log_cost: np.ndarray  # [t]
    english: np.ndarray  # [t]
    held_in_province: np.ndarray  # [t]


_ENTRY_STATS = ("entry_takers", "entry_completion_rate", "entry_mean_score", "entry_mean_satisfaction")
_CONTEXT = ("jenis_jabatan", "predikat_mean", "jp_remaining", "prior_only_share")


def pair_context(m: Matrices, dataset: Dataset, snapshot: Snapshot) -> PairContext:
    """The per-entry and per-employee parts of the pair features for ``m``."""
    entries = m.entries
    stats = entry_history(dataset, pd.Timestamp(snapshot.as_of)).reindex(entries["training_id"])
    stats["entry_takers"] = stats["entry_takers"].fillna(0.0)
    context = _employee_context(dataset, snapshot).reindex(m.nips)
    return PairContext(
        entry_stats=stats[list(_ENTRY_STATS)].to_numpy(dtype=float),
        employee=context[list(_CONTEXT)].to_numpy(dtype=float),
        modality=entries["modality"].map({v: i for i, v in enumerate(MODALITY)}).to_numpy(dtype=float),
        jp=entries["jp"].to_numpy(dtype=float),
        log_cost=np.log1p(entries["cost_idr"].fillna(0).to_numpy(dtype=float)),
        english=(entries["language"] == "en").to_numpy(dtype=float),
        held_in_province=entries["province"].notna().to_numpy(dtype=float),
    )


def pair_matrix(m: Matrices, emp: np.ndarray, entry: np.ndarray, ctx: PairContext) -> np.ndarray:
    """[len(emp), len(FEATURES)] float64 feature rows of the (employee row, entry column) pairs."""
    comp = m.targets[entry]
    valid = comp >= 0
    safe = np.where(valid, comp, 0)
    est = np.nan_to_num(m.estimated[emp[:, None], safe], nan=1.0)
    req = m.required[emp[:, None], safe]
    unc = np.nan_to_num(m.uncertainty[emp[:, None], safe], nan=1.0)
    target = m.target_levels[entry]
    count = valid.sum(axis=1)
    n = np.maximum(count, 1)
    diff = np.where(valid, target - est, np.nan)
    gap = np.where(valid, np.maximum(req - est, 0.0), 0.0)
    with np.errstate(all="ignore"):  # an entry without competencies has all-NaN level differences
        columns = {
            "generator_score": generation_score_pairs(m, emp, entry),
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
            "jp": ctx.jp[entry],
            "log_cost": ctx.log_cost[entry],
            "modality": ctx.modality[entry],
            "english": ctx.english[entry],
            "held_in_province": ctx.held_in_province[entry],
            **{name: ctx.entry_stats[entry, i] for i, name in enumerate(_ENTRY_STATS)},
            "peer_share": m.peer_share[emp, entry],
            **{name: ctx.employee[emp, i] for i, name in enumerate(_CONTEXT)},
        }
    out = np.empty((len(emp), len(FEATURES)), dtype=np.float64)
    for i, name in enumerate(FEATURES):
        out[:, i] = columns[name]
    return out


def pair_features(
    m: Matrices,
    pairs: pd.DataFrame,
    dataset: Dataset,
    snapshot: Snapshot,
    context: PairContext | None = None,
) -> pd.DataFrame:
    """Feature rows for ``pairs`` (columns emp, entry: row indices into ``m``), in :data:`FEATURES` order.

    All float64: a logged model's signature then accepts missing values in any feature.
    """
    ctx = context if context is not None else pair_context(m, dataset, snapshot)
    values = pair_matrix(
        m, pairs["emp"].to_numpy(dtype=np.int64), pairs["entry"].to_numpy(dtype=np.int64), ctx
    )
    return pd.DataFrame(values, index=pairs.index, columns=list(FEATURES))


def _employee_context(dataset: Dataset, snapshot: Snapshot) -> pd.DataFrame:
    employees = dataset["employees"].merge(
        dataset["positions"][["position_id", "jenis_jabatan"]], on="position_id", how="left"
    )
    context = employees.set_index("nip")[["jenis_jabatan"]].copy()
    context["jenis_jabatan"] = context["jenis_jabatan"].map({v: i for i, v in enumerate(JENIS_JABATAN)})
    perf = snapshot.performance.set_index("nip")
    dev = snapshot.development.set_index("nip")
    context["predikat_mean"] = perf["predikat_mean"].reindex(context.index)
    context["jp_remaining"] = dev["jp_remaining"].reindex(context.index)
    context["prior_only_share"] = (
        snapshot.competency_gaps.groupby("nip")["prior_only"].mean().reindex(context.index)
    )
    return context
