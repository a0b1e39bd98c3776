"""What the simulated world assumes about evidence, outcomes, the past training policy and missing data.

Every knob has a default that reproduces the simulator as it was before knobs existed (the same seed
gives the same files byte for byte), a valid range (checked on construction and when a YAML file is
read), and a narrower plausible range that :meth:`Assumptions.draw` samples to make worlds nobody tuned
on. The truth folder follows the same knobs: ``truth/benefit`` is the expected benefit under the very
assumptions that generated the history, so the oracle stays right in every world.

Knobs come in four groups:

- evidence: noise multipliers and biases of each source (assessments, SKP, BerAKHLAK behaviour,
  indicators, feedback ratings, the unit satisfaction survey, free text);
- outcomes: how a course's gain depends on level fit and on the course's latent quality, how visible
  that quality is (modality, JP, provider, satisfaction, popularity), noise of realised gains, and
  how completion depends on fit and ability;
- policy: how past enrolments were chosen (popularity, supervisors' view of gaps, true fit, true
  quality, chance) and how many a year;
- missingness: who is assessed, which agencies keep daily reports and periodic SKP, missing SKP rows,
  how much feedback there is and how much text is tagged with its competency.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ConfigDict, Field, ValidationError, create_model

from rekomendasi.errors import ConfigError

GROUPS = ("evidence", "outcomes", "policy", "missingness")


@dataclass(frozen=True, slots=True)
class Knob:
    """What one field of :class:`Assumptions` means and where it may go.

    Attributes:
        group: one of :data:`GROUPS`.
        low, high: the valid range (inclusive).
        plausible: the (low, high) range :meth:`Assumptions.draw` samples uniformly.
        doc: its meaning, with units.
    """

    group: str
    low: float
    high: float
    plausible: tuple[float, float]
    doc: str


def _knob(
    default: float, group: str, low: float, high: float, plausible: tuple[float, float], doc: str
) -> Any:
    """A dataclass field carrying its :class:`Knob` in its metadata."""
    return field(default=default, metadata={"knob": Knob(group, low, high, plausible, doc)})


@dataclass(frozen=True, slots=True)
class Assumptions:
    """The simulator's assumptions; the defaults are those of every world simulated before #15."""

    # --- evidence: noise multipliers (1 = today's noise) and biases (0 = none) by source -----------------
    assessment_noise: float = _knob(
        1.0, "evidence", 0.0, 5.0, (0.5, 2.5),
        "multiplier on each assessment method's noise SD (assessment centre 0.25 ... self 0.7 levels)",
    )  # fmt: skip
    assessment_bias: float = _knob(
        0.0, "evidence", -1.5, 1.5, (-0.4, 0.6),
        "levels added to every assessment, on top of each method's own leniency (self +0.35, 360 +0.15)",
    )  # fmt: skip
    assessment_person_bias_sd: float = _knob(
        0.0, "evidence", 0.0, 1.5, (0.0, 0.5),
        "SD (levels) of a persistent offset per employee shared by all their assessments (halo effect)",
    )  # fmt: skip
    skp_noise: float = _knob(
        1.0, "evidence", 0.0, 10.0, (0.5, 3.0),
        "multiplier on the noise of the SKP's latent performance (SD 0.3 annual, 0.45 periodic)",
    )  # fmt: skip
    skp_ability_weight: float = _knob(
        0.25, "evidence", 0.0, 3.0, (0.0, 1.0),
        "weight of general ability (not competency gaps) in SKP work results; the gaps weigh 1",
    )  # fmt: skip
    skp_leniency: float = _knob(
        0.0, "evidence", -0.3, 0.5, (-0.05, 0.3),
        "share added to each unit's quota rated above expectation and taken from the share below",
    )  # fmt: skip
    behaviour_noise: float = _knob(
        1.0, "evidence", 0.0, 10.0, (0.5, 3.0),
        "multiplier on the noise of BerAKHLAK ratings (SD 0.35 per rating, 0.15 per unit)",
    )  # fmt: skip
    behaviour_bias: float = _knob(
        0.0, "evidence", -1.5, 1.5, (-0.2, 0.4),
        "levels added to the latent behaviour before rating (positive: lenient supervisors)",
    )  # fmt: skip
    indicator_noise: float = _knob(
        1.0, "evidence", 0.0, 10.0, (0.5, 3.0),
        "multiplier on the noise of indicator attainment (SD 0.12 of the target)",
    )  # fmt: skip
    indicator_inflation: float = _knob(
        0.0, "evidence", -0.5, 1.0, (0.0, 0.3),
        "share of the target added to every self-reported realisation (attainment is capped at 1.5)",
    )  # fmt: skip
    feedback_noise: float = _knob(
        1.0, "evidence", 0.0, 10.0, (0.5, 2.5),
        "multiplier on the noise of supervisor, peer, subordinate and public ratings (SD 0.7 points)",
    )  # fmt: skip
    feedback_bias: float = _knob(
        0.0, "evidence", -2.0, 2.0, (-0.3, 0.6),
        "points added to every feedback rating before rounding (1-5 scale)",
    )  # fmt: skip
    public_feedback_noise: float = _knob(
        1.0, "evidence", 0.0, 20.0, (0.5, 4.0),
        "multiplier on the noise of unit SKM element scores (SD 0.1 points)",
    )  # fmt: skip
    text_noise: float = _knob(
        0.0, "evidence", 0.0, 1.0, (0.0, 0.4),
        "share of generated free text about a random competency of the person's standard instead of the "
        "one its rating or indicator measures",
    )  # fmt: skip
    # --- outcomes: what a course does, and how much of it shows --------------------------------------
    match_width: float = _knob(
        0.7, "outcomes", 0.2, 3.0, (0.45, 1.5),
        "levels; spread of the level-match curve m around (target - 1): small = fit dominates",
    )  # fmt: skip
    match_floor: float = _knob(
        0.0, "outcomes", 0.0, 1.0, (0.0, 0.4),
        "part of the gain that does not depend on level fit: the gain uses floor + (1 - floor) * m",
    )  # fmt: skip
    quality_sd: float = _knob(
        0.2, "outcomes", 0.0, 0.8, (0.05, 0.5),
        "SD of the entries' latent quality around 1 (clipped to 1 +- 2.5 SD, at least 0.05)",
    )  # fmt: skip
    effect_scale: float = _knob(
        1.0, "outcomes", 0.0, 3.0, (1.0, 1.0),
        "multiplier on every entry's latent effect, mandatory ones too (0: no course changes a level, a "
        "placebo world for effectiveness estimates; never drawn)",
    )  # fmt: skip
    modality_weight: float = _knob(
        1.0, "outcomes", -1.5, 3.0, (-0.5, 1.5),
        "exponent on the modality's efficiency in the effect (0: modality says nothing; < 0: reversed)",
    )  # fmt: skip
    jp_weight: float = _knob(
        1.0, "outcomes", -0.5, 3.0, (0.0, 1.5),
        "exponent on the saturating JP dose in the effect (0: length says nothing; < 0: short is better)",
    )  # fmt: skip
    provider_effect_sd: float = _knob(
        0.0, "outcomes", 0.0, 1.0, (0.0, 0.4),
        "log SD of a multiplier on the effect shared by every entry of one provider",
    )  # fmt: skip
    satisfaction_effect: float = _knob(
        0.0, "outcomes", -2.0, 2.0, (-0.5, 1.0),
        "satisfaction points per SD of the entry's log effect (< 0: participants like useless courses)",
    )  # fmt: skip
    popularity_quality_corr: float = _knob(
        0.0, "outcomes", -0.9, 0.9, (-0.4, 0.6),
        "correlation of an entry's log popularity with its log effect",
    )  # fmt: skip
    gain_noise: float = _knob(
        0.25, "outcomes", 0.0, 1.5, (0.1, 0.7),
        "SD of the log of the factor multiplying each realised gain (median factor 1)",
    )  # fmt: skip
    completion_base: float = _knob(
        0.6, "outcomes", 0.0, 1.0, (0.45, 0.75),
        "P(complete) = clip(base + fit * mean m + ability * tanh(ability), 0.05, 0.98): the base",
    )  # fmt: skip
    completion_fit: float = _knob(
        0.3, "outcomes", 0.0, 1.0, (0.1, 0.45), "P(complete): weight of the mean level match"
    )  # fmt: skip
    completion_ability: float = _knob(
        0.1, "outcomes", 0.0, 0.5, (0.0, 0.25), "P(complete): weight of tanh(general ability)"
    )  # fmt: skip
    # --- policy: how past enrolments were chosen --------------------------------------------------------
    policy_popularity: float = _knob(
        0.8, "policy", 0.0, 5.0, (0.0, 2.0), "weight of the entry's log popularity in the choice score"
    )  # fmt: skip
    policy_gap: float = _knob(
        0.7, "policy", 0.0, 5.0, (0.0, 1.5),
        "weight of supervisors' perceived gaps on the entry's competencies (blind to level fit)",
    )  # fmt: skip
    policy_perception_noise: float = _knob(
        0.6, "policy", 0.0, 3.0, (0.2, 1.2), "SD (levels) of supervisors' error in perceiving each gap"
    )  # fmt: skip
    policy_fit: float = _knob(
        0.0, "policy", -3.0, 5.0, (0.0, 1.5),
        "weight of the true level match (mean over the entry's targets): a past policy that knew fit",
    )  # fmt: skip
    policy_quality: float = _knob(
        0.0, "policy", -3.0, 5.0, (-0.3, 1.0),
        "weight of the entry's true log effect (in SDs): a past policy that knew quality",
    )  # fmt: skip
    policy_temperature: float = _knob(
        1.0, "policy", 0.05, 5.0, (0.5, 2.0),
        "scale of the Gumbel chance in the choice score (large: enrolments nearly random)",
    )  # fmt: skip
    popularity_sd: float = _knob(
        0.8, "policy", 0.0, 2.5, (0.4, 1.4),
        "log SD of the entries' popularity (large: enrolments concentrate on a few entries)",
    )  # fmt: skip
    trainings_per_year: float = _knob(
        1.3, "policy", 0.0, 4.0, (0.6, 2.2),
        "mean regular enrolments a year of a PNS (PPPK: 0.8 / 1.3 of it; at most 4)",
    )  # fmt: skip
    # --- missingness ---------------------------------------------------------------------------------------
    share_assessed: float = _knob(
        0.45, "missingness", 0.0, 1.0, (0.15, 0.7), "share of employees with any competency assessment"
    )  # fmt: skip
    daily_reports_central: float = _knob(
        0.3, "missingness", 0.0, 1.0, (0.05, 0.6), "share of central agencies keeping daily reports"
    )  # fmt: skip
    daily_reports_regional: float = _knob(
        0.55, "missingness", 0.0, 1.0, (0.1, 0.8),
        "share of regional agencies keeping daily reports (the largest one always does)",
    )  # fmt: skip
    periodic_skp: float = _knob(
        0.35, "missingness", 0.0, 1.0, (0.05, 0.7),
        "share of agencies running periodic (quarterly) SKP (the largest regional one always does)",
    )  # fmt: skip
    skp_missing: float = _knob(
        0.05, "missingness", 0.0, 0.95, (0.02, 0.3), "share of SKP rows missing"
    )  # fmt: skip
    feedback_per_year: float = _knob(
        0.7, "missingness", 0.0, 10.0, (0.15, 1.5), "mean feedback rows per employee and year"
    )  # fmt: skip
    indicator_tag_share: float = _knob(
        0.4, "missingness", 0.0, 1.0, (0.05, 0.8), "share of indicators tagged with their competency"
    )  # fmt: skip
    feedback_tag_share: float = _knob(
        0.3, "missingness", 0.0, 1.0, (0.05, 0.7), "share of feedback rows tagged with their competency"
    )  # fmt: skip

    def __post_init__(self) -> None:
        for name, knob in KNOBS.items():
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
                raise ValueError(f"assumption {name} must be a number, got {value!r}")
            if not knob.low <= value <= knob.high:
                raise ValueError(f"assumption {name} must be in [{knob.low}, {knob.high}], got {value}")

    def as_dict(self) -> dict[str, float]:
        """Every knob and its value, in declaration order."""
        return {name: float(getattr(self, name)) for name in KNOBS}

    def changed(self) -> dict[str, float]:
        """The knobs that differ from their default."""
        return {name: value for name, value in self.as_dict().items() if value != DEFAULTS[name]}

    def replace(self, **changes: float) -> Assumptions:
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Assumptions:
        """Every knob uniform over its plausible range, rounded to 3 decimals (a world nobody tuned on)."""
        # A knob whose plausible range is one value is not drawn (it takes no random number, so adding one
        # leaves the worlds drawn before it unchanged).
        return cls(
            **{
                n: k.plausible[0]
                if k.plausible[0] == k.plausible[1]
                else round(float(rng.uniform(*k.plausible)), 3)
                for n, k in KNOBS.items()
            }
        )

    def markdown(self) -> str:
        """The knobs as a markdown table (group, knob, value, default, meaning); changed values in bold."""
        lines = ["| group | knob | value | default | meaning |", "|---|---|---|---|---|"]
        for name, knob in KNOBS.items():
            value = getattr(self, name)
            shown = f"**{value:g}**" if value != DEFAULTS[name] else f"{value:g}"
            lines.append(f"| {knob.group} | {name} | {shown} | {DEFAULTS[name]:g} | {knob.doc} |")
        return "\n".join(lines) + "\n"


KNOBS: dict[str, Knob] = {f.name: f.metadata["knob"] for f in dataclasses.fields(Assumptions)}
DEFAULTS: dict[str, float] = {f.name: f.default for f in dataclasses.fields(Assumptions)}  # type: ignore[misc]

# Validates a YAML file's values: numbers within each knob's range (ints are fine for floats).
_FileModel = create_model(  # type: ignore[call-overload]
    "AssumptionsFile",
    __config__=ConfigDict(extra="forbid"),
    **{n: (float, Field(default=DEFAULTS[n], ge=k.low, le=k.high)) for n, k in KNOBS.items()},
)


def assumptions_from_mapping(values: Mapping[str, Any], source: str = "assumptions") -> Assumptions:
    """Assumptions from any subset of knobs; the others keep their defaults.

    Raises:
        ConfigError: an unknown knob (named, with the valid ones listed) or a value that is not a number
            in the knob's range; the message starts with ``source``.
    """
    unknown = [str(key) for key in values if key not in KNOBS]
    if unknown:
        hints = [
            f" (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, KNOBS, 1)) else ""
            for k in unknown
        ]
        named = ", ".join(f"{k!r}{hint}" for k, hint in zip(unknown, hints, strict=True))
        raise ConfigError(f"{source}: unknown assumption {named}; valid assumptions: {', '.join(KNOBS)}")
    try:
        model = _FileModel.model_validate(dict(values))
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"{source}: invalid assumptions: {problems}") from err
    return Assumptions(**model.model_dump())


def load_assumptions(path: Path) -> Assumptions:
    """Assumptions from a YAML mapping of knob names to numbers (any subset; an empty file = defaults).

    Raises:
        ConfigError: the file is missing, not YAML, not a mapping, or has an unknown or invalid knob.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: assumptions file not found") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: an assumptions file is a mapping of knob names to numbers, got {type(raw).__name__}"
        )
    return assumptions_from_mapping(raw, str(path))


def dump_assumptions(assumptions: Assumptions, path: Path) -> None:
    """Write the knobs that differ from their defaults as a YAML file :func:`load_assumptions` reads."""
    path.write_text(yaml.safe_dump(assumptions.changed(), sort_keys=False), encoding="utf-8")


DEFAULT = Assumptions()
