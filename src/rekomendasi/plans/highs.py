"""One mixed-integer (or linear) program solved with HiGHS through ``highspy``.

``highspy`` rather than ``scipy.optimize.milp`` (the same solver): it takes a starting solution, so the
second solve of a plan (most gain at the coverage the first found) starts from the first's answer and
always has a plan to return, however short its time; and its output can be switched off (HiGHS prints its
banner once per process, when the first solver is made).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csc_matrix, csr_matrix

OPTIMAL, TIME_LIMIT, INFEASIBLE, UNBOUNDED, OTHER = 0, 1, 2, 3, 4
_STATUS = {
    highspy.HighsModelStatus.kOptimal: OPTIMAL,
    highspy.HighsModelStatus.kTimeLimit: TIME_LIMIT,
    highspy.HighsModelStatus.kInfeasible: INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: UNBOUNDED,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: INFEASIBLE,
}
MIP_REL_GAP = 5e-3
"""Relative gap at which a solve stops as optimal (0.5%)."""
OPTIONS: dict[str, bool | float | str] = {"presolve": "off"}
"""Further HiGHS options of every solve. Presolve off: faster on these problems (measured on the
simulator's agencies, 2 of 3 budgets faster, up to 4x)."""


def quiet_banner() -> None:
    """Make the process's first HiGHS solver with standard output sent to /dev/null, so its banner (printed
    once per process, whatever the options) does not land in a command's output. Call it while no other
    thread writes to standard output (a command before it solves, a server before it serves)."""
    if _BANNER["done"]:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER["done"] = True


_BANNER = {"done": False}


@dataclass(frozen=True)
class Result:
    """What a solve found: ``x`` (None when it found no feasible point), ``status`` (``OPTIMAL`` ...),
    ``fun`` (objective at ``x``), ``mip_gap`` (relative, 0 for a linear program), ``message``."""

    x: np.ndarray | None
    status: int
    fun: float
    mip_gap: float
    message: str


def solve(
    c: np.ndarray,
    A: csr_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    time_limit_s: float,
    integer: bool = True,
    start: np.ndarray | None = None,
    exact_count: bool = False,
) -> Result:
    """Minimise ``c @ x`` subject to ``row_lower <= A x <= row_upper`` and ``lower <= x <= upper``,
    ``x`` integer unless ``integer`` is false, within ``time_limit_s`` (at least 1 s).

    Args:
        start: a feasible solution to start from (integer solves only).
        exact_count: the objective counts whole units (people): stop only when less than one from the
            best (not at the relative gap, which on 2,000 people would allow 10 fewer).
    """
    n = len(c)
    matrix = csc_matrix(A, shape=(A.shape[0], n))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, matrix.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_, lp.col_upper_ = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, matrix.shape[0]
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    h = highspy.Highs()
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    else:  # interior point: twice as fast as simplex on a 10,000-staff agency's relaxation (measured)
        h.setOptionValue("solver", "ipm")
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 1.0)))
    h.setOptionValue("mip_rel_gap", 0.0 if exact_count else MIP_REL_GAP)
    if exact_count:
        h.setOptionValue("mip_abs_gap", 0.999)
    h.setOptionValue("threads", 1)
    for name, value in OPTIONS.items():
        h.setOptionValue(name, value)
    h.passModel(lp)
    if integer and start is not None:
        # Given as its nonzero values only (HiGHS completes it). Given whole, with presolve off, HiGHS 1.16
        # ran past its time limit without ever calling the interrupt callbacks (a 1,085-staff agency,
        # seed 13: over 5 minutes against a 20 s limit; 2.5 s this way).
        values = np.round(np.asarray(start, dtype=np.float64))
        nonzero = np.flatnonzero(values).astype(np.int32)
        h.setSolution(len(nonzero), nonzero, values[nonzero].astype(np.float64))
    h.run()
    status = _STATUS.get(h.getModelStatus(), OTHER)
    info = h.getInfo()
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if feasible else None
    gap = float(info.mip_gap) if integer and x is not None else 0.0
    message = h.modelStatusToString(h.getModelStatus())
    return Result(x, status, float(info.objective_function_value), gap if np.isfinite(gap) else 1.0, message)
