"""Durable state of the recommendation API: API keys, the append-only audit log, feedback and agency plans.

One module per concern, all on one database (:mod:`.db`): :mod:`.keys`, :mod:`.audit` and its group-commit
:mod:`.writer`, :mod:`.feedback`, :mod:`.plans`; the keyed hash chains that make audit log and feedback
tamper-evident (:mod:`.chain`), the append-only triggers (:mod:`.triggers`), creating and migrating the
tables (:mod:`.schema`), archiving old audit rows (:mod:`.archive`) and checking it all (:mod:`.verify`).
A process opens them together with :func:`open_stores` and closes them with :meth:`Stores.close`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from rekomendasi.serving.auth import DEFAULT_NIP_SALT
from rekomendasi.serving.store.archive import ArchiveResult, archive_audit
from rekomendasi.serving.store.audit import AUDIT_LOG, OPERATOR_ROLE, AuditLog
from rekomendasi.serving.store.chain import GENESIS, chain_key
from rekomendasi.serving.store.db import (
    SQLITE_SYNCHRONOUS,
    Database,
    StateInputError,
    require_salt,
    resolve_state_url,
)
from rekomendasi.serving.store.feedback import FEEDBACK, FEEDBACK_EXPORT_COLUMNS, FeedbackEvent, FeedbackStore
from rekomendasi.serving.store.keys import CACHE_TTL_SECONDS, KEY_CREATE, KEY_REVOKE, KeyInfo, KeyStore
from rekomendasi.serving.store.plans import PlanStore, StoredPlan
from rekomendasi.serving.store.schema import Migrated, prepare
from rekomendasi.serving.store.sessions import SessionStore, UiSession
from rekomendasi.serving.store.verify import ChainHead, Problem, ProblemKind, VerifyReport, verify_state
from rekomendasi.serving.store.writer import AuditWriter, AuditWriterClosed
from rekomendasi.serving.store.xapi import XapiStore

if TYPE_CHECKING:
    from rekomendasi.settings import Settings

__all__ = [
    "AUDIT_LOG",
    "CACHE_TTL_SECONDS",
    "FEEDBACK_EXPORT_COLUMNS",
    "GENESIS",
    "KEY_CREATE",
    "KEY_REVOKE",
    "OPERATOR_ROLE",
    "SQLITE_SYNCHRONOUS",
    "ArchiveResult",
    "AuditLog",
    "AuditWriter",
    "AuditWriterClosed",
    "ChainHead",
    "Database",
    "FeedbackEvent",
    "FeedbackStore",
    "KeyInfo",
    "KeyStore",
    "Migrated",
    "PlanStore",
    "Problem",
    "ProblemKind",
    "SessionStore",
    "StateInputError",
    "StoredPlan",
    "Stores",
    "UiSession",
    "VerifyReport",
    "XapiStore",
    "archive_audit",
    "chain_key",
    "open_stores",
    "read_feedback",
    "resolve_state_url",
    "settings_chain_key",
    "verify_state",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stores:
    """The key store, the audit log, the feedback, plan and web-session stores of one process, sharing one
    database.

    Safe to share between threads. Use as a context manager, or call :meth:`close` when done.
    """

    db: Database
    keys: KeyStore
    audit: AuditLog
    feedback: FeedbackStore
    plans: PlanStore
    sessions: SessionStore
    xapi: XapiStore
    migrated: tuple[Migrated, ...] = ()
    """What opening migrated from an older version's tables (empty when nothing)."""

    @classmethod
    def open(
        cls,
        url: str,
        nip_salt: str,
        *,
        audit_key: str | None = None,
        cache_ttl: float = CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sqlite_synchronous: str = SQLITE_SYNCHRONOUS,
    ) -> Stores:
        """Open the stores on the database at ``url``: create missing tables and triggers, migrate tables of
        an older version (:mod:`.schema`).

        Args:
            url: SQLAlchemy URL, sqlite or postgresql. A relative sqlite path resolves against the working
                directory (use :func:`open_stores` to resolve it against ``Settings.home``); its parent
                directories are created.
            nip_salt: Secret key of :func:`~rekomendasi.serving.auth.hash_nip`; non-empty.
            audit_key: Secret key of the hash chains; None derives it from ``nip_salt`` (:func:`chain_key`).
                Every process writing the database must use the same.
            cache_ttl: Seconds a successful key lookup is reused without asking the database (>= 0): a
                revocation by another process takes effect within it.
            clock: Monotonic clock in seconds, for the key cache; tests pass a fake one.
            sqlite_synchronous: ``"FULL"`` or ``"NORMAL"`` (see :class:`Database`).

        Raises:
            ConfigError: The URL is invalid or neither sqlite nor postgresql, its driver is missing, or
                the database cannot be opened.
            StateInputError: ``nip_salt`` or a set ``audit_key`` is empty, or ``cache_ttl`` is negative.
        """
        require_salt(nip_salt)
        key = chain_key(nip_salt, audit_key)
        db = Database(url, sqlite_synchronous=sqlite_synchronous)
        try:
            audit = AuditLog(db, nip_salt, key)
            feedback = FeedbackStore(db, nip_salt, key)
            keys = KeyStore(db, audit, cache_ttl=cache_ttl, clock=clock)
            migrated = prepare(db, audit, feedback)
            return cls(
                db=db,
                keys=keys,
                audit=audit,
                feedback=feedback,
                plans=PlanStore(db),
                sessions=SessionStore(db, keys),
                xapi=XapiStore(db),
                migrated=tuple(migrated),
            )
        except BaseException:
            db.close()
            raise

    @property
    def url(self) -> str:
        """str: The database URL, password hidden."""
        return self.db.url

    def verify(self, archive_dirs: Sequence[Path] = (), heads: Sequence[str] = ()) -> VerifyReport:
        """:func:`verify_state` of this database with this process's chain key.

        Opening the stores made any missing trigger again; the audit row it wrote makes verify report it.
        """
        return verify_state(self.db, self.audit.chain.key, archive_dirs=archive_dirs, heads=heads)

    def archive(self, before: dt.datetime, out_dir: Path) -> ArchiveResult:
        """:func:`archive_audit` of this database's audit rows before ``before`` into ``out_dir``."""
        return archive_audit(self.db, self.audit, before, out_dir)

    def close(self) -> None:
        """Close the database connections (sqlite then folds its write-ahead log into the file)."""
        self.db.close()

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def settings_chain_key(settings: Settings) -> bytes:
    """The chain key of ``settings``: ``audit_key`` when set, else derived from ``nip_salt``.

    Raises:
        StateInputError: ``nip_salt`` or a set ``audit_key`` is empty.
    """
    audit_key = settings.audit_key.get_secret_value() if settings.audit_key is not None else None
    return chain_key(settings.nip_salt.get_secret_value(), audit_key)


def read_feedback(settings: Settings) -> pd.DataFrame | None:
    """The feedback rows in force (:meth:`FeedbackStore.export` with ``current_only``) of the settings'
    state database, for the jobs that run beside the service (``train``, ``batch``, ``plan``): read
    without creating, migrating or writing anything. None when the database or its feedback table does
    not exist (yet)."""
    url = resolve_state_url(settings)
    parsed = sa.engine.make_url(url)
    database = parsed.database or ""
    in_a_file = database not in ("", ":memory:") and not database.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and in_a_file and not Path(database).exists():
        return None
    db = Database(url)
    try:
        with db.reading() as conn:
            if not sa.inspect(conn).has_table(FEEDBACK.name):
                return None
        return FeedbackStore(db, settings.nip_salt.get_secret_value(), settings_chain_key(settings)).export(
            current_only=True
        )
    finally:
        db.close()


def open_stores(settings: Settings) -> Stores:
    """Open the process's :class:`Stores` from settings (``state_db_url``, ``home``, ``nip_salt``,
    ``audit_key``, ``key_cache_seconds``)."""
    salt = settings.nip_salt.get_secret_value()
    if salt == DEFAULT_NIP_SALT:
        logger.warning(
            "nip_salt is the public default: audit-log NIP hashes can be reversed%s; set a secret",
            "" if settings.audit_key is not None else " and the audit chain's key is public",
        )
    return Stores.open(
        resolve_state_url(settings),
        nip_salt=salt,
        audit_key=settings.audit_key.get_secret_value() if settings.audit_key is not None else None,
        cache_ttl=settings.key_cache_seconds,
    )
