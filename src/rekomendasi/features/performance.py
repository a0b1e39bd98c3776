"""Performance features per employee: predikat history and trend, indicator attainment by aspect,
BerAKHLAK ratings per core value, the unit's public satisfaction, and the talent-grid box."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import ASPECT, CORE_VALUES
from rekomendasi.contract.schemas import Behaviour, Competencies, Employees, Indicators, PublicFeedback, Skp
from rekomendasi.features.asof import PERIOD_END
from rekomendasi.features.schemas import CompetencyGaps, Performance
from rekomendasi.features.spec import EvidenceSpec


def unit_satisfaction(public_feedback: pd.DataFrame) -> pd.Series:
    """Each service unit's mean SKM score over the elements of its latest period (indexed by unit_id).

    Computed once over the whole table: public feedback is about units, not employees, so it is not cut
    by agency with the per-employee tables.
    """
    if not len(public_feedback):
        return pd.Series([], dtype=float, name="skm_unit_score")
    last = public_feedback[PERIOD_END].groupby(public_feedback[PublicFeedback.unit_id]).transform("max")
    return (
        public_feedback[public_feedback[PERIOD_END] == last]
        .groupby(PublicFeedback.unit_id)[PublicFeedback.score]
        .mean()
        .rename("skm_unit_score")
    )


def performance_features(
    tables: Mapping[str, pd.DataFrame], spec: EvidenceSpec, unit_score: pd.Series
) -> pd.DataFrame:
    """One row per employee of the as-of view (NaN where a source has nothing for that employee), without
    the talent grid (:func:`with_talent_grid`, once the gaps are known).

    Args:
        tables: the as-of view (or one agency's rows of its per-employee tables).
        unit_score: :func:`unit_satisfaction` of the whole public feedback table.
    """
    employees = (
        tables["employees"][[Employees.nip, Employees.unit_id]]
        .sort_values(Employees.nip, kind="stable")
        .reset_index(drop=True)
    )
    out = employees[[Employees.nip]].copy()

    skp = tables["skp"]
    annual = skp[skp[Skp.period].str.len() == 4].sort_values([Skp.nip, Skp.period], kind="stable")
    annual = annual.assign(
        score=annual[Skp.predikat].map(spec.predikat_score).astype(float), year=annual[Skp.period].astype(int)
    )
    latest = annual.groupby(Skp.nip).tail(1).set_index(Skp.nip)
    stats = annual.groupby(Skp.nip).agg(predikat_mean=("score", "mean"), skp_periods=("score", "size"))
    trend = _slopes(annual[Skp.nip], annual["year"].astype(float), annual["score"]).rename("predikat_trend")
    out = out.merge(
        latest[[Skp.predikat]].rename(columns={Skp.predikat: Performance.predikat_latest}),
        left_on=Performance.nip,
        right_index=True,
        how="left",
    )
    out = out.merge(stats, left_on=Performance.nip, right_index=True, how="left").merge(
        trend, left_on=Performance.nip, right_index=True, how="left"
    )
    out["skp_periods"] = out["skp_periods"].fillna(0).astype("int64")

    indicators = tables["indicators"]
    reported = indicators[indicators[Indicators.realization].notna()]
    if len(reported):
        last_year = reported[PERIOD_END].dt.year.groupby(reported[Indicators.nip]).transform("max")
        recent = reported[reported[PERIOD_END].dt.year == last_year]
        attainment = np.clip(recent[Indicators.realization] / recent[Indicators.target], 0.0, 1.5)
        by_aspect = attainment.groupby([recent[Indicators.nip], recent[Indicators.aspect]]).mean().unstack()
    else:
        by_aspect = pd.DataFrame(index=pd.Index([], name=Indicators.nip))
    by_aspect = by_aspect.reindex(columns=list(ASPECT)).add_prefix("attainment_")
    out = out.merge(by_aspect, left_on=Performance.nip, right_index=True, how="left")

    behaviour = tables["behaviour"]
    if len(behaviour):
        last = behaviour[PERIOD_END].groupby(behaviour[Behaviour.nip]).transform("max")
        recent_b = behaviour[behaviour[PERIOD_END] == last]
        scores = recent_b[Behaviour.rating].map(spec.rating_score).astype(float)
        by_value = scores.groupby([recent_b[Behaviour.nip], recent_b[Behaviour.core_value]]).mean().unstack()
    else:
        by_value = pd.DataFrame(index=pd.Index([], name=Behaviour.nip))
    out = out.merge(
        by_value.reindex(columns=list(CORE_VALUES)).add_prefix("behaviour_"),
        left_on=Performance.nip,
        right_index=True,
        how="left",
    )

    if len(unit_score):
        out["skm_unit_score"] = employees[Employees.unit_id].map(unit_score).to_numpy()
    else:
        out["skm_unit_score"] = np.nan
    return out


def with_talent_grid(
    perf: pd.DataFrame, gaps: pd.DataFrame, competencies: pd.DataFrame, spec: EvidenceSpec
) -> pd.DataFrame:
    """:func:`performance_features` with each employee's :func:`talent_grid` placement."""
    return perf.merge(talent_grid(perf, gaps, competencies, spec), on=Performance.nip, how="left")


def _slopes(key: pd.Series, x: pd.Series, y: pd.Series) -> pd.Series:
    """Least-squares slope of y on x per key (NaN with fewer than two distinct x)."""
    frame = pd.DataFrame({"key": key.to_numpy(), "x": x.to_numpy(), "y": y.to_numpy()})
    frame["xy"] = frame["x"] * frame["y"]
    frame["xx"] = frame["x"] * frame["x"]
    sums = frame.groupby("key")[["x", "y", "xy", "xx"]].sum()
    n = frame.groupby("key").size()
    var = sums["xx"] - sums["x"] ** 2 / n
    slope = (sums["xy"] - sums["x"] * sums["y"] / n) / var.where(var > 1e-12)
    return slope.rename_axis(Performance.nip)


def talent_grid(
    perf: pd.DataFrame, gaps: pd.DataFrame, competencies: pd.DataFrame, spec: EvidenceSpec
) -> pd.DataFrame:
    """9-box placement: performance band from the latest predikat, potential band from managerial levels.

    Employees without an annual predikat get no box (null), not a guess.
    """
    grid = spec.talent_grid
    groups = competencies.set_index(Competencies.competency_id)[Competencies.group]
    managerial = gaps[gaps[CompetencyGaps.competency_id].map(groups) != "teknis"]
    r = (
        (managerial[CompetencyGaps.estimated_level] - managerial[CompetencyGaps.required_level])
        .groupby(managerial[CompetencyGaps.nip])
        .mean()
    )
    potential = pd.Series(
        np.where(
            r >= grid.potential.high_from, "high", np.where(r < grid.potential.low_below, "low", "medium")
        ),
        index=r.index,
    )
    out = perf[[Performance.nip]].copy()
    out[Performance.performance_band] = perf[Performance.predikat_latest].map(grid.performance).to_numpy()
    out[Performance.potential_band] = out[Performance.nip].map(potential).to_numpy()
    box = [
        grid.boxes.get(p, {}).get(q) if isinstance(p, str) and isinstance(q, str) else None
        for p, q in zip(out[Performance.performance_band], out[Performance.potential_band], strict=True)
    ]
    out["talent_box"] = pd.array(box, dtype="Int64")
    return out
