"""The served ranker: expected gain = the gap a course can close for this person x how well it has worked.

A course is worth what it closes of the person's gaps. How much it can close is structure we know from
the competency standards (the candidate generator's score: the gap on each targeted competency the
course can reach, weighted by how well its level suits the person), spread over the competencies it
targets (divided by the square root of their number: a course's hours are shared among them). How much
it actually closes, per unit of that, is its *effectiveness*, which only outcomes tell: it is learned
from past enrolments as a function of the course's attributes (hours, modality, cost, language, where
it is held, and how earlier participants fared: completion rate, scores, satisfaction):

    score = closable x effect(course),   closable = generator_score / sqrt(n_targets)

``effect`` (:mod:`.effect`) is a ridge regression of the measured progress per unit of closable gap
on the course's encoded attributes (weighted by closable squared: the least-squares fit of progress =
closable x effect). The progress is signed (:attr:`~rekomendasi.ranking.labels.Examples.progress`):
with the clipped gap-closing value the labels use, the evidence's noise adds a floor of positive
"progress" to every course and hides the differences. Its penalty is chosen with a time split (fit on
the earlier label years, scored on the last), then it is refitted on every label year.

Measured on five 4,000-employee development worlds (seeds 5, 11, 13, 17, 19;
``benchmarks/ranker_dev.py variants``), truth-graded NDCG@10 averages 0.753 against 0.674 for the
first version (a LightGBM effect on the clipped value), 0.569 for the candidate score and 0.573 for
LambdaRank on graded outcome labels, whose few thousand noisy examples a year cannot teach it the
product of gap and effectiveness. A LambdaRank correction on outcome labels alone is not used (0.753).
With feedback it is used.

Among the attributes is ``entry_effect``, the course's measured effectiveness (issue #16,
:mod:`rekomendasi.effectiveness.feature`): its participants' gain beyond comparable non-participants,
as measured by the end of the year before each example's year (no leakage), shrunk towards the mean. A
fitted model carries the values measured through its training date (``entry_effects_``, given to the
catalogue when scoring: :meth:`~rekomendasi.candidates.Catalogue.for_model`) and the published
estimates (``effectiveness_``, :meth:`~rekomendasi.effectiveness.Effectiveness.to_dict`) the API and the
planner page show.

The model is additive for explanations: ``closable x mean effect`` is the generator's part (the gap the
course closes at an average course's effectiveness), and ``closable x`` each attribute's term in
``effect`` is that attribute's part, so a row's contributions sum to its score.
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

from rekomendasi.ranking.effect import EFFECT_INPUTS, LinearEffect, TreeEffect
from rekomendasi.ranking.ranker import _dataset

KIND = "expected-gain"
PRIOR_SPREAD = 1.0
"""With a correction, the expected gain enters LambdaRank as its starting score, scaled so that one
standard deviation of it is this many logit units: a prior the answers must outweigh. Chosen on the
development world (seed 5, ``bench feedback``) with answers grouped by person: NDCG@10 after one round
0.779 at 5, 0.789 at 2, 0.802 at 1 (0.765 before)."""
MEASURED = "entry_effect"
"""The measured effectiveness among the pair features (:mod:`rekomendasi.effectiveness.feature`)."""
MIN_CLOSABLE = 0.05
"""Enrolments with less closable gap than this carry no information on effectiveness (weight ~0)."""


def closable(X: pd.DataFrame) -> np.ndarray:
    """The gap each (person, course) row can close: the generator's score over sqrt(targets)."""
    return np.asarray(X["generator_score"], dtype=float) / np.sqrt(
        np.maximum(np.asarray(X["n_targets"], dtype=float), 1.0)
    )


class GainRanker(BaseEstimator):
    """``closable x effect(course)``, with ``effect`` learned from measured progress (:mod:`.effect`).

    Args:
        alphas: candidate ridge penalties of the effect regression; :meth:`fit` picks one on its eval set.
        random_state: seed (the LambdaRank correction's).
        n_jobs: threads.
        measured: whether ``effect`` uses the measured effectiveness (``entry_effect``): "auto" lets the
            eval set decide (it must lower the error; without an eval set it is not used), "always",
            "never".
    """

    def __init__(
        self,
        alphas: tuple[float, ...] = (100.0, 300.0, 1000.0, 3000.0, 10000.0),
        random_state: int = 0,
        n_jobs: int = 1,
        measured: str = "auto",
    ) -> None:
        self.alphas = alphas
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.measured = measured

    def _inputs(self, X: pd.DataFrame, use: bool | None = None) -> pd.DataFrame:
        """``X`` as the effect regression sees it: without the measured effectiveness unless it is used
        (a missing value adds nothing)."""
        use = getattr(self, "uses_measured_", False) if use is None else use
        if use or MEASURED not in X.columns:
            return X
        return X.assign(**{MEASURED: np.nan})

    @staticmethod
    def _rows(
        X: pd.DataFrame, progress: np.ndarray, weight: np.ndarray | None
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The enrolments that inform effectiveness: inputs, progress per closable gap, weights."""
        c = closable(X)
        ok = (c > MIN_CLOSABLE) & np.isfinite(progress)
        if weight is not None:
            ok &= weight > 0
        if ok.sum() < 2:
            raise ValueError(
                f"{int(ok.sum())} enrolments with a closable gap and a measured progress: too few to "
                "learn effectiveness from (2 or more)"
            )
        w = c[ok] ** 2 * (1.0 if weight is None else weight[ok])
        return X.loc[ok, list(EFFECT_INPUTS)], progress[ok] / c[ok], w

    def fit(
        self,
        X: pd.DataFrame,
        progress: np.ndarray,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> GainRanker:
        """Learn ``effect`` from enrolments: pair features ``X`` (the :data:`~rekomendasi.ranking.pairs.
        FEATURES` of each enrolment, from the snapshot before it) and the progress each showed
        (:attr:`~rekomendasi.ranking.labels.Examples.progress`: signed, 0 when not completed; NaN rows
        are skipped). ``sample_weight`` weighs rows.

        With ``eval_set`` (later enrolments), each candidate penalty is fitted on ``X`` and scored on it
        (squared error of progress = closable x effect); the best is kept in ``best_alpha_`` and the
        model is left fitted on ``X`` only: the caller refits on everything with :meth:`refit`. Without
        it, the middle candidate is used.

        Raises:
            ValueError: too few enrolments with a closable gap, or lengths differ.
        """
        progress = np.asarray(progress, dtype=float)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(X) != len(progress) or (weight is not None and len(weight) != len(X)):
            raise ValueError("X, progress and sample_weight must have the same length")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        # The eval set's error by penalty, without the measured effectiveness and with it (when tried).
        self.validation_errors_: dict[float, float] = {}
        self.measured_validation_errors_: dict[float, float] = {}
        alphas = sorted(float(a) for a in self.alphas)
        if self.measured not in ("auto", "always", "never"):
            raise ValueError(f"measured must be auto, always or never, got {self.measured!r}")
        if eval_set is None:
            self.uses_measured_ = self.measured == "always"
            rows = self._rows(self._inputs(X, self.uses_measured_), progress, weight)
            self.best_alpha_ = alphas[len(alphas) // 2]
            self.effect_: LinearEffect | TreeEffect = LinearEffect(self.best_alpha_).fit(*rows)
        else:
            ex, ey = eval_set
            c, ey = closable(ex), np.asarray(ey, dtype=float)
            # With the measured effectiveness only when it lowers the later enrolments' squared error by
            # more than twice the paired difference's standard error: a noisy input wins by chance.
            choices = {"never": [False], "always": [True], "auto": [False, True]}[self.measured]
            fitted: dict[tuple[bool, float], LinearEffect] = {}
            errors: dict[tuple[bool, float], np.ndarray] = {}
            mean_error: dict[tuple[bool, float], float] = {}
            for use in choices:
                rows = self._rows(self._inputs(X, use), progress, weight)
                for alpha in alphas:
                    model = LinearEffect(alpha).fit(*rows)
                    effect = np.maximum(model.predict(self._inputs(ex, use)), 0.0)
                    fitted[use, alpha] = model
                    errors[use, alpha] = (ey - c * effect) ** 2
                    mean_error[use, alpha] = float(np.nanmean(errors[use, alpha]))
            best = {use: alphas[int(np.argmin([mean_error[use, a] for a in alphas]))] for use in choices}
            self.uses_measured_ = choices == [True]
            if len(choices) == 2:
                d = errors[False, best[False]] - errors[True, best[True]]
                d = d[np.isfinite(d)]
                self.uses_measured_ = bool(len(d) > 1 and d.mean() > 2 * d.std(ddof=1) / np.sqrt(len(d)))
            self.best_alpha_ = best[self.uses_measured_]
            self.effect_ = fitted[self.uses_measured_, self.best_alpha_]
            for (use, alpha), error in mean_error.items():
                (self.measured_validation_errors_ if use else self.validation_errors_)[alpha] = error
        self._finish(X)
        return self

    def refit(
        self, X: pd.DataFrame, progress: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> GainRanker:
        """The same model (``best_alpha_``) fitted again on ``X`` (every label year)."""
        self._check()
        self.correction_: lgb.Booster | None = None
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        rows = self._rows(self._inputs(X), np.asarray(progress, dtype=float), weight)
        self.effect_ = LinearEffect(self.best_alpha_).fit(*rows)
        self._finish(X)
        return self

    def _finish(self, X: pd.DataFrame) -> None:
        """The mean effect and the importances, on ``X``."""
        self.mean_effect_ = float(np.mean(self.effect_.predict(X)))
        values = np.abs(np.asarray(self.contributions(X, as_frame=False)))[:, : self.n_features_in_]
        self.importance_ = [float(v) for v in values.mean(axis=0)]

    def _check(self) -> None:
        if not hasattr(self, "effect_"):
            raise NotFittedError("This GainRanker is not fitted yet; call fit(X, progress) first.")

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
        """Each row's course effectiveness (progress per unit of closable gap), at least 0."""
        self._check()
        return np.maximum(self.effect_.predict(self._inputs(self._frame(X))), 0.0)

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
        base, parts = self.effect_.parts(self._inputs(frame))
        effect = base + parts.sum(axis=1)
        scale = np.where(effect > 0, 1.0, 0.0)  # a clipped (negative) effect scores 0: so do its parts
        out = np.zeros((len(frame), self.n_features_in_ + 1))
        names = list(self.feature_names_in_)
        out[:, names.index("generator_score")] = c * base * scale
        for j, name in enumerate(EFFECT_INPUTS):
            out[:, names.index(name)] += c * parts[:, j] * scale
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
        """Everything in ``ranker.json`` (the effect regression's coefficients with it), and the
        correction, if any, in LightGBM's text format (``correction.txt``)."""
        self._check()
        if not isinstance(self.effect_, LinearEffect):
            raise ValueError("a ranker with the earlier tree effect is loaded to serve, not saved again")
        directory.mkdir(parents=True, exist_ok=True)
        correction = getattr(self, "correction_", None)
        if correction is not None:
            correction.save_model(str(directory / "correction.txt"))
        params = self.get_params()
        params["alphas"] = [float(a) for a in params["alphas"]]
        fitted = {
            "kind": KIND,
            "params": params,
            "feature_names_in_": [str(f) for f in self.feature_names_in_],
            "effect": self.effect_.to_dict(),
            "best_alpha_": self.best_alpha_,
            "uses_measured_": bool(getattr(self, "uses_measured_", False)),
            "mean_effect_": self.mean_effect_,
            "prior_weight_": getattr(self, "prior_weight_", 1.0) if correction is not None else None,
            "importance_": self.importance_,
            "gain_calibration_": getattr(self, "gain_calibration_", None),
            "entry_effects_": getattr(self, "entry_effects_", None),
            "effectiveness_": getattr(self, "effectiveness_", None),
        }
        (directory / "ranker.json").write_text(json.dumps(fitted, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path) -> GainRanker:
        """A ranker written by :meth:`save`, or by the first expected-gain models (a LightGBM effect in
        ``booster.txt``, its parameters no longer this class's)."""
        fitted = json.loads((directory / "ranker.json").read_text(encoding="utf-8"))
        params = dict(fitted["params"])
        if "effect" in fitted:
            ranker = cls(**{**params, "alphas": tuple(params["alphas"])})
            ranker.effect_ = LinearEffect.from_dict(fitted["effect"])
            ranker.best_alpha_ = float(fitted["best_alpha_"])
        else:
            ranker = cls(random_state=params.get("random_state", 0), n_jobs=params.get("n_jobs", 1))
            ranker.effect_ = TreeEffect(lgb.Booster(model_file=str(directory / "booster.txt")))
            ranker.best_alpha_ = float("nan")
        ranker.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
        ranker.n_features_in_ = len(ranker.feature_names_in_)
        ranker.mean_effect_ = float(fitted["mean_effect_"])
        ranker.importance_ = list(fitted["importance_"])
        ranker.validation_errors_ = {}
        ranker.measured_validation_errors_ = {}
        ranker.uses_measured_ = bool(fitted.get("uses_measured_", False))
        if fitted.get("prior_weight_") is not None:
            ranker.prior_weight_ = float(fitted["prior_weight_"])
            ranker.correction_ = lgb.Booster(model_file=str(directory / "correction.txt"))
        ranker.gain_calibration_ = fitted.get("gain_calibration_")
        # Measured effectiveness (#16): absent from rankers saved before it.
        ranker.entry_effects_ = fitted.get("entry_effects_")
        ranker.effectiveness_ = fitted.get("effectiveness_")
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
