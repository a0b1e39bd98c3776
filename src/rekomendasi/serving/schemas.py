"""The HTTP edge's pydantic models: separate input and output models, with examples for OpenAPI."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rekomendasi.contract.enums import MODALITY
from rekomendasi.contract.schemas import NIP_PATTERN
from rekomendasi.recommend import Filters
from rekomendasi.serving.store.feedback import FeedbackEvent

Nip = Annotated[str, Field(pattern=NIP_PATTERN, examples=["198503152010011001"], description="18-digit NIP")]
LangParam = Literal["id", "en"]
Modality = Literal[MODALITY]  # type: ignore[valid-type]


def whole_number(value: object) -> object:
    """A JSON body's integer: a JSON number with no fraction. ``2.0`` is accepted as 2, because JSON and
    the JSON Schema of the OpenAPI document do not tell 2.0 from 2; ``true`` and ``"5"`` are refused here,
    ``2.5`` by the (then lax) int type. Fields using it are declared with ``strict=False``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"must be a whole number, got {type(value).__name__} {value!r}")
    return value


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    """Request bodies: unknown fields refused, and strict types (``true`` and ``"5"`` are no integer,
    ``false`` is no amount, ``1`` is no text; see :func:`whole_number` for ``2.0``)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class GapOut(_Out):
    competency_id: str
    name: str
    required_level: float | None = Field(
        description="Level the position's standard requires; null outside it."
    )
    estimated_level: float | None = Field(description="Estimated current level (1-5).")
    uncertainty: float | None = Field(description="Standard deviation of the estimate, in levels.")
    gap: float = Field(description="max(required - estimated, 0)")
    target_level: float | None = Field(
        default=None, description="Level the training aims at (recommendations only)."
    )
    evidence: str | None = Field(
        default=None, description="The evidence behind the estimate, in plain words."
    )


class GapNameOut(_Out):
    """What a learning platform sees of a gap: the competency, not the evidence."""

    competency_id: str
    name: str


class ExpectedBenefit(_Out):
    gap_closed_levels: float | None = Field(
        description="Levels of the person's gaps the entry can close, summed over its competencies "
        "(up to its target level); null for platform keys."
    )
    past_participants: float = Field(description="Earlier participants with a known outcome.")
    completion_rate: float | None = Field(description="Share of earlier participants who completed it.")
    mean_score: float | None = Field(description="Earlier participants' mean final score.")


class ContributionOut(_Out):
    """One feature's share of the score (planner and admin keys only)."""

    feature: str
    description: str
    value: float = Field(description="Additive share of the score; positive raises the entry.")


class Explanation(_Out):
    gaps: list[GapOut] | list[GapNameOut]
    expected_benefit: ExpectedBenefit
    model_contributions: list[ContributionOut]


class RecommendationOut(_Out):
    rank: int
    training_id: str
    title: str
    provider: str | None
    modality: str
    jp: int
    cost_idr: int | None
    score: float = Field(description="Ranker score; comparable within one employee's list only.")
    reason: str
    explanation: Explanation


class MandatoryOut(_Out):
    training_id: str
    title: str
    condition: str
    rule: str = Field(description="The rule that makes the programme due.")
    enrolled: bool


class JpStatus(_Out):
    year: int
    earned: float
    target: float
    remaining: float
    met: bool


class EmployeeRecommendations(_Out):
    nip: str
    as_of: str = Field(description="Date of the evidence snapshot.")
    model_version: str
    k: int
    lang: LangParam
    recommendations: list[RecommendationOut]
    mandatory_due: list[MandatoryOut]
    jp: JpStatus | None


class BulkError(_Out):
    nip: str
    detail: str


class BulkOut(_Out):
    results: list[EmployeeRecommendations]
    errors: list[BulkError]
    total: int = Field(description="Employees the request covers (all pages).")
    offset: int
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last one.")


class FiltersIn(_In):
    """A bulk request's filters (the same as the query parameters of the single-employee route)."""

    modality: list[Modality] | None = None
    max_cost_idr: int | None = Field(default=None, ge=0, strict=False)
    max_jp: int | None = Field(default=None, ge=1, strict=False)

    _whole = field_validator("max_cost_idr", "max_jp", mode="before")(whole_number)
    province: str | None = Field(default=None, min_length=1, max_length=100)

    def to_filters(self) -> Filters:
        """The core's one filter type."""
        return Filters.from_request(self.modality, self.max_cost_idr, self.max_jp, self.province)


class BulkIn(_In):
    nips: list[Nip] = Field(min_length=1, description="NIPs to answer (at most the server's bulk limit).")
    k: int = Field(default=10, ge=1, le=50, strict=False)
    lang: LangParam = "id"
    filters: FiltersIn | None = None

    _whole = field_validator("k", mode="before")(whole_number)

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"nips": ["198503152010011001"], "k": 5, "lang": "en"}]},
    )


class GapProfile(_Out):
    nip: str
    as_of: str
    gaps: list[GapOut]


class FeedbackIn(_In):
    nip: Nip
    training_id: str = Field(min_length=1, max_length=64)
    event: Annotated[FeedbackEvent, Field(strict=False)]  # its value as JSON text: an enum needs leniency
    reason: str = Field(
        default="",
        max_length=2000,
        description="Why; required for `objected` (the person contests an automated recommendation, "
        "UU 27/2022 art. 10) and for `resolved` (how a planner or admin reviewed the standing objection "
        "of this NIP to this training; the entry is recommended again from then on).",
    )

    corrects: int | None = Field(
        default=None,
        ge=1,
        strict=False,
        description="Id of an earlier feedback row (same NIP and training) this one corrects; rows are "
        "never changed, a correction is a new row.",
    )

    _whole = field_validator("corrects", mode="before")(whole_number)

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"nip": "198503152010011001", "training_id": "TRN-0100", "event": "accepted"},
                {
                    "nip": "198503152010011001",
                    "training_id": "TRN-0100",
                    "event": "objected",
                    "reason": "Saya sudah mengikuti pelatihan serupa tahun lalu.",
                },
                {
                    "nip": "198503152010011001",
                    "training_id": "TRN-0100",
                    "event": "resolved",
                    "reason": "Ditinjau bersama pegawai: materi berbeda dari pelatihan tahun lalu.",
                },
            ]
        },
    )


class FeedbackOut(_Out):
    id: int
    event: str
    model_version: str | None


class CatalogEntry(_Out):
    training_id: str
    title: str
    description: str | None
    provider: str | None
    modality: str
    jp: int
    cost_idr: int | None
    eligible_jenis_jabatan: list[str]
    mandatory_for: list[str]
    province: str | None
    language: str | None
    active: bool
    competencies: list[str]


class CatalogPage(_Out):
    entries: list[CatalogEntry]
    total: int
    offset: int
    next_offset: int | None


class ModelInfo(_Out):
    name: str
    version: str
    aliases: list[str]
    run_id: str
    trained_as_of: str | None
    data_fingerprint: str | None
    embedding_model: str | None
    metrics: dict[str, float]
    snapshot: str
    snapshot_as_of: str
    employees: int
    catalogue_entries: int
    loaded_at: str


class Problem(_Out):
    detail: str | list[dict[str, object]]


# --- agency plans (AKPK) ----------------------------------------------------------------------------

PLAN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_IDR = 10**15
"""Upper bound of an amount in rupiah (Rp 1,000 trillion, a quarter of the state budget): beyond any
agency's plan, and it keeps sums far from overflowing 64 bits."""
FairColumn = Literal["status", "gender", "unit_id"]


class PlanIn(_In):
    """What a planner asks for: the year's trainings of an agency (or one unit) under a budget."""

    budget_idr: int = Field(
        gt=0, le=MAX_IDR, strict=False, description="Money for the year's trainings, in rupiah (> 0)."
    )
    year: int | None = Field(
        default=None,
        ge=2000,
        le=2100,
        strict=False,
        description="The plan year; null: the year after the snapshot's as-of date.",
    )
    min_jp: float = Field(
        default=20.0, gt=0, le=200, description="Yearly JP floor per person (20 by PP 17/2020)."
    )
    unit_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Plan this work unit only; null: all."
    )
    max_cost_per_person_idr: int | None = Field(
        default=None,
        gt=0,
        le=MAX_IDR,
        strict=False,
        description="Cap on one person's personal trainings, in rupiah (mandatory programmes not counted).",
    )
    fair_coverage: list[FairColumn] = Field(
        default_factory=list,
        max_length=3,
        description="Groups (by `status`, `gender`, `unit_id`) that must each reach the JP floor at least at "
        "the agency-wide rate.",
    )
    lang: LangParam = Field(default="id", description="Language of reasons and of the summary's sentences.")

    _whole = field_validator("budget_idr", "year", "max_cost_per_person_idr", mode="before")(whole_number)

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"budget_idr": 1_500_000_000, "min_jp": 20, "fair_coverage": ["gender"], "lang": "en"}
            ]
        },
    )


class PlanGroupOut(_Out):
    """Coverage and gain of one group of staff."""

    dimension: str = Field(description="`all`, `unit_id`, `gender` or `status`.")
    group: str
    staff: int
    at_floor: int = Field(description="Staff whose planned JP reach the floor.")
    share_at_floor: float = Field(description="at_floor / staff, in [0, 1].")
    cost_idr: int
    expected_gain: float = Field(description="Sum of calibrated expected gap closure, in competency levels.")
    assignments: int


class PlanBindingOut(_Out):
    """A constraint that keeps the plan from what was asked, in the planner's words."""

    kind: str = Field(
        description="`budget`, `mandatory`, `seats`, `person_cap`, `fair_coverage` or `no_candidates`."
    )
    text: str = Field(description="One sentence, in the plan's language.")
    amount: float | None = Field(
        description="The shortfall in the kind's unit (rupiah for `budget`; people for `mandatory` and "
        "`no_candidates`; trainings for `seats`), when it has one."
    )


class PlanSummaryOut(_Out):
    """What a plan achieves and what binds it."""

    agency: str
    unit: str | None
    year: int
    as_of: str = Field(description="Date of the evidence snapshot.")
    budget_idr: int
    total_cost_idr: int = Field(description="Planned cost; never above budget_idr.")
    min_jp: float
    staff: int
    at_floor: int
    share_at_floor: float = Field(description="at_floor / staff, in [0, 1].")
    expected_gain: float = Field(description="Sum of calibrated expected gains (levels), personal trainings.")
    mandatory_due: int
    mandatory_funded: int
    budget_for_all_idr: int | None = Field(
        description="Least cost that brings everyone to the floor; null when the catalogue cannot."
    )
    solver_status: str
    mip_gap: float = Field(description="Relative optimality gap at the end (0: proven optimal; -1: unknown).")
    solve_seconds: float
    groups: list[PlanGroupOut]
    binding: list[PlanBindingOut]
    snapshot_id: str
    model_version: str
    model_run_id: str


class PlanRequestOut(_Out):
    """The request a plan was computed for, as stored with it."""

    agency: str
    budget_idr: int
    year: int | None
    min_jp: float
    unit: str | None
    max_cost_per_person_idr: int | None
    fair_coverage: list[str]
    lang: LangParam
    time_limit_s: float


class PlanLinks(_Out):
    plan: str = Field(description="The plan with a page of its assignments (GET).")
    export: str = Field(description="The plan as a file (GET; `?format=xlsx` or `csv`).")


class PlanCreated(_Out):
    plan_id: str
    summary: PlanSummaryOut
    links: PlanLinks


class AssignmentOut(_Out):
    """One (employee, training) of a plan."""

    nip: str
    unit_id: str
    training_id: str
    title: str
    modality: str
    jp: float
    cost_idr: int
    expected_gain: float | None = Field(
        description="Calibrated expected gap closure (levels); null for a mandatory programme."
    )
    mandatory: bool
    competencies: list[str] = Field(description="The competency gaps it addresses.")
    reason: str


class PlanOut(_Out):
    """A stored plan with one page of its assignments."""

    plan_id: str
    created_at: str
    lang: LangParam
    request: PlanRequestOut
    summary: PlanSummaryOut
    snapshot_id: str = Field(description="The snapshot the plan was computed from.")
    model_version: str = Field(description="The model version that scored the candidates.")
    assignments: list[AssignmentOut]
    total: int = Field(description="Assignments in the plan (all pages).")
    offset: int
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last one.")
    links: PlanLinks
