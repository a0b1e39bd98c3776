"""Agency plans: :func:`make_plan` builds the problem (:mod:`.problem`), solves it (:mod:`.solve`) and turns
the solution into assignments with reasons and a summary that says what binds, in the planner's words."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from rekomendasi.explain import gaps_from_records, reason
from rekomendasi.features import Snapshot
from rekomendasi.plans.export import number, rupiah
from rekomendasi.plans.problem import Problem, build_problem
from rekomendasi.plans.schemas import (
    ASSIGNMENT_COLUMNS,
    Assignments,
    Binding,
    GroupLine,
    Plan,
    PlanRequest,
    PlanSummary,
)
from rekomendasi.plans.solve import Solution, least_cost_for_all, solve
from rekomendasi.recommend.core import Ranker
from rekomendasi.recommend.filters import NO_OBJECTIONS, Objections
from rekomendasi.recommend.store import ScoresStore
from rekomendasi.registry import ModelVersion

FOR_ALL_SHARE = 0.15
"""Share of the time limit spent finding the least cost that brings everyone to the floor."""
ASSEMBLY_SHARE = 0.1
"""Share of the time limit kept for writing the plan (reasons, summary) after the solves."""


def make_plan(
    snapshot: Snapshot,
    scores: ScoresStore,
    model: Ranker,
    version: ModelVersion,
    request: PlanRequest,
    objections: Objections = NO_OBJECTIONS,
) -> Plan:
    """The agency plan of ``request``; nobody is assigned an entry they objected to (``objections``).

    Raises:
        NotFound: the agency has no active employee in the snapshot.
        PlanInputError: a budget of zero or less, a unit outside the agency, an unknown coverage column.
        ModelNotReady: the model has no gain calibration (retrain).
    """
    started = time.perf_counter()
    limit = request.time_limit_s
    problem = build_problem(snapshot, scores, model, request, objections)
    cap = request.max_cost_per_person_idr
    for_all = least_cost_for_all(problem, FOR_ALL_SHARE * limit, cap)
    left = limit - (time.perf_counter() - started) - ASSEMBLY_SHARE * limit
    solution = solve(problem, request.budget_idr, max(left, 1.0), cap, request.fair_coverage)
    return assemble(problem, solution, request, snapshot, version, for_all)


def assemble(
    problem: Problem,
    solution: Solution,
    request: PlanRequest,
    snapshot: Snapshot,
    version: ModelVersion,
    for_all: int | None,
) -> Plan:
    """The plan of a solution: assignments with reasons, the summary and what binds."""
    assignments = assignments_table(problem, solution)
    groups = group_lines(problem, solution, assignments)
    gain = float(assignments["expected_gain"].fillna(0.0).sum())
    summary = PlanSummary(
        agency=request.agency,
        unit=request.unit,
        year=problem.year,
        as_of=snapshot.as_of,
        budget_idr=request.budget_idr,
        total_cost_idr=solution.cost_idr,
        min_jp=problem.floor,
        staff=len(problem.people),
        at_floor=int(solution.at_floor.sum()),
        expected_gain=round(gain, 4),
        mandatory_due=len(problem.mandatory),
        mandatory_funded=len(solution.funded),
        budget_for_all_idr=for_all,
        solver_status=solution.status,
        mip_gap=round(solution.mip_gap, 6) if np.isfinite(solution.mip_gap) else -1.0,
        solve_seconds=round(solution.seconds, 3),
        groups=tuple(groups),
        binding=tuple(binding(problem, solution, request, for_all)),
        snapshot_id=snapshot.snapshot_id,
        model_version=version.version,
        model_run_id=version.run_id,
        extra={"coverage_status": solution.coverage_status, "candidates": len(problem.pairs)},
    )
    return Plan(request, assignments, summary)


def assignments_table(problem: Problem, solution: Solution) -> pd.DataFrame:
    """One row per assignment (:class:`Assignments`): mandatory programmes, then personal trainings."""
    people = problem.people.set_index("nip")
    due = problem.mandatory.loc[solution.funded]
    chosen = problem.pairs.iloc[solution.chosen]
    have = people["earned_jp"] + due.groupby("nip")["jp"].sum().reindex(people.index).fillna(0.0)
    rows = []
    for _, m in due.iterrows():
        rows.append(
            {
                "nip": m["nip"],
                "training_id": m["training_id"],
                "expected_gain": np.nan,
                "mandatory": True,
                "competencies": "",
                "reason_id": f"Program wajib yang jatuh tempo: {m['rule_id']}.",
                "reason_en": f"A mandatory programme that is due: {m['rule_en']}.",
            }
        )
    for _, p in chosen.iterrows():
        gaps = gaps_from_records(list(p["gaps"]), problem.names)
        open_gaps = [g.competency_id for g in gaps if g.required_level is not None and g.gap > 0]
        why_id, why_en = _why_now(float(have[p["nip"]]), problem.floor, problem.year, int(p["rank"]))
        rows.append(
            {
                "nip": p["nip"],
                "training_id": p["training_id"],
                "expected_gain": float(p["gain"]),
                "mandatory": False,
                "competencies": ";".join(open_gaps),
                "reason_id": f"{reason(gaps, 'id')} {_gain_words(float(p['gain']), 'id')} {why_id}",
                "reason_en": f"{reason(gaps, 'en')} {_gain_words(float(p['gain']), 'en')} {why_en}",
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "nip",
            "training_id",
            "expected_gain",
            "mandatory",
            "competencies",
            "reason_id",
            "reason_en",
        ],
    )
    ids = frame["training_id"].astype(str)
    frame["unit_id"] = frame["nip"].map(people["unit_id"]).astype(str)
    frame["title"] = ids.map(problem.titles).astype(str)
    frame["modality"] = ids.map(problem.modality).astype(str)
    entry_jp = pd.concat(
        [problem.pairs.set_index("training_id")["jp"], problem.mandatory.set_index("training_id")["jp"]]
    )
    entry_cost = pd.concat(
        [
            problem.pairs.set_index("training_id")["cost_idr"],
            problem.mandatory.set_index("training_id")["cost_idr"],
        ]
    )
    frame["jp"] = ids.map(entry_jp[~entry_jp.index.duplicated()]).astype(float)
    frame["cost_idr"] = ids.map(entry_cost[~entry_cost.index.duplicated()]).astype("int64")
    text = {c: str for c in ("nip", "training_id", "competencies", "reason_id", "reason_en")}
    frame = frame.astype(text | {"mandatory": bool, "expected_gain": float})
    frame = frame.sort_values(
        ["unit_id", "nip", "mandatory", "expected_gain"], ascending=[True, True, False, False], kind="stable"
    ).reset_index(drop=True)
    return Assignments.validate(frame[list(ASSIGNMENT_COLUMNS)])


def _gain_words(gain: float, lang: str) -> str:
    if lang == "id":
        return f"Perkiraan penutupan kesenjangan {number(gain, 'id', 2)} level."
    return f"Expected gap closure {number(gain, 'en', 2)} levels."


def _why_now(have: float, floor: float, year: int, rank: int) -> tuple[str, str]:
    place_id = f"peringkat {rank} dalam rekomendasi pribadinya"
    place_en = f"ranked {rank} among their personal recommendations"
    if have < floor:
        return (
            f"Tahun {year} ia baru tercatat {have:.0f} dari {floor:.0f} JP; pelatihan ini {place_id}.",
            f"In {year} they have {have:.0f} of {floor:.0f} JP so far; this training is {place_en}.",
        )
    return (f"Pelatihan ini {place_id}.", f"This training is {place_en}.")


def group_lines(problem: Problem, solution: Solution, assignments: pd.DataFrame) -> list[GroupLine]:
    """Coverage, cost and gain for the whole plan, by unit, by gender and by status."""
    people = problem.people.assign(at_floor=solution.at_floor)
    per_person = assignments.groupby("nip").agg(
        cost=("cost_idr", "sum"), gain=("expected_gain", "sum"), n=("training_id", "size")
    )
    people = people.join(per_person, on="nip").fillna({"cost": 0, "gain": 0.0, "n": 0})
    lines = [_line("all", "all", people)]
    for dimension in ("unit_id", "gender", "status"):
        for value, part in people.groupby(dimension, sort=True):
            lines.append(_line(dimension, str(value), part))
    return lines


def _line(dimension: str, group: str, part: pd.DataFrame) -> GroupLine:
    return GroupLine(
        dimension=dimension,
        group=group,
        staff=len(part),
        at_floor=int(part["at_floor"].sum()),
        cost_idr=int(part["cost"].sum()),
        expected_gain=round(float(part["gain"].sum()), 4),
        assignments=int(part["n"].sum()),
    )


def binding(problem: Problem, solution: Solution, request: PlanRequest, for_all: int | None) -> list[Binding]:
    """What keeps the plan from what was asked, one sentence each (Indonesian and English)."""
    out: list[Binding] = []
    staff, at_floor = len(problem.people), int(solution.at_floor.sum())
    floor = f"{problem.floor:g}"
    unreachable = int(solution.unreachable.sum())
    if unreachable:
        out.append(
            Binding(
                "no_candidates",
                f"{unreachable} pegawai tidak dapat mencapai {floor} JP dari pelatihan yang tersedia baginya "
                "di katalog; tambahkan pelatihan yang sesuai atau catat kegiatan non-katalog (jp_log).",
                f"{unreachable} staff cannot reach {floor} JP from the catalogue entries open to them; add "
                "suitable entries or record non-catalogue activities (jp_log).",
                float(unreachable),
            )
        )
    missing = len(problem.mandatory) - len(solution.funded)
    if missing:
        left = problem.mandatory[~problem.mandatory.index.isin(solution.funded)]
        need = int(left["cost_idr"].sum())
        out.append(
            Binding(
                "mandatory",
                f"{missing} program wajib yang jatuh tempo belum terdanai; dibutuhkan tambahan "
                f"{rupiah(need, 'id')}.",
                f"{missing} mandatory programmes due are not funded; they need {rupiah(need, 'en')} more.",
                float(missing),
            )
        )
    if at_floor < staff:
        share = 100.0 * at_floor / staff
        need_id = (
            f"untuk semua pegawai dibutuhkan {rupiah(for_all, 'id')}"
            if for_all is not None
            else "tidak semua pegawai dapat mencapainya dengan katalog saat ini"
        )
        need_en = (
            f"all staff need {rupiah(for_all, 'en')}"
            if for_all is not None
            else "not all staff can reach it with the current catalogue"
        )
        out.append(
            Binding(
                "budget",
                f"Anggaran {rupiah(request.budget_idr, 'id')} memenuhi {floor} JP untuk {share:.0f}% "
                f"pegawai; {need_id}.",
                f"A budget of {rupiah(request.budget_idr, 'en')} brings {share:.0f}% of staff to {floor} JP; "
                f"{need_en}.",
                float(for_all - request.budget_idr) if for_all is not None else None,
            )
        )
    full = _full_entries(problem, solution)
    if full:
        titles = ", ".join(problem.titles.get(t, t) for t in full[:3]) + (" ..." if len(full) > 3 else "")
        out.append(
            Binding(
                "seats",
                f"Kursi penuh pada {len(full)} pelatihan ({titles}); tambah kelas atau angkatan bila perlu.",
                f"Seats are full on {len(full)} entries ({titles}); add runs if needed.",
                float(len(full)),
            )
        )
    if solution.fair_dropped:
        named = ", ".join(solution.fair_dropped)
        out.append(
            Binding(
                "fair_coverage",
                f"Batas cakupan per kelompok ({named}) tidak dapat dipenuhi dengan anggaran ini "
                "dan diabaikan.",
                f"The coverage floor by group ({named}) cannot hold with this budget and was left out.",
            )
        )
    return out


def _full_entries(problem: Problem, solution: Solution) -> list[str]:
    used = pd.concat(
        [
            problem.pairs["training_id"].iloc[solution.chosen],
            problem.mandatory["training_id"].loc[solution.funded],
        ]
    ).value_counts()
    return sorted(t for t, n in used.items() if t in problem.seats and n >= problem.seats[t])


def what_if(
    snapshot: Snapshot,
    scores: ScoresStore,
    model: Ranker,
    request: PlanRequest,
    budgets: Sequence[int],
    objections: Objections = NO_OBJECTIONS,
) -> pd.DataFrame:
    """Coverage and expected gain at each budget (the problem built once): ``budget_idr``,
    ``total_cost_idr``, ``at_floor``, ``staff``, ``share_at_floor``, ``expected_gain``,
    ``mandatory_funded``, ``status``. Mandatory programmes are funded first, so a larger budget that funds
    more of them (they are long and costly) can bring fewer people to the floor: the column shows it."""
    problem = build_problem(snapshot, scores, model, request, objections)
    rows = []
    for budget in budgets:
        solution = solve(
            problem, int(budget), request.time_limit_s, request.max_cost_per_person_idr, request.fair_coverage
        )
        gain = float(problem.pairs["gain"].to_numpy()[solution.chosen].sum())
        rows.append(
            {
                "budget_idr": int(budget),
                "total_cost_idr": solution.cost_idr,
                "at_floor": int(solution.at_floor.sum()),
                "staff": len(problem.people),
                "share_at_floor": float(solution.at_floor.mean()) if len(problem.people) else 0.0,
                "expected_gain": round(gain, 4),
                "mandatory_funded": len(solution.funded),
                "status": solution.status,
            }
        )
    return pd.DataFrame(rows)
