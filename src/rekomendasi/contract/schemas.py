"""pandera models of every table in data-contract.md.

Each column's ``metadata`` says how the loader parses it (``kind``) and which table it references
(``fk``); column names are read from these models (``Employees.nip == "nip"``), never retyped elsewhere.
The models validate *typed* frames: the loader parses raw text first, then validates with these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from rekomendasi.contract import enums

NIP_DIGITS = r"\d{18}"
"""A NIP (Nomor Induk Pegawai): exactly 18 digits. The package's one definition of its shape."""
NIP_PATTERN = rf"^{NIP_DIGITS}$"
"""A whole value that is a NIP (for pandera and pydantic ``pattern``)."""
NIP_IN_TEXT = re.compile(rf"(?<!\d){NIP_DIGITS}(?!\d)")
"""A NIP inside free text: 18 digits not part of a longer number (a 19-digit number is no NIP)."""
PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2]))?$"


def _field(
    kind: str,
    *,
    required: bool = False,
    fk: str | None = None,
    choices: tuple[str, ...] | None = None,
    **checks: Any,
) -> Any:
    """Declare a contract column: how to parse it, whether it may be null, what it references."""
    metadata: dict[str, Any] = {"kind": kind, "required": required}
    if fk is not None:
        metadata["fk"] = fk
    if choices is not None:
        metadata["choices"] = choices
        if kind == "enum":
            checks["isin"] = list(choices)
    if kind == "nip":
        checks["str_matches"] = NIP_PATTERN
    if kind == "period":
        checks["str_matches"] = PERIOD_PATTERN
    return pa.Field(nullable=not required, metadata=metadata, **checks)


def list_items(value: object) -> frozenset[str]:
    """Items of a ``;``-separated list cell (trimmed, empty items dropped); empty for a null cell."""
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.strip() for part in value.split(";") if part.strip())


def optional_text(value: object) -> str | None:
    """The text of an optional cell, or None for a missing one (None, NaN, NA)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return None
    return str(value)


def _items_in(series: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """True where a ``;``-separated list holds only allowed items (null counts as allowed)."""
    allowed_set = frozenset(allowed)
    return series.map(lambda value: list_items(value) <= allowed_set).astype(bool)


def jenis_eligibility(eligible_jenis_jabatan: pd.Series) -> np.ndarray:
    """[jenis_jabatan (JENIS_JABATAN order), entry] True where the catalogue entry admits that position
    type; an empty ``eligible_jenis_jabatan`` admits everyone."""
    out = np.ones((len(enums.JENIS_JABATAN), len(eligible_jenis_jabatan)), dtype=bool)
    for t, value in enumerate(eligible_jenis_jabatan):
        allowed = list_items(value)
        if allowed:
            out[:, t] = [j in allowed for j in enums.JENIS_JABATAN]
    return out


class _Model(pa.DataFrameModel):
    class Config:
        strict = False
        coerce = False


# --- reference tables ------------------------------------------------------------------------------


class Competencies(_Model):
    competency_id: Series[str] = _field("str", required=True)
    group: Series[str] = _field("enum", required=True, choices=enums.COMPETENCY_GROUPS)
    name: Series[str] = _field("str", required=True)
    description: Series[str] = _field("str")


class Positions(_Model):
    position_id: Series[str] = _field("str", required=True)
    title: Series[str] = _field("str", required=True)
    jenis_jabatan: Series[str] = _field("enum", required=True, choices=enums.JENIS_JABATAN)
    jenjang: Series[str] = _field("enum", choices=enums.JENJANG)
    rumpun: Series[str] = _field("str")


class PositionStandards(_Model):
    position_id: Series[str] = _field("str", required=True, fk="positions.position_id")
    competency_id: Series[str] = _field("str", required=True, fk="competencies.competency_id")
    required_level: Series[pd.Int64Dtype] = _field("int", required=True, ge=1, le=5)


class Employees(_Model):
    nip: Series[str] = _field("nip", required=True)
    instansi_id: Series[str] = _field("str", required=True)
    unit_id: Series[str] = _field("str", required=True)
    position_id: Series[str] = _field("str", required=True, fk="positions.position_id")
    status: Series[str] = _field("enum", required=True, choices=enums.STATUS)
    golongan: Series[str] = _field("enum", choices=enums.GOLONGAN_PNS + enums.GOLONGAN_PPPK)
    gender: Series[str] = _field("enum", choices=enums.GENDER)
    birth_date: Series[pd.Timestamp] = _field("date")
    entry_date: Series[pd.Timestamp] = _field("date")
    education: Series[str] = _field("enum", choices=enums.EDUCATION)
    province: Series[str] = _field("str")
    active: Series[pd.BooleanDtype] = _field("bool", required=True)


class Catalog(_Model):
    training_id: Series[str] = _field("str", required=True)
    title: Series[str] = _field("str", required=True)
    description: Series[str] = _field("str")
    provider: Series[str] = _field("str")
    modality: Series[str] = _field("enum", required=True, choices=enums.MODALITY)
    jp: Series[pd.Int64Dtype] = _field("int", required=True, gt=0)
    cost_idr: Series[pd.Int64Dtype] = _field("int", ge=0)
    eligible_jenis_jabatan: Series[str] = _field("list", choices=enums.JENIS_JABATAN)
    mandatory_for: Series[str] = _field("list", choices=enums.MANDATORY_CONDITIONS)
    province: Series[str] = _field("str")
    seats: Series[pd.Int64Dtype] = _field("int", gt=0)
    language: Series[str] = _field("enum", choices=enums.LANGUAGE)
    active: Series[pd.BooleanDtype] = _field("bool", required=True)

    @pa.check("eligible_jenis_jabatan", name="list_of_jenis_jabatan")
    def _eligible_items(cls, series: Series[str]) -> Series[bool]:
        return _items_in(series, enums.JENIS_JABATAN)  # type: ignore[return-value]

    @pa.check("mandatory_for", name="list_of_mandatory_conditions")
    def _mandatory_items(cls, series: Series[str]) -> Series[bool]:
        return _items_in(series, enums.MANDATORY_CONDITIONS)  # type: ignore[return-value]


class CatalogCompetencies(_Model):
    training_id: Series[str] = _field("str", required=True, fk="catalog.training_id")
    competency_id: Series[str] = _field("str", required=True, fk="competencies.competency_id")
    target_level: Series[pd.Int64Dtype] = _field("int", required=True, ge=1, le=5)


# --- evidence tables -------------------------------------------------------------------------------


class Assessments(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    competency_id: Series[str] = _field("str", required=True, fk="competencies.competency_id")
    level: Series[float] = _field("float", required=True, ge=1.0, le=5.0)
    assessed_on: Series[pd.Timestamp] = _field("date", required=True)
    method: Series[str] = _field("enum", required=True, choices=enums.METHOD)


class Skp(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    period: Series[str] = _field("period", required=True)
    hasil_kerja: Series[str] = _field("enum", required=True, choices=enums.RATING3)
    perilaku_kerja: Series[str] = _field("enum", required=True, choices=enums.RATING3)
    predikat: Series[str] = _field("enum", required=True, choices=enums.PREDIKAT)

    @pa.dataframe_check(name="predikat_matrix")
    def _predikat_matches_matrix(cls, df: pd.DataFrame) -> Series[bool]:
        expected = pd.Series(
            [
                enums.PREDIKAT_MATRIX.get((h, p))
                for h, p in zip(df["hasil_kerja"], df["perilaku_kerja"], strict=True)
            ],
            index=df.index,
            dtype=object,
        )
        # Rows whose ratings are themselves invalid fail their own enum check; do not double-report them.
        return (expected.isna() | (expected == df["predikat"])).astype(bool)  # type: ignore[return-value]


class Behaviour(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    period: Series[str] = _field("period", required=True)
    core_value: Series[str] = _field("enum", required=True, choices=enums.CORE_VALUES)
    rating: Series[str] = _field("enum", required=True, choices=enums.RATING3)
    feedback: Series[str] = _field("str")


class Indicators(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    period: Series[str] = _field("period", required=True)
    indicator_id: Series[str] = _field("str", required=True)
    description: Series[str] = _field("str", required=True)
    aspect: Series[str] = _field("enum", required=True, choices=enums.ASPECT)
    target: Series[float] = _field("float", required=True, gt=0)
    realization: Series[float] = _field("float", ge=0)
    competency_id: Series[str] = _field("str", fk="competencies.competency_id")


class DailyReports(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    date: Series[pd.Timestamp] = _field("date", required=True)
    activity: Series[str] = _field("str", required=True)
    minutes: Series[pd.Int64Dtype] = _field("int", required=True, ge=1, le=1440)
    indicator_id: Series[str] = _field("str")
    verified: Series[pd.BooleanDtype] = _field("bool")


class Feedback(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    given_on: Series[pd.Timestamp] = _field("date", required=True)
    source: Series[str] = _field("enum", required=True, choices=enums.FEEDBACK_SOURCE)
    rating: Series[pd.Int64Dtype] = _field("int", ge=1, le=5)
    text: Series[str] = _field("str")
    competency_id: Series[str] = _field("str", fk="competencies.competency_id")

    @pa.dataframe_check(name="rating_or_text")
    def _rating_or_text(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["rating"].notna() | df["text"].notna()).astype(bool)  # type: ignore[return-value]


class PublicFeedback(_Model):
    unit_id: Series[str] = _field("str", required=True)
    period: Series[str] = _field("period", required=True)
    element: Series[str] = _field("enum", required=True, choices=enums.SKM_ELEMENTS)
    score: Series[float] = _field("float", required=True, ge=1.0, le=4.0)
    responses: Series[pd.Int64Dtype] = _field("int", ge=0)


class TrainingHistory(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    training_id: Series[str] = _field("str", required=True, fk="catalog.training_id")
    enrolled_on: Series[pd.Timestamp] = _field("date", required=True)
    completed_on: Series[pd.Timestamp] = _field("date")
    status: Series[str] = _field("enum", required=True, choices=enums.TRAINING_STATUS)
    score: Series[float] = _field("float", ge=0.0, le=100.0)
    satisfaction: Series[pd.Int64Dtype] = _field("int", ge=1, le=5)
    jp_earned: Series[float] = _field("float", ge=0.0)

    @pa.dataframe_check(name="completed_after_enrolled")
    def _completed_after_enrolled(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["completed_on"].isna() | (df["completed_on"] >= df["enrolled_on"])).astype(bool)  # type: ignore[return-value]

    @pa.dataframe_check(name="completed_needs_date")
    def _completed_needs_date(cls, df: pd.DataFrame) -> Series[bool]:
        return ((df["status"] != "completed") | df["completed_on"].notna()).astype(bool)  # type: ignore[return-value]


class JpLog(_Model):
    nip: Series[str] = _field("nip", required=True, fk="employees.nip")
    date: Series[pd.Timestamp] = _field("date", required=True)
    activity_type: Series[str] = _field("str", required=True)
    jp: Series[float] = _field("float", required=True, gt=0)


# --- the registry of tables ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table of the contract: its file name, model, whether it must be present, and its key."""

    name: str
    model: type[pa.DataFrameModel]
    required: bool
    primary_key: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        """Contract columns in declaration order."""
        return list(self.model.to_schema().columns)

    def column_meta(self, column: str) -> dict[str, Any]:
        """The ``metadata`` declared for ``column`` (kind, required, fk, choices)."""
        return dict(self.model.to_schema().columns[column].metadata or {})


# Dependency order: every table comes after the tables its foreign keys reference.
TABLES: tuple[TableSpec, ...] = (
    TableSpec("competencies", Competencies, True, ("competency_id",)),
    TableSpec("positions", Positions, True, ("position_id",)),
    TableSpec("catalog", Catalog, True, ("training_id",)),
    TableSpec("position_standards", PositionStandards, True, ("position_id", "competency_id")),
    TableSpec("catalog_competencies", CatalogCompetencies, True, ("training_id", "competency_id")),
    TableSpec("employees", Employees, True, ("nip",)),
    TableSpec("assessments", Assessments, False, ("nip", "competency_id", "assessed_on", "method")),
    TableSpec("skp", Skp, False, ("nip", "period")),
    TableSpec("behaviour", Behaviour, False, ("nip", "period", "core_value")),
    TableSpec("indicators", Indicators, False, ("nip", "period", "indicator_id")),
    TableSpec("daily_reports", DailyReports, False, ()),
    TableSpec("feedback", Feedback, False, ()),
    TableSpec("public_feedback", PublicFeedback, False, ("unit_id", "period", "element")),
    TableSpec("training_history", TrainingHistory, False, ("nip", "training_id", "enrolled_on")),
    TableSpec("jp_log", JpLog, False, ()),
)
TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLES}
