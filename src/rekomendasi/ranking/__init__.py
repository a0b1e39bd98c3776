"""Ranking: pair features, outcome labels, the LambdaRank estimator, its training, evaluation against
the baselines, report and registry lifecycle, and the metrics of recommendation lists."""

from rekomendasi.ranking.metrics import (
    bootstrap_ci,
    catalog_coverage,
    intra_list_diversity,
    map_at_k,
    ndcg_at_k,
    oracle_top_k,
    recall_at_k,
)
from rekomendasi.ranking.ranker import LambdaRanker

__all__ = [
    "LambdaRanker",
    "bootstrap_ci",
    "catalog_coverage",
    "intra_list_diversity",
    "map_at_k",
    "ndcg_at_k",
    "oracle_top_k",
    "recall_at_k",
]
