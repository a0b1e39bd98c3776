"""Sign-in sessions of the planner's web page (``/ui``): an API key exchanged for a session cookie.

A session is a random token the browser holds in an HttpOnly, SameSite=Strict cookie; the database keeps
only its SHA-256, the key it stands for, its CSRF token, and when it was made, when it expires and when it
was ended (sign-out). Every use checks the key behind it again, so revoking a key ends its sessions within
the key store's cache time. Sessions are convenience state, not evidence: what a session did is in the
audit log (under its key), so the table has no hash chain and old rows may be deleted.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from rekomendasi.serving.auth import Principal, sha256_hex
from rekomendasi.serving.store.db import METADATA, Database, StateInputError, UtcDateTime, utc_now
from rekomendasi.serving.store.keys import KeyStore

UI_SESSIONS = sa.Table(
    "ui_sessions",
    METADATA,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
)
_TOKEN_CHARS = 43  # secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class UiSession:
    """A live session: who it is (the key's principal), its CSRF token and when it expires."""

    principal: Principal
    csrf: str
    expires_at: dt.datetime


class SessionStore:
    """The web page's sessions in the state database. Safe to share between threads.

    Args:
        db: The state database.
        keys: The key store, which checks the key behind a session at every use.
    """

    def __init__(self, db: Database, keys: KeyStore) -> None:
        self._db = db
        self._keys = keys

    def start(self, plaintext_key: str, hours: float) -> tuple[str, UiSession] | None:
        """Exchange an API key for a session of ``hours``; None when the key is unknown or revoked.

        Returns:
            The session token (for the cookie; never stored) and the session.

        Raises:
            StateInputError: ``hours`` is not positive.
        """
        if hours <= 0:
            raise StateInputError(f"a session must last more than 0 hours, got {hours}")
        principal = self._keys.authenticate(plaintext_key)
        if principal is None:
            return None
        token = secrets.token_urlsafe(32)
        now = utc_now()
        session = UiSession(principal, secrets.token_urlsafe(32), now + dt.timedelta(hours=hours))
        row = {
            "token_sha256": sha256_hex(token),
            "key_id": principal.key_id,
            "csrf": session.csrf,
            "created_at": now,
            "expires_at": session.expires_at,
            "ended_at": None,
        }
        with self._db.writing() as conn:
            conn.execute(UI_SESSIONS.delete().where(UI_SESSIONS.c.expires_at < now - dt.timedelta(days=30)))
            conn.execute(UI_SESSIONS.insert(), row)
        return token, session

    def resolve(self, token: str | None) -> UiSession | None:
        """The live session of ``token``: None when unknown, expired, ended, or its key is revoked."""
        if not token or len(token) != _TOKEN_CHARS:
            return None
        stmt = sa.select(UI_SESSIONS).where(UI_SESSIONS.c.token_sha256 == sha256_hex(token))
        with self._db.reading() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None or row["ended_at"] is not None or row["expires_at"] <= utc_now():
            return None
        principal = self._keys.active(row["key_id"])
        if principal is None:
            return None
        return UiSession(principal, row["csrf"], row["expires_at"])

    def end(self, token: str | None) -> bool:
        """End a session (sign-out); False when there was no live one."""
        if not token or len(token) != _TOKEN_CHARS:
            return False
        live = (
            UI_SESSIONS.c.token_sha256 == sha256_hex(token),
            UI_SESSIONS.c.ended_at.is_(None),
        )
        with self._db.writing() as conn:
            ended = conn.execute(UI_SESSIONS.update().where(*live).values(ended_at=utc_now()))
        return bool(ended.rowcount)


def same_token(sent: str | None, expected: str) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())
