"""Fixtures of the recommendation-core tests: the small world's snapshot and a transparent ranker."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot
from rekomendasi.ranking.pairs import FEATURES

AS_OF = dt.date(2025, 12, 31)


class LinearRanker:
    """A ranker whose score is a weighted sum of the pair features, so every number is checkable by hand;
    its contributions are each feature's term (they sum to the score, as TreeSHAP's do with the bias).

    Scores are rounded to ``decimals`` so that ties happen and the tie-break is exercised.
    """

    feature_names_in_ = np.asarray(FEATURES, dtype=object)

    def __init__(self, decimals: int = 1) -> None:
        self.weights = np.zeros(len(FEATURES))
        self.weights[FEATURES.index("gap_sum")] = 1.0
        self.weights[FEATURES.index("peer_share")] = 0.5
        self.weights[FEATURES.index("uncertainty_mean")] = -0.2
        self.decimals = decimals
        self.calls: list[int] = []

    def predict(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:
        self.calls.append(len(X))
        return np.round(np.nan_to_num(np.asarray(X, dtype=float)) @ self.weights, self.decimals)

    def contributions(self, X: np.ndarray, num_threads: int = 0, as_frame: bool = True) -> object:
        values = np.nan_to_num(np.asarray(X, dtype=float)) * self.weights
        values = np.column_stack([values, np.zeros(len(values))])  # the bias column
        return pd.DataFrame(values, columns=[*FEATURES, "bias"]) if as_frame else values


@pytest.fixture(scope="session")
def snapshot(small_dataset: Dataset, spec: EvidenceSpec) -> Snapshot:
    return build_snapshot(small_dataset, AS_OF, spec, encoder=None)


@pytest.fixture()
def ranker() -> LinearRanker:
    return LinearRanker()
