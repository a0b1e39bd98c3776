"""The append-only audit log of API requests and operator actions, hash-chained (:mod:`.chain`).

Personal data (UU 27/2022): rows keep only keyed hashes of NIPs (:func:`~rekomendasi.serving.auth.hash_nip`),
so "what was recommended to whom, by which model" can be searched by person without the log itself being
a list of civil servants.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rekomendasi.serving.auth import Principal, hash_nip, scrub_nips
from rekomendasi.serving.store.chain import HashChain, Row
from rekomendasi.serving.store.db import (
    METADATA,
    ROW_ID,
    Database,
    StateInputError,
    UtcDateTime,
    require_salt,
    utc_now,
)

OPERATOR_ROLE = "operator"
"""``role`` of rows that record an operator's command (keys, archive, migration), not an API request."""

AUDIT_LOG = sa.Table(
    "audit_log",
    METADATA,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=False),  # the chain sets it
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("key_id", sa.String(32), nullable=True),  # None: no valid key, or an operator row
    sa.Column("role", sa.String(16), nullable=True),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("nip_count", sa.Integer, nullable=False),
    sa.Column("nip_hashes", sa.Text, nullable=False),  # hash_nip values joined by ";"
    sa.Column("model_version", sa.String(200), nullable=True),
    sa.Column("snapshot_id", sa.String(200), nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),  # the request's X-Request-ID
    sa.Column("refused_count", sa.Integer, nullable=False),
    sa.Column("refused_hashes", sa.Text, nullable=False),  # NIPs asked for but refused, hashed
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),
)


class AuditLog:
    """The audit log: rows are appended and read, never changed (triggers refuse UPDATE and DELETE).

    Open it through :class:`~rekomendasi.serving.store.Stores`, which creates (or migrates) its table.

    Args:
        db: The state database.
        nip_salt: Secret key of :func:`~rekomendasi.serving.auth.hash_nip`; non-empty.
        key: The hash chain's key (:func:`~rekomendasi.serving.store.chain.chain_key`).

    Raises:
        StateInputError: ``nip_salt`` is empty.
    """

    def __init__(self, db: Database, nip_salt: str, key: bytes) -> None:
        self._nip_salt = require_salt(nip_salt)
        self._db = db
        self.chain = HashChain(AUDIT_LOG, key)

    def audit_row(
        self,
        principal: Principal | None,
        action: str,
        nips: Sequence[str],
        model_version: str | None,
        snapshot_id: str | None,
        status: int,
        detail: str = "",
        *,
        refused: Sequence[str] = (),
        request_id: str | None = None,
    ) -> dict[str, object]:
        """One audit-log row, with NIPs hashed (write it with :meth:`write`).

        NIPs are stored only as ``hash_nip`` values. As a safety net, any NIP in ``action``, ``detail``
        or ``request_id`` is replaced by ``nip:<hash>`` too (:func:`~rekomendasi.serving.auth.scrub_nips`),
        so a raw path such as ``/employees/<nip>`` is safe. Texts longer than their column are cut.

        Args:
            principal: The caller, or None when the request carried no valid key.
            action: What was asked, e.g. ``"POST /recommendations"``.
            nips: NIPs the answer concerned (may be empty).
            model_version: Model that produced the answer, if any.
            snapshot_id: Feature snapshot the answer was computed from, if any.
            status: HTTP status of the answer.
            detail: Free text, e.g. an error message.
            refused: NIPs the request asked for but was refused (e.g. other agencies' inside a bulk request).
            request_id: The request's X-Request-ID, if any (at most 64 characters are kept).
        """
        return {
            "at": utc_now(),
            "key_id": principal.key_id if principal else None,
            "role": principal.role.value if principal else None,
            "action": _fit(scrub_nips(action, self._nip_salt), AUDIT_LOG.c.action),
            "nip_count": len(nips),
            "nip_hashes": self._hashes(nips),
            "model_version": _fit(model_version, AUDIT_LOG.c.model_version),
            "snapshot_id": _fit(snapshot_id, AUDIT_LOG.c.snapshot_id),
            "status": int(status),
            "detail": scrub_nips(detail, self._nip_salt),
            "request_id": _fit(
                scrub_nips(request_id, self._nip_salt) if request_id is not None else None,
                AUDIT_LOG.c.request_id,
            ),
            "refused_count": len(refused),
            "refused_hashes": self._hashes(refused),
        }

    def operator_row(self, action: str, detail: Mapping[str, object]) -> dict[str, object]:
        """A row recording an operator's command (``role`` "operator", no key, no NIPs, status 200).

        ``detail`` is stored as JSON with sorted keys, as given: it holds ids, roles and hashes written by
        the service, never NIPs (not scrubbed, as a hex hash may look like a NIP).
        """
        return {
            "at": utc_now(),
            "key_id": None,
            "role": OPERATOR_ROLE,
            "action": _fit(action, AUDIT_LOG.c.action),
            "nip_count": 0,
            "nip_hashes": "",
            "model_version": None,
            "snapshot_id": None,
            "status": 200,
            "detail": json.dumps(dict(detail), sort_keys=True, separators=(",", ":")),
            "request_id": None,
            "refused_count": 0,
            "refused_hashes": "",
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
        *,
        refused: Sequence[str] = (),
        request_id: str | None = None,
    ) -> None:
        """Append one row now; it is committed when this returns (see :meth:`audit_row` for the fields)."""
        row = self.audit_row(
            principal,
            action,
            nips,
            model_version,
            snapshot_id,
            status,
            detail,
            refused=refused,
            request_id=request_id,
        )
        self.write([row])

    def write(self, rows: Sequence[Row]) -> None:
        """Append rows built by :meth:`audit_row` in one transaction, chained; committed when this returns.

        Raises:
            StateInputError: A row lacks a field or holds a value of another type.
            sqlalchemy.exc.SQLAlchemyError: The database refused the write (nothing was written).
        """
        if rows:
            with self._db.writing(self.chain.lock) as conn:
                self.chain.append(conn, rows)

    def write_in(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Append rows inside the caller's transaction, which must hold this chain's lock
        (``Database.writing(log.chain.lock)``): how a key's creation and its audit row commit together.

        Raises:
            StateInputError: A row lacks a field or holds a value of another type.
        """
        self.chain.append(conn, rows)

    def read(
        self, limit: int | None = 100, since: dt.datetime | None = None, nip: str | None = None
    ) -> pd.DataFrame:
        """Return the latest audit rows, oldest first, one column per :data:`AUDIT_LOG` column.

        Args:
            limit: At most this many rows (the most recent ones); None for all.
            since: Only rows at or after this timezone-aware time.
            nip: Only rows that concern this NIP, answered or refused (matched by its hash), e.g. for a
                person's access request.

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
            hashed = hash_nip(nip, self._nip_salt)
            stmt = stmt.where(
                sa.or_(AUDIT_LOG.c.nip_hashes.contains(hashed), AUDIT_LOG.c.refused_hashes.contains(hashed))
            )
        frame = self._db.frame(stmt, [c.name for c in AUDIT_LOG.columns])
        return frame.iloc[::-1].reset_index(drop=True)

    def _hashes(self, nips: Sequence[str]) -> str:
        return ";".join(hash_nip(nip, self._nip_salt) for nip in nips)


def _fit(text: str | None, column: sa.Column[str]) -> str | None:
    """``text`` cut to the column's length (PostgreSQL refuses longer values; sqlite would keep them)."""
    length = getattr(column.type, "length", None)
    return text if text is None or length is None else text[:length]
