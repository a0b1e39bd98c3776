"""Recommendation values built from rows of the scored table (:class:`~rekomendasi.recommend.schemas.Scores`),
whether they come from the scores store or were ranked at request time: one conversion for both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from rekomendasi.explain import GapAddressed, Lang, gaps_from_records, reason
from rekomendasi.recommend.schemas import TOP_CONTRIBUTIONS, Scores, contribution_columns


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's additive share of a score."""

    feature: str
    value: float


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One ranked entry for one employee, with everything its explanation needs."""

    rank: int
    training_id: str
    score: float
    gaps: tuple[GapAddressed, ...]
    expected_gap_closed: float
    contributions: tuple[Contribution, ...]

    def reason(self, lang: Lang, levels: bool = True) -> str:
        """One sentence in ``lang`` naming the gap(s) the entry addresses; without levels when
        ``levels`` is False (see :func:`rekomendasi.explain.reason`)."""
        return reason(self.gaps, lang, levels)


def records(rows: pd.DataFrame | pa.Table) -> list[dict[str, object]]:
    """Rows of a scored table as plain Python records (through Arrow, whichever form they come in)."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    return table.to_pylist()


def recommendation(record: Mapping[str, object], names: Mapping[str, str]) -> Recommendation:
    """The :class:`Recommendation` of one scored record (names: competency_id -> name)."""
    contributions = []
    for i in range(1, TOP_CONTRIBUTIONS + 1):
        feature, value = contribution_columns(i)
        if record[feature] is not None:  # None past the explained ranks
            contributions.append(Contribution(str(record[feature]), round(float(record[value]), 4)))  # type: ignore[arg-type]
    gaps = record[Scores.gaps]
    return Recommendation(
        rank=int(record[Scores.rank]),  # type: ignore[call-overload]
        training_id=str(record[Scores.training_id]),
        score=round(float(record[Scores.score]), 6),  # type: ignore[arg-type]
        gaps=gaps_from_records(gaps if isinstance(gaps, Sequence) else [], names),
        expected_gap_closed=round(float(record[Scores.expected_gap_closed]), 3),  # type: ignore[arg-type]
        contributions=tuple(contributions),
    )


def recommendations(rows: pd.DataFrame | pa.Table, names: Mapping[str, str]) -> list[Recommendation]:
    """:class:`Recommendation` values of scored rows, in their order."""
    return [recommendation(r, names) for r in records(rows)]
