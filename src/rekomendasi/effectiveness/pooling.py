"""Pooling each entry's own estimate with what courses of its kind achieved (empirical Bayes).

An entry's participants' mean gain is noisy: measured levels respond to a real gain only as evidence
arrives, and a few dozen participants leave an interval as wide as the differences between courses. The
published effect is therefore the usual shrinkage estimate of many small groups' effects (as hospital
or teacher value-added figures are made): the entry's own mean ``m`` pulled towards the mean ``mu`` that
courses of its kind reached (a weighted regression of the entries' means on their modality, log length
in JP and log number of targeted competencies), by how much its own participants can say:

    effect = mu + B (m - mu),   B = tau^2 / (tau^2 + s^2)

where ``s^2`` is the sampling variance of its mean (the pooled within-entry variance over its
participants) and ``tau^2`` the variance of the true entry effects around ``mu`` (method of moments,
iterated with the regression's weights). ``B`` (``own_weight``) and ``mu`` (``kind_effect``) are
published beside it, with the raw mean. Where the entries' own means vary no more than their noise
(``tau^2`` near 0), the effect is what courses of its kind reached: the data cannot tell the entry
apart from them.

The interval is a bootstrap: every entry's participants are resampled and the kind's regression fitted
again (``tau^2`` kept at its estimate: refitted on each resample, a ``tau^2`` of about 0 jumps between 0
and a little more and the intervals lose the estimate), so the uncertainty of the kind's mean is in it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import MODALITY

ITERATIONS = 30
TAU2_FLOOR = 1e-9


def pooled_entries(
    gains: pd.DataFrame,
    attributes: pd.DataFrame,
    resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Per entry with two or more participants in ``gains`` (rows: training_id, gain): training_id,
    effect, ci_low, ci_high (percentile bootstrap of the whole pooling), own_weight, kind_effect.

    Args:
        attributes: training_id, modality, jp, n_targets of the catalogue.

    Returns:
        An empty frame when there are too few such entries for the regression (its columns plus two).
    """
    columns = ["training_id", "effect", "ci_low", "ci_high", "own_weight", "kind_effect"]
    groups = {str(t): g.to_numpy(dtype=float) for t, g in gains.groupby("training_id")["gain"]}
    groups = {t: v for t, v in groups.items() if len(v) >= 2}
    ids = sorted(groups)
    design = _design(attributes.set_index("training_id").reindex(ids))
    if len(ids) < design.shape[1] + 2:
        return pd.DataFrame(columns=columns)
    n = np.array([len(groups[t]) for t in ids], dtype=float)
    mean = np.array([groups[t].mean() for t in ids])
    variance = np.array([groups[t].var(ddof=1) for t in ids])
    s2 = float(np.average(variance, weights=n - 1)) / n
    tau2 = _tau2(mean, s2, design)
    mu, weight = _pool(mean, s2, design, tau2)
    draws = np.column_stack(
        [v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(axis=1) for v in (groups[t] for t in ids)]
    )
    pooled = np.empty_like(draws)
    for b in range(resamples):
        mu_b, weight_b = _pool(draws[b], s2, design, tau2)
        pooled[b] = mu_b + weight_b * (draws[b] - mu_b)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(pooled, [tail, 1.0 - tail], axis=0)
    return pd.DataFrame(
        {
            "training_id": ids,
            "effect": mu + weight * (mean - mu),
            "ci_low": low,
            "ci_high": high,
            "own_weight": weight,
            "kind_effect": mu,
        }
    )


def _tau2(mean: np.ndarray, s2: np.ndarray, design: np.ndarray) -> float:
    """The variance of the true entry effects around their kind's mean (method of moments, iterated
    with the regression's weights; at least ``TAU2_FLOOR``)."""
    tau2 = max(float(np.var(mean)), TAU2_FLOOR)
    for _ in range(ITERATIONS):
        weight = 1.0 / (tau2 + s2)
        mu = design @ _wls(design, mean, weight)
        updated = max(float(np.average((mean - mu) ** 2 - s2, weights=weight)), TAU2_FLOOR)
        if abs(updated - tau2) <= 1e-6 * max(tau2, 1e-6):
            return updated
        tau2 = updated
    return tau2


def _pool(mean: np.ndarray, s2: np.ndarray, design: np.ndarray, tau2: float) -> tuple[np.ndarray, np.ndarray]:
    """The kind's mean of each entry and the weight of its own mean, (mu, B), for a given tau^2."""
    mu = design @ _wls(design, mean, 1.0 / (tau2 + s2))
    return mu, tau2 / (tau2 + s2)


def _design(attributes: pd.DataFrame) -> np.ndarray:
    """Intercept, modality indicators (those present), log JP, log number of targeted competencies."""
    columns = [np.ones(len(attributes))]
    modality = attributes["modality"].astype(str).to_numpy()
    present = [m for m in MODALITY if (modality == m).any()]
    columns += [(modality == m).astype(float) for m in present[1:]]
    columns.append(np.log(np.maximum(attributes["jp"].to_numpy(dtype=float), 1.0)))
    columns.append(np.log(np.maximum(attributes["n_targets"].to_numpy(dtype=float), 1.0)))
    return np.nan_to_num(np.column_stack(columns))


def _wls(design: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    root = np.sqrt(weight)
    coef, *_ = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)
    return np.asarray(coef)
