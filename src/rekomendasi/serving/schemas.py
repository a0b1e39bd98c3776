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
    value: float = Field(description="Additive share of the score (TreeSHAP); positive raises the entry.")


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
        "UU 27/2022 art. 10).",
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
