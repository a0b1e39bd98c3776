"""Short-lived tokens for a learning platform's widget: one person, a few minutes, signed by the service.

A platform's long-lived API key must never reach a learner's browser. Its server asks
``POST /v1/embed/tokens`` for a token bound to one NIP and hands that to the widget, which calls the
``/v1/embed/...`` routes with it. The token carries the key's id, the NIP and when it was made, signed with
HMAC-SHA256 (itsdangerous) under a secret derived from the audit key, so it cannot be altered or made
elsewhere; it expires after ``Settings.embed_token_minutes``. Each use checks the key behind it again: a
revoked key's tokens stop working at once in this process, within the key cache time in others.

A token opens nothing but its own person: the embed routes take no NIP, only the token's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from collections.abc import MutableMapping
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from rekomendasi.serving.auth import NIP_HASH_CHARS, Principal, Role

Scope = MutableMapping[str, Any]
EMBED_SALT = "rekomendasi-embed-token-v1"
"""itsdangerous' salt: the same secret signs nothing else that could be swapped for a token."""


@dataclasses.dataclass(frozen=True, slots=True)
class EmbedGrant:
    """What a valid token grants: the key it was made with and the one person it is for."""

    key_id: str
    nip: str


class TokenError(Exception):
    """A token that is malformed, altered, expired or made with a revoked key (answered 401)."""


class EmbedTokens:
    """Issues and checks widget tokens.

    Args:
        secret: The service's secret (bytes); a token made under another secret is refused.
        minutes: How long a token lives.
    """

    def __init__(self, secret: bytes, minutes: float) -> None:
        key = hmac.new(secret, b"embed-tokens", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(key, salt=EMBED_SALT)
        self.minutes = minutes

    def issue(self, principal: Principal, nip: str) -> tuple[str, dt.datetime]:
        """A token for ``nip`` under ``principal``'s key, and when it expires (UTC). The caller has
        already checked that the key may see the person."""
        token = self._serializer.dumps({"k": principal.key_id, "n": nip})
        expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=self.minutes)
        return token, expires

    def check(self, token: str) -> EmbedGrant:
        """The grant of a valid token.

        Raises:
            TokenError: malformed, altered, made under another secret, or older than its lifetime.
        """
        if not token or len(token) > 1000:
            raise TokenError("no widget token, or one too long to be ours.")
        try:
            data = self._serializer.loads(token, max_age=max(1, round(self.minutes * 60)))
        except SignatureExpired as err:
            raise TokenError("the widget token has expired; the platform must ask for a new one.") from err
        except BadSignature as err:
            raise TokenError("the widget token is not valid (altered, or not made by this service).") from err
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("k"), str)
            or not isinstance(data.get("n"), str)
        ):
            raise TokenError("the widget token is not valid (altered, or not made by this service).")
        return EmbedGrant(key_id=data["k"], nip=data["n"])


def may_issue(principal: Principal) -> bool:
    """Platform keys make widget tokens (admin keys too, for trying it out); planner keys do not."""
    return principal.role in (Role.PLATFORM, Role.ADMIN)


def token_fingerprint(token: str) -> str:
    """A short hash of a token, for logs: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:NIP_HASH_CHARS]


# --- CORS for the widget's routes ---------------------------------------------------------------------

EMBED_PREFIX = "/v1/embed/"
TOKEN_FREE = frozenset({"/v1/embed/tokens"})
"""Embed routes called with the platform's key (server to server), not with a widget token."""
PREFLIGHT_SECONDS = 600
ALLOWED_METHODS = b"GET, POST"
ALLOWED_HEADERS = b"authorization, content-type"


def uses_token(path: str) -> bool:
    """Whether ``path`` is a widget route, authenticated by a widget token instead of a key."""
    return path.startswith(EMBED_PREFIX) and path not in TOKEN_FREE


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1")).strip()
    return None


def own_origins(scope: Scope) -> set[str]:
    """This service's own origins as the request names it (Host, and a proxy's X-Forwarded-Host): the
    iframe page calls the widget routes from there."""
    hosts = {header(scope, b"host") or ""}
    hosts |= {h.strip() for h in (header(scope, b"x-forwarded-host") or "").split(",") if h.strip()}
    return {f"{scheme}://{h.lower()}" for h in hosts if h for scheme in ("http", "https")}


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """The answer's CORS headers for an allowed ``origin``."""
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]


def preflight(scope: Scope, known: frozenset[str]) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The answer to a CORS preflight of a widget route. A preflight carries no credentials, so it is
    allowed for an origin some active key allows; the request itself is then checked against the
    origins of its own token's key."""
    origin = header(scope, b"origin")
    if not origin or (origin not in known and origin not in own_origins(scope)):
        return 403, [(b"vary", b"Origin")]
    return 204, [
        *cors_headers(origin),
        (b"access-control-allow-methods", ALLOWED_METHODS),
        (b"access-control-allow-headers", ALLOWED_HEADERS),
        (b"access-control-max-age", str(PREFLIGHT_SECONDS).encode()),
    ]
