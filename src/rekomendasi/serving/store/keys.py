"""API keys: create, authenticate (with a short cache), list and revoke.

Only the SHA-256 of each key's secret is stored; the plaintext (:func:`~rekomendasi.serving.auth.format_key`)
is shown once, when the key is created. Creating and revoking a key each append an audit row
(``KEY CREATE <key_id>``, ``KEY REVOKE <key_id>``) in the same transaction, recording the key's role,
agencies and a keyed fingerprint of its secret hash, so ``audit verify`` can tell a key changed behind the
service's back; triggers refuse deleting a key and any update but its revocation.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rekomendasi.serving.auth import (
    Principal,
    Role,
    format_key,
    new_key_id,
    new_secret,
    parse_key,
    sha256_hex,
)
from rekomendasi.serving.store.audit import AuditLog
from rekomendasi.serving.store.chain import HashChain, Row
from rekomendasi.serving.store.db import (
    METADATA,
    Database,
    StateInputError,
    UtcDateTime,
    parse_choice,
    required,
    utc_now,
)

logger = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 4.0
"""Default of how long a successful key lookup is trusted (``Settings.key_cache_seconds``): a revocation
by another process takes effect within it."""
KEY_CREATE = "KEY CREATE"
KEY_REVOKE = "KEY REVOKE"
"""Actions of the audit rows of a key's creation and revocation, followed by a space and the key_id."""
_CACHE_MAX_ENTRIES = 1024

API_KEYS = sa.Table(
    "api_keys",
    METADATA,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("agencies", sa.Text, nullable=False),  # JSON list of instansi_id, sorted
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)


KEY_ORIGINS = sa.Table(
    "api_key_origins",
    METADATA,
    sa.Column("key_id", sa.String(32), sa.ForeignKey(API_KEYS.c.key_id), primary_key=True),
    sa.Column("origin", sa.String(300), primary_key=True),
)
"""The web origins a key's embedded widget may be used from (CORS allow-list): ``scheme://host[:port]``."""
KEY_ORIGINS_SET = "KEY ORIGINS"
"""Action of the audit row of setting a key's origins, followed by a space and the key_id."""
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?")


def clean_origin(origin: str) -> str:
    """An origin as browsers send it (``https://lms.example.go.id``, ``http://localhost:8080``):
    lower-case scheme and host, no path, no trailing slash.

    Raises:
        StateInputError: not an http(s) origin.
    """
    text = origin.strip().rstrip("/").lower()
    if not _ORIGIN.fullmatch(text):
        raise StateInputError(
            f"origin {origin!r} is not scheme://host[:port] (e.g. https://lms.example.go.id), without a path"
        )
    return text


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as listed: never its secret nor its hash."""

    key_id: str
    name: str
    role: Role
    agencies: frozenset[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    origins: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        """bool: True until the key is revoked."""
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class _CacheEntry:
    principal: Principal
    expires: float


class KeyStore:
    """The API keys in the state database.

    Safe to share between threads; one instance per process.

    Open it through :class:`~rekomendasi.serving.store.Stores`, which creates its table and triggers.

    Args:
        db: The state database.
        audit: The audit log that records each key's creation and revocation.
        cache_ttl: Seconds a successful key lookup is reused without asking the database (>= 0).
        clock: Monotonic clock in seconds, for the cache; tests pass a fake one.

    Raises:
        StateInputError: ``cache_ttl`` is negative.
    """

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        cache_ttl: float = CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_ttl < 0:
            raise StateInputError(f"cache_ttl must be >= 0 seconds, got {cache_ttl}")
        self._db = db
        self._audit = audit
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._cache: dict[str, _CacheEntry] = {}
        self._origins_cache: dict[str, tuple[float, dict[str, frozenset[str]]]] = {}
        self._cache_lock = threading.Lock()

    def create_key(
        self, name: str, role: Role | str, agencies: Iterable[str] = (), origins: Iterable[str] = ()
    ) -> tuple[Principal, str]:
        """Create an API key and return its principal and plaintext, which is never retrievable again.

        The plaintext is ``rk_<key_id>_<secret>``; only the SHA-256 of the secret is stored, which is
        enough for a 256-bit random secret (no password stretching needed). The key and its audit row
        ``KEY CREATE <key_id>`` are committed together.

        ``origins`` are the web origins the key's embedded widget may be used from (:meth:`set_origins`).

        Raises:
            StateInputError: Empty name, unknown role, admin with agencies, planner/platform without, or an
                origin that is not ``scheme://host[:port]``.
        """
        allowed = sorted({clean_origin(o) for o in origins})
        principal = Principal(
            new_key_id(), _clean_name(name), parse_choice(Role, role, "role"), _clean_agencies(agencies)
        )
        _check_scope(principal)
        secret = new_secret()
        row = {
            "key_id": principal.key_id,
            "name": principal.name,
            "role": principal.role.value,
            "agencies": json.dumps(sorted(principal.agencies)),
            "secret_sha256": sha256_hex(secret),
            "created_at": utc_now(),
        }
        with self._db.writing(self._audit.chain.lock) as conn:
            conn.execute(API_KEYS.insert(), row)
            self._audit.write_in(conn, [key_event(self._audit, KEY_CREATE, row)])
            if allowed:
                self._write_origins(conn, principal.key_id, allowed)
        if allowed:
            with self._cache_lock:
                self._origins_cache.clear()
        logger.info("created API key %s (%s) for %s", principal.key_id, principal.role, principal.name)
        return principal, format_key(principal.key_id, secret)

    def authenticate(self, plaintext: str) -> Principal | None:
        """Return the principal of an active key, or None for unknown, malformed or revoked keys.

        Successful lookups are cached for ``cache_ttl`` seconds under the SHA-256 of the plaintext, so a
        key revoked by another process stops working within that time (at once in this instance).
        """
        parsed = parse_key(plaintext)
        if parsed is None:
            return None
        digest = sha256_hex(plaintext)
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
        with self._db.reading() as conn:
            rows = conn.execute(stmt).mappings().all()
            origins: dict[str, set[str]] = {}
            for key_id, origin in conn.execute(sa.select(KEY_ORIGINS.c.key_id, KEY_ORIGINS.c.origin)):
                origins.setdefault(key_id, set()).add(origin)
        return [
            KeyInfo(
                key_id=row["key_id"],
                name=row["name"],
                role=Role(row["role"]),
                agencies=frozenset(json.loads(row["agencies"])),
                created_at=row["created_at"],
                revoked_at=row["revoked_at"],
                origins=frozenset(origins.get(row["key_id"], ())),
            )
            for row in rows
        ]

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; return False when no active key has this id. The row stays, for the audit log.

        The revocation and its audit row ``KEY REVOKE <key_id>`` are committed together. This process
        rejects the key at once; other processes within their ``cache_ttl``.
        """
        active = API_KEYS.c.key_id == key_id, API_KEYS.c.revoked_at.is_(None)
        with self._db.writing(self._audit.chain.lock) as conn:
            row = conn.execute(sa.select(API_KEYS).where(*active)).mappings().first()
            revoked = row is not None
            if row is not None:
                conn.execute(API_KEYS.update().where(*active).values(revoked_at=utc_now()))
                self._audit.write_in(conn, [key_event(self._audit, KEY_REVOKE, row)])
        with self._cache_lock:
            for digest in [d for d, e in self._cache.items() if e.principal.key_id == key_id]:
                del self._cache[digest]
            self._origins_cache.clear()
        if revoked:
            logger.info("revoked API key %s", key_id)
        return revoked

    def set_origins(self, key_id: str, origins: Iterable[str]) -> list[str]:
        """Replace the web origins of the active key ``key_id`` (an empty list: none); return them sorted.
        The change and its audit row ``KEY ORIGINS <key_id>`` are committed together.

        Raises:
            StateInputError: no active key ``key_id``, or an origin that is not ``scheme://host[:port]``.
        """
        allowed = sorted({clean_origin(o) for o in origins})
        active = API_KEYS.c.key_id == key_id, API_KEYS.c.revoked_at.is_(None)
        with self._db.writing(self._audit.chain.lock) as conn:
            if conn.execute(sa.select(API_KEYS.c.key_id).where(*active)).first() is None:
                raise StateInputError(f"no active key {key_id!r}; see `keys list`")
            self._write_origins(conn, key_id, allowed)
        with self._cache_lock:
            self._origins_cache.clear()
        return allowed

    def origins(self, key_id: str) -> frozenset[str]:
        """The web origins of key ``key_id``. Cached like a key lookup: a change made by another process
        takes effect here within ``cache_ttl``, one made here at once."""
        return self._origin_table().get(key_id, frozenset())

    def all_origins(self) -> frozenset[str]:
        """Every origin any active key allows: a CORS preflight, which carries no credentials, is
        answered for these; the request itself is then checked against its own key's origins."""
        return frozenset().union(*self._origin_table().values())

    def _origin_table(self) -> dict[str, frozenset[str]]:
        now = self._clock()
        with self._cache_lock:
            cached = self._origins_cache.get("all")
            if cached is not None and cached[0] > now:
                return cached[1]
        stmt = (
            sa.select(KEY_ORIGINS.c.key_id, KEY_ORIGINS.c.origin)
            .join(API_KEYS, API_KEYS.c.key_id == KEY_ORIGINS.c.key_id)
            .where(API_KEYS.c.revoked_at.is_(None))
        )
        table: dict[str, set[str]] = {}
        with self._db.reading() as conn:
            for key_id, origin in conn.execute(stmt):
                table.setdefault(key_id, set()).add(origin)
        frozen = {k: frozenset(v) for k, v in table.items()}
        with self._cache_lock:
            self._origins_cache["all"] = (now + self.cache_ttl, frozen)
        return frozen

    def _write_origins(self, conn: Connection, key_id: str, origins: list[str]) -> None:
        conn.execute(KEY_ORIGINS.delete().where(KEY_ORIGINS.c.key_id == key_id))
        if origins:
            conn.execute(KEY_ORIGINS.insert(), [{"key_id": key_id, "origin": o} for o in origins])
        self._audit.write_in(
            conn, [self._audit.operator_row(f"{KEY_ORIGINS_SET} {key_id}", {"origins": origins})]
        )

    def active(self, key_id: str) -> Principal | None:
        """The principal of the active key ``key_id`` (no secret needed: for sessions that already proved
        it), or None when unknown or revoked. Cached like :meth:`authenticate`."""
        digest = "id:" + key_id
        cached = self._cache_get(digest)
        if cached is not None:
            return cached
        row = self._active_row(key_id)
        if row is None:
            return None
        principal = _principal(row)
        self._cache_put(digest, principal)
        return principal

    def _lookup(self, key_id: str, secret: str) -> Principal | None:
        row = self._active_row(key_id)
        if row is None or not hmac.compare_digest(row["secret_sha256"], sha256_hex(secret)):
            return None
        return _principal(row)

    def _active_row(self, key_id: str) -> Row | None:
        stmt = sa.select(API_KEYS).where(API_KEYS.c.key_id == key_id, API_KEYS.c.revoked_at.is_(None))
        with self._db.reading() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else dict(row)

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
        if self.cache_ttl <= 0:
            return
        now = self._clock()
        with self._cache_lock:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                self._cache = {d: e for d, e in self._cache.items() if e.expires > now}
            if len(self._cache) >= _CACHE_MAX_ENTRIES:  # still full of live keys: drop the oldest
                del self._cache[next(iter(self._cache))]
            self._cache[digest] = _CacheEntry(principal, now + self.cache_ttl)


def _principal(row: Row) -> Principal:
    """The principal of an ``api_keys`` row."""
    return Principal(
        str(row["key_id"]), str(row["name"]), Role(row["role"]), frozenset(json.loads(str(row["agencies"])))
    )


def key_event(audit: AuditLog, action: str, key: Row, **extra: object) -> dict[str, object]:
    """The audit row of ``action`` (:data:`KEY_CREATE` or :data:`KEY_REVOKE`) on the ``api_keys`` row ``key``.

    Its detail records :func:`key_facts`, which ``audit verify`` compares with the key as it is.
    """
    detail = {**key_facts(audit.chain, key), **extra}
    return audit.operator_row(f"{action} {key['key_id']}", detail)


def key_facts(chain: HashChain, key: Row) -> dict[str, object]:
    """What the audit log records of a key: role, agencies (sorted list) and the keyed fingerprint of its
    secret's hash (``chain`` is the audit log's)."""
    return {
        "role": key["role"],
        "agencies": sorted(json.loads(str(key["agencies"]))),
        "secret": chain.fingerprint(str(key["secret_sha256"])),
    }


def existing_key_events(conn: Connection, audit: AuditLog) -> list[dict[str, object]]:
    """Audit rows recording every key already in ``api_keys`` (created, and revoked when it is), marked
    ``migrated``: written once when a database of the version before the hash chain is migrated."""
    rows = conn.execute(sa.select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.key_id)).mappings()
    events: list[dict[str, object]] = []
    for row in rows:
        events.append(key_event(audit, KEY_CREATE, row, migrated=True))
        if row["revoked_at"] is not None:
            events.append(key_event(audit, KEY_REVOKE, row, migrated=True))
    return events


def _clean_name(name: str) -> str:
    cleaned = required(name, "the key's name")
    if len(cleaned) > 200:
        raise StateInputError(f"the key's name has {len(cleaned)} characters; use at most 200")
    return cleaned


def _clean_agencies(agencies: Iterable[str]) -> frozenset[str]:
    if isinstance(agencies, str):  # a lone string would otherwise become a set of its characters
        agencies = [agencies]
    cleaned = [agency.strip() for agency in agencies]
    if any(not agency for agency in cleaned):
        raise StateInputError("an agency (instansi_id) is empty")
    return frozenset(cleaned)


def _check_scope(principal: Principal) -> None:
    if principal.role == Role.ADMIN and principal.agencies:
        raise StateInputError(
            "an admin key sees every agency; create it without agencies "
            f"(got {', '.join(sorted(principal.agencies))})"
        )
    if principal.role != Role.ADMIN and not principal.agencies:
        raise StateInputError(f"a {principal.role} key needs at least one agency (instansi_id)")
