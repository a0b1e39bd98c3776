"""Solving a :class:`~rekomendasi.plans.problem.Problem` at one budget: mandatory programmes first, then
the most people at the JP floor, then the most expected gain.

1. Mandatory programmes due are funded first, cheapest first (the most programmes the budget and seats
   allow; they are requirements, not preferences).
2. A mixed-integer program (HiGHS through ``scipy.optimize.milp``) chooses personal trainings to bring the
   most people to the floor, within the remaining budget, each entry's seats, one training per person per
   competency gap, the cost cap per person, and the coverage floors by group.
3. A second one keeps that many people at the floor and maximises the calibrated expected gain.

Lexicographic, not weighted: the floor is a legal duty, gain the planner's preference; a weight large
enough to put the floor first would drown the gain in the solver's tolerance. Each solve stops at its share
of the time limit and reports its optimality gap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, csr_matrix, vstack

from rekomendasi.plans.problem import Problem

MILLION = 1e6
_STATUS = {0: "optimal", 1: "time limit", 2: "infeasible", 3: "unbounded", 4: "other"}


@dataclass(frozen=True)
class Solution:
    """The chosen trainings at one budget.

    Attributes:
        chosen: rows of ``Problem.pairs`` chosen.
        funded: rows of ``Problem.mandatory`` funded.
        at_floor: [people] whether each reaches the floor.
        cost_idr: total cost.
        status: the gain solve's status in words; ``mip_gap`` its relative gap (0 when proven optimal).
        coverage_status: the coverage solve's.
        seconds: wall time of the solves.
        unreachable: [people] people who cannot reach the floor from what they are offered.
        fair_dropped: coverage floors by group left out because they could not hold.
    """

    chosen: np.ndarray
    funded: np.ndarray
    at_floor: np.ndarray
    cost_idr: int
    status: str
    mip_gap: float
    coverage_status: str
    seconds: float
    unreachable: np.ndarray
    fair_dropped: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Model:
    """The coverage model's matrices: variables x (pairs) then z (people who need JP)."""

    A: csr_matrix
    lower: np.ndarray  # row bounds
    upper: np.ndarray
    bounds: np.ndarray  # variables' upper bounds: 1, or 0 for what cannot be chosen
    needing: np.ndarray  # person index of each z
    gain: np.ndarray


def fund_mandatory(problem: Problem, budget: int) -> np.ndarray:
    """Rows of ``problem.mandatory`` funded: cheapest first while the budget and seats allow (the most
    programmes a budget can fund); ties by nip."""
    due = problem.mandatory
    if due.empty:
        return np.zeros(0, dtype=np.int64)
    order = due.sort_values(["cost_idr", "nip", "training_id"], kind="stable").index.to_numpy()
    seats = dict(problem.seats)
    left, funded = budget, []
    for row in order:
        cost, entry = int(due["cost_idr"].iloc[row]), str(due["training_id"].iloc[row])
        if cost <= left and seats.get(entry, 1) > 0:
            funded.append(row)
            left -= cost
            if entry in seats:
                seats[entry] -= 1
    return np.sort(np.asarray(funded, dtype=np.int64))


DECOMPOSE_ABOVE = 2000
"""Staff above which the solve is split by work unit (see :func:`solve`)."""


@dataclass(frozen=True)
class _Block:
    """Some of the people of a problem (all, or one unit's) with their candidates, local indices."""

    pairs: pd.DataFrame
    needs: np.ndarray
    people: pd.DataFrame
    short: np.ndarray
    unreachable: np.ndarray
    rows: np.ndarray  # rows of Problem.pairs


def _block(problem: Problem, short: np.ndarray, unreachable: np.ndarray, mask: np.ndarray) -> _Block:
    local = np.full(len(mask), -1, dtype=np.int64)
    local[mask] = np.arange(int(mask.sum()))
    person = problem.pairs["person"].to_numpy(dtype=np.int64)
    rows = np.flatnonzero(mask[person])
    pairs = problem.pairs.iloc[rows].assign(person=local[person[rows]]).reset_index(drop=True)
    pair_local = np.full(len(problem.pairs), -1, dtype=np.int64)
    pair_local[rows] = np.arange(len(rows))
    needs = problem.needs[mask[person[problem.needs[:, 0]]]] if len(problem.needs) else problem.needs
    needs = np.column_stack([pair_local[needs[:, 0]], needs[:, 1]]) if len(needs) else needs
    return _Block(
        pairs, needs, problem.people[mask].reset_index(drop=True), short[mask], unreachable[mask], rows
    )


def solve(
    problem: Problem,
    budget: int,
    time_limit_s: float,
    max_cost_per_person: int | None = None,
    fair_coverage: tuple[str, ...] = (),
) -> Solution:
    """The plan's choices at ``budget`` (see the module's description).

    Up to :data:`DECOMPOSE_ABOVE` staff, one problem. Above, by work unit: the linear relaxation of the
    whole agency (coverage, then gain) says how much of the budget and of each entry's seats each unit
    gets; each unit is then solved exactly in turn, money a unit leaves passing to the next. The reported
    gap is then measured against the whole agency's relaxation, an upper bound of the best plan's gain.
    """
    started = time.perf_counter()
    people, pairs = problem.people, problem.pairs
    funded = fund_mandatory(problem, budget)
    mandatory = problem.mandatory.loc[funded]
    rest = budget - int(mandatory["cost_idr"].sum())
    have = people["earned_jp"].to_numpy(dtype=np.float64).copy()
    np.add.at(have, mandatory["person"].to_numpy(dtype=np.int64), mandatory["jp"].to_numpy(dtype=np.float64))
    short = np.maximum(problem.floor - have, 0.0)
    person = pairs["person"].to_numpy(dtype=np.int64)
    jp = pairs["jp"].to_numpy(dtype=np.float64)
    reachable_jp = np.bincount(person, weights=jp, minlength=len(people))
    unreachable = (short > 0) & (reachable_jp < short - 1e-9)
    seats = dict(problem.seats)
    for entry in mandatory["training_id"]:
        if entry in seats:
            seats[entry] -= 1
    whole = _block(problem, short, unreachable, np.ones(len(people), dtype=bool))
    if len(people) <= DECOMPOSE_ABOVE:
        result = _solve_block(whole, rest, seats, max_cost_per_person, tuple(fair_coverage), time_limit_s)
        chosen, status, gap, coverage_status, dropped = result
    else:
        chosen, status, gap, coverage_status, dropped = _solve_by_unit(
            problem, whole, rest, seats, max_cost_per_person, tuple(fair_coverage), time_limit_s
        )
    have_all = have + np.bincount(person[chosen], weights=jp[chosen], minlength=len(people))
    cost = int(mandatory["cost_idr"].sum() + pairs["cost_idr"].to_numpy()[chosen].sum())
    return Solution(
        chosen=chosen,
        funded=funded,
        at_floor=have_all >= problem.floor - 1e-9,
        cost_idr=cost,
        status=status,
        mip_gap=gap,
        coverage_status=coverage_status,
        seconds=time.perf_counter() - started,
        unreachable=unreachable,
        fair_dropped=dropped,
    )


_Result = tuple[np.ndarray, str, float, str, tuple[str, ...]]


def _solve_block(
    block: _Block, budget: float, seats: dict[str, int], cap: int | None, fair: tuple[str, ...], limit: float
) -> _Result:
    """Coverage, then gain, exactly on one block: (rows of Problem.pairs chosen, status, gap, coverage
    status, fair floors dropped)."""
    started = time.perf_counter()
    dropped: tuple[str, ...] = ()
    model = _build(block, budget, seats, cap, fair)
    n_x = len(block.pairs)
    c1 = np.r_[np.zeros(n_x), -np.ones(len(model.needing))]
    first = _milp(c1, model, None, 0.45 * limit)
    if first.x is None and fair:
        dropped, fair = fair, ()
        model = _build(block, budget, seats, cap, fair)
        first = _milp(c1, model, None, 0.45 * limit)
    if first.x is None:  # cannot happen (choosing nothing is feasible) unless the solver failed
        raise RuntimeError(f"the coverage solve found no plan: {first.message}")
    covered = round(float(first.x[n_x:].sum()))
    remaining = max(limit - (time.perf_counter() - started), 0.2 * limit)
    second = _milp(np.r_[-model.gain, np.zeros(len(model.needing))], model, covered, remaining)
    best = second if second.x is not None else first
    chosen = block.rows[np.flatnonzero(np.round(best.x[:n_x]) > 0.5)]
    if second.x is None:
        return (
            chosen,
            "coverage only (no better plan in time)",
            float("nan"),
            _STATUS.get(first.status, "other"),
            dropped,
        )
    status = _STATUS.get(second.status, "other")
    gap = 0.0 if status == "optimal" else float(getattr(second, "mip_gap", np.nan))
    return chosen, status, gap, _STATUS.get(first.status, "other"), dropped


def _solve_by_unit(
    problem: Problem,
    whole: _Block,
    budget: float,
    seats: dict[str, int],
    cap: int | None,
    fair: tuple[str, ...],
    limit: float,
) -> _Result:
    started = time.perf_counter()
    model = _build(whole, budget, seats, cap, ())
    n_x = len(whole.pairs)
    first = _lp(np.r_[np.zeros(n_x), -np.ones(len(model.needing))], model, None)
    covered_lp = float(first.x[n_x:].sum()) if first.x is not None else 0.0
    second = _lp(np.r_[-model.gain, np.zeros(len(model.needing))], model, covered_lp * (1 - 1e-6))
    x_lp = second.x[:n_x] if second.x is not None else np.zeros(n_x)
    cost = whole.pairs["cost_idr"].to_numpy(dtype=np.float64)
    units = whole.people["unit_id"].to_numpy()
    pair_unit = units[whole.pairs["person"].to_numpy()]
    spend = pd.Series(cost * x_lp).groupby(pair_unit).sum()
    entries = whole.pairs["training_id"].to_numpy()
    lp_use = pd.DataFrame({"unit": pair_unit, "entry": entries, "x": x_lp})
    use = lp_use[lp_use["entry"].isin(list(seats))].groupby(["unit", "entry"])["x"].sum()
    chosen_parts: list[np.ndarray] = []
    statuses: list[str] = []
    coverage_statuses: list[str] = []
    dropped_all: set[str] = set()
    carry = 0.0
    groups = _unit_groups(units, DECOMPOSE_ABOVE)
    entry_of = problem.pairs["training_id"].to_numpy()
    for i, members in enumerate(groups):
        mask = np.isin(units, members)
        block = _block(problem, whole.short, whole.unreachable, mask)
        block_seats = {
            e: min(int(np.floor(sum(use.get((u, e), 0.0) for u in members) + 1e-6)), seats[e]) for e in seats
        }
        block_budget = float(sum(spend.get(u, 0.0) for u in members)) + carry
        share = max((limit - (time.perf_counter() - started)) / (len(groups) - i), 1.0)
        chosen, status, _, coverage_status, dropped = _solve_block(
            block, block_budget, block_seats, cap, fair, share
        )
        chosen_parts.append(chosen)
        statuses.append(status)
        coverage_statuses.append(coverage_status)
        dropped_all.update(dropped)
        carry = block_budget - float(problem.pairs["cost_idr"].to_numpy()[chosen].sum())
        taken = pd.Series(entry_of[chosen]).value_counts()
        for e in seats:  # seats a block left stay in the pool for the next
            seats[e] -= int(taken.get(e, 0))
    chosen = np.sort(np.concatenate(chosen_parts)) if chosen_parts else np.zeros(0, dtype=np.int64)
    achieved = int(
        (
            (
                np.bincount(
                    problem.pairs["person"].to_numpy()[chosen],
                    weights=problem.pairs["jp"].to_numpy()[chosen],
                    minlength=len(whole.short),
                )
                >= whole.short - 1e-9
            )
            & (whole.short > 0)
        ).sum()
    )
    bound = _lp(np.r_[-model.gain, np.zeros(len(model.needing))], model, float(achieved))
    gain = float(problem.pairs["gain"].to_numpy()[chosen].sum())
    upper = -float(bound.fun) if bound.x is not None else float("nan")
    gap = max(upper - gain, 0.0) / upper if upper > 0 else 0.0
    status = "by unit: " + (
        "optimal" if all(s == "optimal" for s in statuses) else "time limit in some units"
    )
    coverage = "optimal" if all(s == "optimal" for s in coverage_statuses) else "time limit"
    return chosen, status, gap, coverage, tuple(sorted(dropped_all))


def _unit_groups(units: np.ndarray, size: int) -> list[list[str]]:
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


def _lp(c: np.ndarray, model: _Model, covered: float | None):
    """The linear relaxation of :func:`_milp`'s problem."""
    return _milp(c, model, covered, 600.0, relaxed=True)


def _milp(c: np.ndarray, model: _Model, covered: float | None, time_limit: float, relaxed: bool = False):
    n_z = len(model.needing)
    A, lower, upper = model.A, model.lower, model.upper
    if covered is not None and n_z:
        row = csr_matrix(np.r_[np.zeros(A.shape[1] - n_z), np.ones(n_z)][None, :])
        A = vstack([A, row], format="csr")
        lower, upper = np.r_[lower, covered], np.r_[upper, np.inf]
    constraints = LinearConstraint(A, lower, upper) if A.shape[0] else ()
    return milp(
        c,
        constraints=constraints,
        integrality=np.zeros(len(c)) if relaxed else np.ones(len(c)),
        bounds=Bounds(np.zeros(len(c)), model.bounds),
        options={
            "time_limit": max(time_limit, 1.0),
            "mip_rel_gap": 5e-3,
            "disp": False,
            "presolve": False,
        },
    )


def _build(
    block: _Block,
    budget: float,
    seats: dict[str, int],
    cap: int | None,
    fair: tuple[str, ...],
) -> _Model:
    pairs, short, unreachable = block.pairs, block.short, block.unreachable
    n_x = len(pairs)
    person = pairs["person"].to_numpy(dtype=np.int64)
    cost = pairs["cost_idr"].to_numpy(dtype=np.float64) / MILLION  # rupiah in millions: better scaled
    jp = pairs["jp"].to_numpy(dtype=np.float64)
    needing = np.flatnonzero(short > 0)
    z_of = np.full(len(short), -1, dtype=np.int64)
    z_of[needing] = np.arange(len(needing))
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []
    r = 0

    def add(
        row_ids: np.ndarray, col_ids: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> None:
        nonlocal r
        rows.append(row_ids + r)
        cols.append(col_ids)
        vals.append(values)
        lower.extend(lo.tolist())
        upper.extend(hi.tolist())
        r += len(lo)

    # budget
    add(
        np.zeros(n_x, dtype=np.int64), np.arange(n_x), cost, np.array([-np.inf]), np.array([budget / MILLION])
    )
    # floor: sum of a person's chosen JP - short * z >= 0
    has = z_of[person] >= 0
    n_z = len(needing)
    add(
        np.r_[z_of[person[has]], np.arange(n_z)],
        np.r_[np.flatnonzero(has), n_x + np.arange(n_z)],
        np.r_[jp[has], -short[needing]],
        np.zeros(n_z),
        np.full(n_z, np.inf),
    )
    # seats
    entries = pairs["training_id"].to_numpy()
    limited = np.flatnonzero(pd.Series(entries).isin(seats).to_numpy())
    if len(limited):
        codes, uniques = pd.factorize(entries[limited])
        add(
            codes,
            limited,
            np.ones(len(limited)),
            np.full(len(uniques), -np.inf),
            np.array([max(seats[str(u)], 0) for u in uniques], dtype=float),
        )
    # one training per person per competency gap
    needs = block.needs
    if len(needs):
        counts = np.bincount(needs[:, 1])
        shared = counts[needs[:, 1]] > 1
        codes, uniques = pd.factorize(needs[shared, 1])
        add(
            codes,
            needs[shared, 0],
            np.ones(int(shared.sum())),
            np.full(len(uniques), -np.inf),
            np.ones(len(uniques)),
        )
    # cost cap per person
    if cap is not None:
        add(person, np.arange(n_x), cost, np.full(len(short), -np.inf), np.full(len(short), cap / MILLION))
    # coverage floors by group: share at the floor >= the agency's share, less one person of the group
    total = len(short)
    already = ~(short > 0)
    for column in fair:
        groups = block.people[column].to_numpy()
        for value in pd.unique(groups):
            in_g = groups == value
            size = int(in_g.sum())
            coef = np.where(in_g[needing], total - size, -size).astype(float)
            rhs = -total - total * int((already & in_g).sum()) + size * int(already.sum())
            add(
                np.zeros(n_z, dtype=np.int64),
                n_x + np.arange(n_z),
                coef,
                np.array([float(rhs)]),
                np.array([np.inf]),
            )
    A = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_x + n_z)
    ).tocsr()
    upper_bounds = np.ones(n_x + n_z)
    upper_bounds[:n_x][cost > budget / MILLION] = 0.0
    upper_bounds[n_x:][unreachable[needing]] = 0.0
    return _Model(
        A, np.asarray(lower), np.asarray(upper), upper_bounds, needing, pairs["gain"].to_numpy(float)
    )


def least_cost_for_all(problem: Problem, time_limit_s: float, cap: int | None = None) -> int | None:
    """The least cost that funds every mandatory programme due and brings everyone to the floor, from
    their candidates (within seats, one training per gap, the cap); None when someone cannot get there
    (too few candidates or seats)."""
    mandatory = problem.mandatory
    have = problem.people["earned_jp"].to_numpy(dtype=np.float64).copy()
    np.add.at(have, mandatory["person"].to_numpy(dtype=np.int64), mandatory["jp"].to_numpy(dtype=np.float64))
    short = np.maximum(problem.floor - have, 0.0)
    seats = dict(problem.seats)
    for entry in mandatory["training_id"]:
        if entry in seats:
            seats[entry] -= 1
    if any(v < 0 for v in seats.values()):
        return None
    person = problem.pairs["person"].to_numpy(dtype=np.int64)
    reachable = np.bincount(person, weights=problem.pairs["jp"].to_numpy(float), minlength=len(short))
    if ((short > 0) & (reachable < short - 1e-9)).any():
        return None
    block = _block(problem, short, np.zeros(len(short), dtype=bool), np.ones(len(short), dtype=bool))
    model = _build(block, float(np.iinfo(np.int64).max), seats, cap, ())
    n_z = len(model.needing)
    cost = problem.pairs["cost_idr"].to_numpy(dtype=np.float64)
    bounds = model.bounds.copy()
    result = milp(
        np.r_[cost, np.zeros(n_z)],
        constraints=LinearConstraint(model.A, model.lower, model.upper),
        integrality=np.ones(len(bounds)),
        bounds=Bounds(np.r_[np.zeros(len(cost)), np.ones(n_z)], bounds),
        options={
            "time_limit": max(time_limit_s, 1.0),
            "mip_rel_gap": 5e-3,
            "disp": False,
            "presolve": False,
        },
    )
    if result.x is None:
        return None
    return round(float(cost @ np.round(result.x[: len(cost)]))) + int(mandatory["cost_idr"].sum())
