"""The recommendation core: one entry point every output uses.

- :func:`score_employees`: a partition's arrays (:class:`~rekomendasi.candidates.Matrices`), a ranker,
  :class:`Filters`, :class:`Objections` and :class:`ScoreOptions` in; the long-format scored table
  (:class:`~rekomendasi.recommend.schemas.Scores`) out.
- :func:`score_snapshot`: the same for every active employee of a snapshot, one agency at a time.
- :func:`recommendations`: :class:`Recommendation` values from scored rows (from the store or not).
- :func:`write_store` / :class:`ScoresStore`: the scores store every output reads.
"""

from rekomendasi.recommend.core import (
    DEFAULT_OPTIONS,
    Ranker,
    ScoreOptions,
    agency_partitions,
    main_contributions,
    rank_order,
    score_employees,
    score_snapshot,
)
from rekomendasi.recommend.filters import NO_FILTERS, NO_OBJECTIONS, Filters, Objections
from rekomendasi.recommend.results import (
    Contribution,
    Recommendation,
    recommendation,
    recommendations,
    records,
)
from rekomendasi.recommend.schemas import Scores
from rekomendasi.recommend.store import ScoresStore, StoreId, write_store

__all__ = [
    "DEFAULT_OPTIONS",
    "NO_FILTERS",
    "NO_OBJECTIONS",
    "Contribution",
    "Filters",
    "Objections",
    "Ranker",
    "Recommendation",
    "ScoreOptions",
    "Scores",
    "ScoresStore",
    "StoreId",
    "agency_partitions",
    "main_contributions",
    "rank_order",
    "recommendation",
    "recommendations",
    "records",
    "score_employees",
    "score_snapshot",
    "write_store",
]
