"""Agency plans on the small simulated world: budget, mandatory first, the floor, one per gap, bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.errors import ModelNotReady, NotFound, PlanInputError
from rekomendasi.features.storage import read_snapshot
from rekomendasi.plans import Assignments, PlanRequest, make_plan
from rekomendasi.plans.problem import build_problem
from rekomendasi.ranking.calibration import GainCalibration, calibration_table, fit_gain_calibration
from rekomendasi.recommend.champion import load_champion
from rekomendasi.recommend.store import ScoresStore, StoreId
from rekomendasi.registry import MlflowRegistry


@dataclasses.dataclass
class World:
    snapshot: object
    store: ScoresStore
    champion: object
    agency: str


@pytest.fixture(scope="module")
def world(served_home: Path) -> World:
    snapshot = read_snapshot(served_home / "snapshot")
    registry = MlflowRegistry(f"sqlite:///{served_home / 'mlflow' / 'mlflow.db'}")
    champion = load_champion(registry)
    store = ScoresStore.open(
        served_home / "scores",
        StoreId(snapshot.snapshot_id, champion.version.version, champion.version.run_id),
        "test",
    )
    roster = snapshot.roster[snapshot.roster["active"]]
    agency = str(roster["instansi_id"].value_counts().index[0])
    return World(snapshot, store, champion, agency)


def _plan(world: World, **request: object):  # type: ignore[no-untyped-def]
    values = {"agency": world.agency, "budget_idr": 100_000_000, "time_limit_s": 20.0} | request
    return make_plan(
        world.snapshot,  # type: ignore[arg-type]
        world.store,
        world.champion.model,  # type: ignore[attr-defined]
        world.champion.version,  # type: ignore[attr-defined]
        PlanRequest(**values),  # type: ignore[arg-type]
    )


def test_a_tight_budget_is_never_exceeded_and_every_line_holds(world: World) -> None:
    generous = _plan(world, budget_idr=10**12)
    need = generous.summary.budget_for_all_idr
    assert need is not None and need > 0
    tight = _plan(world, budget_idr=need // 3)
    a, s = tight.assignments, tight.summary
    Assignments.validate(a)
    assert s.total_cost_idr == int(a["cost_idr"].sum()) <= need // 3
    assert 0 < s.at_floor < s.staff
    # one training per person per competency gap
    personal = a[~a["mandatory"] & (a["competencies"] != "")]
    needs = personal.assign(c=personal["competencies"].str.split(";")).explode("c")
    assert not needs.duplicated(["nip", "c"]).any()
    # the planned JP make the floor count
    jp = a.groupby("nip")["jp"].sum()
    assert s.at_floor == int((jp >= s.min_jp).sum())  # next year's plan: nothing earned yet counts
    # the gain is the calibrated score of the store's row
    problem = build_problem(
        world.snapshot,  # type: ignore[arg-type]
        world.store,
        world.champion.model,  # type: ignore[attr-defined]
        PlanRequest(agency=world.agency, budget_idr=1),
    )
    pairs = problem.pairs.set_index(["nip", "training_id"])["gain"]
    got = personal.set_index(["nip", "training_id"])["expected_gain"]
    np.testing.assert_allclose(got.to_numpy(), pairs.reindex(got.index).to_numpy())
    kinds = {b.kind for b in s.binding}
    assert "budget" in kinds
    budget_line = next(b for b in s.binding if b.kind == "budget")
    assert (
        "memenuhi 20 JP untuk" in budget_line.text_id
        and "untuk semua pegawai dibutuhkan" in budget_line.text_id
    )
    # by group lines add up
    units = [g for g in s.groups if g.dimension == "unit_id"]
    assert sum(g.staff for g in units) == s.staff and sum(g.at_floor for g in units) == s.at_floor


def test_enough_money_brings_everyone_reachable_to_the_floor_mandatory_first(world: World) -> None:
    plan = _plan(world, budget_idr=10**12)
    s = plan.summary
    assert s.mandatory_funded == s.mandatory_due
    unreachable = next((b.amount for b in s.binding if b.kind == "no_candidates"), 0) or 0
    assert s.at_floor == s.staff - int(unreachable)
    assert "budget" not in {b.kind for b in s.binding}
    mandatory = plan.assignments[plan.assignments["mandatory"]]
    assert mandatory["expected_gain"].isna().all()
    assert mandatory["reason_id"].str.startswith("Program wajib").all()


def test_mandatory_programmes_are_funded_before_personal_training(world: World) -> None:
    plan = _plan(world, budget_idr=10**12)
    if plan.summary.mandatory_due == 0:
        pytest.skip("the small world has no mandatory programme due")
    cheapest = plan.assignments[plan.assignments["mandatory"]]["cost_idr"].min()
    small = _plan(world, budget_idr=int(cheapest))
    assert small.summary.mandatory_funded >= 1
    assert small.assignments["mandatory"].all()


def test_bad_requests_are_clear_errors(world: World) -> None:
    with pytest.raises(PlanInputError, match="budget must be more than Rp 0"):
        _plan(world, budget_idr=0)
    with pytest.raises(PlanInputError, match="budget"):
        _plan(world, budget_idr=-5)
    with pytest.raises(NotFound, match="no active employee"):
        _plan(world, agency="no-such-agency")
    with pytest.raises(PlanInputError, match="is not a unit of"):
        _plan(world, unit="another-agency.unit")
    with pytest.raises(PlanInputError, match="unknown coverage group"):
        _plan(world, fair_coverage=("religion",))


def test_a_model_without_calibration_is_refused(world: World) -> None:
    model = world.champion.model  # type: ignore[attr-defined]
    saved = model.gain_calibration_
    try:
        model.gain_calibration_ = None
        with pytest.raises(ModelNotReady, match="rekomendasi train"):
            _plan(world)
    finally:
        model.gain_calibration_ = saved


def test_the_calibration_is_monotone_and_checked_on_unseen_enrolments() -> None:
    rng = np.random.default_rng(0)
    score = rng.normal(size=4000)
    truth = 0.3 / (1 + np.exp(-2 * score))  # the expected gain rises with the score
    gain = rng.binomial(1, 0.6, size=4000) * rng.exponential(truth / 0.6)
    calibration = fit_gain_calibration(score[:2000], gain[:2000])
    assert np.all(np.diff(calibration(np.sort(score))) >= 0)
    table = calibration_table(calibration, score[2000:], gain[2000:])
    assert table.attrs["ece"] < 0.02
    assert table.attrs["spearman"] > 0.2
    overall = table[table["bin"] == 0].iloc[0]
    assert abs(overall["estimated"] - overall["realised"]) < 0.02
    # a wrong calibration shows: everything estimated at twice the truth
    doubled = GainCalibration(calibration.knots, 2 * calibration.gains, calibration.examples)
    assert calibration_table(doubled, score[2000:], gain[2000:]).attrs["ece"] > 0.05
    with pytest.raises(ValueError, match="at least 20"):
        fit_gain_calibration(score[:5], gain[:5])
    round_trip = GainCalibration.from_dict(calibration.to_dict())
    np.testing.assert_allclose(round_trip(score), calibration(score))


def test_the_trained_champion_carries_its_calibration(world: World) -> None:
    raw = world.champion.model.gain_calibration_  # type: ignore[attr-defined]
    calibration = GainCalibration.from_dict(raw)
    assert calibration.examples >= 20 and (calibration.gains >= 0).all()
    assert pd.Series(calibration.knots).is_monotonic_increasing
