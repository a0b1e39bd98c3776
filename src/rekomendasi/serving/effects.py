"""The champion's course-effectiveness estimates (issue #16), as the API and the planner's page read them.

A champion trained with this release carries ``effectiveness_``: what
:meth:`rekomendasi.effectiveness.Effectiveness.to_dict` returned for its training date. A worker parses it
once, when it loads (:meth:`Effects.of_model`), into small values looked up by ``training_id``; a champion
trained before has none (the API then answers 409, the page shows nothing).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rekomendasi.effectiveness import Effectiveness
from rekomendasi.errors import ModelNotReady

INDISTINCT_WEIGHT = 0.05
"""Below this weight of its own participants, an entry's effect is what courses of its kind reached: its
participants' data cannot yet tell it apart from them (the API's sentence and the page say so)."""
LEANS_OWN = 0.5
"""From this weight of its own participants up, an entry's effect leans mostly on them (the page)."""
NO_PROVIDER = "(none)"
"""The providers table's row of the entries without a provider (:func:`~rekomendasi.effectiveness.estimate.
estimate_effectiveness` pools them under it); never shown as a provider."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimate: an entry's, a provider's or a modality's.

    Attributes:
        participants: measured participants (>= 0).
        effect: gain beyond comparable people who had not taken it, in measured competency levels summed
            over the competencies targeted; None when there are too few participants (``reason`` says so).
            A provider's or modality's is its participants' mean; an entry's is pooled (empirical Bayes,
            :mod:`rekomendasi.effectiveness.pooling`): ``raw_effect`` pulled towards ``kind_effect``.
        ci_low: lower end of the effect's bootstrap interval (None with ``effect``).
        ci_high: upper end of it.
        reason: why there is no number, or None.
        naive: the same participants' plain before/after change (no comparison group), for contrast.
        naive_low: lower end of its interval.
        naive_high: upper end of it.
        entries: catalogue entries with measured participants pooled (providers and modalities; None for
            an entry).
        raw_effect: an entry's own participants' mean gain beyond comparable people, before pooling (the
            entry's ``effect`` is this pulled towards ``kind_effect``); None for providers, modalities,
            without ``effect`` and in estimates made before pooling.
        raw_low: lower end of ``raw_effect``'s bootstrap interval.
        raw_high: upper end of it.
        kind_effect: the mean gain courses of the entry's kind reached (modality, length in JP, number of
            targeted competencies): the pooling's prior.
        own_weight: the weight of ``raw_effect`` in ``effect``, in [0, 1] (0: its participants' data
            cannot tell it apart from courses of its kind; 1: its own participants alone).
    """

    participants: int
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None
    naive: float | None
    naive_low: float | None
    naive_high: float | None
    entries: int | None = None
    raw_effect: float | None = None
    raw_low: float | None = None
    raw_high: float | None = None
    kind_effect: float | None = None
    own_weight: float | None = None

    @property
    def measured(self) -> bool:
        """Whether there is a number (enough participants)."""
        return self.effect is not None

    @property
    def has_parts(self) -> bool:
        """Whether the number is an entry's pooled estimate with its parts (own mean, kind's mean, weight)
        known: False for providers, modalities and estimates made before pooling."""
        return (
            self.effect is not None
            and self.raw_effect is not None
            and self.kind_effect is not None
            and self.own_weight is not None
        )

    @property
    def indistinct(self) -> bool:
        """Whether an entry's pooled effect is about what courses of its kind reached: its own
        participants' weight is below ``INDISTINCT_WEIGHT``."""
        return self.has_parts and self.own_weight is not None and self.own_weight < INDISTINCT_WEIGHT

    @property
    def leans_own(self) -> bool:
        """Whether an entry's pooled effect leans mostly on its own participants (weight ``LEANS_OWN`` or
        more) rather than on courses of its kind."""
        return self.has_parts and self.own_weight is not None and self.own_weight >= LEANS_OWN

    @property
    def clear(self) -> bool:
        """Whether the interval leaves out 0: clearly better (or worse) than not taking it."""
        return self.ci_low is not None and self.ci_high is not None and (self.ci_low > 0 or self.ci_high < 0)


@dataclass(frozen=True, slots=True)
class EntryEffect:
    """What is known of one catalogue entry's effectiveness.

    Attributes:
        training_id: the entry.
        provider: its provider (None without one).
        modality: its modality.
        estimate: the entry's own estimate.
        by_provider: its provider's estimate, all its entries' participants together (None without a
            provider).
        by_modality: its modality's, the same way (None without a modality).
        estimated: False for an entry the estimates do not cover (added to the catalogue after them).
        as_of: the estimates' date (the model's training date).
        confidence: the intervals' coverage, in (0, 1).
    """

    training_id: str
    provider: str | None
    modality: str | None
    estimate: Estimate
    by_provider: Estimate | None
    by_modality: Estimate | None
    estimated: bool
    as_of: dt.date
    confidence: float


@dataclass(frozen=True)
class Effects:
    """A champion's estimates, by entry, provider and modality (read-only once built)."""

    as_of: dt.date
    confidence: float
    min_participants: int
    entries: Mapping[str, tuple[str | None, str | None, Estimate]]  # id -> provider, modality, estimate
    providers: Mapping[str, Estimate]
    modalities: Mapping[str, Estimate]

    @classmethod
    def of_model(cls, model: object, version: str = "?") -> Effects | None:
        """The estimates ``model`` carries (``effectiveness_``), or None for a model trained before them.

        Raises:
            ModelNotReady: the model carries estimates this release cannot read (says what to run).
        """
        saved = getattr(model, "effectiveness_", None)
        if saved is None:
            return None
        try:
            found = saved if isinstance(saved, Effectiveness) else Effectiveness.from_dict(saved)
            return cls.of(found)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ModelNotReady(
                f"champion v{version} carries course-effectiveness estimates this release cannot read "
                f"({type(err).__name__}: {err}); run `rekomendasi train` to train one for it."
            ) from err

    @classmethod
    def of(cls, estimates: Effectiveness) -> Effects:
        """The lookup of ``estimates``."""
        entries = {
            str(row["training_id"]): (
                _text(row.get("provider")),
                _text(row.get("modality")),
                _estimate(row, group=False),
            )
            for row in _rows(estimates.entries)
        }
        return cls(
            as_of=estimates.as_of,
            confidence=float(estimates.config.confidence),
            min_participants=int(estimates.config.min_participants),
            entries=entries,
            providers={str(r["provider"]): _estimate(r, group=True) for r in _rows(estimates.providers)},
            modalities={str(r["modality"]): _estimate(r, group=True) for r in _rows(estimates.modalities)},
        )

    def entry(self, training_id: str, provider: str | None, modality: str | None) -> EntryEffect:
        """The estimates of ``training_id``, its provider's and its modality's. ``provider`` and
        ``modality`` (the served catalogue's) are used only for an entry the estimates do not cover; it
        gets 0 participants and the reason."""
        found = self.entries.get(training_id)
        if found is not None:
            provider, modality, estimate = found
        else:
            reason = (
                f"not in the estimates, which cover the catalogue as of {self.as_of.isoformat()}; "
                "the next `rekomendasi train` measures it"
            )
            estimate = Estimate(0, None, None, None, reason, None, None, None)
        return EntryEffect(
            training_id=training_id,
            provider=provider,
            modality=modality,
            estimate=estimate,
            by_provider=None if provider is None else self._pooled(self.providers, provider),
            by_modality=None if modality is None else self._pooled(self.modalities, modality),
            estimated=found is not None,
            as_of=self.as_of,
            confidence=self.confidence,
        )

    def _pooled(self, table: Mapping[str, Estimate], key: str) -> Estimate:
        """A provider's or modality's row; one nobody was measured in has 0 participants and the reason
        (as entries do)."""
        found = table.get(key)
        if found is not None:
            return found
        reason = f"too few participants: 0 measured, {self.min_participants} needed"
        return Estimate(0, None, None, None, reason, None, None, None, entries=0)


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _number(value: object) -> float | None:
    """A float, or None for a missing value (None, NaN)."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == NO_PROVIDER:
        return None
    return str(value)


def _estimate(row: Mapping[str, Any], group: bool) -> Estimate:
    """A row of the entries (``group`` False), providers or modalities table. An entry's pooling columns
    are read only beside an effect and are None where missing (estimates made before pooling)."""
    effect = _number(row.get("effect"))
    entries = _number(row.get("entries")) if group else None

    def part(name: str) -> float | None:
        return None if group or effect is None else _number(row.get(name))

    return Estimate(
        participants=int(_number(row.get("participants")) or 0),
        effect=effect,
        ci_low=_number(row.get("ci_low")),
        ci_high=_number(row.get("ci_high")),
        reason=None if effect is not None else _text(row.get("reason")) or "no estimate",
        naive=_number(row.get("naive")),
        naive_low=_number(row.get("naive_low")),
        naive_high=_number(row.get("naive_high")),
        entries=None if not group else int(entries or 0),
        raw_effect=part("raw_effect"),
        raw_low=part("raw_low"),
        raw_high=part("raw_high"),
        kind_effect=part("kind_effect"),
        own_weight=part("own_weight"),
    )


__all__ = ["INDISTINCT_WEIGHT", "LEANS_OWN", "NO_PROVIDER", "Effects", "EntryEffect", "Estimate"]
