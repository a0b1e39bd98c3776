"""What the routes share, typed: the service state, the FastAPI dependencies that hand the routes the
caller the edge authenticated (:mod:`rekomendasi.serving.edge`), refuse unknown query parameters and check
scopes (noting the NIPs for the audit row), and :meth:`ServiceState.run`, which does a route's CPU work
off the event loop.

Imported by the routes and by the app factory; it imports neither, so there is no import circle.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry

from rekomendasi.errors import (
    BadRequest,
    EmployeeNotFound,
    Forbidden,
    ModelNotReady,
    RekomendasiError,
    Unauthorized,
)
from rekomendasi.recommend import Objections
from rekomendasi.serving import schemas as s
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.edge import note, principal_of
from rekomendasi.serving.embed import EmbedTokens
from rekomendasi.serving.engine import Employee, Engine
from rekomendasi.serving.store import AuditWriter, Stores
from rekomendasi.settings import Settings

log = logging.getLogger("rekomendasi.api")
P = ParamSpec("P")
T = TypeVar("T")

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": s.Problem, "description": "No API key, or an unknown or revoked one."},
    403: {"model": s.Problem, "description": "Outside the key's role or agencies."},
    422: {"model": s.Problem, "description": "Malformed input; the message says what is wrong."},
    429: {
        "model": s.Problem,
        "description": "Over the key's rate limit; retry after the `Retry-After` seconds.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
    503: {"model": s.Problem, "description": "No champion, snapshot or scores store yet; says what to run."},
}
"""The answers every ``/v1`` route may give besides its own."""
WITH_BODY: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    413: {"model": s.Problem, "description": "A body over the server's size limit, or too large an answer."},
    422: {
        "model": s.Problem,
        "description": "Malformed input (a body that is not UTF-8 JSON included); the message says what.",
    },
}
"""The answers of routes that take a body."""
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
    ui_data: Any = None  # the web page's values for the engine (rekomendasi.ui.views.PageData), at first use
    embed: EmbedTokens | None = None  # widget tokens (made by create_app)
    _lanes: dict[str, anyio.CapacityLimiter] = field(default_factory=dict)

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``work`` in a worker thread, at most ``Settings.work_threads`` at once (the rest queue in
        order), so ranking and serialising never hold the event loop that answers everyone else."""
        return await self._in_lane("one", self.settings.work_threads, work, *args, **kwargs)

    async def run_list(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`run` for a piece of a list answer (bulk, agency pages): one thread of its own, so
        requests for one employee never queue behind a large answer's pieces, and a large answer takes
        at most one core's share from them."""
        return await self._in_lane("list", 1, work, *args, **kwargs)

    async def run_plan(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`run` for solving an agency plan (up to its time limit, a minute by default): one thread
        of its own, so neither answers for one employee nor list pages wait behind a solve; plans wait
        for each other."""
        return await self._in_lane("plan", 1, work, *args, **kwargs)

    async def _in_lane(
        self, lane: str, threads: int, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        limiter = self._lanes.get(lane)
        if limiter is None:  # made on the event loop, at first use
            limiter = self._lanes[lane] = anyio.CapacityLimiter(threads)
        return await anyio.to_thread.run_sync(functools.partial(work, *args, **kwargs), limiter=limiter)

    def objections(self, nips: Sequence[str] | None) -> Objections:
        """The standing objections of ``nips`` (everyone's when None): one query of the state database;
        call it off the event loop, in the thread that builds their answers."""
        return Objections.of_pairs(self.stores.feedback.standing_objections(nips))

    def require_engine(self) -> Engine:
        """The loaded engine.

        Raises:
            ModelNotReady: not loaded (the message says what to run).
        """
        if self.engine is None:
            raise ModelNotReady(self.not_ready)
        return self.engine


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
    key: Annotated[str | None, Security(_api_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    """The caller the edge authenticated (the key parameters only document the schemes in OpenAPI: the
    edge has checked the key before the route, and before any body was read)."""
    principal = principal_of(request)
    if principal is None:  # only if a route were mounted outside the edge's prefix
        raise Unauthorized("no API key: send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.")
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
    """:func:`visible`, with the NIP noted for the request's audit row whatever the outcome."""
    note(request, [nip])
    return visible(service.require_engine(), principal, nip)


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
