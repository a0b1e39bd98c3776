"""The contract's batch output (data-contract.md, "Batch recommendations"), read from the scores store:
one row per (employee, rank) with a one-sentence Indonesian reason naming the gap(s) addressed."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from rekomendasi.explain import Lang, gaps_from_records, reason
from rekomendasi.recommend.schemas import Scores
from rekomendasi.recommend.store import ScoresStore

_REASON = "reason"
BATCH_COLUMNS = (Scores.nip, Scores.rank, Scores.training_id, Scores.score, _REASON)
"""Columns of the batch file in order: the scores store's long format (whose names data-contract.md
fixes) and the reason."""


def batch_table(
    store: ScoresStore,
    k: int,
    names: Mapping[str, str],
    lang: Lang = "id",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Every stored employee's top ``k`` (at most the store's N): nip, rank, training_id, score, reason;
    sorted by nip and rank.

    Raises:
        ValueError: ``k`` is larger than the store keeps.
    """
    if k > store.top_n:
        raise ValueError(f"the store keeps {store.top_n} entries per employee; k={k} asks for more.")
    agencies = store.agencies()
    parts = []
    for done, agency in enumerate(agencies, 1):
        scores = store.read(agency, max_rank=k)
        reasons = [
            reason(gaps_from_records(gaps, names), lang) for gaps in scores[Scores.gaps].array.tolist()
        ]
        parts.append(
            pd.DataFrame(
                {
                    Scores.nip: scores[Scores.nip],
                    Scores.rank: scores[Scores.rank].astype("int64"),
                    Scores.training_id: scores[Scores.training_id],
                    Scores.score: scores[Scores.score].round(6),
                    _REASON: pd.Series(reasons, dtype="str", index=scores.index),
                }
            )
        )
        if progress is not None:
            progress(done, len(agencies))
    if not parts:
        return pd.DataFrame({column: pd.Series([], dtype="object") for column in BATCH_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values([Scores.nip, Scores.rank], kind="stable").reset_index(drop=True)[
        list(BATCH_COLUMNS)
    ]
