"""Moving old audit rows out of the database into Parquet files, keeping the chain verifiable.

:func:`archive_audit` writes the rows before a date, every column and the chain included, to
``audit_log_<first id>-<last id>.parquet``, fsyncs it, and only then deletes those rows, with the delete
trigger dropped and made again in the same transaction, and appends an ``AUDIT ARCHIVE`` row recording the
id range, the row count and the file's SHA-256. ``audit verify`` reads the files back
(:func:`read_archives`) and checks the chain across files and database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from rekomendasi.serving.store import triggers
from rekomendasi.serving.store.audit import AUDIT_LOG, AuditLog
from rekomendasi.serving.store.chain import Row
from rekomendasi.serving.store.db import Database, StateInputError, UtcDateTime

ARCHIVE_ACTION = "AUDIT ARCHIVE"
"""Action of the audit row recording an archive (followed by ``<first id>-<last id>``)."""
ARCHIVE_PATTERN = re.compile(r"audit_log_(\d+)-(\d+)\.parquet")
_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """What :func:`archive_audit` did; ``path`` and the ids are None when no row was old enough."""

    path: Path | None
    first_id: int | None
    last_id: int | None
    rows: int
    sha256: str | None


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    """What an ``AUDIT ARCHIVE`` row says about its file."""

    row_id: int
    file: str
    first_id: int
    last_id: int
    rows: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """An archive file as read back: its rows (every column, oldest first) and its SHA-256; ``error`` says
    why it could not be read as Parquet (then it has no rows)."""

    path: Path
    rows: list[dict[str, object]]
    sha256: str
    error: str | None = None


def archive_schema() -> pa.Schema:
    """The Parquet schema of archive files: one field per :data:`AUDIT_LOG` column."""
    fields = []
    for column in AUDIT_LOG.columns:
        if isinstance(column.type, UtcDateTime):
            kind: pa.DataType = pa.timestamp("us", tz="UTC")
        elif isinstance(column.type, sa.Integer):
            kind = pa.int64()
        else:
            kind = pa.string()
        fields.append(pa.field(column.name, kind, nullable=bool(column.nullable)))
    return pa.schema(fields)


def archive_audit(db: Database, audit: AuditLog, before: dt.datetime, out_dir: Path) -> ArchiveResult:
    """Move the audit rows with ``at`` before ``before`` to a Parquet file in ``out_dir``.

    Holds the audit log's write lock throughout, so requests wait for their audit rows meanwhile.

    Args:
        db: The state database.
        audit: Its audit log (appends the ``AUDIT ARCHIVE`` row).
        before: Timezone-aware: rows strictly before it are archived.
        out_dir: Where the file goes (created if missing).

    Raises:
        StateInputError: ``before`` is naive, the file exists already, or the rows before ``before`` are
            not the oldest rows (the log is not in time order: run ``audit verify``).
        OSError: The file cannot be written (nothing was deleted).
    """
    if before.tzinfo is None:
        raise StateInputError(f"--before must be timezone-aware, got naive {before.isoformat()}")
    out_dir.mkdir(parents=True, exist_ok=True)
    table = AUDIT_LOG
    written: Path | None = None
    try:
        with db.writing(audit.chain.lock) as conn:
            span = conn.execute(
                sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id), sa.func.count()).where(
                    table.c.at < before
                )
            ).one()
            first, last, count = span
            if not count:
                return ArchiveResult(None, None, None, 0, None)
            oldest = conn.execute(sa.select(sa.func.min(table.c.id))).scalar_one()
            newer = conn.execute(
                sa.select(sa.func.count()).where(table.c.id <= last, table.c.at >= before)
            ).scalar_one()
            if first != oldest or newer:
                raise StateInputError(
                    f"the audit rows before {before.isoformat()} are not the oldest {count} rows of the log "
                    "(rows out of time order); run `rekomendasi audit verify`"
                )
            path = out_dir / f"audit_log_{first:012d}-{last:012d}.parquet"
            if path.exists():
                raise StateInputError(f"{path} exists already; move it away or archive into another --out")
            written = path
            sha256 = _write_parquet(conn, first, last, path)
            with triggers.suspended(conn, table.name, "DELETE"):
                deleted = conn.execute(table.delete().where(table.c.id.between(first, last))).rowcount
            if deleted != count:
                raise StateInputError(f"deleted {deleted} audit rows, expected {count}; nothing was archived")
            detail = {"file": path.name, "first_id": first, "last_id": last, "rows": count, "sha256": sha256}
            audit.write_in(conn, [audit.operator_row(f"{ARCHIVE_ACTION} {first}-{last}", detail)])
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)  # the rows are still in the database
        raise
    return ArchiveResult(path, first, last, count, sha256)


def _write_parquet(conn: sa.Connection, first: int, last: int, path: Path) -> str:
    """Write rows ``first``..``last`` to ``path`` (via a temporary name), fsynced; return its SHA-256."""
    schema = archive_schema()
    names = [column.name for column in AUDIT_LOG.columns]
    stmt = sa.select(AUDIT_LOG).where(AUDIT_LOG.c.id.between(first, last)).order_by(AUDIT_LOG.c.id)
    partial = path.with_name(path.name + ".partial")
    with pq.ParquetWriter(partial, schema) as writer:
        result = conn.execute(stmt)
        while batch := result.fetchmany(_BATCH):
            columns = {name: [row._mapping[name] for row in batch] for name in names}
            writer.write_table(pa.table(columns, schema=schema))
    _fsync(partial)
    partial.replace(path)
    _fsync(path.parent)
    return _sha256(path)


def read_archives(dirs: Iterable[Path]) -> list[ArchiveFile]:
    """The archive files in ``dirs`` (missing directories are skipped), ordered by their first row id.

    A file that cannot be read as Parquet is returned with its ``error`` and no rows (verify reports it).

    Raises:
        OSError: A directory or file cannot be read at all.
    """
    paths = sorted(
        {p.resolve() for d in dirs if d.is_dir() for p in d.iterdir() if ARCHIVE_PATTERN.fullmatch(p.name)}
    )
    files = []
    for path in paths:
        try:
            rows = pq.read_table(path).to_pylist()
        except pa.ArrowException as err:
            files.append(ArchiveFile(path, [], _sha256(path), f"cannot be read as Parquet: {err}"))
            continue
        for row in rows:
            if isinstance(row.get("at"), dt.datetime):
                row["at"] = row["at"].astimezone(dt.UTC)
        files.append(ArchiveFile(path, rows, _sha256(path)))
    return sorted(files, key=lambda f: (int(str(f.rows[0]["id"])) if f.rows else 0, f.path.name))


def parse_record(row: Row) -> ArchiveRecord | None:
    """The archive an ``AUDIT ARCHIVE`` row records, or None when ``row`` is another kind of row."""
    if not str(row["action"]).startswith(ARCHIVE_ACTION + " "):
        return None
    try:
        detail = json.loads(str(row["detail"]))
        return ArchiveRecord(
            int(str(row["id"])),
            str(detail["file"]),
            int(detail["first_id"]),
            int(detail["last_id"]),
            int(detail["rows"]),
            str(detail["sha256"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
