"""LambdaRanker's per-row sample weights: they change the fit, and follow their rows through the query
sort and the validation split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rekomendasi.ranking import LambdaRanker


def _conflicting(
    queries: int, per_query: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Queries of two kinds that disagree: in kind A the grade rises with x0, in kind B it falls. Returns
    X, y, qid and the kind of each row (True for A)."""
    rng = np.random.default_rng(seed)
    n = queries * per_query
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x0", "x1", "x2"])
    qid = np.repeat(np.arange(queries), per_query)
    kind_a = qid % 2 == 0
    signal = np.where(kind_a, X["x0"], -X["x0"]) + rng.normal(0, 0.2, n)
    y = np.digitize(signal, [-0.5, 0.5, 1.2])
    return X, y, qid, kind_a


def _params() -> dict[str, object]:
    return {"n_estimators": 60, "num_leaves": 7, "min_child_samples": 5, "early_stopping_rounds": 0}


def _follows_x0(model: LambdaRanker) -> float:
    """Correlation of the scores with x0 on fresh rows: +1 ranks like kind A, -1 like kind B."""
    X = pd.DataFrame(np.random.default_rng(9).normal(size=(500, 3)), columns=["x0", "x1", "x2"])
    return float(np.corrcoef(model.predict(X), X["x0"])[0, 1])


def test_weights_decide_which_queries_the_ranker_follows() -> None:
    X, y, qid, kind_a = _conflicting(120, 12, seed=0)
    favour_a = LambdaRanker(**_params()).fit(X, y, qid, sample_weight=np.where(kind_a, 1.0, 0.05))
    favour_b = LambdaRanker(**_params()).fit(X, y, qid, sample_weight=np.where(kind_a, 0.05, 1.0))
    # Ignoring the weights would give one model for both calls.
    assert _follows_x0(favour_a) > 0.5
    assert _follows_x0(favour_b) < -0.5


def test_unit_weights_fit_the_same_trees_as_no_weights() -> None:
    X, y, qid, _ = _conflicting(40, 10, seed=1)
    plain = LambdaRanker(**_params()).fit(X, y, qid)
    ones = LambdaRanker(**_params()).fit(X, y, qid, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(plain.predict(X), ones.predict(X))


def test_weights_follow_their_rows_through_the_query_sort() -> None:
    X, y, qid, kind_a = _conflicting(60, 10, seed=2)
    weight = np.where(kind_a, 1.0, 0.1) * np.linspace(0.5, 1.5, len(y))
    # Queries interleaved round-robin (each query's rows keep their order, so the fit's stable sort by
    # query gives back the same dataset): only weights that moved with their rows fit the same trees.
    shuffled = np.lexsort((qid, np.arange(len(y)) % 10))
    in_order = LambdaRanker(**_params()).fit(X, y, qid, sample_weight=weight)
    mixed = LambdaRanker(**_params()).fit(
        X.iloc[shuffled].reset_index(drop=True), y[shuffled], qid[shuffled], sample_weight=weight[shuffled]
    )
    np.testing.assert_allclose(in_order.predict(X), mixed.predict(X))


def test_weights_follow_their_rows_through_the_validation_split() -> None:
    X, y, qid, kind_a = _conflicting(80, 10, seed=4)
    weight = np.where(kind_a, 1.0, 0.2)
    params = {
        **_params(),
        "early_stopping_rounds": 10,
        "validation_fraction": 0.3,
        "random_state": 1,
        "refit": False,  # compare the fit on the split itself
    }
    split_here = LambdaRanker(**params).fit(X, y, qid, sample_weight=weight)
    held = np.isin(qid, split_here.validation_queries_)
    assert held.any() and not held.all()
    by_hand = LambdaRanker(**params).fit(
        X[~held], y[~held], qid[~held], eval_set=(X[held], y[held], qid[held]), sample_weight=weight[~held]
    )
    assert split_here.best_iteration_ == by_hand.best_iteration_
    np.testing.assert_allclose(split_here.predict(X), by_hand.predict(X))


@pytest.mark.parametrize("weight", [np.ones(3), -np.ones(40)])
def test_weights_of_the_wrong_length_or_sign_are_refused(weight: np.ndarray) -> None:
    X, y, qid, _ = _conflicting(4, 10, seed=5)
    with pytest.raises(ValueError, match="sample_weight"):
        LambdaRanker(**_params()).fit(X, y, qid, sample_weight=weight)
