"""Solving a large agency (above :data:`~rekomendasi.plans.solve.DECOMPOSE_ABOVE` staff) one group of work
units at a time, coverage still first.

1. Each person's least cost to reach the floor, from a least-cost plan per group (without seats and
   fairness floors, reaching the floor is separable by person, so groups solve it exactly and fast).
2. Who is brought to the floor: the people who get there cheapest, as many as the money allows. Without
   seat limits this is the most people any plan can bring to the floor.
3. The money beyond those costs is shared out by the linear relaxation of the whole agency (most gain at
   that coverage); each group then maximises its gain exactly, with its chosen people held at the floor,
   starting from their least-cost trainings. Money a group leaves passes to the next; seats are held back
   for the later groups' chosen people.
4. A group where that cannot hold (seats, coverage floors by group) is solved as a small agency: coverage,
   then gain, within its share.

The gap reported is against the whole agency's relaxation at the coverage reached: an upper bound of any
plan's gain, so the plan is at most that far from the best.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from rekomendasi.plans.problem import Problem
from rekomendasi.plans.solve import (
    _STATUS,
    BlockResult,
    _Block,
    _block,
    _build,
    _lp,
    _milp,
    _solve_block,
    least_cost_rows,
)

BLOCK_STAFF = 500
"""Staff of each group of whole units: measured on a 10,927-staff agency, groups of 500 reach the gain of
groups of 2,000 (within 0.2%) in half the time, most of them proven optimal."""


def unit_groups(units: np.ndarray, size: int) -> list[list[str]]:
    """Whole work units packed in order into groups of at most ``size`` staff (a larger unit alone)."""
    counts = pd.Series(units).value_counts().sort_index()
    groups: list[list[str]] = [[]]
    staff = 0
    for unit, n in counts.items():
        if groups[-1] and staff + n > size:
            groups.append([])
            staff = 0
        groups[-1].append(str(unit))
        staff += int(n)
    return groups


def _groups(problem: Problem, whole: _Block) -> tuple[list[list[str]], list[np.ndarray], list[_Block]]:
    """The groups of whole units (:func:`unit_groups`), each one's mask of people and its block."""
    units = whole.people["unit_id"].to_numpy()
    groups = unit_groups(units, BLOCK_STAFF)
    masks = [np.isin(units, members) for members in groups]
    return groups, masks, [_block(problem, whole.short, whole.unreachable, mask) for mask in masks]


def _least_by_group(blocks: list[_Block], cap: int | None, limit: float) -> list[np.ndarray]:
    """Each group's least-cost rows of Problem.pairs to the floor, seats not counted (none where the solver
    found no plan in its share of ``limit``)."""
    parts = []
    for block in blocks:
        found = least_cost_rows(block, cap, limit / len(blocks))
        parts.append(block.rows[found] if found is not None else np.zeros(0, dtype=np.int64))
    return parts


def least_cost_by_unit(problem: Problem, whole: _Block, cap: int | None, limit: float) -> np.ndarray:
    """Rows of Problem.pairs bringing everyone reachable to the floor at the least cost, seats not
    counted, solved group by group (exact: without seats, people do not compete)."""
    parts = _least_by_group(_groups(problem, whole)[2], cap, limit)
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def solve_by_unit(
    problem: Problem,
    whole: _Block,
    budget: float,
    seats: dict[str, int],
    cap: int | None,
    fair: tuple[str, ...],
    limit: float,
) -> BlockResult:
    """The plan of a large agency (module docstring): (rows of Problem.pairs chosen, status, gap,
    coverage status, fair floors dropped)."""
    started = time.perf_counter()
    units = whole.people["unit_id"].to_numpy()
    groups, masks, blocks = _groups(problem, whole)
    pair_cost = problem.pairs["cost_idr"].to_numpy(dtype=np.float64)
    person_of = problem.pairs["person"].to_numpy()
    # 1. least cost per person
    person_cost = np.where(whole.short > 0, np.inf, 0.0)
    least = _least_by_group(blocks, cap, 0.1 * limit)
    pair_jp = problem.pairs["jp"].to_numpy(dtype=np.float64)
    n_people = len(whole.short)
    for mask, rows in zip(masks, least, strict=True):
        spent = np.bincount(person_of[rows], weights=pair_cost[rows], minlength=n_people)
        jp = np.bincount(person_of[rows], weights=pair_jp[rows], minlength=n_people)
        people = np.flatnonzero(mask & (whole.short > 0))
        reached = people[jp[people] >= whole.short[people] - 1e-9]
        person_cost[reached] = spent[reached]
    # 2. the cheapest people first, as many as the money allows
    order = np.argsort(person_cost, kind="stable")
    order = order[np.isfinite(person_cost[order]) & (whole.short[order] > 0)]
    fits = np.cumsum(person_cost[order]) <= budget + 1e-6
    chosen_people = np.zeros(len(whole.short), dtype=bool)
    chosen_people[order[fits]] = True
    target = int(chosen_people.sum() + (whole.short <= 0).sum())
    least_all = np.concatenate(least) if least else np.zeros(0, dtype=np.int64)
    least_all = least_all[chosen_people[person_of[least_all]]]
    # 3. the rest of the money by the relaxation's spending at that coverage
    model = _build(whole, budget, seats, cap, ())
    n_x = len(whole.pairs)
    gain_c = np.r_[-model.gain, np.zeros(len(model.needing))]
    lp_started = time.perf_counter()
    relaxed = _lp(gain_c, model, float(chosen_people.sum()) * (1 - 1e-6))
    if relaxed.x is None:  # seats bind: the relaxation's own coverage
        first = _lp(np.r_[np.zeros(n_x), -np.ones(len(model.needing))], model, None)
        covered_lp = float(first.x[n_x:].sum()) if first.x is not None else 0.0
        relaxed = _lp(gain_c, model, covered_lp * (1 - 1e-6))
    bound_reserve = time.perf_counter() - lp_started
    x_lp = relaxed.x[:n_x] if relaxed.x is not None else np.zeros(n_x)
    pair_unit = units[whole.pairs["person"].to_numpy()]
    spend = pd.Series(whole.pairs["cost_idr"].to_numpy(dtype=np.float64) * x_lp).groupby(pair_unit).sum()
    must_cost = pd.Series(person_cost[chosen_people]).groupby(units[chosen_people]).sum()
    extra = budget - float(person_cost[chosen_people].sum())
    beyond = (spend - must_cost.reindex(spend.index).fillna(0.0)).clip(lower=0.0)
    share = beyond / beyond.sum() if beyond.sum() > 0 else beyond * 0.0
    # 4. group by group
    entries = problem.pairs["training_id"].to_numpy()
    held = pd.Series(entries[least_all]).value_counts()  # seats the chosen people's least-cost plans use
    parts: list[np.ndarray] = []
    statuses: list[str] = []
    dropped_all: set[str] = set()
    carry = 0.0
    for i, (members, block) in enumerate(zip(groups, blocks, strict=True)):
        mine = least[i][chosen_people[person_of[least[i]]]]
        own = pd.Series(entries[mine]).value_counts()
        held = held.sub(own, fill_value=0)
        block_seats = {e: int(n - held.get(e, 0)) for e, n in seats.items()}
        block_budget = float(pair_cost[mine].sum()) + extra * float(share.reindex(members).sum()) + carry
        time_share = max((limit - bound_reserve - (time.perf_counter() - started)) / (len(groups) - i), 1.0)
        must = chosen_people[masks[i]]
        result = _held_at_floor(block, block_budget, block_seats, cap, fair, must, mine, time_share)
        if result is None:  # cannot hold (seats, coverage floors): coverage, then gain, on its own
            result = _solve_block(block, block_budget, block_seats, cap, fair, time_share)
        rows, status, _, _, dropped = result
        parts.append(rows)
        statuses.append(status)
        dropped_all.update(dropped)
        carry = block_budget - float(pair_cost[rows].sum())
        taken = pd.Series(entries[rows]).value_counts()
        for e in seats:
            seats[e] -= int(taken.get(e, 0))
    chosen = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    jp = np.bincount(person_of[chosen], weights=pair_jp[chosen], minlength=n_people)
    achieved = int(((jp >= whole.short - 1e-9) & (whole.short > 0)).sum())
    if achieved >= chosen_people.sum() and relaxed.x is not None:
        bound = relaxed
    else:
        bound = _lp(gain_c, model, achieved * (1 - 1e-6))
    gain = float(problem.pairs["gain"].to_numpy()[chosen].sum())
    upper = -float(bound.fun) if bound.x is not None else float("nan")
    gap = max(upper - gain, 0.0) / upper if upper > 0 else 0.0
    optimal = all(s == "optimal" for s in statuses)
    status = "by unit: " + ("optimal" if optimal else "time limit in some units")
    coverage = "optimal" if achieved >= target - int((whole.short <= 0).sum()) else "by unit"
    return chosen, status, gap, coverage, tuple(sorted(dropped_all))


def _held_at_floor(
    block: _Block,
    budget: float,
    seats: dict[str, int],
    cap: int | None,
    fair: tuple[str, ...],
    must: np.ndarray,
    start_rows: np.ndarray,
    limit: float,
) -> BlockResult | None:
    """The most gain of one group with the people of ``must`` held at the floor, starting from their
    least-cost trainings (``start_rows``, rows of Problem.pairs); None when that cannot hold."""
    model = _build(block, budget, seats, cap, fair)
    n_x = len(block.pairs)
    lower = np.zeros(n_x + len(model.needing))
    lower[n_x:] = must[model.needing].astype(float)
    if (lower > model.bounds).any():
        return None
    start = np.zeros(n_x + len(model.needing))
    start[np.flatnonzero(np.isin(block.rows, start_rows))] = 1.0
    start[n_x:] = lower[n_x:]
    result = _milp(
        np.r_[-model.gain, np.zeros(len(model.needing))], model, None, limit, start=start, lower=lower
    )
    if result.x is None:
        return None
    rows = block.rows[np.flatnonzero(np.round(result.x[:n_x]) > 0.5)]
    status = _STATUS.get(result.status, "other")
    return rows, status, result.mip_gap, "held", ()
