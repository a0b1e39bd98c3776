"""The service's edge: a pure ASGI middleware that every request passes before any route code runs.

In order, for each request under ``/v1`` (and under ``/ui``, the planner's web page, where the caller is
the session cookie's, a missing one is left to the page to answer, and static files pass untouched):

1. a request id (the caller's ``X-Request-ID`` when it is a plain token, else a fresh one), echoed back;
2. the API key, checked before a byte of the body is read: no key or a bad one is answered 401 at once
   (the widget's routes, ``/v1/embed/...``, take a widget token instead, from an origin the token's key
   allows: :mod:`rekomendasi.serving.embed`; their CORS preflights are answered here, unaudited);
3. the key's rate limit (a token bucket per key and worker, its rate set per role): 429 with
   ``Retry-After``;
4. the body, counted on the bytes actually received (a chunked body too) and refused with 413 past
   ``Settings.max_body_bytes``; a body that is not UTF-8 text is refused with 422. At most that many
   bytes are ever held;
5. the audit row, written (and committed) before the answer's first byte leaves, whatever the answer:
   a request that was answered always has its row. The routes say whose NIPs it concerned
   (:func:`note`); refusals here are audited too.

For every request: Prometheus counters and latency, and an access log line with NIPs hashed and control
characters escaped (uvicorn's own access log is off, as it would print raw NIPs and raw control bytes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.requests import Request, cookie_parser

from rekomendasi.serving import embed
from rekomendasi.serving.auth import Principal, Role, printable, scrub_nips

log = logging.getLogger("rekomendasi.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/v1"
UI_PREFIX = "/ui"
UI_STATIC = "/ui/static/"
SESSION_COOKIE = "rk_sesi"
"""The web page's session cookie (HttpOnly, SameSite=Strict; see :mod:`rekomendasi.ui`)."""
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_AUDIT_KEY = "rekomendasi.audit"  # where a route's note waits in the request state


@dataclass
class AuditNote:
    """What a route tells the audit row about its request: whose NIPs it answered, whose it refused,
    and why it failed (when it did)."""

    nips: Sequence[str] = ()
    refused: Sequence[str] = ()
    detail: str = ""


def note(request: Request, nips: Sequence[str] = (), refused: Sequence[str] = (), detail: str = "") -> None:
    """Tell the audit row of ``request`` which NIPs it concerned (answered and refused); call it before
    any check that may refuse the request, so a refusal is audited with the NIP it was about."""
    current = _note(request.scope)
    current.nips = list(nips)
    current.refused = list(refused)
    if detail:
        current.detail = detail


def note_detail(scope: Scope, detail: str) -> None:
    """Add why a request failed to its audit row (the error handlers call it)."""
    _note(scope).detail = detail


def _note(scope: Scope) -> AuditNote:
    state = scope.setdefault("state", {})
    current: AuditNote | None = state.get(_AUDIT_KEY)
    if current is None:
        current = state[_AUDIT_KEY] = AuditNote()
    return current


def principal_of(request: Request) -> Principal | None:
    """The caller the edge authenticated for ``request``: by API key under ``/v1``, by session cookie
    under ``/ui`` (None when signed out, and elsewhere)."""
    found: Principal | None = request.scope.get("state", {}).get("principal")
    return found


class RateLimiter:
    """Token buckets per API key: each key may make ``rate`` requests a second on average (its role's
    rate), bursting to ``rate * burst_seconds``. Per worker process; used from the event loop only.

    Args:
        rates: Requests per second by role; 0 means no limit.
        burst_seconds: The bucket holds this many seconds' worth of requests.
        clock: Monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        rates: dict[Role, float],
        burst_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = rates
        self.burst_seconds = burst_seconds
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key_id -> (tokens, last refill)

    def wait(self, principal: Principal) -> float:
        """Take one request from the key's bucket and return 0, or the seconds until it may ask again."""
        rate = self.rates.get(principal.role, 0.0)
        if rate <= 0:
            return 0.0
        capacity = max(rate * self.burst_seconds, 1.0)
        now = self.clock()
        tokens, last = self._buckets.get(principal.key_id, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[principal.key_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[principal.key_id] = (tokens, now)
        if len(self._buckets) > 100_000:  # keys come from the key store, so this only guards a bug
            self._buckets.clear()
        return (1.0 - tokens) / rate


class Edge:
    """The middleware (see the module's docstring).

    Args:
        app: The application behind it.
        state: The service state (stores, audit writer, settings, engine, metrics).
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state
        settings = state.settings
        self.salt: str = settings.nip_salt.get_secret_value()
        self.max_body: int = settings.max_body_bytes
        self.limiter = RateLimiter(
            {
                Role.ADMIN: settings.rate_limit_admin,
                Role.PLANNER: settings.rate_limit_planner,
                Role.PLATFORM: settings.rate_limit_platform,
            },
            settings.rate_burst_seconds,
        )
        self.requests = Counter(
            "rekomendasi_requests", "HTTP requests", ["method", "route", "status"], registry=state.metrics
        )
        self.latency = Histogram(
            "rekomendasi_request_seconds",
            "Request latency",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=state.metrics,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope["path"]
        api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
        ui = (path == UI_PREFIX or path.startswith(UI_PREFIX + "/")) and not path.startswith(UI_STATIC)
        if api and scope["method"] == "OPTIONS" and path.startswith(embed.EMBED_PREFIX):
            code, headers = embed.preflight(scope, self.state.stores.keys.all_origins())
            await send({"type": "http.response.start", "status": code, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            self._observe(scope, code, time.perf_counter() - started)
            return  # a preflight carries no credentials and shows nothing: not audited
        audited = api or ui
        status = 500
        principal: Principal | None = None
        written = False

        async def start(message: Message) -> None:
            """Forward the response's start after its audit row is committed, with the request id."""
            nonlocal status, written
            status = int(message["status"])
            if audited and not written:
                written = True
                await self._audit(scope, principal, status, request_id)
            message.setdefault("headers", [])
            allowed = scope["state"].get("cors_origin")
            cors = embed.cors_headers(allowed) if allowed else []
            message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode()), *cors]
            await send(message)

        async def forward(message: Message) -> None:
            if message["type"] == "http.response.start":
                await start(message)
            else:
                await send(message)

        try:
            if not audited:
                await self.app(scope, receive, forward)
                return
            if not api:
                principal, refusal = self._session(scope), None
            elif embed.uses_token(path):
                principal, refusal = self._widget(scope)
            else:
                principal, refusal = self._authenticate(scope)
            if refusal is None and principal is not None:
                scope["state"]["principal"] = principal
                refusal = self._throttle(principal)
            if refusal is None:
                body, refusal = await self._read_body(scope, receive)
                if body is not None:
                    receive = _replay(body, receive)
            if refusal is not None:
                code, detail, headers = refusal
                note_detail(scope, detail)
                if _declared_length(scope) != 0:  # a body may still be coming: close, do not drain it
                    headers = [*headers, (b"connection", b"close")]
                await _answer(forward, code, detail, headers)
                return
            await self.app(scope, receive, forward)
        finally:
            if audited and not written:  # the app failed before answering: the 500 is audited too
                written = True
                note_detail(scope, _note(scope).detail or "the server failed before answering")
                try:
                    await self._audit(scope, principal, 500, request_id)
                except Exception:  # the original error matters more; the audit failure is logged
                    log.exception("audit row of a failed request could not be written")
            self._observe(scope, status, time.perf_counter() - started)

    def _session(self, scope: Scope) -> Principal | None:
        """The web page's caller: the principal of the request's live session cookie, or None (the page
        then asks to sign in). The session is kept in the request state for the page's CSRF check."""
        token = _cookie(scope, SESSION_COOKIE)
        session = self.state.stores.sessions.resolve(token) if token else None
        if session is None:
            return None
        scope["state"]["ui_session"] = session
        return session.principal

    def _widget(self, scope: Scope) -> tuple[Principal | None, _Refusal | None]:
        """The caller of a widget route: the key behind its token (still active), for the token's person
        only (kept in the request state), called from an origin that key allows or from this service."""
        keys = self.state.stores.keys
        origin = embed.header(scope, b"origin")
        try:
            grant = self.state.embed.check(_token(scope) or "")
        except embed.TokenError as err:
            if origin and origin in keys.all_origins():  # so the widget can read why and say it
                scope["state"]["cors_origin"] = origin
            return None, (401, str(err), [(b"www-authenticate", b"Bearer")])
        principal = keys.active(grant.key_id)
        if principal is None or not embed.may_issue(principal):
            return None, (401, "the widget token's key is revoked; the platform must ask again.", [])
        if origin and origin not in keys.origins(grant.key_id) and origin not in embed.own_origins(scope):
            return principal, (403, f"origin {origin} is not allowed for this key's widget.", [])
        if origin:
            scope["state"]["cors_origin"] = origin
        scope["state"]["embed_nip"] = grant.nip
        return principal, None

    def _authenticate(self, scope: Scope) -> tuple[Principal | None, _Refusal | None]:
        token = _token(scope)
        if not token:
            return None, (
                401,
                "no API key: send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.",
                [(b"www-authenticate", b"Bearer")],
            )
        principal = self.state.stores.keys.authenticate(token)
        if principal is None:
            return None, (401, "unknown or revoked API key.", [(b"www-authenticate", b"Bearer")])
        return principal, None

    def _throttle(self, principal: Principal) -> _Refusal | None:
        wait = self.limiter.wait(principal)
        if wait <= 0:
            return None
        seconds = max(1, math.ceil(wait))
        return (
            429,
            f"too many requests for this key (the {principal.role} rate limit); retry in {seconds} s.",
            [(b"retry-after", str(seconds).encode())],
        )

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes | None, _Refusal | None]:
        """The whole body (None when the request declares none), or why it is refused. Never holds more
        than the limit: a body past it is refused as soon as its bytes arrive."""
        declared = _declared_length(scope)
        if declared == 0:
            return None, None
        too_large: _Refusal = (
            413,
            f"request body over the limit of {self.max_body:,} bytes; send less (split a bulk request).",
            [],
        )
        if declared is not None and declared > self.max_body:
            return None, too_large
        parts: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, (400, "the client went away before sending the whole body.", [])
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None, too_large
            parts.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(parts)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            return None, (
                422,
                f"the body is not UTF-8 text (byte {err.start}); send JSON encoded as UTF-8.",
                [],
            )
        return body, None

    async def _audit(self, scope: Scope, principal: Principal | None, status: int, request_id: str) -> None:
        noted = _note(scope)
        engine = self.state.engine
        action = printable(f"{scope['method']} {scope['path']}")[:200]
        done = self.state.audit(
            principal,
            action,
            list(noted.nips),
            engine.model_version.version if engine is not None else None,
            engine.snapshot_id if engine is not None else None,
            status,
            printable(noted.detail)[:2000],
            refused=list(noted.refused),
            request_id=request_id,
        )
        if done is not None:
            await asyncio.wrap_future(done)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        self.requests.labels(scope["method"], route, str(status)).inc()
        self.latency.labels(route).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %d %.1fms %s",
                printable(scope["method"]),
                printable(scrub_nips(scope["path"], self.salt)),
                status,
                elapsed * 1e3,
                scope["state"]["request_id"],
            )


_Refusal = tuple[int, str, list[tuple[bytes, bytes]]]


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def _declared_length(scope: Scope) -> int | None:
    """The body's declared length: its Content-Length, None for a chunked body (length unknown), 0 for
    none. (The server has already refused a Content-Length that is not a number.)"""
    length = None
    chunked = False
    for name, value in scope.get("headers") or []:
        if name == b"content-length" and value.strip().isdigit():
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        return None
    return length or 0


def _token(scope: Scope) -> str | None:
    key = bearer = None
    for name, value in scope.get("headers") or []:
        if name == b"x-api-key" and key is None:
            key = value.decode("latin-1").strip()
        elif name == b"authorization" and bearer is None:
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                bearer = credentials.strip()
    return key or bearer or None


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope.get("headers") or []:
        if header == b"cookie":
            found = cookie_parser(value.decode("latin-1")).get(name)
            if found:
                return found
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits on the real one."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
