"""What the optimised plan is measured against: the ways plans are made without it, and how any set of
assignments scores against the simulator's truth.

- :func:`spreadsheet_plan`, the planners' habit: mandatory programmes first, then in NIP order each
  person gets one course for their largest estimated competency gap (the cheapest active entry they may
  take that targets it above their estimated level) until the money runs out.
- :func:`greedy_plan`: mandatory programmes first, then every candidate of the scores store in order of the
  ranker's score, taken when the money, the seats and the person's gaps still allow.

Both fund mandatory programmes exactly as the optimiser does
(:func:`~rekomendasi.plans.solve.fund_mandatory`), so the comparison is about the personal trainings.
:func:`true_outcome` scores a plan on ``truth/``; no model or plan reads truth, only this evaluation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.features import Snapshot
from rekomendasi.plans.problem import Problem
from rekomendasi.plans.solve import Solution, fund_mandatory, seats_left

PLAN_COLUMNS = ["nip", "training_id", "jp", "cost_idr", "mandatory"]
_TYPES: dict[str, Any] = {"nip": str, "training_id": str, "jp": float, "cost_idr": "int64", "mandatory": bool}


def _rows(*parts: pd.DataFrame) -> pd.DataFrame:
    """Plan rows (``PLAN_COLUMNS``, typed) of some parts."""
    frames = [p[PLAN_COLUMNS].astype(_TYPES) for p in parts]
    return pd.concat(frames, ignore_index=True)


def _funded(problem: Problem, budget: int) -> tuple[pd.DataFrame, int, dict[str, int]]:
    """Mandatory rows funded, money left, seats left."""
    funded = problem.mandatory.loc[fund_mandatory(problem, budget)]
    seats = seats_left(problem.seats, funded["training_id"])
    rows = funded[["nip", "training_id", "jp", "cost_idr"]].assign(mandatory=True)
    return rows, budget - int(funded["cost_idr"].sum()), seats


def optimised_rows(problem: Problem, solution: Solution) -> pd.DataFrame:
    """The optimiser's solution as plan rows (``PLAN_COLUMNS``)."""
    mandatory = problem.mandatory.loc[solution.funded, ["nip", "training_id", "jp", "cost_idr"]]
    personal = problem.pairs.iloc[solution.chosen][["nip", "training_id", "jp", "cost_idr"]]
    return _rows(mandatory.assign(mandatory=True), personal.assign(mandatory=False))


def spreadsheet_plan(
    problem: Problem, snapshot: Snapshot, eligible: pd.DataFrame, budget: int
) -> pd.DataFrame:
    """The spreadsheet habit (module docstring) as plan rows.

    Args:
        problem: the agency's problem (its people, mandatory programmes and seats).
        snapshot: where the estimated gaps and the catalogue come from.
        eligible: ``nip``, ``training_id`` of the pairs each person may take (active, not excluded for
            their position type, not completed or enrolled).
        budget: rupiah.
    """
    rows, left, seats = _funded(problem, budget)
    gaps = snapshot.competency_gaps
    gaps = gaps[gaps["nip"].isin(problem.people["nip"]) & (gaps["gap"] > 0)]
    top = gaps.sort_values(["nip", "gap", "competency_id"], ascending=[True, False, True], kind="stable")
    top = top.drop_duplicates("nip").set_index("nip")
    catalog = snapshot.catalog.set_index("training_id")
    targets = snapshot.catalog_competencies.merge(
        catalog[["jp", "cost_idr"]], left_on="training_id", right_index=True
    )
    allowed = set(zip(eligible["nip"].astype(str), eligible["training_id"].astype(str), strict=True))
    chosen: list[dict[str, object]] = []
    for nip in problem.people["nip"]:  # NIP order
        if nip not in top.index:
            continue
        gap = top.loc[nip]
        offer = targets[targets["competency_id"] == gap["competency_id"]]
        offer = offer[[(nip, t) in allowed and seats.get(t, 1) > 0 for t in offer["training_id"]]]
        if offer.empty:
            continue
        above = offer[offer["target_level"] > gap["estimated_level"]]
        pick = (above if len(above) else offer).sort_values(["cost_idr", "training_id"]).iloc[0]
        cost = int(pick["cost_idr"]) if pd.notna(pick["cost_idr"]) else 0
        if cost > left:
            break  # the money has run out
        left -= cost
        entry = str(pick["training_id"])
        if entry in seats:
            seats[entry] -= 1
        chosen.append(
            {"nip": nip, "training_id": entry, "jp": float(pick["jp"]), "cost_idr": cost, "mandatory": False}
        )
    return _rows(rows, pd.DataFrame(chosen, columns=PLAN_COLUMNS))


def greedy_plan(problem: Problem, budget: int, cap: int | None = None) -> pd.DataFrame:
    """Greedy by ranker score (module docstring) as plan rows; same candidates, seats, one-per-gap rule and
    cost cap as the optimiser."""
    rows, left, seats = _funded(problem, budget)
    pairs = problem.pairs
    needs_of: dict[int, list[int]] = {}
    for pair, need in problem.needs:
        needs_of.setdefault(int(pair), []).append(int(need))
    taken_needs: set[int] = set()
    spent = np.zeros(len(problem.people))
    picked: list[int] = []
    order = np.argsort(-pairs["score"].to_numpy(), kind="stable")
    person, cost = pairs["person"].to_numpy(), pairs["cost_idr"].to_numpy()
    entries = pairs["training_id"].to_numpy()
    for i in order:
        c, p, e = int(cost[i]), int(person[i]), str(entries[i])
        needs = needs_of.get(int(i), [])
        if c > left or seats.get(e, 1) <= 0 or any(n in taken_needs for n in needs):
            continue
        if cap is not None and spent[p] + c > cap:
            continue
        left -= c
        spent[p] += c
        taken_needs.update(needs)
        if e in seats:
            seats[e] -= 1
        picked.append(int(i))
    personal = pairs.iloc[np.sort(np.asarray(picked, dtype=np.int64))]
    personal = personal[["nip", "training_id", "jp", "cost_idr"]].assign(mandatory=False)
    return _rows(rows, personal)


def true_outcome(problem: Problem, rows: pd.DataFrame, benefit: pd.DataFrame) -> dict[str, float]:
    """A plan scored on truth: ``cost_idr``, ``true_gain`` (the sum of the true expected benefit of its
    assignments, in competency levels), ``true_gain_personal`` (of the personal trainings only),
    ``at_floor`` and ``share_at_floor`` (staff whose JP, earned and planned, reach the floor),
    ``assignments``.

    Args:
        benefit: ``truth/benefit`` (``nip``, ``training_id``, ``benefit``).
    """
    truth = benefit.set_index(["nip", "training_id"])["benefit"]
    keys = pd.MultiIndex.from_arrays([rows["nip"].astype(str), rows["training_id"].astype(str)])
    gain = truth.reindex(keys).fillna(0.0).to_numpy()
    jp = rows.groupby("nip")["jp"].sum()
    have = problem.people["earned_jp"].to_numpy() + problem.people["nip"].map(jp).fillna(0.0).to_numpy()
    at_floor = int((have >= problem.floor - 1e-9).sum())
    mandatory = rows["mandatory"].astype(bool).to_numpy()
    return {
        "cost_idr": float(rows["cost_idr"].sum()),
        "true_gain": float(gain.sum()),
        "true_gain_personal": float(gain[~mandatory].sum()),
        "at_floor": at_floor,
        "share_at_floor": at_floor / max(len(problem.people), 1),
        "assignments": len(rows),
    }
