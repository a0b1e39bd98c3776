"""The plan store: a plan saved whole (request, summary, every assignment in order) and read back as it
was, by page or whole; NIPs stay text, a missing gain stays missing; large plans save fast. On sqlite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from rekomendasi.errors import NotFound
from rekomendasi.plans.schemas import (
    ASSIGNMENT_COLUMNS,
    Assignments,
    Binding,
    GroupLine,
    Plan,
    PlanRequest,
    PlanSummary,
)
from rekomendasi.serving.store import StateInputError, Stores


def hand_plan(rows: int, agency: str = "I-32", unit: str | None = None) -> Plan:
    """A valid plan of ``rows`` assignments: every third mandatory (no gain), NIPs with leading zeros."""
    seq = np.arange(rows)
    mandatory = seq % 3 == 0
    frame = pd.DataFrame(
        {
            "nip": [f"{i // 2:018d}" for i in seq],  # two rows per person, "000...0001" stays text
            "unit_id": [f"U-{i % 4}" for i in seq],
            "training_id": [f"T-{i:05d}" for i in seq],
            "title": [f"Pelatihan {i} — ‘kepemimpinan’" for i in seq],
            "modality": np.where(seq % 2 == 0, "e_learning", "classroom"),
            "jp": (seq % 40 + 1).astype(float) + 0.5,
            "cost_idr": (seq * 125_000).astype("int64"),
            "expected_gain": np.where(mandatory, np.nan, seq / 7.0),
            "mandatory": mandatory,
            "competencies": np.where(mandatory, "", "K-01;K-02"),
            "reason_id": [f"Alasan {i}." for i in seq],
            "reason_en": [f"Reason {i}." for i in seq],
        }
    )
    text = ["nip", "unit_id", "training_id", "title", "modality", "competencies", "reason_id", "reason_en"]
    frame = frame.astype(dict.fromkeys(text, str) | {"jp": float, "mandatory": bool, "expected_gain": float})
    frame = Assignments.validate(frame[list(ASSIGNMENT_COLUMNS)])
    request = PlanRequest(
        agency=agency, budget_idr=2_000_000_000, year=2026, unit=unit, fair_coverage=("gender", "status")
    )
    summary = PlanSummary(
        agency=agency,
        unit=unit,
        year=2026,
        as_of=dt.date(2025, 12, 31),
        budget_idr=request.budget_idr,
        total_cost_idr=int(frame["cost_idr"].sum()),
        min_jp=20.0,
        staff=max(rows // 2, 1),
        at_floor=rows // 4,
        expected_gain=round(float(frame["expected_gain"].sum()), 4),
        mandatory_due=int(mandatory.sum()) + 1,
        mandatory_funded=int(mandatory.sum()),
        budget_for_all_idr=None,
        solver_status="time limit",
        mip_gap=0.0125,
        solve_seconds=1.5,
        groups=(GroupLine("all", "all", 10, 6, 1_000, 2.5, 12), GroupLine("gender", "P", 4, 2, 400, 1.0, 5)),
        binding=(
            Binding("budget", "Anggaran kurang.", "The budget is short.", 1.5e9),
            Binding("seats", "a", "b"),
        ),
        snapshot_id="2025-12-31-abcdef123456",
        model_version="7",
        model_run_id="run-7",
        extra={"coverage_status": "optimal", "candidates": np.int64(42)},
    )
    return Plan(request, frame, summary)


def test_a_plan_round_trips_whole_and_by_page(stores: Stores) -> None:
    plan = hand_plan(25, unit="U-1")
    plan_id = stores.plans.save(plan, "abcdef0123456789")
    assert len(plan_id) == 16 and plan_id.replace("-", "").replace("_", "").isalnum()
    stored = stores.plans.get(plan_id)
    assert stored is not None
    assert (stored.agency, stored.unit, stored.rows, stored.created_by) == (
        "I-32",
        "U-1",
        25,
        "abcdef0123456789",
    )
    assert stored.request == plan.request and stored.request.fair_coverage == ("gender", "status")
    assert stored.summary.groups == plan.summary.groups and stored.summary.binding == plan.summary.binding
    assert stored.summary.extra == {"coverage_status": "optimal", "candidates": 42}
    assert stored.summary.as_of == dt.date(2025, 12, 31) and stored.summary.budget_for_all_idr is None
    assert (stored.snapshot_id, stored.model_version, stored.model_run_id) == (
        "2025-12-31-abcdef123456",
        "7",
        "run-7",
    )
    assert stored.created_at.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - stored.created_at).total_seconds()) < 60

    whole = stores.plans.plan(plan_id)
    assert whole.request == plan.request and whole.summary == stored.summary
    pd.testing.assert_frame_equal(whole.assignments, plan.assignments, check_dtype=False)
    Assignments.validate(whole.assignments)  # the types the plan's writers expect
    assert whole.assignments["nip"].iloc[0] == "000000000000000000"  # text, leading zeros kept
    assert whole.assignments["expected_gain"][whole.assignments["mandatory"]].isna().all()
    assert whole.assignments["expected_gain"][~whole.assignments["mandatory"]].notna().all()

    pages = [stores.plans.assignments(plan_id, offset, 10) for offset in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    joined = pd.concat(pages, ignore_index=True)
    assert joined["training_id"].tolist() == plan.assignments["training_id"].tolist()  # in the plan's order
    assert tuple(pages[0].columns) == ASSIGNMENT_COLUMNS
    assert stores.plans.assignments(plan_id, 25, 10).empty
    assert len(stores.plans.assignments(plan_id, 7)) == 18  # no limit: to the end


def test_unknown_plans_and_bad_input(stores: Stores) -> None:
    assert stores.plans.get("nope") is None
    assert stores.plans.assignments("nope", 0, 10).empty
    assert tuple(stores.plans.assignments("nope").columns) == ASSIGNMENT_COLUMNS
    with pytest.raises(NotFound, match="no plan nope"):
        stores.plans.plan("nope")
    with pytest.raises(StateInputError, match="created_by"):
        stores.plans.save(hand_plan(2), " ")
    with pytest.raises(StateInputError, match="offset"):
        stores.plans.assignments("nope", -1, 10)


def test_plans_are_kept_apart_and_an_empty_plan_is_a_plan(stores: Stores) -> None:
    first = stores.plans.save(hand_plan(6), "k1")
    second = stores.plans.save(hand_plan(0, agency="I-33"), "k2")
    assert first != second
    assert len(stores.plans.assignments(first)) == 6
    empty = stores.plans.plan(second)
    assert empty.assignments.empty and tuple(empty.assignments.columns) == ASSIGNMENT_COLUMNS
    assert empty.request.agency == "I-33"
    with stores.db.reading() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"plans", "plan_assignments"} <= tables


def test_a_large_plan_saves_in_seconds(stores: Stores) -> None:
    plan = hand_plan(30_000)
    started = time.perf_counter()
    plan_id = stores.plans.save(plan, "k1")
    saved = time.perf_counter() - started
    assert saved < 10, f"saving 30,000 rows took {saved:.1f} s"
    page = stores.plans.assignments(plan_id, 29_990, 100)
    assert page["training_id"].tolist() == [f"T-{i:05d}" for i in range(29_990, 30_000)]
    assert len(stores.plans.plan(plan_id).assignments) == 30_000
