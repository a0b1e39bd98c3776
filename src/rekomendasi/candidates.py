"""Eligibility rules and candidate generation.

A candidate is an active, non-mandatory catalogue entry that admits the employee's position type,
that the employee has not completed and is not enrolled in, and that passes the request's filters.
Mandatory programmes never enter the personal list: they are reported apart (features.mandatory).
Generation keeps the ``size`` best candidates per employee by a cheap score (gap coverage at a
suitable level, the employee's own text, what peers in the same position took) so ranking stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rekomendasi.contract import Dataset
from rekomendasi.contract.enums import JENIS_JABATAN
from rekomendasi.contract.schemas import jenis_eligibility
from rekomendasi.features import Snapshot


@dataclass(frozen=True, slots=True)
class CandidateOptions:
    """Request-level filters and the candidate list size.

    Attributes:
        size: candidates kept per employee (> 0).
        modalities: allowed modalities; None allows all.
        max_cost_idr: highest cost per participant; None for no limit.
        max_jp: longest entry in JP; None for no limit.
        province_only: keep classroom entries held in another province out (online/anywhere stay).
    """

    size: int = 100
    modalities: tuple[str, ...] | None = None
    max_cost_idr: int | None = None
    max_jp: int | None = None
    province_only: bool = False


@dataclass(frozen=True)
class Matrices:
    """Dense per-employee and per-entry arrays shared by candidate generation and pair features."""

    nips: np.ndarray  # [n]
    entries: pd.DataFrame  # candidate-able catalogue rows (active, not mandatory), in column order
    competencies: np.ndarray  # [c]
    estimated: np.ndarray  # [n, c] estimated level (nan where not in the standard)
    required: np.ndarray  # [n, c] required level (0 where not in the standard)
    uncertainty: np.ndarray  # [n, c]
    text_share: np.ndarray  # [n, c]
    targets: np.ndarray  # [t, k] competency index, -1 padding
    target_levels: np.ndarray  # [t, k]
    eligible: np.ndarray  # [n, t] bool
    peer_share: np.ndarray  # [n, t] share of same-position colleagues who completed the entry


def build_matrices(dataset: Dataset, snapshot: Snapshot, options: CandidateOptions | None = None) -> Matrices:
    """Arrays for every employee of the snapshot and every active non-mandatory catalogue entry."""
    options = options or CandidateOptions()
    as_of = pd.Timestamp(snapshot.as_of)
    employees = (
        dataset["employees"]
        .merge(dataset["positions"][["position_id", "jenis_jabatan"]], on="position_id", how="left")
        .set_index("nip")
        .reindex(snapshot.performance["nip"])
    )
    nips = employees.index.to_numpy()
    catalog = dataset["catalog"]
    entries = catalog[catalog["active"].fillna(False) & catalog["mandatory_for"].isna()].reset_index(
        drop=True
    )
    comps = np.array(sorted(dataset["competencies"]["competency_id"]), dtype=object)
    c_index = {c: i for i, c in enumerate(comps)}
    n_index = {n: i for i, n in enumerate(nips)}

    gaps = snapshot.competency_gaps
    rows = gaps["nip"].map(n_index).to_numpy()
    cols = gaps["competency_id"].map(c_index).to_numpy()
    estimated = np.full((len(nips), len(comps)), np.nan, dtype=np.float32)
    required = np.zeros_like(estimated)
    uncertainty = np.full_like(estimated, np.nan)
    estimated[rows, cols] = gaps["estimated_level"].to_numpy()
    required[rows, cols] = gaps["required_level"].to_numpy()
    uncertainty[rows, cols] = gaps["uncertainty"].to_numpy()
    text_share = np.zeros_like(required)
    profile = snapshot.text_profile[snapshot.text_profile["nip"].isin(n_index)]
    text_share[profile["nip"].map(n_index).to_numpy(), profile["competency_id"].map(c_index).to_numpy()] = (
        profile["text_share"].to_numpy()
    )

    links = dataset["catalog_competencies"]
    links = links[links["training_id"].isin(entries["training_id"])]
    t_index = {t: i for i, t in enumerate(entries["training_id"])}
    width = max(int(links.groupby("training_id").size().max()) if len(links) else 1, 1)
    targets = np.full((len(entries), width), -1, dtype=np.int64)
    target_levels = np.zeros((len(entries), width), dtype=np.float32)
    slot = links.groupby("training_id").cumcount().to_numpy()
    targets[links["training_id"].map(t_index).to_numpy(), slot] = (
        links["competency_id"].map(c_index).to_numpy()
    )
    target_levels[links["training_id"].map(t_index).to_numpy(), slot] = links["target_level"].to_numpy()

    eligible = _eligibility(employees, entries, dataset, as_of, options)
    peer_share = _peer_share(employees, entries, dataset, as_of)
    return Matrices(
        nips,
        entries,
        comps,
        estimated,
        required,
        uncertainty,
        text_share,
        targets,
        target_levels,
        eligible,
        peer_share,
    )


def _eligibility(
    employees: pd.DataFrame,
    entries: pd.DataFrame,
    dataset: Dataset,
    as_of: pd.Timestamp,
    options: CandidateOptions,
) -> np.ndarray:
    jenis_allowed = jenis_eligibility(entries["eligible_jenis_jabatan"])
    jenis_idx = (
        employees["jenis_jabatan"]
        .map({j: i for i, j in enumerate(JENIS_JABATAN)})
        .fillna(-1)
        .astype(int)
        .to_numpy()
    )
    eligible = np.where(jenis_idx[:, None] >= 0, jenis_allowed[np.maximum(jenis_idx, 0)], False)
    history = dataset["training_history"]
    history = history[history["enrolled_on"] <= as_of]
    taken = history[
        (history["status"] == "enrolled")
        | ((history["status"] == "completed") & (history["completed_on"] <= as_of))
    ]
    n_index = {n: i for i, n in enumerate(employees.index)}
    t_index = {t: i for i, t in enumerate(entries["training_id"])}
    taken = taken[taken["nip"].isin(n_index) & taken["training_id"].isin(t_index)]
    eligible[taken["nip"].map(n_index).to_numpy(), taken["training_id"].map(t_index).to_numpy()] = False
    eligible &= entry_filter(entries, options.modalities, options.max_cost_idr, options.max_jp)[None, :]
    if options.province_only:
        held = entries["province"].to_numpy()
        local = employees["province"].to_numpy()[:, None] == held[None, :]
        eligible &= pd.isna(held)[None, :] | local
    return eligible


def entry_filter(
    entries: pd.DataFrame,
    modalities: tuple[str, ...] | None,
    max_cost_idr: int | None,
    max_jp: int | None,
) -> np.ndarray:
    """[t] bool: the entries a request's modality, cost and JP limits allow (None: no limit)."""
    keep = np.ones(len(entries), dtype=bool)
    if modalities is not None:
        keep &= entries["modality"].isin(modalities).to_numpy()
    if max_cost_idr is not None:
        keep &= (entries["cost_idr"].fillna(0) <= max_cost_idr).to_numpy()
    if max_jp is not None:
        keep &= (entries["jp"] <= max_jp).to_numpy()
    return keep


def _peer_share(
    employees: pd.DataFrame, entries: pd.DataFrame, dataset: Dataset, as_of: pd.Timestamp
) -> np.ndarray:
    history = dataset["training_history"]
    done = history[(history["status"] == "completed") & (history["completed_on"] <= as_of)]
    position = employees["position_id"]
    done = done.assign(position_id=done["nip"].map(position)).dropna(subset=["position_id"])
    counts = done.groupby(["position_id", "training_id"])["nip"].nunique().unstack(fill_value=0)
    counts = counts.reindex(columns=entries["training_id"], fill_value=0)
    staff = position.value_counts()
    share = counts.div(staff.reindex(counts.index), axis=0).fillna(0.0)
    return share.reindex(position.to_numpy()).fillna(0.0).to_numpy(dtype=np.float32)


def generation_score(m: Matrices, rows: np.ndarray) -> np.ndarray:
    """[len(rows), t] cheap candidate score.

    Per targeted competency: the part of the gap the entry can close (up to its target level), plus a
    little for growth in a required competency, both scaled by how well the entry's level suits the
    person (best one level below the target, fading two levels away); then a small share for what
    peers in the same position completed. Chosen by the recall of the oracle's top 10 it keeps
    (0.973 at 100 candidates on a 4,000-employee world, against 0.825 without the level fit).
    """
    score = np.zeros((len(rows), len(m.entries)), dtype=np.float32)
    for k in range(m.targets.shape[1]):
        comp = m.targets[:, k]
        valid = comp >= 0
        safe = np.where(valid, comp, 0)
        est = np.nan_to_num(m.estimated[rows][:, safe], nan=1.0)
        req = m.required[rows][:, safe]
        target = m.target_levels[None, :, k]
        gap = np.maximum(req - est, 0.0)
        reach = np.clip(target - est, 0.0, 1.5)
        fit = np.clip(1.0 - np.abs(target - 1.0 - est) / 2.0, 0.1, 1.0)
        value = (np.minimum(gap, reach) + 0.2 * reach * (req > 0)) * fit
        score += np.where(valid[None, :], value, 0.0)
    return score + 0.1 * m.peer_share[rows]


def top_candidates(score: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """[rows, min(size, t)] column indices of each row's ``size`` highest scores (unordered) and those
    scores; ineligible entries carry -inf and must be dropped by the caller."""
    keep = min(size, score.shape[1])
    top = (
        np.argpartition(-score, keep - 1, axis=1)[:, :keep]
        if keep < score.shape[1]
        else np.tile(np.arange(score.shape[1]), (len(score), 1))
    )
    return top, np.take_along_axis(score, top, axis=1)


def generate(m: Matrices, size: int, chunk: int = 5000) -> Iterator[pd.DataFrame]:
    """Candidates per employee: (nip, training_id, entry, candidate_score), ``size`` at most, in chunks."""
    for start in range(0, len(m.nips), chunk):
        rows = np.arange(start, min(start + chunk, len(m.nips)))
        score = np.where(m.eligible[rows], generation_score(m, rows), -np.inf)
        top, values = top_candidates(score, size)
        ok = np.isfinite(values)
        emp = np.repeat(rows[:, None], top.shape[1], axis=1)[ok]
        yield pd.DataFrame(
            {
                "nip": m.nips[emp],
                "training_id": m.entries["training_id"].to_numpy()[top[ok]],
                "entry": top[ok],
                "emp": emp,
                "candidate_score": values[ok],
            }
        )
