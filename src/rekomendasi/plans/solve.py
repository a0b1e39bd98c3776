"""Solving a :class:`~rekomendasi.plans.problem.Problem` at one budget: mandatory programmes first, then
the most people at the JP floor, then the most expected gain.

1. Mandatory programmes due are funded first, cheapest first (the most programmes the budget and seats
   allow; they are requirements, not preferences).
2. A mixed-integer program (HiGHS, :mod:`rekomendasi.plans.highs`) chooses personal trainings to bring the
   most people to the floor, within the remaining budget, each entry's seats, one training per person per
   competency gap, the cost cap per person, and the coverage floors by group.
3. A second one keeps that many people at the floor and maximises the calibrated expected gain, starting
   from the first's plan (so it always has one, however short its time).

Lexicographic, not weighted: the floor is a legal duty, gain the planner's preference; a weight large
enough to put the floor first would drown the gain in the solver's tolerance. Each solve stops at its share
of the time limit and reports its optimality gap.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix, vstack

from rekomendasi.plans import highs
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


def seats_left(seats: dict[str, int], taken: Iterable[str]) -> dict[str, int]:
    """The seats of ``seats`` left once one seat of each entry in ``taken`` is used."""
    left = dict(seats)
    for entry in taken:
        if entry in left:
            left[entry] -= 1
    return left


def after_mandatory(
    problem: Problem, mandatory: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """With the rows ``mandatory`` of ``problem.mandatory`` funded: the JP each person is still short of the
    floor, who cannot get there from their candidates, and the seats left."""
    have = problem.people["earned_jp"].to_numpy(dtype=np.float64).copy()
    np.add.at(have, mandatory["person"].to_numpy(dtype=np.int64), mandatory["jp"].to_numpy(dtype=np.float64))
    short = np.maximum(problem.floor - have, 0.0)
    person = problem.pairs["person"].to_numpy(dtype=np.int64)
    reachable = np.bincount(person, weights=problem.pairs["jp"].to_numpy(float), minlength=len(short))
    unreachable = (short > 0) & (reachable < short - 1e-9)
    return short, unreachable, seats_left(problem.seats, mandatory["training_id"])


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

    Up to :data:`DECOMPOSE_ABOVE` staff, one problem. Above, one group of work units at a time
    (:mod:`rekomendasi.plans.decompose`); the reported gap is then measured against the whole agency's
    linear relaxation, an upper bound of the best plan's gain.
    """
    started = time.perf_counter()
    people, pairs = problem.people, problem.pairs
    funded = fund_mandatory(problem, budget)
    mandatory = problem.mandatory.loc[funded]
    rest = budget - int(mandatory["cost_idr"].sum())
    short, unreachable, seats = after_mandatory(problem, mandatory)
    whole = _block(problem, short, unreachable, np.ones(len(people), dtype=bool))
    if len(people) <= DECOMPOSE_ABOVE:
        result = _solve_block(whole, rest, seats, max_cost_per_person, tuple(fair_coverage), time_limit_s)
        chosen, status, gap, coverage_status, dropped = result
    else:
        from rekomendasi.plans.decompose import solve_by_unit  # it builds on this module

        chosen, status, gap, coverage_status, dropped = solve_by_unit(
            problem, whole, rest, seats, max_cost_per_person, tuple(fair_coverage), time_limit_s
        )
    person = pairs["person"].to_numpy(dtype=np.int64)
    planned = np.bincount(person[chosen], weights=pairs["jp"].to_numpy(float)[chosen], minlength=len(people))
    cost = int(mandatory["cost_idr"].sum() + pairs["cost_idr"].to_numpy()[chosen].sum())
    return Solution(
        chosen=chosen,
        funded=funded,
        at_floor=planned >= short - 1e-9,
        cost_idr=cost,
        status=status,
        mip_gap=gap,
        coverage_status=coverage_status,
        seconds=time.perf_counter() - started,
        unreachable=unreachable,
        fair_dropped=dropped,
    )


BlockResult = tuple[np.ndarray, str, float, str, tuple[str, ...]]
"""(rows of Problem.pairs chosen, status, gap, coverage status, fair floors dropped)."""


def _solve_block(
    block: _Block, budget: float, seats: dict[str, int], cap: int | None, fair: tuple[str, ...], limit: float
) -> BlockResult:
    """Coverage, then gain, exactly on one block: (rows of Problem.pairs chosen, status, gap, coverage
    status, fair floors dropped)."""
    started = time.perf_counter()
    dropped: tuple[str, ...] = ()
    model = _build(block, budget, seats, cap, fair)
    n_x = len(block.pairs)
    c1 = np.r_[np.zeros(n_x), -np.ones(len(model.needing))]
    first = _milp(c1, model, None, 0.45 * limit, exact_count=True)
    if first.x is None and fair:
        dropped, fair = fair, ()
        model = _build(block, budget, seats, cap, fair)
        first = _milp(c1, model, None, 0.45 * limit, exact_count=True)
    if first.x is None:  # cannot happen (choosing nothing is feasible) unless the solver failed
        raise RuntimeError(f"the coverage solve found no plan: {first.message}")
    covered = round(float(first.x[n_x:].sum()))
    remaining = max(limit - (time.perf_counter() - started), 0.2 * limit)
    # the coverage plan is feasible here: the gain solve starts from it, so it always has a plan
    second = _milp(np.r_[-model.gain, np.zeros(len(model.needing))], model, covered, remaining, start=first.x)
    best = second.x if second.x is not None else first.x
    chosen = block.rows[np.flatnonzero(np.round(best[:n_x]) > 0.5)]
    if second.x is None:
        return (
            chosen,
            "coverage only (no better plan in time)",
            float("nan"),
            _STATUS.get(first.status, "other"),
            dropped,
        )
    status = _STATUS.get(second.status, "other")
    gap = 0.0 if status == "optimal" else second.mip_gap
    return chosen, status, gap, _STATUS.get(first.status, "other"), dropped


def _lp(c: np.ndarray, model: _Model, covered: float | None) -> highs.Result:
    """The linear relaxation of :func:`_milp`'s problem."""
    return _milp(c, model, covered, 600.0, relaxed=True)


def _milp(
    c: np.ndarray,
    model: _Model,
    covered: float | None,
    time_limit: float,
    relaxed: bool = False,
    start: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    exact_count: bool = False,
) -> highs.Result:
    """Minimise ``c`` over the model (with at least ``covered`` people at the floor, when given)."""
    n_z = len(model.needing)
    A, row_lower, row_upper = model.A, model.lower, model.upper
    if covered is not None and n_z:
        row = csr_matrix(np.r_[np.zeros(A.shape[1] - n_z), np.ones(n_z)][None, :])
        A = vstack([A, row], format="csr")
        row_lower, row_upper = np.r_[row_lower, covered], np.r_[row_upper, np.inf]
    low = np.zeros(len(c)) if lower is None else lower
    return highs.solve(
        c,
        A,
        row_lower,
        row_upper,
        low,
        model.bounds,
        time_limit,
        integer=not relaxed,
        start=start,
        exact_count=exact_count,
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
    short, unreachable, seats = after_mandatory(problem, mandatory)
    if any(v < 0 for v in seats.values()) or unreachable.any():
        return None
    block = _block(problem, short, unreachable, np.ones(len(short), dtype=bool))
    cost = problem.pairs["cost_idr"].to_numpy(dtype=np.float64)
    if len(short) > DECOMPOSE_ABOVE:  # by groups of units; exact when the seats hold
        from rekomendasi.plans.decompose import least_cost_by_unit

        rows = least_cost_by_unit(problem, block, cap, time_limit_s / 2)
        entries = pd.Series(problem.pairs["training_id"].to_numpy()[rows]).value_counts()
        if all(entries.get(e, 0) <= n for e, n in seats.items()):
            return round(float(cost[rows].sum())) + int(mandatory["cost_idr"].sum())
    found = least_cost_rows(block, cap, time_limit_s, seats)
    if found is None:
        return None
    return round(float(cost[block.rows[found]].sum())) + int(mandatory["cost_idr"].sum())


def least_cost_rows(
    block: _Block, cap: int | None, time_limit_s: float, seats: dict[str, int] | None = None
) -> np.ndarray | None:
    """Rows of ``block.pairs`` that bring every reachable person short of the floor to it at the least
    cost, within ``seats`` (none: seats not counted), or None when the solver found no such plan in
    time."""
    model = _build(block, float(np.iinfo(np.int64).max), seats or {}, cap, ())
    n_x, n_z = len(block.pairs), len(model.needing)
    cost = block.pairs["cost_idr"].to_numpy(dtype=np.float64) / MILLION
    must = np.r_[np.zeros(n_x), (~block.unreachable[model.needing]).astype(float)]
    result = highs.solve(
        np.r_[cost, np.zeros(n_z)], model.A, model.lower, model.upper, must, model.bounds, time_limit_s
    )
    if result.x is None:
        return None
    return np.flatnonzero(np.round(result.x[:n_x]) > 0.5)
