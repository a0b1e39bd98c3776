"""The served ranker: expected gain = the gap a course can close for this person x how well it has worked.

A course is worth what it closes of the person's gaps. How much it can close is structure we know from
the competency standards (the candidate generator's score: the gap on each targeted competency the
course can reach, weighted by how well its level suits the person), spread over the competencies it
targets (divided by the square root of their number: a course's hours are shared among them). How much
it actually closes, per unit of that, is its *effectiveness*, which only outcomes tell: it is learned
from past enrolments as a function of the course's attributes (hours, modality, cost, language, where
it is held, and how earlier participants fared: completion rate, scores, satisfaction):

    score = closable x effect(course),   closable = generator_score / sqrt(n_targets)

``effect`` is a small LightGBM regression of the realised improvement per unit of closable gap
(weighted by closable squared: the least-squares fit of improvement = closable x effect). Its number of
rounds is chosen with a time split (fit on the earlier label years, scored on the last), then it is
refitted on every label year. Measured on five 4,000-employee development worlds (seeds 5, 11, 13, 17,
19), this model's truth-graded NDCG@10 is 0.674 on average against 0.569 for the candidate score and
0.573 for LambdaRank on graded outcome labels, whose few thousand noisy examples a year cannot teach it
the product of gap and effectiveness. A LambdaRank correction on top, fitted on outcome labels alone, is
not used: 0.62-0.66 in early trials, 0.683 as :meth:`GainRanker.correct` scales it
(``benchmarks/ranker_dev.py variants``), within noise of 0.674 and not run on the grid. With feedback
it is used.

The model is additive for explanations: ``closable x mean effect`` is the generator's part (the gap the
course closes at an average course's effectiveness), and ``closable x`` each attribute's TreeSHAP value
in ``effect`` is that attribute's part, so a row's contributions sum to its score.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from rekomendasi.candidates import ENTRY_COLUMNS
from rekomendasi.ranking.ranker import _dataset

EFFECT_INPUTS = (*ENTRY_COLUMNS, "n_targets")
"""The course attributes ``effect`` is a function of."""
KIND = "expected-gain"
PRIOR_SPREAD = 5.0
"""With a correction, the expected gain enters LambdaRank as its starting score scaled to this many
standard deviations per logit unit: a strong prior the answers must outweigh."""
MIN_CLOSABLE = 0.05
"""Enrolments with less closable gap than this carry no information on effectiveness (weight ~0)."""


def closable(X: pd.DataFrame) -> np.ndarray:
    """The gap each (person, course) row can close: the generator's score over sqrt(targets)."""
    return np.asarray(X["generator_score"], dtype=float) / np.sqrt(
        np.maximum(np.asarray(X["n_targets"], dtype=float), 1.0)
    )


class GainRanker(BaseEstimator):
    """``closable x effect(course)``, with ``effect`` learned from realised improvements.

    Args:
        rounds: candidate numbers of boosting rounds for ``effect``; :meth:`fit` picks one on its eval set.
        learning_rate: shrinkage per round.
        num_leaves: leaves per tree (few: the signal is weak and the attributes few).
        min_child_samples: minimum enrolments per leaf.
        reg_lambda: L2 regularisation.
        random_state: LightGBM's seed.
        n_jobs: threads.
    """

    def __init__(
        self,
        rounds: tuple[int, ...] = (10, 20, 40, 80),
        learning_rate: float = 0.05,
        num_leaves: int = 4,
        min_child_samples: int = 50,
        reg_lambda: float = 10.0,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.rounds = rounds
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }

    def _train(
        self, X: pd.DataFrame, improvement: np.ndarray, rounds: int, weight: np.ndarray | None
    ) -> lgb.Booster:
        c = closable(X)
        ok = (c > MIN_CLOSABLE) & np.isfinite(improvement)
        if weight is not None:
            ok &= weight > 0
        if not ok.any():
            raise ValueError(
                "no enrolment with a closable gap and a measured improvement to learn effectiveness from"
            )
        # With fewer than 2 x min_child_samples rows no tree can split: the effect is one constant and
        # the score ranks by closable gap alone, which is what so little evidence supports.
        data = lgb.Dataset(
            X.loc[ok, list(EFFECT_INPUTS)].reset_index(drop=True),
            label=improvement[ok] / c[ok],
            weight=c[ok] ** 2 * (1.0 if weight is None else weight[ok]),
            free_raw_data=False,
        )
        return lgb.train(self._params(), data, num_boost_round=rounds)

    def fit(
        self,
        X: pd.DataFrame,
        improvement: np.ndarray,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> GainRanker:
        """Learn ``effect`` from enrolments: pair features ``X`` (the :data:`~rekomendasi.ranking.pairs.
        FEATURES` of each enrolment, from the snapshot before it) and the improvement each realised
        (0 when not completed; NaN rows are skipped). ``sample_weight`` weighs rows (feedback rows
        weigh less than measured outcomes, see :mod:`.feedback`).

        With ``eval_set`` (later enrolments), each candidate number of rounds is fitted on ``X`` and
        scored on it (weighted squared error of improvement = closable x effect); the best is kept in
        ``best_iteration_`` and :meth:`fit` ends with the model fitted on ``X`` only: the caller refits
        on everything with :meth:`refit`. Without it, the middle candidate is used.

        Raises:
            ValueError: too few enrolments with a closable gap, or lengths differ.
        """
        improvement = np.asarray(improvement, dtype=float)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(X) != len(improvement) or (weight is not None and len(weight) != len(X)):
            raise ValueError("X, improvement and sample_weight must have the same length")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.validation_errors_: dict[int, float] = {}
        rounds = sorted(self.rounds)
        if eval_set is None:
            self.best_iteration_ = int(rounds[len(rounds) // 2])
            self.booster_ = self._train(X, improvement, self.best_iteration_, weight)
        else:
            booster = self._train(X, improvement, rounds[-1], weight)
            ex, ey = eval_set
            c = closable(ex)
            inputs = ex[list(EFFECT_INPUTS)]
            ey = np.asarray(ey, dtype=float)
            for r in rounds:
                effect = booster.predict(inputs, num_iteration=r)
                self.validation_errors_[r] = float(np.nanmean((ey - c * effect) ** 2))
            self.best_iteration_ = min(self.validation_errors_, key=lambda r: self.validation_errors_[r])
            self.booster_ = self._train(X, improvement, self.best_iteration_, weight)
        self._finish(X)
        return self

    def refit(
        self, X: pd.DataFrame, improvement: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> GainRanker:
        """The same model (``best_iteration_`` rounds) fitted again on ``X`` (every label year)."""
        self._check()
        self.correction_: lgb.Booster | None = None
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.booster_ = self._train(X, np.asarray(improvement, dtype=float), self.best_iteration_, weight)
        self._finish(X)
        return self

    def _finish(self, X: pd.DataFrame) -> None:
        """The mean effect (the generator's share of every score) and the importances, on ``X``."""
        self.mean_effect_ = float(np.mean(self.booster_.predict(X[list(EFFECT_INPUTS)])))
        values = np.abs(np.asarray(self.contributions(X, as_frame=False)))[:, : self.n_features_in_]
        self.importance_ = [float(v) for v in values.mean(axis=0)]

    def _check(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("This GainRanker is not fitted yet; call fit(X, improvement) first.")

    def _frame(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """``X`` as a frame with the fitted columns (arrays are taken in fitted order)."""
        if isinstance(X, pd.DataFrame):
            return X[list(self.feature_names_in_)]
        values = np.asarray(X, dtype=float)
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {values.shape[1]} features, the ranker was fitted with {self.n_features_in_}"
            )
        return pd.DataFrame(values, columns=list(self.feature_names_in_))

    def effect(self, X: pd.DataFrame | np.ndarray, num_threads: int = 0) -> np.ndarray:
        """Each row's course effectiveness (improvement per unit of closable gap), at least 0."""
        self._check()
        frame = self._frame(X)
        raw = self.booster_.predict(frame[list(EFFECT_INPUTS)], num_threads=num_threads)
        return np.maximum(np.asarray(raw), 0.0)

    def predict(self, X: pd.DataFrame | np.ndarray, num_threads: int = 0) -> np.ndarray:
        """Expected improvement of each (person, course) row: closable x effect. Higher is better."""
        self._check()
        frame = self._frame(X)
        gain = closable(frame) * self.effect(frame, num_threads)
        correction = getattr(self, "correction_", None)
        if correction is None:
            return gain
        return self.prior_weight_ * gain + np.asarray(correction.predict(frame, num_threads=num_threads))

    def correct(
        self,
        X: pd.DataFrame,
        label: np.ndarray,
        qid: np.ndarray,
        sample_weight: np.ndarray | None,
        params: dict[str, Any],
        rounds: int,
    ) -> GainRanker:
        """Add a LambdaRank correction learned from graded examples (outcomes and what people answered
        to their recommendations, :mod:`.feedback`), starting from the expected gain: the score becomes
        ``prior_weight_ x expected gain + correction``. Used when there is feedback: the answers say
        what the evidence of progress cannot (measured in ``bench feedback``).

        Args:
            params: LightGBM parameters of the correction (LambdaRank's).
            rounds: its boosting rounds.
        """
        self._check()
        self.correction_ = None
        gain = self.predict(X)
        spread = float(np.std(gain))
        self.prior_weight_ = PRIOR_SPREAD / spread if spread > 0 else 1.0
        queries = np.asarray(qid)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        features = X[list(self.feature_names_in_)]
        data = _dataset(features, np.asarray(label, dtype=float), queries, weight=weights)
        order = np.argsort(queries, kind="stable")  # the rows' order in the dataset
        data.set_init_score(self.prior_weight_ * gain[order])
        self.correction_ = lgb.train(params, data, num_boost_round=rounds)
        self._finish(X)
        return self

    def contributions(
        self, X: pd.DataFrame | np.ndarray, num_threads: int = 0, as_frame: bool = True
    ) -> pd.DataFrame | np.ndarray:
        """Each feature's additive part of each score plus a ``bias`` column (0); a row sums to
        :meth:`predict`'s score (up to the clipping of a negative effect at 0, where the parts are
        scaled to the clipped score)."""
        self._check()
        frame = self._frame(X)
        c = closable(frame)
        shap = np.asarray(
            self.booster_.predict(frame[list(EFFECT_INPUTS)], pred_contrib=True, num_threads=num_threads)
        )
        effect = shap.sum(axis=1)
        scale = np.where(effect > 0, 1.0, 0.0)  # a clipped (negative) effect scores 0: so do its parts
        out = np.zeros((len(frame), self.n_features_in_ + 1))
        names = list(self.feature_names_in_)
        out[:, names.index("generator_score")] = c * shap[:, -1] * scale
        for j, name in enumerate(EFFECT_INPUTS):
            out[:, names.index(name)] += c * shap[:, j] * scale
        correction = getattr(self, "correction_", None)
        if correction is not None:
            out *= self.prior_weight_
            out += np.asarray(correction.predict(frame, pred_contrib=True, num_threads=num_threads))
        if not as_frame:
            return out
        return pd.DataFrame(out, columns=[*names, "bias"])

    @property
    def feature_importances_(self) -> pd.Series:
        """Mean absolute contribution of each feature over the enrolments the model was fitted on."""
        self._check()
        return pd.Series(self.importance_, index=self.feature_names_in_).sort_values(ascending=False)

    def save(self, directory: Path) -> Path:
        """LightGBM's text format for ``effect`` (``booster.txt``) and the rest in ``ranker.json``."""
        self._check()
        directory.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(directory / "booster.txt"))
        correction = getattr(self, "correction_", None)
        if correction is not None:
            correction.save_model(str(directory / "correction.txt"))
        params = self.get_params()
        params["rounds"] = list(params["rounds"])
        fitted = {
            "kind": KIND,
            "params": params,
            "feature_names_in_": [str(f) for f in self.feature_names_in_],
            "best_iteration_": self.best_iteration_,
            "mean_effect_": self.mean_effect_,
            "prior_weight_": getattr(self, "prior_weight_", 1.0) if correction is not None else None,
            "importance_": self.importance_,
            "gain_calibration_": getattr(self, "gain_calibration_", None),
        }
        (directory / "ranker.json").write_text(json.dumps(fitted, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path) -> GainRanker:
        """A ranker written by :meth:`save`."""
        fitted = json.loads((directory / "ranker.json").read_text(encoding="utf-8"))
        params = dict(fitted["params"])
        params["rounds"] = tuple(params["rounds"])
        ranker = cls(**params)
        ranker.booster_ = lgb.Booster(model_file=str(directory / "booster.txt"))
        ranker.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
        ranker.n_features_in_ = len(ranker.feature_names_in_)
        ranker.best_iteration_ = int(fitted["best_iteration_"])
        ranker.mean_effect_ = float(fitted["mean_effect_"])
        ranker.importance_ = list(fitted["importance_"])
        ranker.validation_errors_ = {}
        if fitted.get("prior_weight_") is not None:
            ranker.prior_weight_ = float(fitted["prior_weight_"])
            ranker.correction_ = lgb.Booster(model_file=str(directory / "correction.txt"))
        ranker.gain_calibration_ = fitted.get("gain_calibration_")
        return ranker


def load_ranker(directory: Path) -> Any:
    """The ranker saved in ``directory``: a :class:`GainRanker`, or a
    :class:`~rekomendasi.ranking.ranker.LambdaRanker` (its ``ranker.json`` has no ``kind``: every
    version registered before the expected-gain model)."""
    fitted = json.loads((directory / "ranker.json").read_text(encoding="utf-8"))
    if fitted.get("kind") == KIND:
        return GainRanker.load(directory)
    from rekomendasi.ranking.ranker import LambdaRanker

    return LambdaRanker.load(directory)
