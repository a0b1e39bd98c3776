"""Competency-gap vectors: every source of evidence combined with its reliability and age.

Each (employee, competency of the position standard) gets a Gaussian estimate of r = level - required:
a prior for the position, precision-weighted with direct assessments (per-method noise and leniency,
down-weighted with age) and with indirect sources (indicator attainment, BerAKHLAK ratings, SKP
ratings, feedback ratings). Each indirect source's measurement model x = c + d * r + noise is
calibrated on employees who also have a reliable assessment, so its weight is what the agency's own
data shows it is worth. Completed trainings then raise the estimate, discounted until a later
assessment confirms them. With no evidence the estimate is the prior, and the uncertainty says so.

Three steps, so that a snapshot can gather the evidence agency by agency: each employee's evidence
(:func:`gap_evidence`), the prior and the calibrations fitted over everyone (:func:`fit_gap_model`), the
estimates row by row (:func:`finish_gaps`); :func:`estimate_gaps` runs the three on whole tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import (
    Assessments,
    Behaviour,
    CatalogCompetencies,
    Competencies,
    Employees,
    Feedback,
    Indicators,
    Positions,
    PositionStandards,
    Skp,
    TrainingHistory,
)
from rekomendasi.features.asof import PERIOD_END, age_years, decay, mapping_frame
from rekomendasi.features.schemas import CompetencyGaps
from rekomendasi.features.spec import EvidenceSpec, IndirectSource

SOURCES = ("assessment", "indicators", "behaviour", "skp", "feedback", "training")
# Observations and estimates are all per (employee, competency), the key of the gap table.
_KEY = [CompetencyGaps.nip, CompetencyGaps.competency_id]
# The prior is set per cell: position type and competency group.
_CELL = [Positions.jenis_jabatan, Competencies.group]
_INDIRECT = SOURCES[1:-1]


@dataclass(frozen=True)
class Calibration:
    """Fitted measurement model of one indirect source."""

    source: str
    intercept: float
    slope: float
    noise_sd: float
    pairs: int
    calibrated: bool


def base_pairs(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """(employee, competency) pairs of each employee's position standard, with required level."""
    employees = tables["employees"][[Employees.nip, Employees.position_id]]
    standards = tables["position_standards"]
    positions = tables["positions"][[Positions.position_id, Positions.jenis_jabatan]]
    groups = tables["competencies"][[Competencies.competency_id, Competencies.group]]
    base = (
        employees.merge(standards, on=PositionStandards.position_id)
        .merge(positions, on=Positions.position_id)
        .merge(groups, on=Competencies.competency_id)
    )
    base = base.sort_values(_KEY, kind="stable").reset_index(drop=True)
    base[CompetencyGaps.required_level] = base[PositionStandards.required_level].astype(float)
    return base


def _aggregate(frame: pd.DataFrame, value: str, weight: str) -> pd.DataFrame:
    """Weighted mean of ``value`` per (nip, competency_id), with count, weight sum and latest date."""
    frame = frame.assign(_wx=frame[value] * frame[weight])
    grouped = frame.groupby(_KEY, sort=True)
    out = grouped.agg(
        wx=("_wx", "sum"), w=(weight, "sum"), n=(value, "size"), latest=("date", "max")
    ).reset_index()
    out["x"] = out["wx"] / out["w"]
    return out.drop(columns="wx")


def estimate_gaps(
    tables: Mapping[str, pd.DataFrame],
    spec: EvidenceSpec,
    as_of: dt.date,
    indicator_competency: pd.Series,
    feedback_competency: pd.Series,
) -> tuple[pd.DataFrame, list[Calibration]]:
    """The competency-gap table of the tables' employees and the calibrations used, in one go: the
    composition of :func:`gap_evidence`, :func:`fit_gap_model` and :func:`finish_gaps` (which a snapshot
    build runs apart, agency by agency, with the model fitted over all of them).

    Args:
        tables: the as-of view of the dataset.
        spec: the evidence model.
        as_of: the snapshot date.
        indicator_competency: competency of each row of ``tables['indicators']`` (tagged or inferred).
        feedback_competency: competency of each row of ``tables['feedback']`` (tagged or inferred; null
            when the row has neither).

    Returns:
        The table of :func:`finish_gaps`, and the calibrations of :func:`fit_gap_model`.
    """
    evidence = gap_evidence(tables, spec, as_of, indicator_competency, feedback_competency)
    model = fit_gap_model(calibration_rows(evidence), spec)
    return finish_gaps(evidence, model, spec), model.calibrations


def gap_evidence(
    tables: Mapping[str, pd.DataFrame],
    spec: EvidenceSpec,
    as_of: dt.date,
    indicator_competency: pd.Series,
    feedback_competency: pd.Series,
) -> pd.DataFrame:
    """What each employee's own evidence says, per (nip, competency_id) of the position standard, before
    the prior and the calibrations (fitted over every employee, :func:`fit_gap_model`) weigh it.

    Everything here is per employee: one agency's tables give that agency's rows, exactly as the whole
    tables would.

    Args:
        tables: the as-of view of the dataset (or one agency's rows of its per-employee tables).
        indicator_competency: competency of each row of ``tables['indicators']`` (tagged or inferred).
        feedback_competency: competency of each row of ``tables['feedback']`` (null: neither).

    Returns:
        Sorted by (nip, competency_id): required_level, the cell of the prior (jenis_jabatan, group),
        ``ref`` (the reliable assessments' mean of level - required), x_assessment and w_assessment (their
        precision-weighted mean and precision over every method), ``x_<source>`` of each indirect source,
        ``shift`` (the unconfirmed trainings' gain) and ``max_target`` (the highest target level of a
        completed training, 0 without), and the gap table's evidence counts, prior_only and
        latest_evidence_on.
    """
    base = base_pairs(tables)
    observations = {
        "assessment": _assessments(tables["assessments"], base, spec, as_of),
        "indicators": _indicators(tables["indicators"], indicator_competency, spec, as_of),
        "behaviour": _behaviour(tables["behaviour"], spec, as_of),
        "skp": _skp(tables["skp"], base, spec, as_of),
        "feedback": _feedback(tables["feedback"], feedback_competency, spec, as_of),
    }
    frame = base.copy()
    for source, obs in observations.items():
        columns = {"x": f"x_{source}", "w": f"w_{source}", "n": f"n_{source}", "latest": f"latest_{source}"}
        frame = frame.merge(obs.rename(columns=columns), on=_KEY, how="left")
    frame = frame.merge(_reference(tables["assessments"], base, spec, as_of), on=_KEY, how="left")
    shift, n_training, latest_training = _training_shift(tables, frame, spec)

    out = frame[[*_KEY, CompetencyGaps.required_level, *_CELL, "ref", "x_assessment", "w_assessment"]].copy()
    for source in _INDIRECT:
        out[f"x_{source}"] = frame[f"x_{source}"]
    out["shift"] = shift
    out["max_target"] = frame.merge(_targets(tables), on=_KEY, how="left")["max_target"].fillna(0).to_numpy()
    counts = {}
    for source in SOURCES[:-1]:
        counts[f"n_{source}"] = frame[f"n_{source}"].fillna(0).astype("int64").to_numpy()
    counts[CompetencyGaps.n_training] = n_training
    for name, values in counts.items():
        out[name] = values
    out[CompetencyGaps.prior_only] = sum(counts.values()) == 0
    latest = pd.concat([frame[f"latest_{s}"] for s in SOURCES[:-1]] + [latest_training], axis=1).max(axis=1)
    out[CompetencyGaps.latest_evidence_on] = latest.astype("datetime64[us]")
    return out


def calibration_rows(evidence: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`gap_evidence` that :func:`fit_gap_model` learns from: those with a reliable
    assessment, and the first of each prior cell (so that a cell without any still gets its prior).

    A snapshot build concatenates every agency's rows, far fewer than the evidence itself."""
    first = ~evidence.duplicated(_CELL)
    keep = evidence["ref"].notna() | first
    return evidence.loc[keep, [*_KEY, *_CELL, "ref", *(f"x_{s}" for s in _INDIRECT)]]


@dataclass(frozen=True)
class GapModel:
    """What turns evidence into estimates, fitted over every employee: the prior mean of level -
    required per cell (jenis_jabatan, group) and each indirect source's calibration.

    Attributes:
        prior_means: the calibrated prior per cell (empty when the spec does not calibrate the prior).
    """

    prior_means: dict[tuple[str, str], float]
    calibrations: list[Calibration]


def fit_gap_model(rows: pd.DataFrame, spec: EvidenceSpec) -> GapModel:
    """The prior means and calibrations of :class:`GapModel` from :func:`calibration_rows`.

    The rows are put in (nip, competency_id) order first: the order of the whole table, so that the sums
    and fits are the same however the rows were cut and gathered.
    """
    rows = rows.sort_values(_KEY, kind="stable")
    prior = spec.prior
    means: dict[tuple[str, str], float] = {}
    if prior.calibrate:  # calibrated on reliable assessments and shrunk to the default
        stats = rows.groupby(_CELL)["ref"].agg(["sum", "count"])
        stats["mu"] = (stats["sum"] + prior.shrinkage * prior.offset) / (stats["count"] + prior.shrinkage)
        means = cast(dict[tuple[str, str], float], stats["mu"].to_dict())
    calibrations = [
        _calibrate(source, rows[f"x_{source}"], rows["ref"], default, spec)
        for source, default in spec.indirect.sources.items()
    ]
    return GapModel(means, calibrations)


def finish_gaps(evidence: pd.DataFrame, model: GapModel, spec: EvidenceSpec) -> pd.DataFrame:
    """The competency-gap table of :func:`gap_evidence`'s rows: the prior, precision-weighted with the
    assessments and the calibrated indirect sources, then raised by unconfirmed trainings.

    Row by row: one agency's evidence gives that agency's rows of the whole table.

    Returns:
        One row per (nip, competency_id) of the position standards: required_level, estimated_level,
        uncertainty (sd, levels), gap (required - estimated; positive = below standard), prior_only,
        n_<source> evidence counts and latest_evidence_on.
    """
    prior = spec.prior
    if prior.calibrate:
        means = pd.DataFrame([(*cell, mu) for cell, mu in model.prior_means.items()], columns=[*_CELL, "mu"])
        mu = evidence[_CELL].merge(means, on=_CELL, how="left")["mu"].to_numpy(dtype=float)
        mu = np.where(np.isnan(mu), prior.offset, mu)
    else:
        mu = np.full(len(evidence), prior.offset)
    precision = np.full(len(evidence), 1.0 / prior.sd**2)
    weighted = mu * precision
    # Direct assessments: x is already the precision-weighted mean of r, w its precision.
    has = evidence["w_assessment"].notna().to_numpy()
    precision[has] += evidence.loc[has, "w_assessment"].to_numpy()
    weighted[has] += (evidence.loc[has, "x_assessment"] * evidence.loc[has, "w_assessment"]).to_numpy()
    for cal in model.calibrations:
        x = evidence[f"x_{cal.source}"].to_numpy(dtype=float)
        ok = ~np.isnan(x)
        r_hat = (x[ok] - cal.intercept) / cal.slope
        var = (cal.noise_sd / cal.slope) ** 2
        precision[ok] += 1.0 / var
        weighted[ok] += r_hat / var
    r = weighted / precision

    required = evidence[CompetencyGaps.required_level].to_numpy()
    level = np.clip(required + r, prior.min_level, prior.max_level)
    target_cap = np.maximum(level, evidence["max_target"].to_numpy())
    level = np.clip(
        np.minimum(level + evidence["shift"].to_numpy(), target_cap), prior.min_level, prior.max_level
    )

    out = evidence[[*_KEY, CompetencyGaps.required_level]].copy()
    out[CompetencyGaps.estimated_level] = np.round(level, 4)
    out[CompetencyGaps.uncertainty] = np.round(1.0 / np.sqrt(precision), 4)
    out[CompetencyGaps.gap] = np.round(required - level, 4)
    for name in (*(f"n_{s}" for s in SOURCES), CompetencyGaps.prior_only, CompetencyGaps.latest_evidence_on):
        out[name] = evidence[name].to_numpy()
    return out


def _assessments(
    assessments: pd.DataFrame, base: pd.DataFrame, spec: EvidenceSpec, as_of: dt.date
) -> pd.DataFrame:
    rows = assessments.merge(base[[*_KEY, CompetencyGaps.required_level]], on=_KEY)
    methods = spec.assessments.methods
    sd = rows[Assessments.method].map({m: v.sd for m, v in methods.items()}).to_numpy(dtype=float)
    bias = (
        rows[Assessments.method].map({m: v.bias for m, v in methods.items()}).fillna(0).to_numpy(dtype=float)
    )
    weight = decay(age_years(rows[Assessments.assessed_on], as_of), spec.assessments.half_life_years)
    rows = rows.assign(
        r=rows[Assessments.level].to_numpy() - bias - rows[CompetencyGaps.required_level].to_numpy(),
        prec=weight / sd**2,
        date=rows[Assessments.assessed_on],
    )
    rows = rows[np.isfinite(rows["prec"])]
    out = _aggregate(rows, "r", "prec")
    return out  # x: precision-weighted mean r; w: total precision


def _reference(
    assessments: pd.DataFrame, base: pd.DataFrame, spec: EvidenceSpec, as_of: dt.date
) -> pd.DataFrame:
    reliable = assessments[assessments[Assessments.method].isin(spec.assessments.reference_methods)]
    out = _assessments(reliable, base, spec, as_of)
    return out[[*_KEY, "x"]].rename(columns={"x": "ref"})


def _indicators(
    indicators: pd.DataFrame, competency: pd.Series, spec: EvidenceSpec, as_of: dt.date
) -> pd.DataFrame:
    rows = indicators.assign(**{Indicators.competency_id: competency.to_numpy()})
    rows = rows[rows[Indicators.realization].notna() & rows[Indicators.competency_id].notna()]
    attainment = (
        np.clip(rows[Indicators.realization].to_numpy() / rows[Indicators.target].to_numpy(), 0.0, 1.5) - 1.0
    )
    weight = decay(age_years(rows[PERIOD_END], as_of), spec.indirect.sources["indicators"].half_life_years)
    return _aggregate(rows.assign(x=attainment, w=weight, date=rows[PERIOD_END]), "x", "w")


def _behaviour(behaviour: pd.DataFrame, spec: EvidenceSpec, as_of: dt.date) -> pd.DataFrame:
    mapping = mapping_frame(spec.core_value_competencies, Behaviour.core_value, Competencies.competency_id)
    rows = behaviour.merge(mapping, on=Behaviour.core_value)
    score = rows[Behaviour.rating].map(spec.rating_score).to_numpy(dtype=float)
    weight = decay(age_years(rows[PERIOD_END], as_of), spec.indirect.sources["behaviour"].half_life_years)
    return _aggregate(rows.assign(x=score, w=weight, date=rows[PERIOD_END]), "x", "w")


def _skp(skp: pd.DataFrame, base: pd.DataFrame, spec: EvidenceSpec, as_of: dt.date) -> pd.DataFrame:
    weight = decay(age_years(skp[PERIOD_END], as_of), spec.indirect.sources["skp"].half_life_years)
    parts = []
    for rating, groups in spec.skp_groups.items():
        rows = skp.assign(
            x=skp[rating].map(spec.rating_score).to_numpy(dtype=float), w=weight, date=skp[PERIOD_END]
        )
        pairs = base.loc[base[Competencies.group].isin(groups), _KEY]
        parts.append(rows[[Skp.nip, "x", "w", "date"]].merge(pairs, on=Skp.nip))
    return _aggregate(pd.concat(parts, ignore_index=True), "x", "w")


def _feedback(
    feedback: pd.DataFrame, competency: pd.Series, spec: EvidenceSpec, as_of: dt.date
) -> pd.DataFrame:
    rows = feedback.assign(**{Feedback.competency_id: competency.to_numpy()})
    rows = rows[rows[Feedback.rating].notna() & rows[Feedback.competency_id].notna()]
    weight = decay(
        age_years(rows[Feedback.given_on], as_of), spec.indirect.sources["feedback"].half_life_years
    )
    x = rows[Feedback.rating].astype(float).to_numpy() - 3.0
    return _aggregate(rows.assign(x=x, w=weight, date=rows[Feedback.given_on]), "x", "w")


def _calibrate(
    source: str, x: pd.Series, ref: pd.Series, default: IndirectSource, spec: EvidenceSpec
) -> Calibration:
    """Fit x = intercept + slope * ref on pairs with both; fall back to the reviewed defaults."""
    both = x.notna() & ref.notna()
    pairs = int(both.sum())
    if pairs >= spec.indirect.min_pairs:
        xs, rs = x[both].to_numpy(dtype=float), ref[both].to_numpy(dtype=float)
        slope, intercept = np.polyfit(rs, xs, 1)
        resid = xs - (intercept + slope * rs)
        if slope >= spec.indirect.min_slope:
            return Calibration(
                source, float(intercept), float(slope), float(max(resid.std(), 1e-3)), pairs, True
            )
    return Calibration(source, default.intercept, default.slope, default.noise_sd, pairs, False)


def _targets(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    done = tables["training_history"]
    done = done[done[TrainingHistory.status] == "completed"][
        [TrainingHistory.nip, TrainingHistory.training_id]
    ]
    links = done.merge(tables["catalog_competencies"], on=CatalogCompetencies.training_id)
    return links.groupby(_KEY)[CatalogCompetencies.target_level].max().rename("max_target").reset_index()


def _training_shift(
    tables: Mapping[str, pd.DataFrame], frame: pd.DataFrame, spec: EvidenceSpec
) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Discounted gain of completed trainings not yet confirmed by a later assessment."""
    done = tables["training_history"]
    done = done[done[TrainingHistory.status] == "completed"][
        [TrainingHistory.nip, TrainingHistory.training_id, TrainingHistory.completed_on]
    ]
    links = done.merge(
        tables["catalog_competencies"][[CatalogCompetencies.training_id, CatalogCompetencies.competency_id]],
        on=CatalogCompetencies.training_id,
    )
    links = links.merge(frame[[*_KEY, "latest_assessment"]], on=_KEY)
    unconfirmed = links["latest_assessment"].isna() | (
        links[TrainingHistory.completed_on] > links["latest_assessment"]
    )
    links["shift"] = np.where(unconfirmed, spec.trainings.gain * spec.trainings.unconfirmed_discount, 0.0)
    agg = (
        links.groupby(_KEY)
        .agg(shift=("shift", "sum"), n=("shift", "size"), latest=(TrainingHistory.completed_on, "max"))
        .reset_index()
    )
    merged = frame[_KEY].merge(agg, on=_KEY, how="left")
    return (
        merged["shift"].fillna(0.0).to_numpy(),
        merged["n"].fillna(0).astype("int64").to_numpy(),
        merged["latest"],
    )
