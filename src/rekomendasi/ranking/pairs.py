"""Pair features of (employee, catalogue entry): gaps and levels on the entry's competencies, text,
the entry itself, how it went for earlier participants, and the employee's context."""

from __future__ import annotations

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


def pair_features(m: Matrices, pairs: pd.DataFrame, dataset: Dataset, snapshot: Snapshot) -> pd.DataFrame:
    """Feature rows for ``pairs`` (columns emp, entry: row indices into ``m``), in :data:`FEATURES` order."""
    emp = pairs["emp"].to_numpy(dtype=np.int64)
    entry = pairs["entry"].to_numpy(dtype=np.int64)
    comp = m.targets[entry]
    valid = comp >= 0
    safe = np.where(valid, comp, 0)
    est = np.nan_to_num(m.estimated[emp[:, None], safe], nan=1.0)
    req = m.required[emp[:, None], safe]
    unc = np.nan_to_num(m.uncertainty[emp[:, None], safe], nan=1.0)
    target = m.target_levels[entry]
    n = np.maximum(valid.sum(axis=1), 1)
    diff = np.where(valid, target - est, np.nan)
    out = pd.DataFrame(index=pairs.index)
    out["generator_score"] = generation_score_pairs(m, emp, entry)
    out["n_targets"] = valid.sum(axis=1)
    gap = np.where(valid, np.maximum(req - est, 0.0), 0.0)
    out["gap_sum"] = gap.sum(axis=1)
    out["gap_max"] = gap.max(axis=1)
    out["level_diff_mean"] = np.nanmean(diff, axis=1)
    out["level_diff_min"] = np.nanmin(diff, axis=1)
    out["level_diff_max"] = np.nanmax(diff, axis=1)
    out["surplus_mean"] = np.where(valid & (req > 0), est - req, 0.0).sum(axis=1) / n
    out["in_standard_share"] = np.where(valid, req > 0, False).sum(axis=1) / n
    out["uncertainty_mean"] = np.where(valid, unc, 0.0).sum(axis=1) / n
    out["text_share_sum"] = np.where(valid, m.text_share[emp[:, None], safe], 0.0).sum(axis=1)
    out["target_level_mean"] = np.where(valid, target, 0.0).sum(axis=1) / n
    entries = m.entries.iloc[entry]
    out["jp"] = entries["jp"].to_numpy(dtype=float)
    out["log_cost"] = np.log1p(entries["cost_idr"].fillna(0).to_numpy(dtype=float))
    out["modality"] = entries["modality"].map({v: i for i, v in enumerate(MODALITY)}).to_numpy()
    out["english"] = (entries["language"] == "en").to_numpy(dtype=float)
    out["held_in_province"] = entries["province"].notna().to_numpy(dtype=float)
    stats = entry_history(dataset, pd.Timestamp(snapshot.as_of)).reindex(entries["training_id"])
    for column in ("entry_takers", "entry_completion_rate", "entry_mean_score", "entry_mean_satisfaction"):
        out[column] = stats[column].to_numpy(dtype=float)
    out["entry_takers"] = np.nan_to_num(out["entry_takers"].to_numpy(), nan=0.0)
    out["peer_share"] = m.peer_share[emp, entry]
    context = _employee_context(dataset, snapshot).reindex(m.nips[emp])
    for column in ("jenis_jabatan", "predikat_mean", "jp_remaining", "prior_only_share"):
        out[column] = context[column].to_numpy()
    # All float64: a logged model's signature then accepts missing values in any feature.
    return out[list(FEATURES)].astype("float64")


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
