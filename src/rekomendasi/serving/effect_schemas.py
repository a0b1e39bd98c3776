"""The answer of ``GET /v1/catalog/{training_id}/effectiveness`` (issue #16): a catalogue entry's measured
effectiveness, its provider's and its modality's, with an example for OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_LEVELS = (
    "in measured competency levels summed over the competencies targeted, beyond comparable staff who had "
    "not taken it (a difference in differences: against people who enrolled on the same competency later, "
    "not yet trained, where the data has later years; against matched other staff in the last year)"
)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class GroupEffectOut(_Out):
    """A provider's or a modality's estimate: its entries' participants pooled."""

    name: str = Field(description="The provider, or the modality.")
    entries: int = Field(description="Catalogue entries with measured participants pooled here.")
    participants: int = Field(description="Measured participants.")
    effect: float | None = Field(description=f"Mean gain {_LEVELS}; null when too few participants.")
    ci_low: float | None = Field(description="Lower end of the effect's bootstrap interval.")
    ci_high: float | None = Field(description="Upper end of the effect's bootstrap interval.")
    reason: str | None = Field(description="Why there is no number; null when there is one.")
    naive: float | None = Field(description="The same participants' plain before/after change.")
    naive_low: float | None
    naive_high: float | None


_EXAMPLE: dict[str, Any] = {
    "training_id": "TRN-0100",
    "title": "Pelatihan Analisis Kebijakan Publik",
    "provider": "BPSDM Provinsi Jawa Barat",
    "modality": "klasikal",
    "participants": 84,
    "effect": 0.1213,
    "ci_low": 0.0517,
    "ci_high": 0.1902,
    "reason": None,
    "raw_effect": 0.1015,
    "raw_low": 0.0123,
    "raw_high": 0.1907,
    "kind_effect": 0.1345,
    "own_weight": 0.4,
    "naive": 0.3391,
    "naive_low": 0.2664,
    "naive_high": 0.4105,
    "confidence": 0.95,
    "provider_estimate": {
        "name": "BPSDM Provinsi Jawa Barat",
        "entries": 12,
        "participants": 611,
        "effect": 0.0844,
        "ci_low": 0.0593,
        "ci_high": 0.1102,
        "reason": None,
        "naive": 0.2987,
        "naive_low": 0.2712,
        "naive_high": 0.3263,
    },
    "modality_estimate": {
        "name": "klasikal",
        "entries": 140,
        "participants": 5120,
        "effect": 0.0711,
        "ci_low": 0.0622,
        "ci_high": 0.0799,
        "reason": None,
        "naive": 0.2815,
        "naive_low": 0.2721,
        "naive_high": 0.2908,
    },
    "as_of": "2025-12-31",
    "model_version": "7",
    "explanation": (
        "Estimated gain 0.12 measured competency levels beyond comparable staff who had not taken it (95% "
        "interval 0.05 to 0.19; data up to 2025-12-31): its 84 measured participants' own figure (0.10) "
        "weighed at 40% with what courses of its kind reached (0.13)."
    ),
}


class EffectivenessOut(_Out):
    """A catalogue entry's measured effectiveness, as of the serving model's training date."""

    training_id: str
    title: str
    provider: str | None
    modality: str
    participants: int = Field(description="Measured participants of the entry (0: none yet).")
    effect: float | None = Field(
        description=f"The entry's estimated gain {_LEVELS}. A pooled (empirical-Bayes) estimate: its own "
        "participants' mean gain (`raw_effect`) pulled towards what courses of its kind reached "
        "(`kind_effect`), by as much as its own participants cannot say (`own_weight`): effect = "
        "kind_effect + own_weight * (raw_effect - kind_effect). Measured levels respond to a real gain only "
        "as new evidence arrives, so they are smaller than true gains: use them to compare entries, "
        "providers and modalities. Null when there are too few participants (see `reason`)."
    )
    ci_low: float | None = Field(
        description="Lower end of the effect's bootstrap interval (`confidence`; the participants of every "
        "entry resampled and the pooling made again, so the uncertainty of `kind_effect` is in it)."
    )
    ci_high: float | None = Field(description="Upper end of the effect's bootstrap interval.")
    reason: str | None = Field(description="Why there is no number; null when there is one.")
    raw_effect: float | None = Field(
        default=None,
        description="The entry's own measured participants' mean gain, before pooling (the same units as "
        "`effect`). Null with `effect`, and for estimates made before pooling.",
    )
    raw_low: float | None = Field(default=None, description="Lower end of `raw_effect`'s bootstrap interval.")
    raw_high: float | None = Field(
        default=None, description="Upper end of `raw_effect`'s bootstrap interval."
    )
    kind_effect: float | None = Field(
        default=None,
        description="The mean gain that courses of the entry's kind reached (a regression of the entries' "
        "own means on modality, log length in JP and log number of targeted competencies): what `effect` "
        "is pulled towards. Null with `effect`, and for estimates made before pooling.",
    )
    own_weight: float | None = Field(
        default=None,
        description="The weight of `raw_effect` in `effect`, in [0, 1]: 0 when the data cannot tell the "
        "entry apart from courses of its kind (`effect` is then `kind_effect`), 1 for its own "
        "participants alone; it grows with the entry's measured participants. Null with `effect`, and for "
        "estimates made before pooling.",
        ge=0.0,
        le=1.0,
    )
    naive: float | None = Field(
        description="The same participants' plain before/after change, for comparison: it also holds the "
        "drift every level has over time and the return towards the mean that the effect removes."
    )
    naive_low: float | None = Field(description="Lower end of the naive change's interval.")
    naive_high: float | None = Field(description="Upper end of the naive change's interval.")
    confidence: float = Field(description="Coverage of the intervals, in (0, 1).")
    provider_estimate: GroupEffectOut | None = Field(
        description="All entries of the same provider, pooled; null for an entry without a provider."
    )
    modality_estimate: GroupEffectOut | None = Field(description="All entries of the same modality, pooled.")
    as_of: str = Field(description="Date of the estimates: the serving model's training date.")
    model_version: str = Field(description="The serving model that carries the estimates.")
    explanation: str = Field(
        description="What the number means, in one plain sentence (English): the effect and its interval, "
        "its participants' own figure and what courses of its kind reached, and the weight of the first."
    )

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [_EXAMPLE]})
