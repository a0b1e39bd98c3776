"""pandera models of the snapshot's tables: the contract between the feature pipeline and everything
downstream (candidates, pair features, the scores store, serving).

Column names are read from these models (``CompetencyGaps.nip == "nip"``). Every per-employee table is
sorted by ``nip`` (checked), so a snapshot can be cut to a few employees by binary search.
:func:`rekomendasi.features.snapshot.build_snapshot` validates them before returning, and
:func:`~rekomendasi.features.snapshot.read_snapshot` right after reading.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from rekomendasi.contract import enums
from rekomendasi.contract.schemas import NIP_PATTERN


class _Model(pa.DataFrameModel):
    class Config:
        strict = False  # tables may carry more columns than downstream stages rely on
        coerce = False


class PerEmployee(_Model):
    """A table with rows per employee, sorted by nip."""

    nip: Series[str] = pa.Field(str_matches=NIP_PATTERN)

    @pa.dataframe_check(error="rows must be sorted by nip")
    def _sorted_by_nip(cls, frame: pd.DataFrame) -> bool:
        return bool(frame["nip"].is_monotonic_increasing)


class Roster(PerEmployee):
    """Who was an employee on the snapshot date (entered by then), one row each."""

    nip: Series[str] = pa.Field(str_matches=NIP_PATTERN, unique=True)
    instansi_id: Series[str]
    unit_id: Series[str]
    position_id: Series[str]
    jenis_jabatan: Series[str] = pa.Field(isin=list(enums.JENIS_JABATAN), nullable=True)
    status: Series[str] = pa.Field(isin=list(enums.STATUS))
    gender: Series[str] = pa.Field(nullable=True)
    province: Series[str] = pa.Field(nullable=True)
    active: Series[bool]


class CompetencyGaps(PerEmployee):
    """Employee x competency of the position standard: the estimated level and the evidence behind it."""

    competency_id: Series[str]
    required_level: Series[float] = pa.Field(ge=0, le=5)
    estimated_level: Series[float] = pa.Field(ge=0, le=5)
    uncertainty: Series[float] = pa.Field(ge=0)
    gap: Series[float]
    n_assessment: Series[int] = pa.Field(ge=0)
    n_indicators: Series[int] = pa.Field(ge=0)
    n_behaviour: Series[int] = pa.Field(ge=0)
    n_skp: Series[int] = pa.Field(ge=0)
    n_feedback: Series[int] = pa.Field(ge=0)
    n_training: Series[int] = pa.Field(ge=0)
    prior_only: Series[bool]
    latest_evidence_on: Series[pd.Timestamp] = pa.Field(nullable=True)


class Performance(PerEmployee):
    """One row per employee: SKP predikat, indicator attainment, BerAKHLAK ratings, talent grid."""

    nip: Series[str] = pa.Field(str_matches=NIP_PATTERN, unique=True)
    predikat_latest: Series[str] = pa.Field(nullable=True)
    predikat_mean: Series[float] = pa.Field(nullable=True)
    performance_band: Series[str] = pa.Field(nullable=True)
    potential_band: Series[str] = pa.Field(nullable=True)


class Development(PerEmployee):
    """One row per employee: JP earned in the snapshot's calendar year against the yearly obligation."""

    nip: Series[str] = pa.Field(str_matches=NIP_PATTERN, unique=True)
    year: Series[int]
    jp_training: Series[float] = pa.Field(ge=0)
    jp_other: Series[float] = pa.Field(ge=0)
    jp_total: Series[float] = pa.Field(ge=0)
    jp_target: Series[float] = pa.Field(gt=0)
    jp_remaining: Series[float] = pa.Field(ge=0)
    meets_jp_target: Series[bool]


class Mandatory(PerEmployee):
    """Employee x mandatory programme that applies, with the rule and whether it is done or due."""

    training_id: Series[str]
    condition: Series[str]
    rule_id: Series[str]
    rule_en: Series[str]
    completed_on: Series[pd.Timestamp] = pa.Field(nullable=True)
    done: Series[bool]
    due: Series[bool]
    enrolled: Series[bool]


class TextProfile(PerEmployee):
    """Employee x competency their free text is about."""

    competency_id: Series[str]
    text_weight: Series[np.float32] = pa.Field(ge=0)
    text_share: Series[np.float32] = pa.Field(ge=0, le=1)
    text_rows: Series[int] = pa.Field(ge=1)


class Taken(PerEmployee):
    """Employee x catalogue entry they were enrolled in or had completed on the snapshot date: never
    recommended again."""

    training_id: Series[str]


class EntryOutcomes(_Model):
    """Per catalogue entry, how earlier participants fared (enrolments finished by the snapshot date)."""

    training_id: Series[str] = pa.Field(unique=True)
    takers: Series[int] = pa.Field(ge=1)
    completion_rate: Series[float] = pa.Field(ge=0, le=1)
    mean_score: Series[float] = pa.Field(nullable=True)
    mean_satisfaction: Series[float] = pa.Field(nullable=True)


class PeerUptake(_Model):
    """Position x catalogue entry: the share of the position's staff who had completed the entry."""

    position_id: Series[str]
    training_id: Series[str]
    share: Series[float] = pa.Field(gt=0, le=1)
