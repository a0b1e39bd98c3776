"""Recommendations for many employees at once: the champion ranker over each employee's candidates,
with a one-sentence Indonesian reason naming the competency gap each entry addresses."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rekomendasi.candidates import CandidateOptions, build_matrices, generate
from rekomendasi.contract import Dataset
from rekomendasi.explain import competency_names, gaps_addressed, reason
from rekomendasi.features import Snapshot
from rekomendasi.ranking.pairs import FEATURES, pair_features

BATCH_COLUMNS = ["nip", "rank", "training_id", "score", "reason"]


def recommend_all(
    dataset: Dataset,
    snapshot: Snapshot,
    model: Any,
    k: int = 10,
    candidates: int = 100,
    options: CandidateOptions | None = None,
) -> pd.DataFrame:
    """Top ``k`` per active employee: nip, rank (1 = best), training_id, score, reason (data contract)."""
    options = options or CandidateOptions(size=candidates)
    m = build_matrices(dataset, snapshot, options)
    active = set(dataset["employees"].loc[dataset["employees"]["active"].fillna(False).astype(bool), "nip"])
    parts = []
    for generated in generate(m, options.size):
        chunk = generated[generated["nip"].isin(active)].reset_index(drop=True)
        if chunk.empty:
            continue
        features = pair_features(m, chunk, dataset, snapshot)
        chunk["score"] = model.predict(features[list(FEATURES)])
        # Ties (a small model can give equal scores) go to the better gap coverage, then the id.
        chunk = chunk.assign(_g=features["generator_score"].to_numpy()).sort_values(
            ["nip", "score", "_g", "training_id"], ascending=[True, False, False, True], kind="stable"
        )
        chunk["rank"] = chunk.groupby("nip").cumcount() + 1
        parts.append(chunk[chunk["rank"] <= k].drop(columns="_g"))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in BATCH_COLUMNS})
    top = (
        pd.concat(parts, ignore_index=True).sort_values(["nip", "rank"], kind="stable").reset_index(drop=True)
    )
    top["reason"] = reasons_id(m, top, dataset)
    top["score"] = top["score"].round(6)
    return top[BATCH_COLUMNS]


def reasons_id(m: Any, rows: pd.DataFrame, dataset: Dataset) -> list[str]:
    """One Indonesian sentence per row naming the gap(s) the entry addresses, largest first."""
    names = competency_names(dataset["competencies"])
    return [
        reason(gaps_addressed(m, int(emp), int(entry), names), "id")
        for emp, entry in zip(rows["emp"].to_numpy(), rows["entry"].to_numpy(), strict=True)
    ]
