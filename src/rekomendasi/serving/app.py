"""The API: ``create_app(settings)`` builds it; ``rekomendasi serve`` runs it with uvicorn.

The engine (snapshot, champion, scores store) loads when the app starts. Until it has loaded, or when
there is no champion, snapshot or scores store for them, every data endpoint answers 503 with what to
run, and ``/ready`` says why; ``/health`` only says the process is alive.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from rekomendasi import __version__
from rekomendasi.errors import RekomendasiError
from rekomendasi.serving.auth import scrub_nips
from rekomendasi.serving.deps import ServiceState, load_engine
from rekomendasi.serving.routes import api_router, system_router
from rekomendasi.serving.store import AuditWriter, open_stores
from rekomendasi.settings import Settings, get_settings

log = logging.getLogger("rekomendasi.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class _AccessLog:
    """Pure ASGI middleware: Prometheus counters and latency, and an access log with NIPs hashed
    (uvicorn's own access log is off, because it would print raw NIPs)."""

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state
        self.salt = state.settings.nip_salt.get_secret_value()
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

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(route).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    scrub_nips(scope["path"], self.salt),
                    status,
                    elapsed * 1e3,
                )


def create_app(settings: Settings | None = None, load: bool = True) -> FastAPI:
    """The API for ``settings`` (default: from the environment).

    Args:
        settings: paths, registry, state database and limits.
        load: load the engine at start-up (tests may set ``app.state.service.engine`` themselves).
    """
    settings = settings or get_settings()
    stores = open_stores(settings)
    state = ServiceState(
        settings=settings, stores=stores, audit=AuditWriter(stores.audit, settings.audit_flush_seconds)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load:
            load_engine(state)
            # The engine is millions of long-lived objects; moving them out of the collector's reach keeps
            # full collections (and the latency spikes they cause) short.
            gc.collect()
            gc.freeze()
        yield
        state.audit.close()
        stores.close()

    app = FastAPI(
        title="rekomendasi",
        version=__version__,
        summary="Explained training recommendations for Indonesian civil servants (ASN).",
        description=(
            "Personalised, explained recommendations of catalogue trainings from competency and "
            "performance gaps. Authenticate with `X-API-Key: <key>` (or `Authorization: Bearer <key>`). "
            "Keys have a role: `admin`, `planner` (scoped to agencies) or `platform` (scoped to agencies; "
            "sees recommendations and reasons, not the evidence). Every request for someone's data is "
            "written to an append-only audit log."
        ),
        lifespan=lifespan,
    )
    app.state.service = state
    app.include_router(system_router)
    app.include_router(api_router, prefix="/v1")

    @app.exception_handler(RekomendasiError)
    async def _product_error(request: Request, err: RekomendasiError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "where": ".".join(str(p) for p in e.get("loc", ())),
                "problem": e.get("msg", ""),
                **(
                    {"received": str(e["input"])[:200]} if e.get("type") != "missing" and "input" in e else {}
                ),
            }
            for e in err.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(state.metrics), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(_AccessLog, state=state)
    return app
