"""Performance features per employee: predikat history and trend, indicator attainment by aspect,
BerAKHLAK ratings per core value, the unit's public satisfaction, and the talent-grid box."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import ASPECT, CORE_VALUES
from rekomendasi.features.spec import EvidenceSpec


def performance_features(
    tables: Mapping[str, pd.DataFrame], gaps: pd.DataFrame, spec: EvidenceSpec
) -> pd.DataFrame:
    """One row per employee of the as-of view (NaN where a source has nothing for that employee)."""
    employees = (
        tables["employees"][["nip", "unit_id"]].sort_values("nip", kind="stable").reset_index(drop=True)
    )
    out = employees[["nip"]].copy()

    skp = tables["skp"]
    annual = skp[skp["period"].str.len() == 4].sort_values(["nip", "period"], kind="stable")
    annual = annual.assign(
        score=annual["predikat"].map(spec.predikat_score).astype(float), year=annual["period"].astype(int)
    )
    latest = annual.groupby("nip").tail(1).set_index("nip")
    stats = annual.groupby("nip").agg(predikat_mean=("score", "mean"), skp_periods=("score", "size"))
    trend = _slopes(annual["nip"], annual["year"].astype(float), annual["score"]).rename("predikat_trend")
    out = out.merge(
        latest[["predikat"]].rename(columns={"predikat": "predikat_latest"}),
        left_on="nip",
        right_index=True,
        how="left",
    )
    out = out.merge(stats, left_on="nip", right_index=True, how="left").merge(
        trend, left_on="nip", right_index=True, how="left"
    )
    out["skp_periods"] = out["skp_periods"].fillna(0).astype("int64")

    indicators = tables["indicators"]
    reported = indicators[indicators["realization"].notna()]
    if len(reported):
        last_year = reported["period_end"].dt.year.groupby(reported["nip"]).transform("max")
        recent = reported[reported["period_end"].dt.year == last_year]
        attainment = np.clip(recent["realization"] / recent["target"], 0.0, 1.5)
        by_aspect = attainment.groupby([recent["nip"], recent["aspect"]]).mean().unstack()
    else:
        by_aspect = pd.DataFrame(index=pd.Index([], name="nip"))
    by_aspect = by_aspect.reindex(columns=list(ASPECT)).add_prefix("attainment_")
    out = out.merge(by_aspect, left_on="nip", right_index=True, how="left")

    behaviour = tables["behaviour"]
    if len(behaviour):
        last = behaviour["period_end"].groupby(behaviour["nip"]).transform("max")
        recent_b = behaviour[behaviour["period_end"] == last]
        scores = recent_b["rating"].map(spec.rating_score).astype(float)
        by_value = scores.groupby([recent_b["nip"], recent_b["core_value"]]).mean().unstack()
    else:
        by_value = pd.DataFrame(index=pd.Index([], name="nip"))
    out = out.merge(
        by_value.reindex(columns=list(CORE_VALUES)).add_prefix("behaviour_"),
        left_on="nip",
        right_index=True,
        how="left",
    )

    public = tables["public_feedback"]
    if len(public):
        last_p = public["period_end"].groupby(public["unit_id"]).transform("max")
        unit_score = (
            public[public["period_end"] == last_p].groupby("unit_id")["score"].mean().rename("skm_unit_score")
        )
        out["skm_unit_score"] = employees["unit_id"].map(unit_score).to_numpy()
    else:
        out["skm_unit_score"] = np.nan

    return out.merge(talent_grid(out, gaps, tables, spec), on="nip", how="left")


def _slopes(key: pd.Series, x: pd.Series, y: pd.Series) -> pd.Series:
    """Least-squares slope of y on x per key (NaN with fewer than two distinct x)."""
    frame = pd.DataFrame({"key": key.to_numpy(), "x": x.to_numpy(), "y": y.to_numpy()})
    frame["xy"] = frame["x"] * frame["y"]
    frame["xx"] = frame["x"] * frame["x"]
    sums = frame.groupby("key")[["x", "y", "xy", "xx"]].sum()
    n = frame.groupby("key").size()
    var = sums["xx"] - sums["x"] ** 2 / n
    slope = (sums["xy"] - sums["x"] * sums["y"] / n) / var.where(var > 1e-12)
    return slope.rename_axis("nip")


def talent_grid(
    perf: pd.DataFrame, gaps: pd.DataFrame, tables: Mapping[str, pd.DataFrame], spec: EvidenceSpec
) -> pd.DataFrame:
    """9-box placement: performance band from the latest predikat, potential band from managerial levels.

    Employees without an annual predikat get no box (null), not a guess.
    """
    grid = spec.talent_grid
    groups = tables["competencies"].set_index("competency_id")["group"]
    managerial = gaps[gaps["competency_id"].map(groups) != "teknis"]
    r = (managerial["estimated_level"] - managerial["required_level"]).groupby(managerial["nip"]).mean()
    potential = pd.Series(
        np.where(
            r >= grid.potential.high_from, "high", np.where(r < grid.potential.low_below, "low", "medium")
        ),
        index=r.index,
    )
    out = perf[["nip"]].copy()
    out["performance_band"] = perf["predikat_latest"].map(grid.performance).to_numpy()
    out["potential_band"] = out["nip"].map(potential).to_numpy()
    box = [
        grid.boxes.get(p, {}).get(q) if isinstance(p, str) and isinstance(q, str) else None
        for p, q in zip(out["performance_band"], out["potential_band"], strict=True)
    ]
    out["talent_box"] = pd.array(box, dtype="Int64")
    return out
