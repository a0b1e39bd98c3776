"""Agency development plans (AKPK): who takes which training next year, under budget, seats and the
yearly JP floor, mandatory programmes first (:func:`make_plan`)."""

from rekomendasi.plans.core import make_plan
from rekomendasi.plans.schemas import (
    ASSIGNMENT_COLUMNS,
    OUTPUT_COLUMNS,
    Assignments,
    Binding,
    GroupLine,
    Plan,
    PlanRequest,
    PlanSummary,
    output_table,
)

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "OUTPUT_COLUMNS",
    "Assignments",
    "Binding",
    "GroupLine",
    "Plan",
    "PlanRequest",
    "PlanSummary",
    "make_plan",
    "output_table",
]
