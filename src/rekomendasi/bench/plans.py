"""Benchmarks of agency plans (``rekomendasi bench plan`` and ``bench plan-quality``).

- Quality: on a simulated world with truth, the optimised plan against the spreadsheet habit and greedy
  by ranker score (:mod:`rekomendasi.plans.baselines`) at three budgets per agency: a third, two thirds
  and all of the least cost that brings everyone to the JP floor.
- Speed: one large agency planned in a child process (wall time and peak memory). The simulator makes
  agencies of about 2,500 staff, so a larger one is made by pooling the largest agencies of a world into
  one (their staff, scores and mandatory programmes, unchanged).

Run as ``python -m rekomendasi.bench.plans speed HOME STAFF BUDGET`` (the child of ``bench plan``).
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from rekomendasi.errors import RekomendasiError
from rekomendasi.features import Snapshot
from rekomendasi.plans import PlanRequest
from rekomendasi.recommend.champion import Champion
from rekomendasi.recommend.store import ScoresStore
from rekomendasi.settings import Settings

FRACTIONS = (1 / 3, 2 / 3, 1.0)
"""Budgets of the quality benchmark: these shares of the least cost that funds every mandatory programme due
and brings everyone to the floor; and every mandatory programme plus these shares (below 1) of the rest."""
POOLED = "pooled"


def world(home: Path) -> tuple[Snapshot, ScoresStore, Champion]:
    """The snapshot, scores store and champion of a project home prepared by ``simulate``, ``train`` and
    ``score`` (``REKOMENDASI_HOME=home``)."""
    from rekomendasi.features.storage import read_snapshot
    from rekomendasi.recommend.champion import load_champion
    from rekomendasi.recommend.store import StoreId
    from rekomendasi.registry import registry_from_settings

    settings = Settings(home=home)
    snapshot = read_snapshot(settings.resolve(settings.snapshot_dir))
    champion = load_champion(registry_from_settings(settings))
    store_id = StoreId(snapshot.snapshot_id, champion.version.version, champion.version.run_id)
    store = ScoresStore.open(settings.resolve(settings.scores_dir), store_id, "rekomendasi score")
    return snapshot, store, champion


def read_benefit(truth: Path) -> pd.DataFrame:
    """``truth/benefit`` as the simulator wrote it (Parquet or CSV): nip, training_id, eligible, benefit.

    Raises:
        RekomendasiError: the folder has neither.
    """
    columns = ["nip", "training_id", "eligible", "benefit"]
    if (truth / "benefit.parquet").exists():
        return pd.read_parquet(truth / "benefit.parquet", columns=columns)
    if (truth / "benefit.csv").exists():
        return pd.read_csv(truth / "benefit.csv", usecols=columns, dtype={"nip": str, "training_id": str})
    raise RekomendasiError(f"no benefit.parquet or benefit.csv in {truth}: is it a simulated world's truth/?")


def plan_quality(
    home: Path,
    truth: Path,
    agencies: Sequence[str] | None = None,
    fractions: Sequence[float] = FRACTIONS,
    time_limit_s: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One row per (agency, budget, method) with the plan's truth outcome
    (:func:`~rekomendasi.plans.baselines.true_outcome`) and ``budget_for_all_idr``.

    Args:
        home: a prepared project home (see :func:`world`).
        truth: the world's ``truth/`` folder (read here only, to score).
        agencies: default: every agency of the scores store.
    """
    from rekomendasi.plans.baselines import (
        greedy_plan,
        optimised_rows,
        spreadsheet_plan,
        true_outcome,
    )
    from rekomendasi.plans.highs import quiet_banner
    from rekomendasi.plans.problem import build_problem
    from rekomendasi.plans.solve import least_cost_for_all, solve

    quiet_banner()
    snapshot, store, champion = world(home)
    benefit = read_benefit(truth)
    eligible = benefit[benefit["eligible"]]
    out = []
    for agency in agencies or store.agencies():
        request = PlanRequest(agency=agency, budget_idr=1, time_limit_s=time_limit_s)
        problem = build_problem(snapshot, store, champion.model, request)
        for_all = least_cost_for_all(problem, time_limit_s)
        if for_all is None:
            if progress:
                progress(f"{agency}: some staff cannot reach the floor at any budget; skipped")
            continue
        mandatory = int(problem.mandatory["cost_idr"].sum())
        levels = [("of the least cost for all", f, round(f * for_all)) for f in fractions]
        levels += [  # every mandatory programme funded, and a share of what the floor needs beyond them
            ("mandatory + share of the rest", f, mandatory + round(f * (for_all - mandatory)))
            for f in fractions
            if f < 1
        ]
        for basis, fraction, budget in levels:
            started = time.perf_counter()
            solution = solve(problem, budget, time_limit_s)
            seconds = time.perf_counter() - started
            plans = {
                "optimised": optimised_rows(problem, solution),
                "spreadsheet": spreadsheet_plan(problem, snapshot, eligible, budget),
                "greedy_score": greedy_plan(problem, budget),
            }
            for method, rows in plans.items():
                outcome = true_outcome(problem, rows, benefit)
                assert outcome["cost_idr"] <= budget, (agency, method, outcome, budget)
                out.append(
                    {
                        "agency": agency,
                        "staff": len(problem.people),
                        "budget_basis": basis,
                        "budget_share": round(fraction, 3),
                        "budget_idr": budget,
                        "budget_for_all_idr": for_all,
                        "method": method,
                        **outcome,
                        "status": solution.status if method == "optimised" else "",
                        "seconds": round(seconds, 2) if method == "optimised" else None,
                    }
                )
            if progress:
                progress(f"{agency}, Rp {budget:,} ({fraction:.0%} {basis}): done")
    return pd.DataFrame(out)


def quality_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per budget level (basis and share), summed over agencies: true gain and staff at the floor of each
    method, and the optimised plan's true gain relative to the spreadsheet habit's and greedy's."""
    measures = ["true_gain", "true_gain_personal", "at_floor", "staff", "cost_idr"]
    total = rows.groupby(["budget_basis", "budget_share", "method"])[measures].sum()
    wide = total.unstack("method")
    table = pd.DataFrame(
        {
            f"{what}_{method}": wide[(what, method)]
            for what in ("true_gain", "true_gain_personal", "at_floor")
            for method in ("spreadsheet", "greedy_score", "optimised")
        }
    )
    table["staff"] = wide[("staff", "optimised")]
    table["gain_vs_spreadsheet"] = table["true_gain_optimised"] / table["true_gain_spreadsheet"] - 1
    table["gain_vs_greedy"] = table["true_gain_optimised"] / table["true_gain_greedy_score"] - 1
    return table.reset_index()


def pooled(snapshot: Snapshot, store: ScoresStore, staff: int) -> tuple[Snapshot, _PooledStore, list[str]]:
    """The largest agencies of the world pooled into one agency ``pooled`` of at least ``staff`` active
    staff (or all of them, when the world is smaller)."""
    roster = snapshot.roster
    sizes = roster[roster["active"].astype(bool)]["instansi_id"].value_counts()
    members: list[str] = []
    total = 0
    for agency, count in sizes.items():
        members.append(str(agency))
        total += int(count)
        if total >= staff:
            break
    relabelled = roster.assign(
        instansi_id=roster["instansi_id"].where(~roster["instansi_id"].isin(members), POOLED)
    )
    return dataclasses.replace(snapshot, roster=relabelled), _PooledStore(store, members), members


class _PooledStore:
    """A scores store whose agency ``pooled`` reads its member agencies' rows."""

    def __init__(self, store: ScoresStore, members: list[str]) -> None:
        self.store, self.members = store, members

    def read(self, agency: str, max_rank: int | None = None) -> pd.DataFrame:
        if agency != POOLED:
            return self.store.read(agency, max_rank)
        parts = [self.store.read(a, max_rank) for a in self.members]
        return pd.concat(parts, ignore_index=True)


def speed(home: Path, staff: int, per_person_idr: int, time_limit_s: float) -> dict[str, object]:
    """Plan a pooled agency of at least ``staff`` (the largest agency when 1) in this process, with
    ``per_person_idr`` times its staff as the budget: the plan's figures and seconds."""
    from rekomendasi.plans import make_plan
    from rekomendasi.plans.highs import quiet_banner

    quiet_banner()
    snapshot, store, champion = world(home)
    snapshot, pool, members = pooled(snapshot, store, staff)
    roster = snapshot.roster
    budget = per_person_idr * int((roster["active"].astype(bool) & (roster["instansi_id"] == POOLED)).sum())
    request = PlanRequest(agency=POOLED, budget_idr=budget, time_limit_s=time_limit_s)
    started = time.perf_counter()
    plan = make_plan(snapshot, pool, champion.model, champion.version, request)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    s = plan.summary
    return {
        "agencies": members,
        "staff": s.staff,
        "budget_idr": budget,
        "plan_seconds": round(seconds, 1),
        "solve_seconds": round(s.solve_seconds, 1),
        "status": s.solver_status,
        "mip_gap": round(s.mip_gap, 4),
        "at_floor": s.at_floor,
        "expected_gain": s.expected_gain,
        "total_cost_idr": s.total_cost_idr,
        "budget_for_all_idr": s.budget_for_all_idr,
        "assignments": len(plan.assignments),
        "peak_rss_gb_self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2),
    }


if __name__ == "__main__":  # the measured child of `rekomendasi bench plan`
    _, command, home_arg, staff_arg, budget_arg, limit_arg = sys.argv
    assert command == "speed", command
    result = speed(Path(home_arg), int(staff_arg), int(budget_arg), float(limit_arg))
    print("result " + json.dumps(result))
