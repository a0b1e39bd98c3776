"""The triggers that make the state tables append-only inside the database itself, on sqlite and PostgreSQL.

``audit_log`` and ``feedback`` refuse every UPDATE and DELETE (and TRUNCATE on PostgreSQL). ``api_keys``
refuses DELETE, and an UPDATE unless it only sets ``revoked_at`` of an active key. So the service's own
code cannot rewrite history by mistake, and someone with plain write access has to drop a trigger first,
which ``audit verify`` reports (:func:`trigger_issues`) and the hash chains reveal anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

APPEND_ONLY = ("audit_log", "feedback")
"""Tables that refuse UPDATE and DELETE."""
KEYS_TABLE = "api_keys"
KEYS_FROZEN = ("key_id", "name", "role", "agencies", "secret_sha256", "created_at")
"""Columns of ``api_keys`` no UPDATE may change (``revoked_at`` may be set once, from NULL)."""

_PG_APPEND_ONLY_FN = "rekomendasi_append_only"
_PG_KEYS_FN = "rekomendasi_api_keys_guard"
# pg_trigger.tgtype bits
_ROW, _BEFORE, _DELETE, _UPDATE, _TRUNCATE = 1, 2, 8, 16, 32


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger: its table, name and the DDL that makes it on each dialect."""

    table: str
    name: str
    sqlite: str | None  # None: not on sqlite (it has no TRUNCATE)
    pg_type: int  # pg_trigger.tgtype
    pg_function: str


@dataclass(frozen=True, slots=True)
class TriggerIssue:
    """A trigger that is not as the service made it: ``missing``, ``disabled`` or ``changed``."""

    table: str
    name: str
    problem: str

    def __str__(self) -> str:
        return f"trigger {self.name} on {self.table} is {self.problem}"


def _append_only_specs(table: str) -> list[TriggerSpec]:
    specs = [
        TriggerSpec(
            table,
            f"{table}_no_{op.lower()}",
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} is not allowed'); END",
            _ROW | _BEFORE | bit,
            _PG_APPEND_ONLY_FN,
        )
        for op, bit in (("UPDATE", _UPDATE), ("DELETE", _DELETE))
    ]
    specs.append(TriggerSpec(table, f"{table}_no_truncate", None, _BEFORE | _TRUNCATE, _PG_APPEND_ONLY_FN))
    return specs


def _keys_specs() -> list[TriggerSpec]:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEYS_FROZEN)
    return [
        TriggerSpec(
            KEYS_TABLE,
            "api_keys_no_delete",
            "CREATE TRIGGER api_keys_no_delete BEFORE DELETE ON api_keys "
            "BEGIN SELECT RAISE(ABORT, 'api_keys: DELETE is not allowed; revoke the key instead'); END",
            _ROW | _BEFORE | _DELETE,
            _PG_KEYS_FN,
        ),
        TriggerSpec(
            KEYS_TABLE,
            "api_keys_only_revoke",
            "CREATE TRIGGER api_keys_only_revoke BEFORE UPDATE ON api_keys WHEN NOT (OLD.revoked_at IS NULL "
            f"AND NEW.revoked_at IS NOT NULL AND {unchanged}) BEGIN SELECT RAISE(ABORT, "
            "'api_keys: an UPDATE may only set revoked_at of an active key'); END",
            _ROW | _BEFORE | _UPDATE,
            _PG_KEYS_FN,
        ),
        TriggerSpec(KEYS_TABLE, "api_keys_no_truncate", None, _BEFORE | _TRUNCATE, _PG_KEYS_FN),
    ]


SPECS: tuple[TriggerSpec, ...] = (*(s for t in APPEND_ONLY for s in _append_only_specs(t)), *_keys_specs())
"""Every trigger of the state database (sqlite has those with a ``sqlite`` DDL)."""

_PG_FUNCTIONS = {
    _PG_APPEND_ONLY_FN: """
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END
""",
    _PG_KEYS_FN: f"""
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
           AND ({", ".join(f"NEW.{c}" for c in KEYS_FROZEN)})
               IS NOT DISTINCT FROM ({", ".join(f"OLD.{c}" for c in KEYS_FROZEN)}) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'api_keys: an UPDATE may only set revoked_at of an active key';
    END IF;
    RAISE EXCEPTION 'api_keys: % is not allowed; revoke the key instead', TG_OP;
END
""",
}


def specs_for(dialect: str, tables: Sequence[str] | None = None) -> list[TriggerSpec]:
    """The triggers the service keeps on ``dialect`` (``sqlite`` or ``postgresql``), of ``tables`` or all."""
    return [
        spec
        for spec in SPECS
        if (tables is None or spec.table in tables) and (dialect != "sqlite" or spec.sqlite is not None)
    ]


def trigger_issues(conn: Connection, tables: Sequence[str] | None = None) -> list[TriggerIssue]:
    """The triggers of ``tables`` (default: all) that are missing, disabled or not as the service made them.

    sqlite: each trigger's SQL in ``sqlite_master`` is compared with ours. PostgreSQL: each trigger in
    ``pg_trigger`` must be enabled, fire on the right events and call our function, whose source in
    ``pg_proc`` must be ours (a function replaced by one that returns NEW would disarm it).
    """
    dialect = conn.dialect.name
    issues: list[TriggerIssue] = []
    if dialect == "sqlite":
        rows = conn.execute(sa.text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"))
        found = {(row.tbl_name, row.name): _normal(row.sql or "") for row in rows}
        for spec in specs_for(dialect, tables):
            sql = found.get((spec.table, spec.name))
            if sql is None:
                issues.append(TriggerIssue(spec.table, spec.name, "missing"))
            elif sql != _normal(spec.sqlite or ""):
                issues.append(TriggerIssue(spec.table, spec.name, "changed"))
        return issues
    rows = conn.execute(
        sa.text(
            "SELECT c.relname AS tbl, t.tgname AS name, t.tgenabled AS enabled, t.tgtype AS type, "
            "p.proname AS fn, p.prosrc AS src FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND c.oid = ANY(ARRAY["
            "to_regclass('audit_log'), to_regclass('feedback'), to_regclass('api_keys')]::oid[])"
        )
    )
    pg_found = {(row.tbl, row.name): row for row in rows}
    for spec in specs_for(dialect, tables):
        row = pg_found.get((spec.table, spec.name))
        if row is None:
            issues.append(TriggerIssue(spec.table, spec.name, "missing"))
        elif row.enabled == "D":
            issues.append(TriggerIssue(spec.table, spec.name, "disabled"))
        elif (
            row.type != spec.pg_type
            or row.fn != spec.pg_function
            or _normal(row.src) != _normal(_PG_FUNCTIONS[spec.pg_function])
        ):
            issues.append(TriggerIssue(spec.table, spec.name, "changed"))
    return issues


def install(conn: Connection, tables: Sequence[str] | None = None) -> list[TriggerIssue]:
    """Make every trigger of ``tables`` (default: all) as the service makes them; return what was wrong.

    Run inside a write transaction: the triggers change together with whatever the caller does there.
    """
    issues = trigger_issues(conn, tables)
    if conn.dialect.name == "postgresql" and issues:
        for name, body in _PG_FUNCTIONS.items():
            # text() escapes the bodies' "%" for the driver's paramstyle; exec_driver_sql would not
            conn.execute(
                sa.text(
                    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn${body}$fn$"
                )
            )
    wrong = {(issue.table, issue.name) for issue in issues}
    for spec in specs_for(conn.dialect.name, tables):
        if (spec.table, spec.name) in wrong:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {spec.name}" + _on(conn, spec.table))
            conn.exec_driver_sql(_create_sql(conn.dialect.name, spec))
    return issues


@contextmanager
def suspended(conn: Connection, table: str, *operations: str) -> Iterator[None]:
    """Drop the triggers of ``table`` refusing ``operations`` (e.g. ``"DELETE"``) for the block, then
    make them again, all in the caller's transaction: nobody else ever sees the table without them."""
    chosen = drop(conn, table, *operations)
    yield
    for spec in chosen:
        conn.exec_driver_sql(_create_sql(conn.dialect.name, spec))


def drop(conn: Connection, table: str, *operations: str) -> list[TriggerSpec]:
    """Drop the triggers of append-only ``table`` refusing ``operations`` where they exist; return them."""
    names = {f"{table}_no_{op.lower()}" for op in operations}
    chosen = [spec for spec in specs_for(conn.dialect.name, [table]) if spec.name in names]
    for spec in chosen:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {spec.name}" + _on(conn, spec.table))
    return chosen


def _create_sql(dialect: str, spec: TriggerSpec) -> str:
    if dialect == "sqlite":
        assert spec.sqlite is not None  # specs_for gives sqlite only the triggers it has
        return spec.sqlite
    when = "BEFORE " + (
        "TRUNCATE" if spec.pg_type & _TRUNCATE else "DELETE" if spec.pg_type & _DELETE else "UPDATE"
    )
    each = "ROW" if spec.pg_type & _ROW else "STATEMENT"
    return (
        f"CREATE TRIGGER {spec.name} {when} ON {spec.table} "
        f"FOR EACH {each} EXECUTE FUNCTION {spec.pg_function}()"
    )


def _on(conn: Connection, table: str) -> str:
    return f" ON {table}" if conn.dialect.name == "postgresql" else ""


def _normal(sql: str) -> str:
    text = re.sub(r"\s+", " ", sql).strip()
    return text.replace("CREATE TRIGGER IF NOT EXISTS ", "CREATE TRIGGER ")
