"""Durable state of the recommendation API: API keys, the append-only audit log and feedback.

One module per concern (:mod:`.keys`, :mod:`.audit`, :mod:`.feedback`), all on one database (:mod:`.db`).
A process opens them together with :func:`open_stores` and closes them with :meth:`Stores.close`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rekomendasi.serving.auth import DEFAULT_NIP_SALT
from rekomendasi.serving.store.audit import AUDIT_LOG, AuditLog, AuditWriter
from rekomendasi.serving.store.db import Database, StateInputError, require_salt, resolve_state_url
from rekomendasi.serving.store.feedback import FEEDBACK_EXPORT_COLUMNS, FeedbackEvent, FeedbackStore
from rekomendasi.serving.store.keys import CACHE_TTL_SECONDS, KeyInfo, KeyStore

if TYPE_CHECKING:
    from rekomendasi.settings import Settings

__all__ = [
    "AUDIT_LOG",
    "CACHE_TTL_SECONDS",
    "FEEDBACK_EXPORT_COLUMNS",
    "AuditLog",
    "AuditWriter",
    "Database",
    "FeedbackEvent",
    "FeedbackStore",
    "KeyInfo",
    "KeyStore",
    "StateInputError",
    "Stores",
    "open_stores",
    "resolve_state_url",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stores:
    """The key store, the audit log and the feedback store of one process, sharing one database.

    Safe to share between threads. Use as a context manager, or call :meth:`close` when done.
    """

    db: Database
    keys: KeyStore
    audit: AuditLog
    feedback: FeedbackStore

    @classmethod
    def open(
        cls,
        url: str,
        nip_salt: str,
        *,
        cache_ttl: float = CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> Stores:
        """Open the stores on the database at ``url``, creating missing tables.

        Args:
            url: SQLAlchemy URL. A relative sqlite path resolves against the working directory (use
                :func:`open_stores` to resolve it against ``Settings.home``); its parent directories
                are created.
            nip_salt: Secret key of :func:`~rekomendasi.serving.auth.hash_nip`; non-empty.
            cache_ttl: Seconds a successful key lookup is reused without asking the database (>= 0).
            clock: Monotonic clock in seconds, for the key cache; tests pass a fake one.

        Raises:
            ConfigError: The URL is invalid, its driver is missing, or the database cannot be opened.
            StateInputError: ``nip_salt`` is empty.
        """
        require_salt(nip_salt)
        db = Database(url)
        try:
            return cls(
                db=db,
                keys=KeyStore(db, cache_ttl=cache_ttl, clock=clock),
                audit=AuditLog(db, nip_salt),
                feedback=FeedbackStore(db, nip_salt),
            )
        except BaseException:
            db.close()
            raise

    @property
    def url(self) -> str:
        """str: The database URL, password hidden."""
        return self.db.url

    def close(self) -> None:
        """Close the database connections (sqlite then folds its write-ahead log into the file)."""
        self.db.close()

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_stores(settings: Settings) -> Stores:
    """Open the process's :class:`Stores` from settings (``state_db_url``, ``home``, ``nip_salt``)."""
    salt = settings.nip_salt.get_secret_value()
    if salt == DEFAULT_NIP_SALT:
        logger.warning("nip_salt is the public default: audit-log NIP hashes can be reversed; set a secret")
    return Stores.open(resolve_state_url(settings), nip_salt=salt)
