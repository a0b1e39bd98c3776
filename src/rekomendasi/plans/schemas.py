"""What an agency plan (AKPK) is made of: the request, the assignment table and the summary.

Every output of a plan (the CLI's CSV/Parquet/XLSX files, the API's answers, the stored plans) reads these
types, so a column or a figure has one name everywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Literal

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from rekomendasi.contract.schemas import NIP_PATTERN

Lang = Literal["id", "en"]
FAIR_COLUMNS = ("status", "gender", "unit_id")
"""Employee columns a coverage floor by group may name (``PlanRequest.fair_coverage``)."""


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What a planner asks for.

    Attributes:
        agency: the agency (``instansi_id``).
        budget_idr: money for the year's trainings (> 0); the plan's total cost never exceeds it.
        year: the plan year; None: the year after the as-of date. JP already earned count towards the
            floor only when the plan year is the as-of year.
        min_jp: the yearly JP floor per person (20 by PP 17/2020).
        unit: plan one work unit of the agency only; None: every unit.
        max_cost_per_person_idr: a cap on one person's personal trainings (mandatory programmes not
            counted); None: no cap.
        fair_coverage: employee columns (``FAIR_COLUMNS``) whose every group must reach the JP floor at
            least at the agency-wide rate (less one person, so a small group is not made infeasible).
        lang: language of the reasons and of the summary's sentences.
        time_limit_s: the time limit of making the plan, problem and solves (the plan reports its
            optimality gap when the solver stops early); writing its reasons comes within about a tenth
            more.
    """

    agency: str
    budget_idr: int
    year: int | None = None
    min_jp: float = 20.0
    unit: str | None = None
    max_cost_per_person_idr: int | None = None
    fair_coverage: tuple[str, ...] = ()
    lang: Lang = "id"
    time_limit_s: float = 60.0

    def to_dict(self) -> dict[str, object]:
        """The request as JSON-ready values (stored with a plan, so it can be reproduced)."""
        out = asdict(self)
        out["fair_coverage"] = list(self.fair_coverage)
        return out


class Assignments(pa.DataFrameModel):
    """One row per (employee, training) of a plan, sorted by unit, nip, mandatory first, then gain.

    ``expected_gain`` is the calibrated expected gap closure in competency levels (the model's score
    mapped through the isotonic calibration learned from outcomes); null for a mandatory programme, which is
    assigned because it is due, not for its gain.
    """

    nip: Series[str] = pa.Field(str_matches=NIP_PATTERN)
    unit_id: Series[str]
    training_id: Series[str]
    title: Series[str]
    modality: Series[str]
    jp: Series[float] = pa.Field(gt=0)
    cost_idr: Series[int] = pa.Field(ge=0)
    expected_gain: Series[float] = pa.Field(nullable=True, ge=0)
    mandatory: Series[bool]
    competencies: Series[str]  # ';'-joined competency ids of the gaps it addresses ('' when none)
    reason_id: Series[str]
    reason_en: Series[str]

    class Config:
        strict = True
        coerce = False


ASSIGNMENT_COLUMNS = tuple(Assignments.to_schema().columns)
"""The stored columns, in order. Files and answers show ``reason`` (in the request's language) in place of
``reason_id`` / ``reason_en``: see :func:`output_table`."""
OUTPUT_COLUMNS = (
    "nip",
    "unit_id",
    "training_id",
    "title",
    "modality",
    "jp",
    "cost_idr",
    "expected_gain",
    "mandatory",
    "competencies",
    "reason",
)


def output_table(assignments: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """The assignments as files and answers show them: ``reason`` in ``lang``, columns ``OUTPUT_COLUMNS``."""
    out = assignments.assign(reason=assignments[f"reason_{lang}"])
    return out[list(OUTPUT_COLUMNS)].reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class GroupLine:
    """Coverage and gain of one group of staff (a unit, a gender, PNS or PPPK).

    Attributes:
        dimension: ``unit_id``, ``gender``, ``status`` (or ``all``).
        group: the group's value (``(unknown)`` when the data has none).
        staff: active employees planned for.
        at_floor: of them, those whose planned JP (plus JP already earned, in the as-of year) reach the
            floor.
        cost_idr: planned cost.
        expected_gain: sum of calibrated expected gains (levels).
        assignments: planned trainings.
    """

    dimension: str
    group: str
    staff: int
    at_floor: int
    cost_idr: int
    expected_gain: float
    assignments: int

    @property
    def share_at_floor(self) -> float:
        """float: ``at_floor / staff`` (0 with no staff)."""
        return self.at_floor / self.staff if self.staff else 0.0


@dataclass(frozen=True, slots=True)
class Binding:
    """A constraint that keeps the plan from what the planner asked, in the planner's words.

    Attributes:
        kind: ``budget``, ``mandatory``, ``seats``, ``person_cap``, ``fair_coverage``, ``no_candidates``.
        text_id, text_en: one sentence, e.g. "Anggaran Rp 1,2 M memenuhi 20 JP untuk 61% pegawai; untuk
            semua pegawai dibutuhkan Rp 2,0 M."
        amount: the size of the shortfall in the kind's unit (rupiah for ``budget``; people for
            ``mandatory`` and ``no_candidates``; trainings for ``seats``), when it has one.
    """

    kind: str
    text_id: str
    text_en: str
    amount: float | None = None

    def text(self, lang: Lang) -> str:
        return self.text_id if lang == "id" else self.text_en


@dataclass(frozen=True)
class PlanSummary:
    """What a plan achieves and what binds it.

    Attributes:
        agency, unit, year, as_of: what was planned, for when, from evidence up to when.
        budget_idr, total_cost_idr: the money given and spent (total_cost_idr <= budget_idr).
        min_jp: the floor.
        staff, at_floor: active employees planned for; those reaching the floor.
        expected_gain: sum of calibrated expected gains (levels), personal trainings only.
        mandatory_due, mandatory_funded: mandatory programmes due (not enrolled) and funded.
        budget_for_all_idr: the least cost that brings everyone to the floor (mandatory included) from
            their candidates; None when some cannot reach it from what the catalogue offers them.
        solver_status: HiGHS's status in words (``optimal``, ``time limit``...).
        mip_gap: the relative optimality gap of the gain objective at the end (0 when proven optimal).
        solve_seconds: wall time of the solves.
        groups: coverage and gain by unit, gender and status (``all`` first).
        binding: constraints that bind, in words.
        snapshot_id, model_version, model_run_id, store: what the plan was computed from.
    """

    agency: str
    unit: str | None
    year: int
    as_of: dt.date
    budget_idr: int
    total_cost_idr: int
    min_jp: float
    staff: int
    at_floor: int
    expected_gain: float
    mandatory_due: int
    mandatory_funded: int
    budget_for_all_idr: int | None
    solver_status: str
    mip_gap: float
    solve_seconds: float
    groups: tuple[GroupLine, ...]
    binding: tuple[Binding, ...]
    snapshot_id: str
    model_version: str
    model_run_id: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def share_at_floor(self) -> float:
        """float: ``at_floor / staff`` (0 with no staff)."""
        return self.at_floor / self.staff if self.staff else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values (dates as ISO text, groups and binding as lists of objects)."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["share_at_floor"] = self.share_at_floor
        out["groups"] = [asdict(g) | {"share_at_floor": g.share_at_floor} for g in self.groups]
        out["binding"] = [asdict(b) for b in self.binding]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> PlanSummary:
        """The inverse of :meth:`to_dict` (stored plans)."""
        values = dict(raw)
        values.pop("share_at_floor", None)
        values["as_of"] = dt.date.fromisoformat(str(values["as_of"]))
        values["groups"] = tuple(
            GroupLine(**{k: v for k, v in g.items() if k != "share_at_floor"})
            for g in values["groups"]  # type: ignore[attr-defined]
        )
        values["binding"] = tuple(Binding(**b) for b in values["binding"])  # type: ignore[attr-defined]
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Plan:
    """A solved plan: the request, the assignments (:class:`Assignments`) and the summary."""

    request: PlanRequest
    assignments: pd.DataFrame
    summary: PlanSummary
