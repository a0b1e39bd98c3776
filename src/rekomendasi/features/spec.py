"""The reviewed evidence model (``evidence.yaml``: the packaged default, or the override the settings
name), validated into pydantic models."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rekomendasi.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prior(_Strict):
    offset: float
    sd: float = Field(gt=0)
    calibrate: bool = True
    shrinkage: float = Field(ge=0)
    min_level: float = 1.0
    max_level: float = 5.0


class Method(_Strict):
    sd: float = Field(gt=0)
    bias: float = 0.0


class Assessments(_Strict):
    half_life_years: float = Field(gt=0)
    methods: dict[str, Method]
    reference_methods: list[str]


class IndirectSource(_Strict):
    half_life_years: float = Field(gt=0)
    intercept: float
    slope: float
    noise_sd: float = Field(gt=0)


class Indirect(_Strict):
    min_pairs: int = Field(ge=2)
    min_slope: float = Field(gt=0)
    sources: dict[str, IndirectSource]


class Trainings(_Strict):
    gain: float = Field(ge=0)
    unconfirmed_discount: float = Field(ge=0, le=1)


class MandatoryRule(_Strict):
    jenis_jabatan: str | None
    rule_id: str
    rule_en: str


class Development(_Strict):
    jp_per_year: float = Field(gt=0)
    cpns_max_years: float = Field(gt=0)
    mandatory: dict[str, MandatoryRule]


class Potential(_Strict):
    high_from: float
    low_below: float


class TalentGrid(_Strict):
    performance: dict[str, str]
    potential: Potential
    boxes: dict[str, dict[str, int]]


class Text(_Strict):
    ngram_range: tuple[int, int]
    lexical_weight: float = Field(ge=0, le=1)
    min_gain: float = Field(default=0.005, ge=0, le=1)
    restrict_to_standard: bool = True


class EvidenceSpec(_Strict):
    """Everything the feature pipeline may weigh, in one reviewed file."""

    version: int
    prior: Prior
    assessments: Assessments
    indirect: Indirect
    rating_score: dict[str, float]
    predikat_score: dict[str, float]
    core_value_competencies: dict[str, list[str]]
    skp_groups: dict[str, list[str]]
    trainings: Trainings
    development: Development
    talent_grid: TalentGrid
    text: Text


def load_spec(path: Path) -> EvidenceSpec:
    """Read and validate the evidence spec.

    Raises:
        ConfigError: the file is missing, not YAML, or a field is invalid (named with its path).
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(
            f"{path}: evidence spec not found; set REKOMENDASI_EVIDENCE_SPEC to an evidence.yaml, or unset "
            "it to use the packaged default."
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}).") from err
    try:
        return EvidenceSpec.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"{path}: invalid evidence spec: {problems}") from err
