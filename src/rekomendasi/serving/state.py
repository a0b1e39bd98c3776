"""Durable state of the recommendation API: API keys, the append-only audit log and feedback.

Everything lives in one SQLAlchemy Core database (``Settings.state_db_url``): sqlite by default, any
SQLAlchemy URL (postgresql, ...) in principle, so the SQL here is portable except for the optional sqlite
triggers that make the audit log append-only inside the database itself.

Personal data (UU 27/2022): the audit log keeps only keyed hashes of NIPs (:func:`hash_nip`), so the trail
of "what was recommended to whom, by which model" can be searched by person without the log itself being
a list of civil servants. Feedback keeps the raw NIP: it is training data, access-controlled, not a log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from rekomendasi.errors import ConfigError, RekomendasiError

if TYPE_CHECKING:
    from rekomendasi.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_NIP_SALT = "rekomendasi"
"""The default of ``Settings.nip_salt``; public, so production must set its own secret."""
NIP_HASH_CHARS = 16
"""Hex characters kept of a NIP's HMAC-SHA256: 64 bits, collision-free at the scale of all ASN."""
KEY_PREFIX = "rk"
CACHE_TTL_SECONDS = 30.0
"""How long a successful key lookup is trusted; a revocation by another process takes at most this."""
_CACHE_MAX_ENTRIES = 1024
_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_NIP_PATTERN = re.compile(r"(?<!\d)\d{18}(?!\d)")


class Role(StrEnum):
    """What an API key may do: ``admin`` sees every agency, the others only their own."""

    ADMIN = "admin"
    PLANNER = "planner"  # an agency's HR planner: recommendations with their evidence
    PLATFORM = "platform"  # a learning platform: recommendations and reasons, no raw evidence


class FeedbackEvent(StrEnum):
    """What happened to a recommendation. ``objected`` is the person contesting it (UU 27/2022 art. 10)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    OBJECTED = "objected"


class StateInputError(RekomendasiError, ValueError):
    """Invalid input to the state store (a key's role or agencies, a feedback event, ...).

    A ``ValueError`` for plain Python callers and a :class:`RekomendasiError` with status 422, so the API's
    one error handler and the CLI show its message as it is.
    """

    status_code = 422


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind an API key.

    Attributes:
        key_id: Public identifier of the key (not a secret; shown in lists and the audit log).
        name: Who holds the key, e.g. "BKD Provinsi Jawa Barat".
        role: What the key may do.
        agencies: instansi_id values the key may see; empty for admin, which sees all.
    """

    key_id: str
    name: str
    role: Role
    agencies: frozenset[str] = frozenset()

    def can_see(self, instansi_id: str) -> bool:
        """Return True when this caller may see employees of agency ``instansi_id``."""
        return self.role == Role.ADMIN or instansi_id in self.agencies

    @property
    def sees_evidence(self) -> bool:
        """bool: False for platforms, which get recommendations and reasons but no raw evidence."""
        return self.role != Role.PLATFORM


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as listed: never its secret nor its hash."""

    key_id: str
    name: str
    role: Role
    agencies: frozenset[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        """bool: True until the key is revoked."""
        return self.revoked_at is None


def hash_nip(nip: str, salt: str) -> str:
    """Return the keyed hash of a NIP (HMAC-SHA256, first 16 hex characters).

    Keyed, because a NIP encodes a birth date, an appointment month, sex and a short sequence: an unkeyed
    hash of so small a space is reversed by enumeration. Whoever knows ``salt`` can still do that, so it
    must be a secret of the deployment.
    """
    return hmac.new(salt.encode(), nip.strip().encode(), hashlib.sha256).hexdigest()[:NIP_HASH_CHARS]


class _UtcDateTime(sa.TypeDecorator[dt.datetime]):
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


_METADATA = sa.MetaData()
# sqlite only auto-increments an INTEGER PRIMARY KEY; other databases get a 64-bit key.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

API_KEYS = sa.Table(
    "api_keys",
    _METADATA,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("agencies", sa.Text, nullable=False),  # JSON list of instansi_id, sorted
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", _UtcDateTime, nullable=False),
    sa.Column("revoked_at", _UtcDateTime, nullable=True),
)

AUDIT_LOG = sa.Table(
    "audit_log",
    _METADATA,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("at", _UtcDateTime, nullable=False, index=True),
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

FEEDBACK = sa.Table(
    "feedback",
    _METADATA,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("nip", sa.String(32), nullable=False, index=True),
    sa.Column("training_id", sa.String(100), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(200), nullable=True),
    sa.Column("at", _UtcDateTime, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
)

FEEDBACK_EXPORT_COLUMNS = ("nip", "training_id", "event", "reason", "model_version", "at", "key_id")
"""Columns of :meth:`StateStore.export_feedback`, in order."""

_SQLITE_APPEND_ONLY = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {op} is not allowed'); END"
    for op in ("UPDATE", "DELETE")
)


@dataclass(frozen=True, slots=True)
class _CacheEntry:
    principal: Principal
    expires: float


class StateStore:
    """API keys, the append-only audit log and feedback in one database.

    Safe to share between threads (FastAPI runs sync endpoints in a threadpool); one instance per process.

    Args:
        url: SQLAlchemy URL. A relative sqlite path resolves against the working directory (use
            :func:`store_from_settings` to resolve it against ``Settings.home``); its parent directories
            are created.
        nip_salt: Secret key of :func:`hash_nip`; non-empty.
        cache_ttl: Seconds a successful key lookup is reused without asking the database (>= 0).
        clock: Monotonic clock in seconds, for the cache; tests pass a fake one.

    Raises:
        ConfigError: The URL is invalid, its driver is missing, or the database cannot be opened.
        StateInputError: ``nip_salt`` is empty.
    """

    def __init__(
        self,
        url: str,
        nip_salt: str,
        *,
        cache_ttl: float = CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not nip_salt:
            raise StateInputError("nip_salt is empty; set a secret salt so NIP hashes cannot be reversed")
        self._nip_salt = nip_salt
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._cache: dict[str, _CacheEntry] = {}
        self._cache_lock = threading.Lock()
        self._db_lock = threading.RLock()
        self._engine, backend = _create_engine(url)
        # sqlite has one writer at a time: queueing writers here is cheaper than its busy-retry sleeps.
        # An in-memory database is a single shared connection, so every use must be serialised.
        self._serialise_writes = backend != "other"
        self._serialise_all = backend == "memory"
        self._create_schema()

    @property
    def url(self) -> str:
        """str: The database URL, password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close the database connections (sqlite then folds its write-ahead log into the file)."""
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- API keys -------------------------------------------------------------------------------

    def create_key(self, name: str, role: Role | str, agencies: Iterable[str] = ()) -> tuple[Principal, str]:
        """Create an API key and return its principal and plaintext, which is never retrievable again.

        The plaintext is ``rk_<key_id>_<secret>``; only the SHA-256 of the secret is stored, which is
        enough for a 256-bit random secret (no password stretching needed).

        Raises:
            StateInputError: Empty name, unknown role, admin with agencies, or planner/platform without.
        """
        principal = Principal(_new_key_id(), _clean_name(name), _parse_role(role), _clean_agencies(agencies))
        _check_scope(principal)
        secret = secrets.token_urlsafe(32)
        with self._writing() as conn:
            conn.execute(
                API_KEYS.insert(),
                {
                    "key_id": principal.key_id,
                    "name": principal.name,
                    "role": principal.role.value,
                    "agencies": json.dumps(sorted(principal.agencies)),
                    "secret_sha256": _sha256(secret),
                    "created_at": _utc_now(),
                },
            )
        logger.info("created API key %s (%s) for %s", principal.key_id, principal.role, principal.name)
        return principal, f"{KEY_PREFIX}_{principal.key_id}_{secret}"

    def authenticate(self, plaintext: str) -> Principal | None:
        """Return the principal of an active key, or None for unknown, malformed or revoked keys.

        Successful lookups are cached for ``cache_ttl`` seconds under the SHA-256 of the plaintext, so a
        key revoked by another process stops working within that time (at once in this instance).
        """
        parsed = _parse_plaintext(plaintext)
        if parsed is None:
            return None
        digest = _sha256(plaintext)
        cached = self._cache_get(digest)
        if cached is not None:
            return cached
        principal = self._lookup(*parsed)
        if principal is not None:
            self._cache_put(digest, principal)
        return principal

    def list_keys(self) -> list[KeyInfo]:
        """Return every key, active and revoked, oldest first; without secrets or hashes."""
        stmt = sa.select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.key_id)
        with self._reading() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [
            KeyInfo(
                key_id=row["key_id"],
                name=row["name"],
                role=Role(row["role"]),
                agencies=frozenset(json.loads(row["agencies"])),
                created_at=row["created_at"],
                revoked_at=row["revoked_at"],
            )
            for row in rows
        ]

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; return False when no active key has this id. The row stays, for the audit log."""
        stmt = (
            API_KEYS.update()
            .where(API_KEYS.c.key_id == key_id, API_KEYS.c.revoked_at.is_(None))
            .values(revoked_at=_utc_now())
        )
        with self._writing() as conn:
            revoked = conn.execute(stmt).rowcount == 1
        with self._cache_lock:
            for digest in [d for d, e in self._cache.items() if e.principal.key_id == key_id]:
                del self._cache[digest]
        if revoked:
            logger.info("revoked API key %s", key_id)
        return revoked

    # --- audit log ------------------------------------------------------------------------------

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
        """One audit-log row, with NIPs hashed (write it with :meth:`write_audit`).

        NIPs are stored only as :func:`hash_nip` values. As a safety net, any 18-digit number in ``action``
        or ``detail`` is replaced by ``nip:<hash>`` too, so a raw path such as ``/employees/<nip>`` is safe.

        Args:
            principal: The caller, or None when the request carried no valid key.
            action: What was asked, e.g. ``"POST /recommendations"``.
            nips: NIPs the answer concerned (may be empty).
            model_version: Model that produced the answer, if any.
            snapshot_id: Feature snapshot the answer was computed from, if any.
            status: HTTP status of the answer.
            detail: Free text, e.g. an error message.
        """
        row: dict[str, object] = {
            "at": _utc_now(),
            "key_id": principal.key_id if principal else None,
            "role": principal.role.value if principal else None,
            "action": self._scrub(action),
            "nip_count": len(nips),
            "nip_hashes": ";".join(hash_nip(nip, self._nip_salt) for nip in nips),
            "model_version": model_version,
            "snapshot_id": snapshot_id,
            "status": int(status),
            "detail": self._scrub(detail),
        }
        return row

    def audit(
        self,
        principal: Principal | None,
        action: str,
        nips: Sequence[str],
        model_version: str | None,
        snapshot_id: str | None,
        status: int,
        detail: str = "",
    ) -> None:
        """Append one row to the audit log now (see :meth:`audit_row` for the fields)."""
        self.write_audit(
            [self.audit_row(principal, action, nips, model_version, snapshot_id, status, detail)]
        )

    def write_audit(self, rows: Sequence[dict[str, object]]) -> None:
        """Append rows built by :meth:`audit_row` in one transaction (a server batches them)."""
        if rows:
            with self._writing() as conn:
                conn.execute(AUDIT_LOG.insert(), list(rows))

    def read_audit(
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
        frame = self._frame(stmt, [c.name for c in AUDIT_LOG.columns])
        return frame.iloc[::-1].reset_index(drop=True)

    # --- feedback -------------------------------------------------------------------------------

    def add_feedback(
        self,
        principal: Principal,
        nip: str,
        training_id: str,
        event: FeedbackEvent | str,
        reason: str = "",
        model_version: str | None = None,
    ) -> int:
        """Record what happened to a recommendation and return the new row's id.

        The caller must already have checked ``principal.can_see`` for the employee's agency: the store
        does not know agencies.

        Raises:
            StateInputError: NIP not 18 digits, empty training_id, unknown event, or an objection
                without a reason (an objection must say why, so a person can review it).
        """
        parsed = _parse_event(event)
        row = {
            "nip": _clean_nip(nip),
            "training_id": _required(training_id, "training_id"),
            "event": parsed.value,
            "reason": reason.strip(),
            "model_version": model_version,
            "at": _utc_now(),
            "key_id": principal.key_id,
        }
        if parsed == FeedbackEvent.OBJECTED and not row["reason"]:
            raise StateInputError("an 'objected' feedback needs a reason: why the person contests it")
        with self._writing() as conn:
            new_id = conn.execute(FEEDBACK.insert(), row).inserted_primary_key
        assert new_id is not None  # an insert of one row always has a primary key
        return int(new_id[0])

    def export_feedback(self, pseudonymous: bool = False) -> pd.DataFrame:
        """Return all feedback, oldest first, with columns :data:`FEEDBACK_EXPORT_COLUMNS`.

        Args:
            pseudonymous: Replace each NIP by its :func:`hash_nip` value, for data-science exports.
        """
        stmt = sa.select(*(FEEDBACK.c[name] for name in FEEDBACK_EXPORT_COLUMNS)).order_by(FEEDBACK.c.id)
        frame = self._frame(stmt, list(FEEDBACK_EXPORT_COLUMNS))
        if pseudonymous:
            frame["nip"] = [hash_nip(nip, self._nip_salt) for nip in frame["nip"]]
        return frame

    # --- internals ------------------------------------------------------------------------------

    def _create_schema(self) -> None:
        try:
            with self._writing() as conn:
                _METADATA.create_all(conn)
                if conn.dialect.name == "sqlite":
                    for ddl in _SQLITE_APPEND_ONLY:
                        conn.exec_driver_sql(ddl)
        except sa.exc.OperationalError as err:
            raise ConfigError(f"cannot open the state database {self.url}: {err.orig}") from err

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._guard(self._serialise_all), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._guard(self._serialise_writes), self._engine.begin() as conn:
            yield conn

    def _guard(self, serialise: bool) -> AbstractContextManager[object]:
        return self._db_lock if serialise else nullcontext()

    def _frame(self, stmt: sa.Select[Any], columns: list[str]) -> pd.DataFrame:
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
        frame = pd.DataFrame([tuple(row) for row in rows], columns=columns)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    def _lookup(self, key_id: str, secret: str) -> Principal | None:
        stmt = sa.select(API_KEYS).where(API_KEYS.c.key_id == key_id, API_KEYS.c.revoked_at.is_(None))
        with self._reading() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None or not hmac.compare_digest(row["secret_sha256"], _sha256(secret)):
            return None
        return Principal(
            row["key_id"], row["name"], Role(row["role"]), frozenset(json.loads(row["agencies"]))
        )

    def _cache_get(self, digest: str) -> Principal | None:
        with self._cache_lock:
            entry = self._cache.get(digest)
            if entry is None:
                return None
            if entry.expires <= self._clock():
                del self._cache[digest]
                return None
            return entry.principal

    def _cache_put(self, digest: str, principal: Principal) -> None:
        if self._cache_ttl <= 0:
            return
        now = self._clock()
        with self._cache_lock:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                self._cache = {d: e for d, e in self._cache.items() if e.expires > now}
            if len(self._cache) >= _CACHE_MAX_ENTRIES:  # still full of live keys: drop the oldest
                del self._cache[next(iter(self._cache))]
            self._cache[digest] = _CacheEntry(principal, now + self._cache_ttl)

    def _scrub(self, text: str) -> str:
        return _NIP_PATTERN.sub(lambda m: f"nip:{hash_nip(m.group(0), self._nip_salt)}", text)


def resolve_state_url(settings: Settings) -> str:
    """Return ``settings.state_db_url`` with a relative sqlite path resolved against ``settings.home``."""
    url = _parse_url(settings.state_db_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and _is_sqlite_file(database) and not Path(database).is_absolute():
        url = url.set(database=str(settings.resolve(Path(database))))
    return url.render_as_string(hide_password=False)


def store_from_settings(settings: Settings) -> StateStore:
    """Build the process's :class:`StateStore` from settings (``state_db_url``, ``home``, ``nip_salt``)."""
    salt = settings.nip_salt.get_secret_value()
    if salt == DEFAULT_NIP_SALT:
        logger.warning("nip_salt is the public default: audit-log NIP hashes can be reversed; set a secret")
    return StateStore(resolve_state_url(settings), nip_salt=salt)


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


def _parse_plaintext(plaintext: str) -> tuple[str, str] | None:
    """Split ``rk_<key_id>_<secret>``; None unless every part has its exact shape."""
    parts = plaintext.split("_", 2) if isinstance(plaintext, str) else []
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    if not _KEY_ID_PATTERN.fullmatch(key_id) or not _SECRET_PATTERN.fullmatch(secret):
        return None
    return key_id, secret


def _new_key_id() -> str:
    return secrets.token_hex(8)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _required(value: str, what: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise StateInputError(f"{what} is empty")
    return cleaned


def _clean_name(name: str) -> str:
    cleaned = _required(name, "the key's name")
    if len(cleaned) > 200:
        raise StateInputError(f"the key's name has {len(cleaned)} characters; use at most 200")
    return cleaned


def _clean_nip(nip: str) -> str:
    cleaned = nip.strip()
    if not re.fullmatch(r"\d{18}", cleaned):
        raise StateInputError(f"NIP must be exactly 18 digits, got {len(cleaned)} characters")
    return cleaned


def _clean_agencies(agencies: Iterable[str]) -> frozenset[str]:
    if isinstance(agencies, str):  # a lone string would otherwise become a set of its characters
        agencies = [agencies]
    cleaned = [agency.strip() for agency in agencies]
    if any(not agency for agency in cleaned):
        raise StateInputError("an agency (instansi_id) is empty")
    return frozenset(cleaned)


def _parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as err:
        choices = ", ".join(r.value for r in Role)
        raise StateInputError(f"unknown role {role!r}; use one of {choices}") from err


def _parse_event(event: FeedbackEvent | str) -> FeedbackEvent:
    try:
        return FeedbackEvent(event)
    except ValueError as err:
        choices = ", ".join(e.value for e in FeedbackEvent)
        raise StateInputError(f"unknown feedback event {event!r}; use one of {choices}") from err


def _check_scope(principal: Principal) -> None:
    if principal.role == Role.ADMIN and principal.agencies:
        raise StateInputError(
            "an admin key sees every agency; create it without agencies "
            f"(got {', '.join(sorted(principal.agencies))})"
        )
    if principal.role != Role.ADMIN and not principal.agencies:
        raise StateInputError(f"a {principal.role} key needs at least one agency (instansi_id)")
