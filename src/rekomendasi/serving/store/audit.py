"""The append-only audit log of API requests, and the writer that batches its rows for a server.

Personal data (UU 27/2022): rows keep only keyed hashes of NIPs (:func:`~rekomendasi.serving.auth.hash_nip`),
so "what was recommended to whom, by which model" can be searched by person without the log itself being
a list of civil servants.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from rekomendasi.serving.auth import Principal, hash_nip, scrub_nips
from rekomendasi.serving.store.db import (
    METADATA,
    ROW_ID,
    Database,
    StateInputError,
    UtcDateTime,
    require_salt,
    utc_now,
)

logger = logging.getLogger(__name__)

AUDIT_LOG = sa.Table(
    "audit_log",
    METADATA,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("key_id", sa.String(32), nullable=True),  # None: the request had no valid key
    sa.Column("role", sa.String(16), nullable=True),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("nip_count", sa.Integer, nullable=False),
    sa.Column("nip_hashes", sa.Text, nullable=False),  # hash_nip values joined by ";"
    sa.Column("model_version", sa.String(200), nullable=True),
    sa.Column("snapshot_id", sa.String(200), nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

_SQLITE_APPEND_ONLY = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {op} is not allowed'); END"
    for op in ("UPDATE", "DELETE")
)


class AuditLog:
    """The audit log: rows are appended and read, never changed (sqlite enforces it with triggers).

    Args:
        db: The state database; the ``audit_log`` table (and its triggers on sqlite) are created if missing.
        nip_salt: Secret key of :func:`~rekomendasi.serving.auth.hash_nip`; non-empty.

    Raises:
        StateInputError: ``nip_salt`` is empty.
        ConfigError: The database cannot be opened.
    """

    def __init__(self, db: Database, nip_salt: str) -> None:
        self._nip_salt = require_salt(nip_salt)
        self._db = db
        db.create([AUDIT_LOG], sqlite_ddl=_SQLITE_APPEND_ONLY)

    def audit_row(
        self,
        principal: Principal | None,
        action: str,
        nips: Sequence[str],
        model_version: str | None,
        snapshot_id: str | None,
        status: int,
        detail: str = "",
    ) -> dict[str, object]:
        """One audit-log row, with NIPs hashed (write it with :meth:`write`).

        NIPs are stored only as ``hash_nip`` values. As a safety net, any NIP in ``action`` or ``detail``
        is replaced by ``nip:<hash>`` too (:func:`~rekomendasi.serving.auth.scrub_nips`), so a raw path
        such as ``/employees/<nip>`` is safe.

        Args:
            principal: The caller, or None when the request carried no valid key.
            action: What was asked, e.g. ``"POST /recommendations"``.
            nips: NIPs the answer concerned (may be empty).
            model_version: Model that produced the answer, if any.
            snapshot_id: Feature snapshot the answer was computed from, if any.
            status: HTTP status of the answer.
            detail: Free text, e.g. an error message.
        """
        return {
            "at": utc_now(),
            "key_id": principal.key_id if principal else None,
            "role": principal.role.value if principal else None,
            "action": scrub_nips(action, self._nip_salt),
            "nip_count": len(nips),
            "nip_hashes": ";".join(hash_nip(nip, self._nip_salt) for nip in nips),
            "model_version": model_version,
            "snapshot_id": snapshot_id,
            "status": int(status),
            "detail": scrub_nips(detail, self._nip_salt),
        }

    def append(
        self,
        principal: Principal | None,
        action: str,
        nips: Sequence[str],
        model_version: str | None,
        snapshot_id: str | None,
        status: int,
        detail: str = "",
    ) -> None:
        """Append one row now (see :meth:`audit_row` for the fields)."""
        self.write([self.audit_row(principal, action, nips, model_version, snapshot_id, status, detail)])

    def write(self, rows: Sequence[dict[str, object]]) -> None:
        """Append rows built by :meth:`audit_row` in one transaction (a server batches them)."""
        if rows:
            with self._db.writing() as conn:
                conn.execute(AUDIT_LOG.insert(), list(rows))

    def read(
        self, limit: int | None = 100, since: dt.datetime | None = None, nip: str | None = None
    ) -> pd.DataFrame:
        """Return the latest audit rows, oldest first, one column per :data:`AUDIT_LOG` column.

        Args:
            limit: At most this many rows (the most recent ones); None for all.
            since: Only rows at or after this timezone-aware time.
            nip: Only rows that concern this NIP (matched by its hash), e.g. for a person's access request.

        Raises:
            StateInputError: ``limit`` below 1 or ``since`` without a timezone.
        """
        stmt = sa.select(AUDIT_LOG).order_by(AUDIT_LOG.c.id.desc())
        if limit is not None:
            if limit < 1:
                raise StateInputError(f"limit must be at least 1, got {limit}")
            stmt = stmt.limit(limit)
        if since is not None:
            if since.tzinfo is None:
                raise StateInputError(f"since must be timezone-aware, got naive {since.isoformat()}")
            stmt = stmt.where(AUDIT_LOG.c.at >= since)
        if nip is not None:
            stmt = stmt.where(AUDIT_LOG.c.nip_hashes.contains(hash_nip(nip, self._nip_salt)))
        frame = self._db.frame(stmt, [c.name for c in AUDIT_LOG.columns])
        return frame.iloc[::-1].reset_index(drop=True)


class AuditWriter:
    """Appends audit rows for the request handlers.

    With ``flush_seconds`` 0 each row is written before the answer leaves. Otherwise rows (timestamped
    when the request is answered) are collected and a background thread appends them in one transaction
    every ``flush_seconds``, so no request waits on the database lock that server processes share; rows
    still in memory when the process is killed hard (not on a normal stop, which flushes) are lost.

    Args:
        log: Where the rows go.
        flush_seconds: Seconds between batched writes (>= 0); 0 writes each row at once.
    """

    def __init__(self, log: AuditLog, flush_seconds: float) -> None:
        self.log = log
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if flush_seconds > 0:
            self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
            self._thread.start()

    def __call__(
        self,
        principal: Principal | None,
        action: str,
        nips: Sequence[str],
        model_version: str | None,
        snapshot_id: str | None,
        status: int,
        detail: str = "",
    ) -> None:
        """Record one request (the fields of :meth:`AuditLog.audit_row`)."""
        row = self.log.audit_row(principal, action, nips, model_version, snapshot_id, status, detail)
        if self._thread is None:
            self.log.write([row])
            return
        with self._lock:
            self._rows.append(row)

    def flush(self) -> None:
        """Write what is buffered now. If the write fails the rows go back to the front of the buffer
        (for the next flush) and the error is raised."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            self.log.write(rows)
        except Exception:
            with self._lock:
                self._rows[:0] = rows
            raise

    def close(self) -> None:
        """Stop the thread and write the rest."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # a failed flush must not kill the thread; the rows stay for the next one
                logger.exception("audit flush failed; retrying")
