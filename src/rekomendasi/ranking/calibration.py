"""The ranker's score as an expected gain in competency levels, learned from outcomes.

A LambdaRank score orders one person's candidates; it has no unit. A plan trades one person's training
against another's and against money, so it needs the expected number of gap levels a training closes.
:func:`fit_gain_calibration` learns it from what happened: the ranker scores the enrolments of the
time-split validation year (employees outside the evaluation holdout), and an isotonic regression maps the
score to the realised gain of each enrolment (``Examples.improvement``: the progress that closed the
person's gaps on the course's competencies, plus a quarter of any beyond, 0 when not completed; so the
estimate folds in the chance of completing). Isotonic: the estimate rises with the score and makes no
assumption on the shape.

:func:`calibration_table` checks it on enrolments it was not fitted on (the holdout employees of the same
year): the mean estimate against the mean realised gain, by tenth of the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression


@dataclass(frozen=True)
class GainCalibration:
    """A monotone map from ranker score to expected gain (levels): linear between its knots, flat beyond.

    Attributes:
        knots: increasing scores.
        gains: the expected gain at each knot (non-decreasing, >= 0).
        examples: enrolments it was fitted on.
    """

    knots: np.ndarray
    gains: np.ndarray
    examples: int

    def __call__(self, score: np.ndarray) -> np.ndarray:
        """The expected gain of each score."""
        return np.interp(np.asarray(score, dtype=np.float64), self.knots, self.gains)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values (saved beside the ranker)."""
        return {
            "knots": [float(v) for v in self.knots],
            "gains": [float(v) for v in self.gains],
            "examples": self.examples,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> GainCalibration:
        """The inverse of :meth:`to_dict`."""
        knots = np.asarray(raw["knots"], dtype=np.float64)
        gains = np.asarray(raw["gains"], dtype=np.float64)
        if len(knots) == 0 or len(knots) != len(gains) or np.any(np.diff(knots) < 0):
            raise ValueError("a gain calibration needs increasing knots, one gain per knot")
        return cls(knots, gains, int(raw.get("examples", 0)))  # type: ignore[call-overload]


def fit_gain_calibration(score: np.ndarray, gain: np.ndarray) -> GainCalibration:
    """Isotonic regression of realised ``gain`` (levels, >= 0) on ``score``.

    Raises:
        ValueError: fewer than 20 examples, or none with a positive gain.
    """
    score = np.asarray(score, dtype=np.float64)
    gain = np.clip(np.asarray(gain, dtype=np.float64), 0.0, None)
    if len(score) < 20 or not (gain > 0).any():
        raise ValueError(
            f"calibrating the expected gain needs at least 20 enrolments with some realised gain; "
            f"found {len(score)} ({int((gain > 0).sum())} with a gain)"
        )
    model = IsotonicRegression(increasing=True, y_min=0.0, out_of_bounds="clip").fit(score, gain)
    return GainCalibration(
        np.asarray(model.X_thresholds_, dtype=np.float64),
        np.asarray(model.y_thresholds_, dtype=np.float64),
        len(score),
    )


def calibration_table(
    calibration: GainCalibration, score: np.ndarray, gain: np.ndarray, bins: int = 10, seed: int = 0
) -> pd.DataFrame:
    """Estimated against realised gain on enrolments the calibration did not see, by tenth of the estimate.

    Returns:
        One row per bin (``bin`` 1 = lowest estimates): ``enrolments``, ``estimated`` (mean estimate),
        ``realised`` (mean realised gain) with a 95% bootstrap interval (``realised_low``,
        ``realised_high``); and a last row ``bin`` 0, ``all``, over every enrolment, whose ``estimated``
        and ``realised`` are the overall means. ``attrs`` holds ``ece`` (the enrolment-weighted mean
        absolute difference of the bins) and ``spearman`` (rank correlation of estimate and realised gain).
    """
    estimate = calibration(score)
    gain = np.clip(np.asarray(gain, dtype=np.float64), 0.0, None)
    order = np.argsort(estimate, kind="stable")
    rng = np.random.default_rng(seed)
    rows = []
    for i, part in enumerate(np.array_split(order, min(bins, max(len(order), 1))), start=1):
        if not len(part):
            continue
        realised = gain[part]
        means = rng.choice(realised, size=(500, len(realised)), replace=True).mean(axis=1)
        rows.append(
            {
                "bin": i,
                "enrolments": len(part),
                "estimated": float(estimate[part].mean()),
                "realised": float(realised.mean()),
                "realised_low": float(np.quantile(means, 0.025)),
                "realised_high": float(np.quantile(means, 0.975)),
            }
        )
    table = pd.DataFrame(rows)
    ece = float((table["enrolments"] * (table["estimated"] - table["realised"]).abs()).sum() / len(gain))
    overall = {
        "bin": 0,
        "enrolments": len(gain),
        "estimated": float(estimate.mean()),
        "realised": float(gain.mean()),
        "realised_low": float("nan"),
        "realised_high": float("nan"),
    }
    table = pd.concat([table, pd.DataFrame([overall])], ignore_index=True)
    rho = spearmanr(estimate, gain).statistic if np.ptp(estimate) > 0 else float("nan")
    table.attrs = {"ece": ece, "spearman": float(rho)}
    return table
