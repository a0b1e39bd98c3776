"""Course effectiveness: how much of a closable gap a course closes, from its attributes.

The expected-gain ranker (:mod:`.gain`) scores ``closable gap x effect(course)``; this module holds the
``effect`` regressions. Both fit the measured progress per unit of closable gap, weighted by closable
squared (the least-squares fit of progress = closable x effect):

- :class:`LinearEffect` (the default since it was measured, #15): a ridge regression on an encoded
  design of the attributes (modality as one column per modality, log JP and its square, log cost,
  language, place, log takers, earlier participants' completion rate, scores and satisfaction, log
  number of targeted competencies; indicators centred, numeric columns standardised). In the first
  trials on development worlds (seeds 5, 11, 13) the effectiveness it learned ranked the simulator's
  true one far better than the trees' did on the same signed progress (Spearman 0.47-0.73 against
  0.07-0.67). The ranker's NDCG@10 on the five development worlds (seeds 5, 11, 13, 17, 19;
  ``benchmarks/ranker_dev.py variants``) is 0.753 with it, against 0.674 for the first version (trees
  on the clipped value). Its penalty is chosen by the time split.
- :class:`TreeEffect`: the small LightGBM regression of the first expected-gain models, kept so that
  versions registered with it still load (it is no longer fitted).

Each model also splits its prediction into an intercept (the effect of an average course) and one
additive part per input, so explanations stay exact.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from rekomendasi.candidates import ENTRY_COLUMNS
from rekomendasi.contract.enums import MODALITY

EFFECT_INPUTS = (*ENTRY_COLUMNS, "n_targets")
"""The course attributes ``effect`` is a function of."""
INDICATORS = ("modality", "english", "held_in_province")
"""Inputs encoded as 0/1 columns: centred, not scaled."""
Z_LIMIT = 3.0
"""A numeric column is clipped at this many SDs from its fitted mean when predicting."""


def _design(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The linear model's encoded columns of ``X`` (missing values stay NaN) and each column's input."""
    columns: dict[str, np.ndarray] = {}
    owner: list[str] = []
    modality = X["modality"].to_numpy(dtype=float)
    for i in range(len(MODALITY)):
        columns[f"modality={MODALITY[i]}"] = np.where(np.isnan(modality), np.nan, modality == i)
        owner.append("modality")
    jp = np.log(np.maximum(X["jp"].to_numpy(dtype=float), 1.0))
    columns["log_jp"], columns["log_jp^2"] = jp, jp**2
    owner += ["jp", "jp"]
    columns["log_takers"] = np.log1p(np.maximum(X["entry_takers"].to_numpy(dtype=float), 0.0))
    owner.append("entry_takers")
    columns["log_targets"] = np.log(np.maximum(X["n_targets"].to_numpy(dtype=float), 1.0))
    owner.append("n_targets")
    for name in EFFECT_INPUTS:
        if name not in ("modality", "jp", "entry_takers", "n_targets"):
            columns[name] = X[name].to_numpy(dtype=float)
            owner.append(name)
    return pd.DataFrame(columns, index=X.index), owner


class LinearEffect:
    """Ridge regression of progress per unit of closable gap on the encoded attributes.

    Columns are centred on the fitted rows; numeric ones are also scaled to unit SD, and clipped at
    :data:`Z_LIMIT` SDs when predicting (no extrapolation far outside what was fitted). Indicators
    (modality, English, held in the province) keep their 0/1 scale, so the penalty shrinks a rare one
    the most: standardised, the one enrolment in 300 held in the person's province made that flag worth
    17 SDs and every such course the best (a 300-employee test world). A missing value (an entry nobody
    has taken yet has no completion rate) counts as the mean, so it adds nothing.

    Args:
        alpha: the ridge penalty (in units of the closable-squared weights).
    """

    kind = "linear"

    def __init__(self, alpha: float) -> None:
        self.alpha = float(alpha)

    def fit(self, X: pd.DataFrame, target: np.ndarray, weight: np.ndarray) -> LinearEffect:
        """Fit on ``X`` (frame with :data:`EFFECT_INPUTS`), ``target`` (progress / closable), ``weight``."""
        design, self.owner_ = _design(X)
        self.columns_ = list(design.columns)
        values = design.to_numpy(dtype=float)
        # Weighted over the rows where the column is known (a missing value is not a 0).
        known = np.where(np.isnan(values), 0.0, weight[:, None])
        total = np.maximum(known.sum(axis=0), 1e-300)
        self.mean_ = np.nansum(values * known, axis=0) / total
        sd = np.sqrt(np.nansum((values - self.mean_) ** 2 * known, axis=0) / total)
        indicator = np.isin(self.owner_, INDICATORS)
        self.scale_ = np.where(indicator | (sd <= 1e-12), 1.0, sd)
        model = Ridge(alpha=self.alpha).fit(self._z(design), target, sample_weight=weight)
        self.coef_ = np.asarray(model.coef_, dtype=float)
        self.intercept_ = float(model.intercept_)
        return self

    def _z(self, design: pd.DataFrame) -> np.ndarray:
        z = np.nan_to_num((design.to_numpy(dtype=float) - self.mean_) / self.scale_, nan=0.0)
        numeric = ~np.isin(self.owner_, INDICATORS)
        z[:, numeric] = np.clip(z[:, numeric], -Z_LIMIT, Z_LIMIT)
        return z

    def parts(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Each row's intercept and the additive part of each of :data:`EFFECT_INPUTS` (in that order)."""
        design, _ = _design(X)
        terms = self._z(design) * self.coef_
        out = np.zeros((len(X), len(EFFECT_INPUTS)))
        for j, name in enumerate(self.owner_):
            out[:, EFFECT_INPUTS.index(name)] += terms[:, j]
        return np.full(len(X), self.intercept_), out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The effect of each row (before clipping at 0): the sum of :meth:`parts`, without grouping
        the columns by input (scoring calls this on every candidate)."""
        design, _ = _design(X)
        return self._z(design) @ self.coef_ + self.intercept_

    def to_dict(self) -> dict[str, Any]:
        """What :meth:`from_dict` needs (JSON-ready)."""
        return {
            "kind": self.kind,
            "alpha": self.alpha,
            "columns": self.columns_,
            "owner": self.owner_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> LinearEffect:
        """The model :meth:`to_dict` described."""
        model = cls(saved["alpha"])
        model.columns_, model.owner_ = list(saved["columns"]), list(saved["owner"])
        model.mean_, model.scale_ = np.asarray(saved["mean"]), np.asarray(saved["scale"])
        model.coef_, model.intercept_ = np.asarray(saved["coef"]), float(saved["intercept"])
        return model


class TreeEffect:
    """The first expected-gain models' effect: a small LightGBM regression (loaded from ``booster.txt``)."""

    kind = "trees"

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster

    def parts(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Each row's base value and the TreeSHAP part of each of :data:`EFFECT_INPUTS` (0 for inputs
        added after the booster was trained)."""
        names = self.booster.feature_name()
        shap = np.asarray(self.booster.predict(X[names], pred_contrib=True))
        out = np.zeros((len(X), len(EFFECT_INPUTS)))
        for j, name in enumerate(names):
            out[:, EFFECT_INPUTS.index(name)] = shap[:, j]
        return shap[:, -1], out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The effect of each row (before clipping at 0), from the inputs the booster was trained on."""
        return np.asarray(self.booster.predict(X[self.booster.feature_name()]))
