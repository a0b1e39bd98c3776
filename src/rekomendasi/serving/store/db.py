"""The one database of the service state: URL, engine, locking, shared column types and input errors.

Everything lives in one SQLAlchemy Core database (``Settings.state_db_url``): sqlite by default, any
SQLAlchemy URL (postgresql, ...) in principle, so the SQL of the stores is portable except for the optional
sqlite triggers that make the audit log append-only inside the database itself.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
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
"""The tables of every store; each store creates its own tables when it opens."""
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""Auto-incremented row ids: sqlite only auto-increments an INTEGER PRIMARY KEY, others get 64 bits."""


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

    Safe to share between threads (FastAPI runs sync endpoints in a threadpool); one instance per process.

    Args:
        url: SQLAlchemy URL. A relative sqlite path resolves against the working directory (use
            :func:`resolve_state_url` to resolve it against ``Settings.home``); its parent directories
            are created.

    Raises:
        ConfigError: The URL is invalid or its driver is missing.
    """

    def __init__(self, url: str) -> None:
        self._engine, backend = _create_engine(url)
        self._lock = threading.RLock()
        # sqlite has one writer at a time: queueing writers here is cheaper than its busy-retry sleeps.
        # An in-memory database is a single shared connection, so every use must be serialised.
        self._serialise_writes = backend != "other"
        self._serialise_all = backend == "memory"

    @property
    def url(self) -> str:
        """str: The database URL, password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close the database connections (sqlite then folds its write-ahead log into the file)."""
        self._engine.dispose()

    def create(self, tables: Iterable[sa.Table], sqlite_ddl: Iterable[str] = ()) -> None:
        """Create ``tables`` (and their indexes) where missing, then run ``sqlite_ddl`` on sqlite only.

        Raises:
            ConfigError: The database cannot be opened or written.
        """
        try:
            with self.writing() as conn:
                METADATA.create_all(conn, tables=list(tables))
                if conn.dialect.name == "sqlite":
                    for ddl in sqlite_ddl:
                        conn.exec_driver_sql(ddl)
        except sa.exc.OperationalError as err:
            raise ConfigError(f"cannot open the state database {self.url}: {err.orig}") from err

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads."""
        with self._guard(self._serialise_all), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on leaving; writers queue on sqlite."""
        with self._guard(self._serialise_writes), self._engine.begin() as conn:
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


def _create_engine(url: str) -> tuple[Engine, str]:
    """Return the engine and its kind: ``"file"`` or ``"memory"`` (sqlite) or ``"other"``."""
    parsed = _parse_url(url)
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
        engine = sa.create_engine(parsed)
        kind = "file"
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine, kind


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    """WAL lets readers run beside the writer; NORMAL syncs at checkpoints, not at every audit row."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except sa.exc.ArgumentError as err:
        raise ConfigError(
            f"state_db_url {url!r} is not a SQLAlchemy URL, e.g. sqlite:///var/state.db"
        ) from err


def _is_sqlite_file(database: str) -> bool:
    return database not in ("", ":memory:") and not database.startswith("file:")
