"""``audit verify``: is the state database as the service wrote it?

:func:`verify_state` recomputes the hash chains of ``audit_log`` (archive files first, then the database)
and ``feedback``, checks that the append-only triggers are in place, that the archive files are those the
log recorded, and that ``api_keys`` agrees with the ``KEY CREATE`` / ``KEY REVOKE`` rows. It only reads.

How a break is named (:class:`ProblemKind`), for a row R:

- ``edited``: R's fields no longer match its ``row_hash``, and the next row still links to that hash
  (so R was valid when the service chained onto it, and changed since).
- ``inserted``: R's hash does not verify and nothing links to it (the service links past a row it cannot
  verify), or R is the last row (a row edited or appended without the key look the same there), or R's id
  does not come after its predecessor's.
- ``deleted``: R's ``prev_hash`` matches no row before it: rows are missing before R (an id gap), or the
  row before R was rewritten with a new hash; also a noted head (``--head``) no longer in the chain, which
  is how a truncated tail shows.
- ``backdated``: R's ``at`` is before that of the row it links to.
- ``trigger missing``, ``archive`` and ``key state``: see :func:`verify_state`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rekomendasi.serving.store import triggers
from rekomendasi.serving.store.archive import ArchiveFile, ArchiveRecord, parse_record, read_archives
from rekomendasi.serving.store.audit import AUDIT_LOG
from rekomendasi.serving.store.chain import CHAIN_COLUMNS, GENESIS, HashChain, Row
from rekomendasi.serving.store.db import Database, StateInputError
from rekomendasi.serving.store.feedback import FEEDBACK
from rekomendasi.serving.store.keys import API_KEYS, KEY_CREATE, KEY_REVOKE, key_facts
from rekomendasi.serving.store.schema import RESTORED_ACTION

DATABASE = "database"
"""``Problem.source`` of rows read from the database (else the archive file's path)."""
_LINK_WINDOW = 10_000  # recent verified hashes kept to recognise a link past unverifiable rows
_READ_BATCH = 5_000


class ProblemKind(StrEnum):
    """What kind of tampering a problem points to (module docstring)."""

    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    BACKDATED = "backdated"
    TRIGGER_MISSING = "trigger missing"
    ARCHIVE = "archive"
    KEY_STATE = "key state"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of :func:`verify_state`.

    Attributes:
        table: ``audit_log``, ``feedback`` or ``api_keys``.
        row_id: The row where the chain broke (or the audit row of the key event, the restore, the archive
            record); None when no row applies (a trigger, an unrecorded file, a missing head).
        kind: What it points to.
        message: What was found, for a person.
        source: :data:`DATABASE` or the archive file the row was read from.
    """

    table: str
    row_id: int | None
    kind: ProblemKind
    message: str
    source: str = DATABASE

    def __str__(self) -> str:
        where = f"{self.table} row {self.row_id}" if self.row_id is not None else self.table
        origin = "" if self.source == DATABASE else f" (in {self.source})"
        return f"{where}{origin}: {self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last row of a chain, to note down and pass back later as ``--head``.

    Attributes:
        table: The chained table.
        rows: Rows checked (archive files included).
        last_id: Id of the last row; None for an empty table.
        row_hash: Its ``row_hash``; :data:`~rekomendasi.serving.store.chain.GENESIS` for an empty table.
    """

    table: str
    rows: int
    last_id: int | None
    row_hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify_state` found: ``ok`` when no problem."""

    problems: tuple[Problem, ...]
    heads: tuple[ChainHead, ...]
    archives: tuple[Path, ...]

    @property
    def ok(self) -> bool:
        """bool: True when nothing is wrong."""
        return not self.problems

    def kinds(self, table: str | None = None) -> dict[int | None, set[ProblemKind]]:
        """The kinds of problem found per row id (of ``table``, or of all tables)."""
        found: dict[int | None, set[ProblemKind]] = {}
        for problem in self.problems:
            if table is None or problem.table == table:
                found.setdefault(problem.row_id, set()).add(problem.kind)
        return found


def verify_state(
    db: Database, key: bytes, *, archive_dirs: Sequence[Path] = (), heads: Sequence[str] = ()
) -> VerifyReport:
    """Check the chains, the triggers, the archives and the keys of the state database (module docstring).

    Args:
        db: The state database (only read).
        key: The chain key (:func:`~rekomendasi.serving.store.chain.chain_key`) the service uses.
        archive_dirs: Directories holding ``audit_log_<first>-<last>.parquet`` archive files.
        heads: ``row_hash`` values noted from earlier runs; each must still be in a chain.

    Raises:
        StateInputError: The database has no chained tables (made by an older version and not opened by
            this one yet).
        OSError: An archive directory or file cannot be read at all.
    """
    audit_chain, feedback_chain = HashChain(AUDIT_LOG, key), HashChain(FEEDBACK, key)
    problems: list[Problem] = []
    files = read_archives(archive_dirs)
    with db.reading(snapshot=True) as conn:
        _require_chained(conn)
        problems += [
            Problem(
                issue.table, None, ProblemKind.TRIGGER_MISSING, f"{issue}: rows can be changed or deleted"
            )
            for issue in triggers.trigger_issues(conn)
        ]
        records = _archive_records(conn, audit_chain, files)
        used, file_problems = _check_archive_files(files, records)
        problems += file_problems

        audit_walk = _Walk(audit_chain, heads)
        for source, row in _audit_rows(conn, used):
            audit_walk.feed(row, source)
        problems += audit_walk.finish()

        feedback_walk = _Walk(feedback_chain, heads)
        for row in _rows(conn, FEEDBACK):
            feedback_walk.feed(row, DATABASE)
        problems += feedback_walk.finish()

        problems += _restored_triggers(audit_walk.operator_rows)
        problems += _check_keys(conn, audit_chain, audit_walk.operator_rows)
    missing_heads = set(heads) - audit_walk.heads_found - feedback_walk.heads_found
    problems += [
        Problem(
            "audit_log/feedback",
            None,
            ProblemKind.DELETED,
            f"the noted head {head} is no longer in either chain: rows were deleted from the end "
            "(truncated), or it was mistyped",
        )
        for head in sorted(missing_heads)
    ]
    return VerifyReport(
        tuple(problems), (audit_walk.head(), feedback_walk.head()), tuple(f.path for f in used)
    )


@dataclass
class _Link:
    id: int
    at: dt.datetime
    row_hash: str


class _Walk:
    """Walks one chain in id order and names where it breaks (module docstring)."""

    def __init__(self, chain: HashChain, wanted_heads: Iterable[str]) -> None:
        self.chain = chain
        self.problems: list[Problem] = []
        self.operator_rows: list[Row] = []  # rows by operators that verify
        self.heads_found: set[str] = set()
        self._wanted = set(wanted_heads)
        self._prev: _Link | None = None
        self._pending: tuple[Row, str] | None = None  # does not verify, kind undecided
        self._verified: OrderedDict[str, _Link] = OrderedDict()
        self._count = 0

    def feed(self, row: Row, source: str) -> None:
        row_id, at = int(str(row["id"])), _aware(row["at"])
        prev_hash, row_hash = str(row["prev_hash"]), str(row["row_hash"])
        self._count += 1
        if row_hash in self._wanted:
            self.heads_found.add(row_hash)
        if self._pending is not None:
            self._decide_pending(links_to_it=prev_hash == str(self._pending[0]["row_hash"]))
        prev = self._prev
        link: _Link | None
        if prev is not None and row_id <= prev.id:
            self._add(row_id, ProblemKind.INSERTED, f"its id does not come after row {prev.id}", source)
        if prev_hash == (prev.row_hash if prev is not None else GENESIS):
            link = prev
        elif prev_hash in self._verified:
            link = self._verified[prev_hash]  # linked past rows that do not verify: those are flagged
            last_verified = next(reversed(self._verified.values()))
            if last_verified.id > link.id:
                self._add(
                    row_id,
                    ProblemKind.INSERTED,
                    f"it links to row {link.id}, past row {last_verified.id} that verifies: the chain forks "
                    "(rows written with the key by another writer)",
                    source,
                )
        else:
            link = prev
            if prev is None:
                message = (
                    "the chain does not start here: the rows before it are missing (deleted, or archived: "
                    "give the archive directory)"
                )
            elif row_id > prev.id + 1:
                missing = (
                    f"row {prev.id + 1}" if row_id == prev.id + 2 else f"rows {prev.id + 1}-{row_id - 1}"
                )
                message = f"{missing} are missing: its prev_hash matches no row before it"
            else:
                message = (
                    f"its prev_hash does not match row {prev.id}: the row before it was deleted or rewritten"
                )
            self._add(row_id, ProblemKind.DELETED, message, source)
        if link is not None and at < link.at:
            self._add(
                row_id,
                ProblemKind.BACKDATED,
                f"its time {at.isoformat()} is before {link.at.isoformat()} of row {link.id} it follows",
                source,
            )
        current = _Link(row_id, at, row_hash)
        if self.chain.verifies(row):
            self._verified[row_hash] = current
            if len(self._verified) > _LINK_WINDOW:
                self._verified.popitem(last=False)
            if row.get("role") == "operator":
                self.operator_rows.append(row)
        else:
            self._pending = (row, source)
        self._prev = current

    def finish(self) -> list[Problem]:
        if self._pending is not None:
            self._decide_pending(links_to_it=None)
        return self.problems

    def head(self) -> ChainHead:
        prev = self._prev
        return ChainHead(
            self.chain.name, self._count, prev.id if prev else None, prev.row_hash if prev else GENESIS
        )

    def _decide_pending(self, links_to_it: bool | None) -> None:
        assert self._pending is not None
        row, source = self._pending
        self._pending = None
        row_id = int(str(row["id"]))
        if links_to_it:
            self._add(
                row_id,
                ProblemKind.EDITED,
                "its fields do not match its row_hash, which the next row links to: changed after it was "
                "written",
                source,
            )
        elif links_to_it is None:
            self._add(
                row_id,
                ProblemKind.INSERTED,
                "the last row does not match its row_hash: inserted (or edited) without the chain key",
                source,
            )
        else:
            self._add(
                row_id,
                ProblemKind.INSERTED,
                "its row_hash does not verify and no later row links to it: inserted (or rewritten with a "
                "new hash) without the chain key",
                source,
            )

    def _add(self, row_id: int, kind: ProblemKind, message: str, source: str) -> None:
        self.problems.append(Problem(self.chain.name, row_id, kind, message, source))


def _require_chained(conn: Connection) -> None:
    inspector = sa.inspect(conn)
    for table in (AUDIT_LOG, FEEDBACK, API_KEYS):
        if not inspector.has_table(table.name):
            raise StateInputError(
                f"the state database has no {table.name} table; is state_db_url right? "
                "(open it once with `rekomendasi keys list` to create it)"
            )
    for table in (AUDIT_LOG, FEEDBACK):
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        if not set(CHAIN_COLUMNS) <= columns:
            raise StateInputError(
                f"{table.name} has no hash chain yet (a database of an older version): open it once with "
                "this version, e.g. `rekomendasi keys list`, which migrates it, then verify"
            )


def _rows(conn: Connection, table: sa.Table) -> Iterator[Row]:
    last_id: int | None = None
    while True:
        stmt = sa.select(table).order_by(table.c.id).limit(_READ_BATCH)
        if last_id is not None:
            stmt = stmt.where(table.c.id > last_id)
        batch = conn.execute(stmt).mappings().all()
        if not batch:
            return
        yield from batch
        last_id = int(batch[-1]["id"])


def _audit_rows(conn: Connection, files: Sequence[ArchiveFile]) -> Iterator[tuple[str, Row]]:
    for archive in files:
        yield from ((str(archive.path), row) for row in archive.rows)
    yield from ((DATABASE, row) for row in _rows(conn, AUDIT_LOG))


def _archive_records(conn: Connection, chain: HashChain, files: Sequence[ArchiveFile]) -> list[ArchiveRecord]:
    """The archives recorded by verified ``AUDIT ARCHIVE`` rows of the database and of the files."""
    stmt = sa.select(AUDIT_LOG).where(AUDIT_LOG.c.action.startswith("AUDIT ARCHIVE "))
    rows: list[Row] = list(conn.execute(stmt).mappings())
    rows += [
        row for archive in files for row in archive.rows if str(row["action"]).startswith("AUDIT ARCHIVE ")
    ]
    return [record for row in rows if chain.verifies(row) and (record := parse_record(row)) is not None]


def _check_archive_files(
    files: Sequence[ArchiveFile], records: Sequence[ArchiveRecord]
) -> tuple[list[ArchiveFile], list[Problem]]:
    """The files whose rows belong to the chain, and problems with files: unrecorded, changed or missing."""
    by_name = {record.file: record for record in records}
    used: list[ArchiveFile] = []
    problems: list[Problem] = []
    for archive in files:
        record = by_name.pop(archive.path.name, None)
        if record is None:
            problems.append(
                Problem(
                    AUDIT_LOG.name,
                    None,
                    ProblemKind.ARCHIVE,
                    f"archive file {archive.path} is recorded by no AUDIT ARCHIVE row (forged, or left by an "
                    "interrupted archive): its rows were not used",
                    str(archive.path),
                )
            )
            continue
        if archive.error is not None:
            problems.append(
                Problem(
                    AUDIT_LOG.name,
                    record.row_id,
                    ProblemKind.ARCHIVE,
                    f"archive file {archive.path} recorded by row {record.row_id} {archive.error}",
                    str(archive.path),
                )
            )
            continue
        used.append(archive)
        if archive.sha256 != record.sha256:
            problems.append(
                Problem(
                    AUDIT_LOG.name,
                    record.row_id,
                    ProblemKind.ARCHIVE,
                    f"archive file {archive.path} was changed after it was written: its SHA-256 is "
                    f"{archive.sha256}, row {record.row_id} recorded {record.sha256}",
                    str(archive.path),
                )
            )
        ids = [int(str(row["id"])) for row in archive.rows]
        if (len(ids), ids[:1], ids[-1:]) != (record.rows, [record.first_id], [record.last_id]):
            problems.append(
                Problem(
                    AUDIT_LOG.name,
                    record.row_id,
                    ProblemKind.ARCHIVE,
                    f"archive file {archive.path} holds {len(ids)} rows, row {record.row_id} recorded "
                    f"{record.rows} (ids {record.first_id}-{record.last_id})",
                    str(archive.path),
                )
            )
    problems += [
        Problem(
            AUDIT_LOG.name,
            record.row_id,
            ProblemKind.ARCHIVE,
            f"archive file {record.file} (rows {record.first_id}-{record.last_id}) recorded by row "
            f"{record.row_id} is in none of the archive directories given",
        )
        for record in by_name.values()
    ]
    return used, problems


def _restored_triggers(rows: Iterable[Row]) -> list[Problem]:
    return [
        Problem(
            AUDIT_LOG.name,
            int(str(row["id"])),
            ProblemKind.TRIGGER_MISSING,
            f"{row['action']}: a trigger was found missing or changed when the service opened the database "
            f"({row['detail']})",
        )
        for row in rows
        if str(row["action"]).startswith(RESTORED_ACTION + " ")
    ]


def _check_keys(conn: Connection, chain: HashChain, rows: Iterable[Row]) -> list[Problem]:
    """``api_keys`` against the verified KEY CREATE / KEY REVOKE rows of the audit log."""
    created: dict[str, tuple[int, dict[str, object]]] = {}
    revoked: dict[str, int] = {}
    for row in rows:
        action = str(row["action"])
        for prefix, seen in ((KEY_CREATE, created), (KEY_REVOKE, revoked)):
            if action.startswith(prefix + " "):
                key_id = action[len(prefix) + 1 :]
                if seen is created:
                    created[key_id] = (int(str(row["id"])), json.loads(str(row["detail"])))
                else:
                    revoked[key_id] = int(str(row["id"]))
    problems: list[Problem] = []

    def add(row_id: int | None, message: str) -> None:
        problems.append(Problem(API_KEYS.name, row_id, ProblemKind.KEY_STATE, message))

    keys = conn.execute(sa.select(API_KEYS).order_by(API_KEYS.c.key_id)).mappings().all()
    for key in keys:
        key_id = str(key["key_id"])
        event = created.pop(key_id, None)
        if event is None:
            add(
                None,
                f"key {key_id} ({key['role']}) has no KEY CREATE row in the audit log: inserted behind "
                "the service",
            )
        else:
            row_id, recorded = event
            now = key_facts(chain, key)
            changed = [name for name, value in now.items() if recorded.get(name) != value]
            if changed:
                add(row_id, f"key {key_id}: {', '.join(changed)} differ from its KEY CREATE row {row_id}")
        if key["revoked_at"] is None and key_id in revoked:
            add(revoked[key_id], f"key {key_id} is active but row {revoked[key_id]} revoked it: reactivated")
        elif key["revoked_at"] is not None and key_id not in revoked:
            add(None, f"key {key_id} is revoked but no KEY REVOKE row records it")
    for key_id, (row_id, _) in created.items():
        add(row_id, f"key {key_id} created in row {row_id} is no longer in api_keys: deleted")
    return problems


def _aware(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise StateInputError(f"a chained row's 'at' is not a timestamp: {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
