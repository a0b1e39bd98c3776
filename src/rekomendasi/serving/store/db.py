"""The one database of the service state: URL, engine, write locks, shared column types and input errors.

Everything lives in one SQLAlchemy Core database (``Settings.state_db_url``): sqlite by default, or
PostgreSQL. The SQL of the stores is portable; what differs per dialect (how a writer takes the write lock,
the append-only triggers) is kept in :meth:`Database.writing` and :mod:`.triggers`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from rekomendasi.errors import ConfigError, RekomendasiError

E = TypeVar("E", bound=StrEnum)

if TYPE_CHECKING:
    from rekomendasi.settings import Settings

METADATA = sa.MetaData()
"""The tables of every store; :func:`~rekomendasi.serving.store.schema.prepare` creates them."""
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""Row ids: sqlite only makes an INTEGER PRIMARY KEY its rowid, others get 64 bits."""
SQLITE_SYNCHRONOUS = "NORMAL"
"""sqlite's ``PRAGMA synchronous`` for the state file. In WAL mode NORMAL makes a commit survive a killed
server process (the log is written to the OS before COMMIT returns); only a power loss or OS crash can
lose the last commits. FULL would add an fsync per commit: measured with the group-commit writer on this
project's machine (32 threads submitting, 5 runs, median), NORMAL 8,600-10,000 rows/s with a 2-3 ms median
wait per row, FULL 2,500-4,600 rows/s with 5-11 ms; with 4 threads NORMAL 4,650 rows/s, FULL 580 rows/s,
below the ~680 requests/s one server answers. So NORMAL; a deployment that must keep answered rows
across a power loss uses PostgreSQL (synchronous_commit on) or ``Stores.open(sqlite_synchronous="FULL")``."""
SQLITE_BUSY_SECONDS = 30.0
"""How long a sqlite connection waits for another process's write lock before failing."""
_IMMEDIATE = "rekomendasi_write"  # execution option: begin this sqlite transaction with BEGIN IMMEDIATE
SUPPORTED_DIALECTS = ("sqlite", "postgresql")


def lock_id(name: str) -> int:
    """The PostgreSQL advisory-lock id of the chain (table) ``name``: a constant 63-bit number."""
    return int.from_bytes(hashlib.sha256(f"rekomendasi:{name}".encode()).digest()[:8], "big") >> 1


class StateInputError(RekomendasiError, ValueError):
    """Invalid input to a state store (a key's role or agencies, a feedback event, ...).

    A ``ValueError`` for plain Python callers and a :class:`RekomendasiError` with status 422, so the API's
    one error handler and the CLI show its message as it is.
    """

    status_code = 422


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every database (sqlite stores them naive, as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise StateInputError(f"timestamps must be timezone-aware, got naive {value.isoformat()}")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Database:
    """One engine and its locks, shared by the key store, the audit log and the feedback store.

    Safe to share between threads (FastAPI runs sync endpoints in a threadpool); one instance per process,
    several processes may open the same database. Only sqlite and PostgreSQL are supported: the stores
    need their append-only triggers and a write lock that spans processes (:meth:`writing`).

    Args:
        url: SQLAlchemy URL. A relative sqlite path resolves against the working directory (use
            :func:`resolve_state_url` to resolve it against ``Settings.home``); its parent directories
            are created.
        sqlite_synchronous: sqlite's ``PRAGMA synchronous`` for a database file: ``"NORMAL"`` (default,
            :data:`SQLITE_SYNCHRONOUS`: a commit survives a killed process, the last ones may be lost on
            power loss) or ``"FULL"`` (each commit is on disk when it returns). Ignored elsewhere.

    Raises:
        ConfigError: The URL is invalid, its driver is missing, or it is neither sqlite nor PostgreSQL.
        StateInputError: ``sqlite_synchronous`` is neither FULL nor NORMAL.
    """

    def __init__(self, url: str, *, sqlite_synchronous: str = SQLITE_SYNCHRONOUS) -> None:
        if sqlite_synchronous not in ("FULL", "NORMAL"):
            raise StateInputError(f"sqlite_synchronous must be FULL or NORMAL, got {sqlite_synchronous!r}")
        self._engine, backend = _create_engine(url, sqlite_synchronous)
        self._lock = threading.RLock()
        # sqlite has one writer at a time: queueing writers here is cheaper than its busy-retry sleeps.
        # An in-memory database is a single shared connection, so every use must be serialised.
        self._serialise_writes = backend != "other"
        self._serialise_all = backend == "memory"
        self._writer_lock = (
            _WriterLock(Path(f"{self._engine.url.database}-writer.lock")) if backend == "file" else None
        )

    @property
    def url(self) -> str:
        """str: The database URL, password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """str: ``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Close the database connections (sqlite then folds its write-ahead log into the file)."""
        self._engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A connection for reads.

        Args:
            snapshot: Every read sees the database as of the first one (REPEATABLE READ on PostgreSQL;
                sqlite's read transaction in WAL mode always does), e.g. to check a chain while it grows.
        """
        with self._guard(self._serialise_all), self._engine.connect() as conn:
            if snapshot and conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    @contextmanager
    def writing(self, *locks: int) -> Iterator[Connection]:
        """A connection in a transaction that holds the write lock of the tables it appends to, committed
        on leaving (rolled back on an exception).

        On sqlite the transaction starts with ``BEGIN IMMEDIATE``, which takes the database's one write
        lock before anything is read, so a writer reads the head of a chain and appends to it without
        another process appending in between. On PostgreSQL it takes ``pg_advisory_xact_lock`` of each
        of ``locks`` (ascending, so two writers never wait on each other in a circle), held to the end of
        the transaction.

        Args:
            locks: Lock ids of the chains written (:data:`LOCK_IDS`); ignored on sqlite.
        """
        with (
            self._guard(self._serialise_writes),
            self._writer_lock or nullcontext(),
            self._engine.connect() as conn,
        ):
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    for lock in sorted(set(locks)):
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
                yield conn

    def frame(self, stmt: sa.Select[Any], columns: list[str]) -> pd.DataFrame:
        """The rows of ``stmt`` as a frame with ``columns``; its ``at`` column as UTC datetimes."""
        with self.reading() as conn:
            rows = conn.execute(stmt).all()
        frame = pd.DataFrame([tuple(row) for row in rows], columns=columns)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    def _guard(self, serialise: bool) -> AbstractContextManager[object]:
        return self._lock if serialise else nullcontext()


class _WriterLock:
    """An exclusive ``flock`` on a file beside a sqlite database, taken around each write transaction.

    Not for correctness (``BEGIN IMMEDIATE`` gives that) but for fairness between processes: a process
    waiting on sqlite's lock polls it with sleeps of up to 100 ms and can starve while another process
    writes back to back (a busy group-commit writer does); a process blocked in ``flock`` is woken as soon
    as the lock is released.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        if self._fd is None or self._pid != os.getpid():  # a forked child must not share the parent's
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def resolve_state_url(settings: Settings) -> str:
    """Return ``settings.state_db_url`` with a relative sqlite path resolved against ``settings.home``."""
    url = _parse_url(settings.state_db_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and _is_sqlite_file(database) and not Path(database).is_absolute():
        url = url.set(database=str(settings.resolve(Path(database))))
    return url.render_as_string(hide_password=False)


def require_salt(nip_salt: str) -> str:
    """Return ``nip_salt`` if it can key :func:`~rekomendasi.serving.auth.hash_nip`.

    Raises:
        StateInputError: ``nip_salt`` is empty.
    """
    if not nip_salt:
        raise StateInputError("nip_salt is empty; set a secret salt so NIP hashes cannot be reversed")
    return nip_salt


def required(value: str, what: str) -> str:
    """Return ``value`` stripped.

    Raises:
        StateInputError: Nothing is left after stripping (the message names ``what``).
    """
    cleaned = value.strip()
    if not cleaned:
        raise StateInputError(f"{what} is empty")
    return cleaned


def parse_choice(kind: type[E], value: E | str, what: str) -> E:
    """``value`` as a member of ``kind``.

    Raises:
        StateInputError: not one of its values (the message lists them).
    """
    try:
        return kind(value)
    except ValueError as err:
        choices = ", ".join(member.value for member in kind)
        raise StateInputError(f"unknown {what} {value!r}; use one of {choices}") from err


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC (how every store timestamps its rows)."""
    return dt.datetime.now(dt.UTC)


def _create_engine(url: str, synchronous: str) -> tuple[Engine, str]:
    """Return the engine and its kind: ``"file"`` or ``"memory"`` (sqlite) or ``"other"``."""
    parsed = _parse_url(url)
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise ConfigError(
            f"state_db_url {url!r}: use sqlite or postgresql (the audit log needs their append-only "
            f"triggers and write locks), got {parsed.get_backend_name()!r}"
        )
    if parsed.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(parsed, pool_pre_ping=True), "other"
        except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as err:
            raise ConfigError(f"state_db_url {url!r}: its database driver is not installed ({err})") from err
    database = parsed.database or ""
    if not _is_sqlite_file(database):
        # One connection shared by all threads; the default pool would give each thread its own empty DB.
        engine = sa.create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
        kind = "memory"
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        kind = "file"

    def on_connect(dbapi_connection: Any, _record: object) -> None:
        # pysqlite begins transactions lazily, at the first write, so a writer that reads the chain's head
        # first would not hold the lock while reading it; hand transaction control to SQLAlchemy's
        # "begin" event below (SQLAlchemy's documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers run beside the writer
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cursor.close()

    def on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)
    return engine, kind


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except sa.exc.ArgumentError as err:
        raise ConfigError(
            f"state_db_url {url!r} is not a SQLAlchemy URL, e.g. sqlite:///var/state.db"
        ) from err


def _is_sqlite_file(database: str) -> bool:
    return database not in ("", ":memory:") and not database.startswith("file:")
