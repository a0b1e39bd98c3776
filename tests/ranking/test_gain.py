"""The served ranker: closable gap x course effectiveness learned from measured progress."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from rekomendasi.ranking import LambdaRanker
from rekomendasi.ranking.effect import EFFECT_INPUTS
from rekomendasi.ranking.gain import GainRanker, closable, load_ranker
from rekomendasi.ranking.pairs import FEATURES


def _enrolments(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Pair-feature rows whose improvement is closable x effect, the effect rising with the hours (jp)
    and falling with e-learning (modality 1), plus noise; and that true expected improvement."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.random((n, len(FEATURES))), columns=list(FEATURES))
    X["generator_score"] = rng.gamma(2.0, 0.5, n)
    X["n_targets"] = rng.integers(1, 4, n).astype(float)
    X["jp"] = rng.choice([8.0, 16.0, 32.0, 64.0], n)
    X["modality"] = rng.integers(0, 3, n).astype(float)
    effect = (1 - np.exp(-X["jp"].to_numpy() / 24)) * np.where(X["modality"] == 1, 0.4, 1.0)
    expected = closable(X) * effect
    return X, expected + rng.normal(0, 0.3, n), expected


def _within_person_agreement(model: GainRanker, X: pd.DataFrame, expected: np.ndarray) -> float:
    """Share of row pairs (of 10 rows per 'person') the model orders as the expected improvement does."""
    score = model.predict(X).reshape(-1, 10)
    truth = expected.reshape(-1, 10)
    i, j = np.triu_indices(10, 1)
    return float(np.mean(np.sign(score[:, i] - score[:, j]) == np.sign(truth[:, i] - truth[:, j])))


def test_it_learns_which_courses_work_beyond_the_closable_gap() -> None:
    X, y, _ = _enrolments(4000, 0)
    Xv, yv, _ = _enrolments(2000, 1)
    model = GainRanker(alphas=(1.0, 100.0, 1e5)).fit(X, y, eval_set=(Xv, yv))
    assert model.best_alpha_ in (1.0, 100.0, 1e5)
    assert set(model.validation_errors_) == set(model.measured_validation_errors_) == {1.0, 100.0, 1e5}
    # A penalty that flattens the effect fits later enrolments worse than a moderate one.
    assert model.validation_errors_[1e5] > min(model.validation_errors_.values())
    Xt, _, expected = _enrolments(3000, 2)
    learned = _within_person_agreement(model, Xt, expected)
    # closable alone ignores the courses' effectiveness: the learned model orders more pairs right.
    flat = float(
        np.mean(
            np.sign(
                closable(Xt).reshape(-1, 10)[:, np.triu_indices(10, 1)[0]]
                - closable(Xt).reshape(-1, 10)[:, np.triu_indices(10, 1)[1]]
            )
            == np.sign(
                expected.reshape(-1, 10)[:, np.triu_indices(10, 1)[0]]
                - expected.reshape(-1, 10)[:, np.triu_indices(10, 1)[1]]
            )
        )
    )
    assert learned > flat + 0.05, (learned, flat)
    assert model.feature_importances_.index[0] in ("generator_score", "jp", "modality")


def test_contributions_sum_to_the_score_and_name_the_effect_inputs() -> None:
    X, y, _ = _enrolments(1500, 3)
    model = GainRanker(alphas=(10.0,)).fit(X, y)
    parts = model.contributions(X.head(200))
    assert isinstance(parts, pd.DataFrame)
    np.testing.assert_allclose(parts.sum(axis=1).to_numpy(), model.predict(X.head(200)), atol=1e-9)
    assert (parts["bias"] == 0).all()
    # Columns outside the effect's inputs and the generator carry nothing.
    assert (parts["gap_sum"] == 0).all() and (parts["jp"].abs() > 0).any()
    array = model.contributions(X.head(5).to_numpy(), as_frame=False)
    np.testing.assert_allclose(np.asarray(array), parts.head(5).to_numpy())


def test_sample_weight_and_unmeasured_rows() -> None:
    X, y, _ = _enrolments(2000, 4)
    plain = GainRanker(alphas=(10.0,)).fit(X, y)
    # Rows with no measured improvement (NaN) are skipped: the same model as without them.
    with_nan = GainRanker(alphas=(10.0,)).fit(
        pd.concat([X, X.head(300)], ignore_index=True), np.concatenate([y, np.full(300, np.nan)])
    )
    np.testing.assert_array_equal(plain.predict(X.head(50)), with_nan.predict(X.head(50)))
    # Zero weight drops rows; weighting the e-learning rows' zeros up lowers e-learning's effect.
    zeros = np.where(X["modality"] == 1, 0.0, y)
    heavy = GainRanker(alphas=(10.0,)).fit(X, zeros, sample_weight=np.where(X["modality"] == 1, 5.0, 1.0))
    light = GainRanker(alphas=(10.0,)).fit(X, zeros, sample_weight=np.where(X["modality"] == 1, 0.0, 1.0))
    elearning = X[X["modality"] == 1].head(100)
    assert heavy.effect(elearning).mean() < light.effect(elearning).mean()


def test_refit_keeps_the_chosen_penalty_and_save_load_roundtrips(tmp_path: Path) -> None:
    X, y, _ = _enrolments(2000, 5)
    Xv, yv, _ = _enrolments(1000, 6)
    model = GainRanker(alphas=(10.0, 1000.0)).fit(X, y, eval_set=(Xv, yv))
    chosen = model.best_alpha_
    first = model.effect(X.head(100))
    model.refit(pd.concat([X, Xv], ignore_index=True), np.concatenate([y, yv]))
    assert model.best_alpha_ == chosen and model.effect_.alpha == chosen
    assert not np.allclose(model.effect(X.head(100)), first)  # refitted on more rows
    model.gain_calibration_ = {"x": [0.0, 1.0], "y": [0.0, 1.0]}
    model.entry_effects_ = {"TRN-0001": 0.12, "TRN-0002": -0.03}
    model.effectiveness_ = {"as_of": "2025-12-31", "entries": [{"training_id": "TRN-0001", "effect": None}]}
    loaded = load_ranker(model.save(tmp_path / "gain"))
    assert isinstance(loaded, GainRanker)
    np.testing.assert_array_equal(loaded.predict(X.head(100)), model.predict(X.head(100)))
    assert loaded.gain_calibration_ == model.gain_calibration_
    assert loaded.entry_effects_ == model.entry_effects_ and loaded.effectiveness_ == model.effectiveness_
    assert loaded.get_params() == model.get_params()
    # A LambdaRanker saved before the expected-gain model still loads as one.
    qid = np.repeat(np.arange(200), 10)
    lambdarank = LambdaRanker(n_estimators=5, early_stopping_rounds=0).fit(X, (y > 0.5).astype(int), qid)
    assert isinstance(load_ranker(lambdarank.save(tmp_path / "lambdarank")), LambdaRanker)


def test_little_evidence_ranks_by_closable_gap_and_none_is_an_error() -> None:
    X, y, _ = _enrolments(50, 7)
    # A penalty far above what 50 enrolments weigh: every course gets the average effect.
    few = GainRanker(alphas=(1e9,)).fit(X, y)
    assert np.ptp(few.effect(X)) < 1e-6 * few.effect(X).mean()
    np.testing.assert_allclose(few.predict(X) / few.effect(X)[0], closable(X), rtol=1e-5)
    with pytest.raises(ValueError, match="0 enrolments with a closable gap"):
        GainRanker().fit(X, np.full(len(X), np.nan))
    with pytest.raises(ValueError, match="same length"):
        GainRanker().fit(X, y[:-1])
    with pytest.raises(NotFittedError):
        GainRanker().predict(X)


def test_a_correction_from_answers_moves_the_ranking_and_stays_explained(tmp_path: Path) -> None:
    X, y, _ = _enrolments(3000, 8)
    model = GainRanker(alphas=(10.0,)).fit(X, y)
    before = model.predict(X)
    # People answered against e-learning whatever its closable gap: label 0 for modality 1, else 1.
    label = np.where(X["modality"] == 1, 0, 1)
    qid = np.repeat(np.arange(300), 10)
    params = LambdaRanker(num_leaves=7, min_child_samples=20)._params()
    model.correct(X, label, qid, None, params, rounds=50)
    after = model.predict(X)
    elearning = (X["modality"] == 1).to_numpy()
    rank_before = before.reshape(-1, 10).argsort(axis=1).argsort(axis=1).ravel()
    rank_after = after.reshape(-1, 10).argsort(axis=1).argsort(axis=1).ravel()
    assert rank_after[elearning].mean() < rank_before[elearning].mean() - 0.5  # e-learning moved down
    parts = model.contributions(X.head(100))
    np.testing.assert_allclose(parts.sum(axis=1).to_numpy(), after[:100], rtol=1e-6, atol=1e-6)
    loaded = load_ranker(model.save(tmp_path / "corrected"))
    np.testing.assert_array_equal(loaded.predict(X.head(100)), after[:100])
    # A refit drops the correction: it was learned on top of the old expected gain.
    model.refit(X, y)
    np.testing.assert_allclose(model.predict(X), before)
    assert not (model.save(tmp_path / "plain") / "correction.txt").exists()


def test_a_version_with_the_earlier_tree_effect_still_loads_and_serves(tmp_path: Path) -> None:
    """Expected-gain versions registered before the linear effect kept a LightGBM effect in
    booster.txt and other parameters in ranker.json: they load, predict closable x effect and explain."""
    X, y, _ = _enrolments(1000, 9)
    c = closable(X)
    earlier = [name for name in EFFECT_INPUTS if name != "entry_effect"]  # its inputs then (before #16)
    data = lgb.Dataset(X[earlier], label=y / c, weight=c**2)
    booster = lgb.train({"objective": "regression", "num_leaves": 4, "verbosity": -1}, data, 20)
    where = tmp_path / "old"
    where.mkdir()
    booster.save_model(str(where / "booster.txt"))
    old = {
        "kind": "expected-gain",
        "params": {"rounds": [10, 20], "learning_rate": 0.05, "num_leaves": 4, "min_child_samples": 50,
                   "reg_lambda": 10.0, "random_state": 0, "n_jobs": 1},
        "feature_names_in_": list(FEATURES),
        "best_iteration_": 20,
        "mean_effect_": 0.5,
        "prior_weight_": None,
        "importance_": [0.0] * len(FEATURES),
        "gain_calibration_": None,
    }  # fmt: skip
    (where / "ranker.json").write_text(json.dumps(old), encoding="utf-8")
    loaded = load_ranker(where)
    assert isinstance(loaded, GainRanker)
    expected = c[:50] * np.maximum(booster.predict(X[earlier].head(50)), 0)
    np.testing.assert_allclose(loaded.predict(X.head(50)), expected)
    np.testing.assert_allclose(loaded.contributions(X.head(50)).sum(axis=1), expected, atol=1e-9)
    with pytest.raises(ValueError, match="not saved again"):
        loaded.save(tmp_path / "again")


def test_a_missing_attribute_counts_as_the_fitted_mean_and_adds_nothing() -> None:
    """An entry nobody took yet has no completion rate: its part of the effect is 0, and the centre the
    others are measured from is the mean over the entries that have one (not pulled towards 0)."""
    from rekomendasi.ranking.effect import LinearEffect

    X, y, _ = _enrolments(2000, 10)
    X["entry_completion_rate"] = np.where(np.arange(len(X)) % 2 == 0, np.nan, 0.8 + 0.1 * X["jp"] / 64)
    c = closable(X)
    model = LinearEffect(10.0).fit(X[list(EFFECT_INPUTS)], y / c, c**2)
    column = model.columns_.index("entry_completion_rate")
    known = X["entry_completion_rate"].notna().to_numpy()
    expected = np.average(X.loc[known, "entry_completion_rate"], weights=(c**2)[known])
    assert model.mean_[column] == pytest.approx(expected)
    _, parts = model.parts(X[list(EFFECT_INPUTS)])
    assert (parts[~known, list(EFFECT_INPUTS).index("entry_completion_rate")] == 0).all()
    assert (parts[known, list(EFFECT_INPUTS).index("entry_completion_rate")] != 0).any()


def test_the_measured_effectiveness_is_used_only_where_the_later_enrolments_say_it_helps() -> None:
    def rows(n: int, seed: int, informative: bool) -> tuple[pd.DataFrame, np.ndarray]:
        X, _, _ = _enrolments(n, seed)
        rng = np.random.default_rng(seed + 100)
        quality = rng.choice([0.2, 1.0, 1.8], n)  # what only the courses' outcomes show
        X["entry_effect"] = quality + rng.normal(0, 0.1, n) if informative else rng.normal(1.0, 0.5, n)
        return X, closable(X) * quality + rng.normal(0, 0.1, n)

    X, y = rows(3000, 20, informative=True)
    Xv, yv = rows(1500, 21, informative=True)
    used = GainRanker().fit(X, y, eval_set=(Xv, yv))
    assert used.uses_measured_
    never = GainRanker(measured="never").fit(X, y, eval_set=(Xv, yv))
    assert not never.uses_measured_
    assert never.predict(Xv.assign(entry_effect=5.0)).tolist() == never.predict(Xv).tolist()
    assert _within_person_agreement(used, Xv, closable(Xv) * Xv["entry_effect"].to_numpy()) > 0.9
    X, y = rows(3000, 22, informative=False)
    Xv, yv = rows(1500, 23, informative=False)
    assert not GainRanker().fit(X, y, eval_set=(Xv, yv)).uses_measured_
    assert not GainRanker().fit(X, y).uses_measured_  # nothing to judge it on
    with pytest.raises(ValueError, match="measured"):
        GainRanker(measured="maybe").fit(X, y)
