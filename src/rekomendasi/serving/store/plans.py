"""Agency plans (AKPK) kept in the state database: the request, the summary and every assignment.

A plan is written once, in one transaction, and then only read: the API answers its summary, pages of its
assignments and its files from here, so a plan can be shown and exported again exactly as it was solved
(the request and the snapshot and model it came from are kept with it). Who read which plan is in the
audit log, like every other request.

Two tables on the shared :data:`~rekomendasi.serving.store.db.METADATA`: ``plans`` (one row per plan) and
``plan_assignments`` (one row per assignment, ``seq`` keeping the plan's order; its columns are
:data:`~rekomendasi.plans.schemas.ASSIGNMENT_COLUMNS`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from rekomendasi.errors import NotFound
from rekomendasi.plans.schemas import ASSIGNMENT_COLUMNS, Assignments, Plan, PlanRequest, PlanSummary
from rekomendasi.serving.store.db import METADATA, Database, StateInputError, UtcDateTime, utc_now

SAVE_BATCH = 5000
"""Assignment rows per INSERT round trip: large enough that a 30,000-row plan takes a few statements,
small enough that one batch's parameters stay a few megabytes."""
PLAN_ID_BYTES = 12
"""Random bytes of a plan id (96 bits: not guessable), written as 16 URL-safe characters."""

PLANS = sa.Table(
    "plans",
    METADATA,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("instansi_id", sa.String(200), nullable=False, index=True),
    sa.Column("unit_id", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(32), nullable=False),  # the API key's key_id
    sa.Column("request", sa.Text, nullable=False),  # JSON of PlanRequest.to_dict()
    sa.Column("summary", sa.Text, nullable=False),  # JSON of PlanSummary.to_dict()
    sa.Column("snapshot_id", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(200), nullable=False),
    sa.Column("model_run_id", sa.String(200), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
)


def _sql_type(dtype: str) -> sa.types.TypeEngine[Any]:
    """The column type of an :class:`~rekomendasi.plans.schemas.Assignments` dtype."""
    if dtype.startswith("int"):
        return sa.BigInteger()
    if dtype.startswith("float"):
        return sa.Float(precision=53)  # double precision on PostgreSQL too: gains round-trip exactly
    if dtype == "bool":
        return sa.Boolean()
    return sa.Text()


_SCHEMA = Assignments.to_schema()
PLAN_ASSIGNMENTS = sa.Table(
    "plan_assignments",
    METADATA,
    sa.Column("plan_id", sa.String(64), sa.ForeignKey(PLANS.c.plan_id), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),  # the row's place in the plan
    *(
        sa.Column(name, _sql_type(str(column.dtype)), nullable=bool(column.nullable))
        for name, column in _SCHEMA.columns.items()
    ),
)
_DTYPES = {name: str(column.dtype) for name, column in _SCHEMA.columns.items()}
_PANDAS_TYPES: dict[str, Any] = {"int64": "int64", "float64": "float64", "bool": "bool"}


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """A stored plan without its assignments.

    Attributes:
        plan_id: the plan's random id.
        agency: the agency planned (``instansi_id``); unit: the unit, or None for the whole agency.
        created_at: when it was saved (UTC); created_by: the key_id of the API key that asked for it.
        request, summary: what was asked and what the plan achieves.
        snapshot_id, model_version, model_run_id: what it was computed from.
        rows: its number of assignments (>= 0).
    """

    plan_id: str
    agency: str
    unit: str | None
    created_at: dt.datetime
    created_by: str
    request: PlanRequest
    summary: PlanSummary
    snapshot_id: str
    model_version: str
    model_run_id: str
    rows: int


class PlanStore:
    """Plans in the state database. Safe to share between threads.

    Open it through :class:`~rekomendasi.serving.store.Stores`, which creates its tables.

    Args:
        db: The state database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, plan: Plan, created_by: str) -> str:
        """Store ``plan`` (request, summary and every assignment, in one transaction); return its new id.

        Args:
            plan: A solved plan; its assignments have the columns of
                :class:`~rekomendasi.plans.schemas.Assignments`, in the plan's order.
            created_by: The key_id of the API key that asked for it (an operator's name from the CLI).

        Raises:
            StateInputError: ``created_by`` is empty or longer than 32 characters, or the assignments lack
                a column of :data:`~rekomendasi.plans.schemas.ASSIGNMENT_COLUMNS`.
        """
        if not created_by.strip() or len(created_by) > 32:
            raise StateInputError(f"created_by must be a key id of 1-32 characters, got {created_by!r}")
        missing = [c for c in ASSIGNMENT_COLUMNS if c not in plan.assignments.columns]
        if missing:
            raise StateInputError(f"the plan's assignments lack the columns {', '.join(missing)}")
        plan_id = secrets.token_urlsafe(PLAN_ID_BYTES)
        summary = plan.summary
        head = {
            "plan_id": plan_id,
            "instansi_id": plan.request.agency,
            "unit_id": plan.request.unit,
            "created_at": utc_now(),
            "created_by": created_by,
            "request": _dumps(plan.request.to_dict()),
            "summary": _dumps(summary.to_dict()),
            "snapshot_id": summary.snapshot_id,
            "model_version": summary.model_version,
            "model_run_id": summary.model_run_id,
            "rows": len(plan.assignments),
        }
        with self._db.writing() as conn:
            conn.execute(PLANS.insert(), head)
            for batch in _batches(plan_id, plan.assignments):
                conn.execute(PLAN_ASSIGNMENTS.insert(), batch)
        return plan_id

    def get(self, plan_id: str) -> StoredPlan | None:
        """The plan ``plan_id`` without its assignments, or None when there is none."""
        with self._db.reading() as conn:
            row = conn.execute(sa.select(PLANS).where(PLANS.c.plan_id == plan_id)).mappings().first()
        if row is None:
            return None
        raw_request = json.loads(row["request"])
        raw_request["fair_coverage"] = tuple(raw_request.get("fair_coverage", ()))
        return StoredPlan(
            plan_id=row["plan_id"],
            agency=row["instansi_id"],
            unit=row["unit_id"],
            created_at=row["created_at"],
            created_by=row["created_by"],
            request=PlanRequest(**raw_request),
            summary=PlanSummary.from_dict(json.loads(row["summary"])),
            snapshot_id=row["snapshot_id"],
            model_version=row["model_version"],
            model_run_id=row["model_run_id"],
            rows=int(row["rows"]),
        )

    def recent(self, agency: str, limit: int = 10) -> list[StoredPlan]:
        """The agency's latest plans (without assignments), newest first."""
        stmt = (
            sa.select(PLANS.c.plan_id)
            .where(PLANS.c.instansi_id == agency)
            .order_by(PLANS.c.created_at.desc(), PLANS.c.plan_id)
            .limit(limit)
        )
        with self._db.reading() as conn:
            ids = [str(row[0]) for row in conn.execute(stmt)]
        return [found for plan_id in ids if (found := self.get(plan_id)) is not None]

    def assignments(self, plan_id: str, offset: int = 0, limit: int | None = None) -> pd.DataFrame:
        """Assignments ``offset`` to ``offset + limit`` of the plan, in its order (columns
        :data:`~rekomendasi.plans.schemas.ASSIGNMENT_COLUMNS`; ``expected_gain`` NaN where stored null).
        Empty for an unknown plan or past its end.

        Args:
            plan_id: The plan.
            offset: Rows to skip (>= 0).
            limit: At most this many rows (>= 0); None for all.

        Raises:
            StateInputError: a negative ``offset`` or ``limit``.
        """
        if offset < 0 or (limit is not None and limit < 0):
            raise StateInputError(f"offset and limit must be >= 0, got {offset} and {limit}")
        columns = [PLAN_ASSIGNMENTS.c[name] for name in ASSIGNMENT_COLUMNS]
        stmt = (
            sa.select(*columns)
            .where(PLAN_ASSIGNMENTS.c.plan_id == plan_id)
            .order_by(PLAN_ASSIGNMENTS.c.seq)
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.reading() as conn:
            rows = conn.execute(stmt).all()
        return _frame(rows)

    def plan(self, plan_id: str) -> Plan:
        """The whole plan ``plan_id`` (for its files).

        Raises:
            NotFound: there is no plan ``plan_id``.
        """
        stored = self.get(plan_id)
        if stored is None:
            raise NotFound(f"no plan {plan_id}.")
        return Plan(stored.request, self.assignments(plan_id), stored.summary)


def _batches(plan_id: str, assignments: pd.DataFrame) -> Iterator[list[dict[str, object]]]:
    """The assignments as insert parameters, :data:`SAVE_BATCH` rows at a time, with plain Python values
    (numpy scalars are not every driver's business) and NULL for a missing gain."""
    frame = assignments[list(ASSIGNMENT_COLUMNS)].reset_index(drop=True)
    for start in range(0, len(frame), SAVE_BATCH):
        part = frame.iloc[start : start + SAVE_BATCH]
        values = {name: part[name].tolist() for name in ASSIGNMENT_COLUMNS}
        batch: list[dict[str, object]] = []
        for i in range(len(part)):
            row: dict[str, object] = {"plan_id": plan_id, "seq": start + i}
            for name in ASSIGNMENT_COLUMNS:
                value = values[name][i]
                row[name] = None if isinstance(value, float) and math.isnan(value) else value
            batch.append(row)
        yield batch


def _frame(rows: Sequence[sa.Row[Any]]) -> pd.DataFrame:
    """Rows read back as an :class:`~rekomendasi.plans.schemas.Assignments` frame (NIPs stay text)."""
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(ASSIGNMENT_COLUMNS))
    # a null gain comes back as None, which a float column holds as NaN, as it was saved
    return frame.astype({name: _PANDAS_TYPES.get(dtype, str) for name, dtype in _DTYPES.items()})


def _dumps(value: dict[str, object]) -> str:
    return json.dumps(value, sort_keys=True, default=_plain)


def _plain(value: object) -> object:
    """Numpy scalars and dates in a summary's ``extra`` as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"a plan summary holds a {type(value).__name__}, which has no JSON form: {value!r}")
