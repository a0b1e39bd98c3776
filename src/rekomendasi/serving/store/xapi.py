"""xAPI state: the statements platforms sent, the activity map, and the recommendations shown to platforms.

Three tables on the shared :data:`~rekomendasi.serving.store.db.METADATA`:

- ``xapi_statements``: one row per accepted statement, keyed by its id, so receiving it again is
  recognised (a duplicate, or a conflict when its content differs). The canonical JSON is kept beside the
  columns the training history reads. Rows are written once and never changed.
- ``xapi_activities``: activity IRI -> ``training_id`` (:class:`~rekomendasi.xapi.ActivityMap`).
- ``shown_recommendations``: one row per recommendation answered to a platform key or widget token,
  which ``GET /v1/xapi/statements`` and ``rekomendasi xapi export`` turn into ``recommended`` statements.

None is hash-chained: the audit log already records who sent or read what. The statements' feedback rows
(``completed``, ``enrolled``) go to the chained feedback table in the same transaction as the statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from rekomendasi.serving.auth import Principal
from rekomendasi.serving.store.db import (
    METADATA,
    ROW_ID,
    Database,
    StateInputError,
    UtcDateTime,
    lock_id,
    required,
    utc_now,
)
from rekomendasi.serving.store.feedback import FeedbackEvent, FeedbackStore
from rekomendasi.xapi import (
    VIAS,
    HistoryEvent,
    IncomingStatement,
    Outcome,
    ShownRecommendation,
    StatementResult,
    check_iri,
    history_frame,
)
from rekomendasi.xapi.statements import comparable
from rekomendasi.xapi.verbs import Verb, by_short

XAPI_LOCK = lock_id("xapi_statements")
"""Held by every statement write, so two requests carrying one statement id never both store it."""
_IN_BATCH = 500  # ids per IN (...) lookup: far below every driver's parameter limit
_FEEDBACK_OF = {
    Verb.COMPLETED: FeedbackEvent.COMPLETED,
    Verb.PASSED: FeedbackEvent.COMPLETED,
    Verb.REGISTERED: FeedbackEvent.ENROLLED,
}
"""The feedback a stored statement also records, so feedback exports (training data) include it."""

XAPI_STATEMENTS = sa.Table(
    "xapi_statements",
    METADATA,
    sa.Column("statement_id", sa.String(36), primary_key=True),
    sa.Column("nip", sa.String(32), nullable=False),
    sa.Column("training_id", sa.String(100), nullable=False),
    sa.Column("verb", sa.String(16), nullable=False),  # Verb.short
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # the date in the statement's own time zone
    sa.Column("stored_at", UtcDateTime, nullable=False, index=True),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("score", sa.Float(precision=53), nullable=True),  # 0-100
    sa.Column("success", sa.Boolean, nullable=True),
    sa.Column("completion", sa.Boolean, nullable=True),
    sa.Column("raw", sa.Text, nullable=False),  # canonical JSON
    sa.Index("ix_xapi_statements_nip_training", "nip", "training_id"),
)
XAPI_ACTIVITIES = sa.Table(
    "xapi_activities",
    METADATA,
    sa.Column("iri", sa.String(1000), primary_key=True),
    sa.Column("training_id", sa.String(100), nullable=False),
    sa.Column("mapped_at", UtcDateTime, nullable=False),
)
SHOWN_RECOMMENDATIONS = sa.Table(
    "shown_recommendations",
    METADATA,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("nip", sa.String(32), nullable=False),
    sa.Column("training_id", sa.String(100), nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("model_version", sa.String(200), nullable=False),
    sa.Column("via", sa.String(8), nullable=False),  # api | widget
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Index("ix_shown_recommendations_key_id", "key_id", "id"),
    sa.Index("ix_shown_recommendations_at", "at"),
)
XAPI_TABLES = (XAPI_STATEMENTS, XAPI_ACTIVITIES, SHOWN_RECOMMENDATIONS)


class XapiStore:
    """xAPI statements, the activity map and shown recommendations. Safe to share between threads.

    Open it through :class:`~rekomendasi.serving.store.Stores`, which creates its tables.

    Args:
        db: The state database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def ingest(
        self,
        principal: Principal,
        statements: Sequence[IncomingStatement],
        feedback: FeedbackStore | None = None,
    ) -> list[StatementResult]:
        """Store the statements whose ids are new, in one transaction; return one result per statement.

        A statement whose id is already stored (or earlier in ``statements``) is not stored again: a
        ``duplicate`` when it says the same (:func:`~rekomendasi.xapi.statements.comparable`), else a
        ``conflict`` (the first one stands; a stored statement is never changed).

        The caller has checked that each statement's employee is the principal's to report on and that
        its training is in the catalogue: the store knows neither agencies nor the catalogue.

        Args:
            principal: Who sent them (its key_id is kept with each row).
            statements: Valid statements about catalogue entries, in the order received.
            feedback: When given, each stored ``completed``/``passed`` statement is also recorded there as
                ``completed`` feedback and each ``registered`` one as ``enrolled``, in the same
                transaction: a statement is stored if and only if its feedback row is.
        """
        now = utc_now()
        locks = (XAPI_LOCK, feedback.chain.lock) if feedback is not None else (XAPI_LOCK,)
        results: list[StatementResult] = []
        rows: list[dict[str, object]] = []
        with self._db.writing(*locks) as conn:
            known = self._stored_raw(conn, [s.statement_id for s in statements])
            for statement in statements:
                prior = known.get(statement.statement_id)
                if prior is not None:
                    results.append(_again(statement, prior))
                    continue
                known[statement.statement_id] = statement.raw
                rows.append(_statement_row(principal, statement, now))
                results.append(StatementResult(statement.statement_id, Outcome.STORED))
            if rows:
                conn.execute(XAPI_STATEMENTS.insert(), rows)
            if feedback is not None:
                feedback.chain.append(conn, _feedback_rows(principal, rows, now))
        return results

    def record_shown(
        self,
        principal: Principal,
        nip: str,
        items: Sequence[tuple[str, int]],
        model_version: str,
        via: str,
        request_id: str | None,
    ) -> None:
        """Record the recommendations answered to a platform key or widget token for one employee: one
        insert of one transaction, as it runs once per answer.

        Args:
            principal: The key answered (a widget token's key).
            nip: The employee.
            items: (training_id, rank) of each recommendation answered; nothing is written when empty.
            model_version: The model that ranked them.
            via: ``api`` or ``widget``.
            request_id: The request's id (its audit row's), if any.

        Raises:
            StateInputError: ``via`` is neither ``api`` nor ``widget``.
        """
        if via not in VIAS:
            raise StateInputError(f"via must be one of {', '.join(VIAS)}, got {via!r}")
        if not items:
            return
        at = utc_now()
        rows = [
            {
                "at": at,
                "key_id": principal.key_id,
                "nip": nip,
                "training_id": training_id,
                "rank": rank,
                "model_version": model_version,
                "via": via,
                "request_id": request_id,
            }
            for training_id, rank in items
        ]
        with self._db.writing() as conn:
            conn.execute(SHOWN_RECOMMENDATIONS.insert(), rows)

    def shown(
        self,
        since: dt.datetime | None,
        key_id: str | None,
        limit: int,
        after: int | None = None,
    ) -> list[ShownRecommendation]:
        """Shown recommendations, oldest first (by row id).

        Args:
            since: Only rows shown after this time (exclusive, timezone-aware); None for all.
            key_id: Only rows answered to this key; None for every key.
            limit: At most this many rows (>= 1).
            after: Only rows with a larger id (the cursor of the previous page); None from the start.

        Raises:
            StateInputError: ``limit`` below 1, or a naive ``since``.
        """
        if limit < 1:
            raise StateInputError(f"limit must be at least 1, got {limit}")
        table = SHOWN_RECOMMENDATIONS
        stmt = sa.select(table).order_by(table.c.id).limit(limit)
        if since is not None:
            stmt = stmt.where(table.c.at > since)
        if key_id is not None:
            stmt = stmt.where(table.c.key_id == key_id)
        if after is not None:
            stmt = stmt.where(table.c.id > after)
        with self._db.reading() as conn:
            found = conn.execute(stmt).mappings().all()
        return [
            ShownRecommendation(
                id=int(row["id"]),
                at=row["at"],
                key_id=row["key_id"],
                nip=row["nip"],
                training_id=row["training_id"],
                rank=int(row["rank"]),
                model_version=row["model_version"],
                via=row["via"],
                request_id=row["request_id"],
            )
            for row in found
        ]

    def map_activity(self, iri: str, training_id: str) -> str | None:
        """Map activity ``iri`` to catalogue entry ``training_id``; return the entry it mapped to before
        (None when new or unchanged). Statements already stored keep the entry they were stored with.

        Raises:
            StateInputError: ``iri`` is not an absolute IRI or longer than 1,000 characters; an empty
                ``training_id`` or one longer than 100 characters.
        """
        try:
            iri = check_iri(iri)
        except ValueError as err:
            raise StateInputError(f"activity IRI {err}") from err
        training_id = required(training_id, "training_id")
        if len(iri) > 1000 or len(training_id) > 100:
            raise StateInputError("an activity IRI has at most 1,000 characters and a training_id 100")
        table = XAPI_ACTIVITIES
        with self._db.writing() as conn:
            before = conn.execute(sa.select(table.c.training_id).where(table.c.iri == iri)).scalar()
            if before is None:
                conn.execute(table.insert(), {"iri": iri, "training_id": training_id, "mapped_at": utc_now()})
                return None
            if before == training_id:
                return None
            conn.execute(
                table.update().where(table.c.iri == iri).values(training_id=training_id, mapped_at=utc_now())
            )
            return str(before)

    def activities(self) -> list[tuple[str, str]]:
        """The activity map as (iri, training_id) pairs, in the order they were mapped."""
        table = XAPI_ACTIVITIES
        stmt = sa.select(table.c.iri, table.c.training_id).order_by(table.c.mapped_at, table.c.iri)
        with self._db.reading() as conn:
            return [(str(iri), str(training_id)) for iri, training_id in conn.execute(stmt)]

    def history_rows(self, since: dt.datetime | None = None) -> pd.DataFrame:
        """The stored statements as training_history rows (:func:`~rekomendasi.xapi.history_frame`).

        Args:
            since: Only the rows of employees and entries with a statement stored after this time; their
                rows are computed from all their statements, so an enrolment opened before ``since``
                keeps its date. None for all.
        """
        table = XAPI_STATEMENTS
        stmt = sa.select(
            table.c.nip,
            table.c.training_id,
            table.c.verb,
            table.c.day,
            table.c.timestamp,
            table.c.statement_id,
            table.c.score,
            table.c.success,
        )
        if since is not None:
            recent = table.alias("recent")
            stmt = stmt.where(
                sa.exists().where(
                    recent.c.nip == table.c.nip,
                    recent.c.training_id == table.c.training_id,
                    recent.c.stored_at > since,
                )
            )
        with self._db.reading() as conn:
            found = conn.execute(stmt).all()
        return history_frame(
            HistoryEvent(
                nip=row.nip,
                training_id=row.training_id,
                verb=by_short(row.verb),
                day=row.day,
                timestamp=row.timestamp,
                statement_id=row.statement_id,
                score=row.score,
                success=row.success,
            )
            for row in found
        )

    @staticmethod
    def _stored_raw(conn: sa.Connection, ids: Sequence[str]) -> dict[str, str]:
        """The stored JSON of those of ``ids`` already stored."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _IN_BATCH):
            part = unique[start : start + _IN_BATCH]
            stmt = sa.select(XAPI_STATEMENTS.c.statement_id, XAPI_STATEMENTS.c.raw).where(
                XAPI_STATEMENTS.c.statement_id.in_(part)
            )
            found.update((str(sid), str(raw)) for sid, raw in conn.execute(stmt))
        return found


def _again(statement: IncomingStatement, prior: str) -> StatementResult:
    """The result for a statement whose id is already stored with JSON ``prior``."""
    if comparable(prior) == comparable(statement.raw):
        return StatementResult(
            statement.statement_id, Outcome.DUPLICATE, "already stored with the same content; nothing done"
        )
    return StatementResult(
        statement.statement_id,
        Outcome.CONFLICT,
        "a statement with this id is already stored with other content; a stored statement is never "
        "changed: give a new statement a new id",
    )


def _statement_row(principal: Principal, statement: IncomingStatement, now: dt.datetime) -> dict[str, object]:
    return {
        "statement_id": statement.statement_id,
        "nip": statement.nip,
        "training_id": statement.training_id,
        "verb": statement.verb.short,
        "timestamp": statement.timestamp,
        "day": statement.day,
        "stored_at": now,
        "key_id": principal.key_id,
        "score": statement.score,
        "success": statement.success,
        "completion": statement.completion,
        "raw": statement.raw,
    }


def _feedback_rows(
    principal: Principal, stored: Sequence[dict[str, object]], now: dt.datetime
) -> list[dict[str, object]]:
    """Feedback rows (the feedback table's columns) of the newly stored statements that record one."""
    rows: list[dict[str, object]] = []
    for row in stored:
        event = _FEEDBACK_OF.get(by_short(str(row["verb"])))
        if event is None:
            continue
        rows.append(
            {
                "nip": row["nip"],
                "training_id": row["training_id"],
                "event": event.value,
                "reason": f"xAPI statement {row['statement_id']}",
                "model_version": None,
                "at": now,
                "key_id": principal.key_id,
                "corrects": None,
            }
        )
    return rows


__all__ = ["SHOWN_RECOMMENDATIONS", "XAPI_ACTIVITIES", "XAPI_STATEMENTS", "XAPI_TABLES", "XapiStore"]
