"""Creating the state tables when a process opens the database, and migrating those of an older version.

Runs in one write transaction that holds every lock, so two server processes starting together do it once.
A database of the version before the hash chain (``audit_log`` without ``request_id``, ``refused_*`` and
the chain columns, ``feedback`` without ``corrects`` and the chain columns) is migrated in place: columns
added, the chain computed over the existing rows in id order with the triggers dropped and made again, the
existing keys recorded in the audit log, and a ``STATE MIGRATE`` row appended. A trigger found missing or
changed on a table that was already chained is made again, and an audit row ``STATE TRIGGER RESTORED``
keeps the evidence (``audit verify`` reports it).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rekomendasi.errors import ConfigError
from rekomendasi.serving.store import triggers
from rekomendasi.serving.store.audit import AUDIT_LOG, AuditLog
from rekomendasi.serving.store.chain import CHAIN_COLUMNS, GENESIS, HashChain
from rekomendasi.serving.store.db import METADATA, Database, lock_id
from rekomendasi.serving.store.feedback import FEEDBACK, FeedbackStore
from rekomendasi.serving.store.keys import API_KEYS, KEY_ORIGINS, existing_key_events
from rekomendasi.serving.store.plans import PLAN_ASSIGNMENTS, PLANS
from rekomendasi.serving.store.sessions import UI_SESSIONS
from rekomendasi.serving.store.xapi import XAPI_TABLES

logger = logging.getLogger(__name__)

MIGRATE_ACTION = "STATE MIGRATE"
RESTORED_ACTION = "STATE TRIGGER RESTORED"
"""Action of the audit row written when a trigger was found missing or changed (followed by its name)."""
SCHEMA_LOCK = lock_id("schema")
_BATCH = 2000


@dataclass(frozen=True, slots=True)
class Migrated:
    """What migrating one table did: rows chained, and rows whose ``at`` was raised to their predecessor's
    (rows written by concurrent processes of the older version are not always in time order)."""

    table: str
    columns: tuple[str, ...]
    rows: int
    retimed: int


def prepare(db: Database, audit: AuditLog, feedback: FeedbackStore) -> list[Migrated]:
    """Create missing tables, migrate older ones, make missing triggers; return what was migrated.

    Raises:
        ConfigError: The database cannot be opened or written.
    """
    locks = (SCHEMA_LOCK, audit.chain.lock, feedback.chain.lock)
    try:
        with db.writing(*locks) as conn:
            return _prepare(conn, audit, feedback)
    except sa.exc.OperationalError as err:
        raise ConfigError(f"cannot open the state database {db.url}: {err.orig}") from err


def _prepare(conn: Connection, audit: AuditLog, feedback: FeedbackStore) -> list[Migrated]:
    existing = set(sa.inspect(conn).get_table_names())
    METADATA.create_all(conn, tables=[AUDIT_LOG, FEEDBACK, API_KEYS])
    # Plans are written once and read; the audit log records who read them, so no chain or triggers.
    METADATA.create_all(conn, tables=[PLANS, PLAN_ASSIGNMENTS])
    # Sign-in sessions of the web page: convenience state (what they did is audited), no chain either.
    # A key's web origins: each change is an audit row, as for the key itself.
    METADATA.create_all(conn, tables=[UI_SESSIONS, KEY_ORIGINS])
    # xAPI statements, the activity map and shown recommendations: no chain (the audit log says who sent).
    METADATA.create_all(conn, tables=list(XAPI_TABLES))
    migrated = [
        done
        for chain in (audit.chain, feedback.chain)
        if chain.name in existing and (done := _migrate(conn, chain)) is not None
    ]
    # A table made now, or migrated now, gets its triggers; on one already chained a missing one is news.
    fresh = {name for name in (AUDIT_LOG.name, FEEDBACK.name, API_KEYS.name) if name not in existing}
    fresh |= {m.table for m in migrated}
    if AUDIT_LOG.name in fresh:
        fresh.add(API_KEYS.name)  # the version before the chain had no triggers on api_keys
    restored = [issue for issue in triggers.install(conn) if issue.table not in fresh]
    if migrated:
        audit.write_in(conn, existing_key_events(conn, audit))
        detail = {
            m.table: {"columns": list(m.columns), "rows": m.rows, "retimed": m.retimed} for m in migrated
        }
        audit.write_in(conn, [audit.operator_row(MIGRATE_ACTION, detail)])
        for m in migrated:
            logger.warning(
                "migrated %s of the state database to the hash-chained format: added %s; chained %d rows "
                "(%d re-timed to their predecessor's time)",
                m.table,
                ", ".join(m.columns),
                m.rows,
                m.retimed,
            )
    for issue in restored:
        logger.error("%s; made it again; run `rekomendasi audit verify`", issue)
        audit.write_in(
            conn,
            [
                audit.operator_row(
                    f"{RESTORED_ACTION} {issue.name}", {"table": issue.table, "was": issue.problem}
                )
            ],
        )
    return migrated


def _migrate(conn: Connection, chain: HashChain) -> Migrated | None:
    """Add the missing columns of an older ``chain.table`` and compute its chain, or None when current."""
    table = chain.table
    present = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
    missing = [column for column in table.columns if column.name not in present]
    if not missing:
        return None
    if not set(CHAIN_COLUMNS) & {c.name for c in missing}:
        raise ConfigError(
            f"the state table {table.name} lacks columns {[c.name for c in missing]} but has its hash chain: "
            "it was made by a version this one cannot migrate"
        )
    for column in missing:
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {_column_ddl(conn, column)}")
    for index in table.indexes:
        index.create(conn, checkfirst=True)
    triggers.drop(conn, table.name, "UPDATE")  # made again by prepare, in this transaction
    rows, retimed = _chain_existing(conn, chain)
    return Migrated(table.name, tuple(c.name for c in missing), rows, retimed)


def _column_ddl(conn: Connection, column: sa.Column[object]) -> str:
    """``name TYPE`` for ALTER TABLE ADD COLUMN; a NOT NULL column gets the default its old rows take."""
    ddl = f"{column.name} {column.type.compile(dialect=conn.dialect)}"
    if column.nullable:
        return ddl
    default = "0" if isinstance(column.type, sa.Integer) else "''"
    return f"{ddl} NOT NULL DEFAULT {default}"


def _chain_existing(conn: Connection, chain: HashChain) -> tuple[int, int]:
    """Compute ``prev_hash``, ``row_hash`` (and a non-decreasing ``at``) of every row, in id order."""
    table = chain.table
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("_id"))
        .values(at=sa.bindparam("_at"), prev_hash=sa.bindparam("_prev"), row_hash=sa.bindparam("_hash"))
    )
    prev_hash, prev_at, last_id = GENESIS, None, None
    rows = retimed = 0
    while True:
        stmt = sa.select(table).order_by(table.c.id).limit(_BATCH)
        if last_id is not None:
            stmt = stmt.where(table.c.id > last_id)
        batch = [dict(row) for row in conn.execute(stmt).mappings()]
        if not batch:
            return rows, retimed
        params: list[dict[str, object]] = []
        for row in batch:
            at: dt.datetime = row["at"]
            if prev_at is not None and at < prev_at:
                row["at"], retimed = prev_at, retimed + 1
            row["prev_hash"] = prev_hash
            row["row_hash"] = chain.row_hash(prev_hash, row)
            params.append({"_id": row["id"], "_at": row["at"], "_prev": prev_hash, "_hash": row["row_hash"]})
            prev_hash, prev_at, last_id = str(row["row_hash"]), row["at"], row["id"]
        conn.execute(update, params)
        rows += len(batch)
