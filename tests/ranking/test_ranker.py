"""The LambdaRank estimator on synthetic learning-to-rank data; scikit-learn conventions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from rekomendasi.ranking import LambdaRanker, ndcg_at_k


def _ltr_data(queries: int, per_query: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Relevance grade 0-3 from x0 + 0.5 * x1 plus noise; x2, x3 are noise features."""
    rng = np.random.default_rng(seed)
    n = queries * per_query
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["x0", "x1", "x2", "x3"])
    signal = X["x0"] + 0.5 * X["x1"] + rng.normal(0, 0.3, n)
    y = np.digitize(signal, [-0.5, 0.5, 1.5])
    qid = np.repeat(np.arange(queries), per_query)
    return X, y, qid


def _ndcg(model: LambdaRanker, X: pd.DataFrame, y: np.ndarray, qid: np.ndarray, k: int = 5) -> float:
    frame = pd.DataFrame(
        {"nip": qid, "training_id": np.arange(len(y)), "score": model.predict(X), "gain": y.astype(float)}
    )
    frame["rank"] = frame.groupby("nip")["score"].rank(ascending=False, method="first").astype(int)
    return ndcg_at_k(frame, frame, k)


def test_learns_the_signal_and_beats_random_on_new_queries() -> None:
    X, y, qid = _ltr_data(300, 20, seed=0)
    Xt, yt, qt = _ltr_data(100, 20, seed=1)
    model = LambdaRanker(n_estimators=200, random_state=0).fit(X, y, qid)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"nip": qt, "training_id": np.arange(len(yt)), "gain": yt.astype(float), "score": rng.random(len(yt))}
    )
    frame["rank"] = frame.groupby("nip")["score"].rank(ascending=False, method="first").astype(int)
    learned = _ndcg(model, Xt, yt, qt)
    assert learned > 0.85 and learned > ndcg_at_k(frame, frame, 5) + 0.25
    importance = model.feature_importances_
    assert list(importance.index[:2]) == ["x0", "x1"]


def test_early_stopping_holds_out_whole_queries() -> None:
    X, y, qid = _ltr_data(200, 10, seed=3)
    model = LambdaRanker(
        n_estimators=2000, early_stopping_rounds=20, validation_fraction=0.25, random_state=0
    ).fit(X, y, qid)
    held = set(model.validation_queries_)
    assert 0 < len(held) < 200
    assert model.best_iteration_ < 2000
    assert "validation" in model.evals_result_


def test_rows_of_a_query_need_not_be_contiguous() -> None:
    X, y, qid = _ltr_data(80, 10, seed=4)
    position = np.tile(np.arange(10), 80)
    interleaved = np.lexsort((qid, position))  # row 0 of every query, then row 1 of every query, ...
    assert not np.all(np.diff(qid[interleaved]) >= 0)
    a = LambdaRanker(n_estimators=50, early_stopping_rounds=0).fit(X, y, qid)
    b = LambdaRanker(n_estimators=50, early_stopping_rounds=0).fit(
        X.iloc[interleaved], y[interleaved], qid[interleaved]
    )
    assert np.allclose(a.predict(X), b.predict(X))


def test_sklearn_conventions() -> None:
    model = LambdaRanker(n_estimators=7, learning_rate=0.2)
    assert clone(model).get_params()["n_estimators"] == 7
    assert not hasattr(model, "booster_")
    with pytest.raises(NotFittedError):
        model.predict(np.zeros((2, 4)))
    X, y, qid = _ltr_data(20, 5, seed=6)
    assert model.fit(X, y, qid) is model
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((2, 3)))


def test_refuses_labels_it_cannot_rank() -> None:
    X, y, qid = _ltr_data(10, 5, seed=7)
    with pytest.raises(ValueError, match="whole numbers"):
        LambdaRanker().fit(X, y + 0.5, qid)
    with pytest.raises(ValueError, match="same length"):
        LambdaRanker().fit(X, y[:-1], qid)


def test_saved_in_lightgbm_format_it_predicts_the_same_scores(tmp_path: Path) -> None:
    X, y, qid = _ltr_data(80, 10, seed=3)
    model = LambdaRanker(n_estimators=60, early_stopping_rounds=10, random_state=0).fit(X, y, qid)
    loaded = LambdaRanker.load(model.save(tmp_path / "native"))
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.array_equal(loaded.contributions(X, as_frame=False), model.contributions(X, as_frame=False))
    assert loaded.best_iteration_ == model.best_iteration_ and list(loaded.feature_names_in_) == list(
        X.columns
    )
    assert loaded.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        LambdaRanker().save(tmp_path / "unfitted")


def test_one_thread_fits_the_same_trees_as_two() -> None:
    # The training config fits with one thread (faster on a shared machine); it must not change the model.
    X, y, qid = _ltr_data(200, 30, seed=4)
    one = LambdaRanker(n_estimators=60, random_state=0, n_jobs=1).fit(X, y, qid)
    two = LambdaRanker(n_estimators=60, random_state=0, n_jobs=2).fit(X, y, qid)
    assert one.best_iteration_ == two.best_iteration_
    assert np.array_equal(one.predict(X), two.predict(X))
