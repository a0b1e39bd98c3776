"""What the routes share, typed: the service state, and the FastAPI dependencies that authenticate the
caller, refuse unknown query parameters and oversized bodies, check scopes and write audit rows.

Imported by the routes and by the app factory; it imports neither, so there is no import circle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry

from rekomendasi.errors import (
    BadRequest,
    EmployeeNotFound,
    Forbidden,
    ModelNotReady,
    PayloadTooLarge,
    RekomendasiError,
    Unauthorized,
)
from rekomendasi.serving import schemas as s
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.engine import Employee, Engine
from rekomendasi.serving.store import AuditWriter, Stores
from rekomendasi.settings import Settings

log = logging.getLogger("rekomendasi.api")

MAX_BODY_BYTES = 1_000_000
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": s.Problem, "description": "No API key, or an unknown or revoked one."},
    403: {"model": s.Problem, "description": "Outside the key's role or agencies."},
    422: {"model": s.Problem, "description": "Malformed input; the message says what is wrong."},
    503: {"model": s.Problem, "description": "No champion, snapshot or scores store yet; says what to run."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": s.Problem, "description": "Unknown NIP (admin keys only)."}
}


@dataclass
class ServiceState:
    """What the routes share: settings, the durable stores, the audit writer and the engine (or why
    there is none)."""

    settings: Settings
    stores: Stores
    audit: AuditWriter
    engine: Engine | None = None
    not_ready: str = "the engine is still loading; retry in a few seconds."
    catalog_out: list[s.CatalogEntry] | None = None  # the catalogue as API entries, built at first use
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)

    def require_engine(self) -> Engine:
        """The loaded engine.

        Raises:
            ModelNotReady: not loaded (the message says what to run).
        """
        if self.engine is None:
            raise ModelNotReady(self.not_ready)
        return self.engine

    def record(self, principal: Principal | None, request: Request, nips: Sequence[str], status: int) -> None:
        """Append one audit row for ``request`` (who, whose NIPs, model version, snapshot, status)."""
        engine = self.engine
        self.audit(
            principal,
            f"{request.method} {request.url.path}",
            list(nips),
            engine.model_version.version if engine is not None else None,
            engine.snapshot_id if engine is not None else None,
            status,
        )


def load_engine(state: ServiceState) -> None:
    """Load (or reload) the engine from the settings' snapshot, registry and scores store; when that is
    not possible, keep why (``/ready`` and the data routes say it, with what to run)."""
    from rekomendasi.jobs.outputs import score_options
    from rekomendasi.registry import registry_from_settings

    settings = state.settings
    state.catalog_out = None
    try:
        options, _ = score_options(settings)
        state.engine = Engine.load(
            settings.resolve(settings.snapshot_dir),
            settings.resolve(settings.scores_dir),
            registry_from_settings(settings),
            options,
        )
    except RekomendasiError as err:
        state.engine = None
        state.not_ready = str(err)
        log.warning("not ready: %s", err)


def _service(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


Service = Annotated[ServiceState, Depends(_service)]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (`rk_...`).")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


async def _principal(
    request: Request,
    service: Service,
    key: Annotated[str | None, Security(_api_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    token = key or (bearer.credentials if bearer is not None else None)
    if not token:
        raise Unauthorized("no API key: send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.")
    principal = service.stores.keys.authenticate(token)
    if principal is None:
        service.record(None, request, [], 401)
        raise Unauthorized("unknown or revoked API key.")
    return principal


Caller = Annotated[Principal, Depends(_principal)]


def only(*allowed: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency that rejects query parameters the route does not know (422, naming them)."""

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise BadRequest(
                f"unknown query parameter(s) {', '.join(unknown)}; allowed: {', '.join(allowed) or 'none'}."
            )

    return check


async def body_limit(request: Request) -> None:
    """Refuse a declared body over :data:`MAX_BODY_BYTES` (413)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body of {length} bytes; the limit is {MAX_BODY_BYTES:,}.")


def visible(engine: Engine, principal: Principal, nip: str) -> Employee:
    """The employee if the key may see them. Non-admins get the same 403 whether or not the NIP exists.

    Raises:
        EmployeeNotFound: an admin asked for a NIP that is not an active employee.
        Forbidden: outside the key's agencies (or unknown, for non-admins).
    """
    found = engine.find(nip)
    if principal.role is Role.ADMIN:
        if found is None:
            raise EmployeeNotFound(f"no active employee {nip} in snapshot {engine.snapshot_id}.")
        return found
    if found is None or not principal.can_see(found.instansi_id):
        raise Forbidden(f"employee {nip} is not in the agencies this key may see.")
    return found


def guarded(service: ServiceState, principal: Principal, request: Request, nip: str) -> Employee:
    """:func:`visible`, with its audit row when refused."""
    engine = service.require_engine()
    try:
        return visible(engine, principal, nip)
    except RekomendasiError as err:
        service.record(principal, request, [nip], err.status_code)
        raise


K = Annotated[int, Query(ge=1, le=50, description="How many recommendations (1-50).")]
LangQ = Annotated[s.LangParam, Query(description="Language of reasons and evidence: `id` (default) or `en`.")]
ModalityQ = Annotated[list[s.Modality] | None, Query(description="Allowed modalities (repeatable).")]
MaxCost = Annotated[int | None, Query(ge=0, description="Highest cost per participant, in rupiah.")]
MaxJp = Annotated[int | None, Query(ge=1, description="Longest entry, in JP.")]
Province = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Leave out classroom entries held in other provinces."),
]
NipPath = Annotated[
    str, Path(pattern=s.NIP_PATTERN, description="18-digit NIP.", examples=["198503152010011001"])
]
FILTER_PARAMS = ("modality", "max_cost_idr", "max_jp", "province")
