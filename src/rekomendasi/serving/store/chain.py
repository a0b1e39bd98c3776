"""Keyed hash chains: what makes the append-only tables (audit log, feedback) tamper-evident.

Each row carries ``prev_hash``, the ``row_hash`` of the row before it in its table (:data:`GENESIS` for the
first), and ``row_hash`` = HMAC-SHA256(chain key, ``prev_hash`` + newline + :func:`canonical` of its fields,
id and ``at`` included). The key (:func:`chain_key`) is a secret of the deployment, so whoever can write to
the database but does not hold the key cannot compute a valid hash for an edited or a forged row; and as
each hash covers the one before it, a deleted row breaks the link of the row after it.

A writer appends inside :meth:`~rekomendasi.serving.store.db.Database.writing` holding the chain's lock
(:attr:`HashChain.lock`), so it reads the head and inserts after it with no other writer in between, even
in another process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rekomendasi.serving.store.db import StateInputError, lock_id

logger = logging.getLogger(__name__)

Row = Mapping[Any, Any]
"""A row: a SQLAlchemy ``RowMapping`` read from the database, or a dict built to be written."""
GENESIS = "0" * 64
"""``prev_hash`` of the first row of every chain."""
CHAIN_COLUMNS = ("prev_hash", "row_hash")
"""The columns a chained table adds; every other column is hashed."""
_CHAIN_KEY_LABEL = b"audit-chain"


def chain_key(nip_salt: str, audit_key: str | None = None) -> bytes:
    """The secret key of the hash chains: ``audit_key`` when set, else HMAC-SHA256(nip_salt, "audit-chain").

    Deriving it from ``nip_salt`` keeps a default deployment keyed; a separate ``audit_key`` lets the
    people who may read NIP hashes differ from those who could rebuild a tampered chain.

    Raises:
        StateInputError: ``audit_key`` is set but empty, or both are empty.
    """
    if audit_key is not None:
        if not audit_key:
            raise StateInputError("audit_key is empty; unset it (derive from nip_salt) or set a secret")
        return audit_key.encode()
    if not nip_salt:
        raise StateInputError("nip_salt is empty; set a secret salt so NIP hashes cannot be reversed")
    return hmac.new(nip_salt.encode(), _CHAIN_KEY_LABEL, hashlib.sha256).digest()


def iso_utc(value: dt.datetime) -> str:
    """``value`` as ISO 8601 in UTC with microseconds, e.g. ``2025-01-02T03:04:05.000006Z``.

    Raises:
        StateInputError: ``value`` is naive.
    """
    if value.tzinfo is None:
        raise StateInputError(f"timestamps must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Row, fields: Sequence[str]) -> str:
    """The fields of ``row`` as one JSON text: names sorted, datetimes by :func:`iso_utc`, no spaces.

    Raises:
        StateInputError: A field is missing or of a type a chained table does not hold.
    """
    values: dict[str, object] = {}
    for name in fields:
        if name not in row:
            raise StateInputError(f"a chained row lacks its field {name!r}")
        values[name] = _plain(name, row[name])
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _plain(name: str, value: object) -> object:
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)  # numpy integers too
    raise StateInputError(f"field {name!r} of a chained row is a {type(value).__name__}: {value!r}")


@dataclass(frozen=True, slots=True)
class Tip:
    """Where the next row of a chain goes.

    Attributes:
        next_id: Id of the next row (one after the last row in the table).
        prev_hash: ``row_hash`` the next row links to.
        at: The next row's time is at least this (None for an empty chain).
    """

    next_id: int
    prev_hash: str
    at: dt.datetime | None


class HashChain:
    """The hash chain of one append-only table.

    Args:
        table: The table; it has an integer ``id`` primary key, an ``at`` timestamp and
            :data:`CHAIN_COLUMNS`.
        key: The chain key (:func:`chain_key`).
    """

    def __init__(self, table: sa.Table, key: bytes) -> None:
        self.table = table
        self.fields = tuple(c.name for c in table.columns if c.name not in CHAIN_COLUMNS)
        self.lock = lock_id(table.name)
        self._key = key

    @property
    def name(self) -> str:
        """str: The table's name."""
        return self.table.name

    @property
    def key(self) -> bytes:
        """bytes: The chain key (a secret: never log it)."""
        return self._key

    def row_hash(self, prev_hash: str, row: Row) -> str:
        """HMAC-SHA256 (hex) of ``prev_hash`` and the canonical fields of ``row``.

        Raises:
            StateInputError: ``row`` lacks a field or holds a value of another type.
        """
        message = f"{prev_hash}\n{canonical(row, self.fields)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verifies(self, row: Row) -> bool:
        """True when ``row``'s ``row_hash`` is the hash of its fields and its ``prev_hash``."""
        try:
            expected = self.row_hash(str(row["prev_hash"]), row)
        except StateInputError:
            return False
        return hmac.compare_digest(expected, str(row["row_hash"]))

    def fingerprint(self, text: str) -> str:
        """A keyed fingerprint of ``text`` (32 hex characters): recorded in the chain to detect a later
        change of a value kept elsewhere (an API key's secret hash) without revealing it."""
        message = f"fingerprint\n{text}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def append(self, conn: Connection, rows: Sequence[Row]) -> list[dict[str, object]]:
        """Insert ``rows`` at the end of the chain and return them as stored (id, at and hashes set).

        Each row gets the next id, ``at = max(its at, the previous row's at)`` (times never go back along
        a chain) and its hashes. Call inside ``Database.writing(chain.lock)``, which holds the lock.

        Raises:
            StateInputError: A row lacks a field, holds a value of another type, or a naive ``at``.
        """
        if not rows:
            return []
        tip = self.tip(conn)
        stored: list[dict[str, object]] = []
        for row in rows:
            at = row["at"]
            if not isinstance(at, dt.datetime) or at.tzinfo is None:
                raise StateInputError(f"a {self.name} row needs a timezone-aware 'at', got {at!r}")
            if tip.at is not None and at < tip.at:
                at = tip.at
            new = {**row, "id": tip.next_id, "at": at, "prev_hash": tip.prev_hash}
            new["row_hash"] = self.row_hash(tip.prev_hash, new)
            stored.append(new)
            tip = Tip(tip.next_id + 1, str(new["row_hash"]), at)
        conn.execute(self.table.insert(), stored)
        return stored

    def tip(self, conn: Connection) -> Tip:
        """Where the next row goes: after the last row, linked to the last row that verifies.

        A last row whose hash does not verify was not written with the key (forged or edited); the
        service never vouches for such a row, so it links past it to the last row that does verify (or
        :data:`GENESIS`) and logs an error. ``audit verify`` then names the row as inserted.
        """
        table = self.table
        last = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(1)).mappings().first()
        if last is None:
            return Tip(1, GENESIS, None)
        next_id = int(last["id"]) + 1
        if self.verifies(last):
            return Tip(next_id, str(last["row_hash"]), last["at"])
        stmt = sa.select(table).where(table.c.id < last["id"]).order_by(table.c.id.desc())
        anchor = next((row for row in conn.execute(stmt).mappings() if self.verifies(row)), None)
        logger.error(
            "%s row %s does not verify with the chain key (forged or edited, or another process uses "
            "another audit_key); linking row %s to %s; run `rekomendasi audit verify`",
            self.name,
            last["id"],
            next_id,
            f"row {anchor['id']}" if anchor is not None else "the start of the chain",
        )
        if anchor is None:
            return Tip(next_id, GENESIS, None)
        return Tip(next_id, str(anchor["row_hash"]), anchor["at"])
