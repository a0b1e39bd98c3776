"""Ranking metrics on hand-written lists with pinned values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rekomendasi.ranking import (
    bootstrap_ci,
    catalog_coverage,
    intra_list_diversity,
    map_at_k,
    ndcg_at_k,
    oracle_top_k,
    recall_at_k,
)
from rekomendasi.ranking.metrics import ap_per_user, ndcg_per_user

RELEVANCE = pd.DataFrame(
    {
        "nip": ["a"] * 4 + ["b"] * 3,
        "training_id": ["t1", "t2", "t3", "t4", "t1", "t2", "t3"],
        "gain": [3.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0],  # b has nothing to gain: left out of NDCG
    }
)


def _recs(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["nip", "training_id", "rank"])


def test_perfect_list_has_ndcg_one_and_reversed_is_pinned() -> None:
    perfect = _recs([("a", "t1", 1), ("a", "t2", 2), ("a", "t4", 3), ("b", "t1", 1)])
    assert ndcg_at_k(perfect, RELEVANCE, k=3) == pytest.approx(1.0)
    worst = _recs([("a", "t3", 1), ("a", "t4", 2), ("a", "t2", 3)])
    ideal = 3 + 2 / math.log2(3) + 1 / 2
    assert ndcg_at_k(worst, RELEVANCE, k=3) == pytest.approx((0 + 1 / math.log2(3) + 2 / 2) / ideal)


def test_items_beyond_k_do_not_count() -> None:
    late = _recs([("a", "t3", 1), ("a", "t1", 2)])
    assert ndcg_at_k(late, RELEVANCE, k=1) == 0.0


def test_oracle_top_k_orders_by_gain_and_drops_zeros() -> None:
    top = oracle_top_k(RELEVANCE, 2)
    assert top[["nip", "training_id", "rank"]].values.tolist() == [["a", "t1", 1], ["a", "t2", 2]]


def test_map_and_recall_against_oracle_top_k() -> None:
    recs = _recs([("a", "t2", 1), ("a", "t3", 2)])
    # oracle top-2 of a: t1, t2. Hits: t2 at rank 1 -> AP = (1/1) / 2
    assert map_at_k(recs, RELEVANCE, k=2) == pytest.approx(0.5)
    assert recall_at_k(recs, oracle_top_k(RELEVANCE, 2), k=2) == pytest.approx(0.5)


def test_coverage_and_diversity() -> None:
    recs = _recs([("a", "t1", 1), ("a", "t2", 2), ("b", "t1", 1), ("b", "t3", 2)])
    assert catalog_coverage(recs, catalog_size=4) == pytest.approx(0.75)
    comps = pd.DataFrame({"training_id": ["t1", "t2", "t2", "t3"], "competency_id": ["x", "x", "y", "z"]})
    # a: {x} vs {x,y} -> 1 - 1/2 = 0.5 ; b: {x} vs {z} -> 1.0
    assert intra_list_diversity(recs, comps) == pytest.approx(0.75)


def test_bootstrap_ci_contains_the_mean_and_narrows_with_data() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.normal(0.5, 0.2, 50), rng.normal(0.5, 0.2, 5000)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5
    assert all(math.isnan(v) for v in bootstrap_ci(np.array([np.nan])))


def _pairwise_diversity(recs: pd.DataFrame, comps: pd.DataFrame, k: int) -> float:
    """The definition, pair by pair: the reference the array version must match."""
    sets = comps.groupby("training_id")["competency_id"].agg(frozenset)
    values = []
    for _, items in recs[recs["rank"] <= k].groupby("nip")["training_id"]:
        comp = [sets.get(i, frozenset()) for i in items]
        if len(comp) > 1:
            values.append(
                np.mean(
                    [
                        1 - len(a & b) / len(a | b) if a | b else 0.0
                        for i, a in enumerate(comp)
                        for b in comp[i + 1 :]
                    ]
                )
            )
    return float(np.mean(values)) if values else float("nan")


@settings(max_examples=60, deadline=None)
@given(
    lists=st.lists(st.lists(st.integers(0, 7), max_size=6, unique=True), min_size=1, max_size=8),
    links=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3)), max_size=16),
    k=st.integers(1, 6),
)
def test_diversity_equals_the_pairwise_definition(
    lists: list[list[int]], links: list[tuple[int, int]], k: int
) -> None:
    # Users with zero or one item, items without competencies and lists longer than k all occur.
    recs = _recs(
        [(f"u{u}", f"t{t}", r) for u, items in enumerate(lists) for r, t in enumerate(items, start=1)]
    )
    comps = pd.DataFrame(
        {"training_id": [f"t{t}" for t, _ in links], "competency_id": [f"c{c}" for _, c in links]}
    )
    expected = _pairwise_diversity(recs, comps, k)
    got = intra_list_diversity(recs, comps, k)
    assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected, abs=1e-12)


def test_a_precomputed_oracle_and_the_listed_gains_give_the_same_metrics() -> None:
    rng = np.random.default_rng(3)
    relevance = pd.DataFrame(
        {
            "nip": np.repeat([f"n{i}" for i in range(40)], 12),
            "training_id": np.tile([f"t{j}" for j in range(12)], 40),
            "gain": rng.random(480) * (rng.random(480) > 0.3),
        }
    )
    recs = relevance.sample(frac=0.5, random_state=1)[["nip", "training_id"]]
    recs["rank"] = recs.groupby("nip").cumcount() + 1
    listed = recs[["nip", "training_id"]].merge(relevance)  # only the gains of listed items
    oracle = oracle_top_k(relevance, 10)
    for k in (3, 5, 10):
        pd.testing.assert_series_equal(
            ndcg_per_user(recs, listed, k, oracle), ndcg_per_user(recs, relevance, k)
        )
        pd.testing.assert_series_equal(ap_per_user(recs, listed, k, oracle), ap_per_user(recs, relevance, k))
    # Without the oracle, the listed gains alone would understate the ideal: the shortcut needs both.
    assert not ndcg_per_user(recs, listed, 5).equals(ndcg_per_user(recs, relevance, 5))
