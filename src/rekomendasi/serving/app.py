"""The API: ``create_app(settings)`` builds it; ``rekomendasi serve`` runs it with uvicorn.

The engine (snapshot, catalogue, champion) loads when the app starts. Until it has loaded, or when
there is no champion or snapshot, every data endpoint answers 503 with what to run, and ``/ready``
says why; ``/health`` only says the process is alive.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from rekomendasi import __version__
from rekomendasi.errors import ModelNotReady, RekomendasiError
from rekomendasi.serving.state import hash_nip, store_from_settings
from rekomendasi.settings import Settings, get_settings

log = logging.getLogger("rekomendasi.api")
_NIP = re.compile(r"(?<!\d)\d{18}(?!\d)")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class AuditWriter:
    """Appends audit rows for the request handlers.

    With ``flush_seconds`` 0 each row is written before the answer leaves. Otherwise rows (timestamped
    when the request is answered) are collected and a background thread appends them in one transaction
    every ``flush_seconds``, so no request waits on the database lock that server processes share; rows
    still in memory when the process is killed hard (not on a normal stop, which flushes) are lost.
    """

    def __init__(self, store: Any, flush_seconds: float) -> None:
        self.store = store
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if flush_seconds > 0:
            self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
            self._thread.start()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as :meth:`StateStore.audit_row`."""
        row = self.store.audit_row(*args, **kwargs)
        if self._thread is None:
            self.store.write_audit([row])
            return
        with self._lock:
            self._rows.append(row)

    def flush(self) -> None:
        """Write what is buffered now."""
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            self.store.write_audit(rows)

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # a failed flush must not kill the thread; the rows stay for the next one
                log.exception("audit flush failed; retrying")

    def close(self) -> None:
        """Stop the thread and write the rest."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


@dataclass
class ServiceState:
    """What the routes share: settings, the durable store, the engine (or why there is none)."""

    settings: Settings
    store: Any  # serving.state.StateStore
    audit: AuditWriter
    engine: Any = None  # serving.engine.Engine
    not_ready: str = "the engine is still loading; retry in a few seconds."
    catalog_out: Any = None  # the catalogue as API entries, built at first request
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)

    def require_engine(self) -> Any:
        """The loaded engine.

        Raises:
            ModelNotReady: not loaded (the message says what to run).
        """
        if self.engine is None:
            raise ModelNotReady(self.not_ready)
        return self.engine


def load_engine(state: ServiceState) -> None:
    """Load (or reload) the engine from the settings' data, snapshot and registry."""
    from rekomendasi.ranking.train import load_train_config
    from rekomendasi.registry import registry_from_settings
    from rekomendasi.serving.engine import Engine

    settings = state.settings
    state.catalog_out = None
    try:
        config = load_train_config(settings.resolve(settings.training_dir) / "train.yaml")
        registry = registry_from_settings(settings)
        state.engine = Engine.load(
            settings.resolve(settings.data_dir),
            settings.resolve(settings.snapshot_dir),
            registry,
            candidates=config.candidates,
            cache_dir=settings.resolve(settings.cache_dir),
        )
    except RekomendasiError as err:
        state.engine = None
        state.not_ready = str(err)
        log.warning("not ready: %s", err)


def hash_path(path: str, salt: str) -> str:
    """``path`` with every 18-digit number (a NIP) replaced by its keyed hash, for logs."""
    return _NIP.sub(lambda m: "nip:" + hash_nip(m.group(0), salt), path)


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
                    hash_path(scope["path"], self.salt),
                    status,
                    elapsed * 1e3,
                )


def create_app(settings: Settings | None = None, load: bool = True) -> FastAPI:
    """The API for ``settings`` (default: from the environment).

    Args:
        settings: paths, registry, state database and limits.
        load: load the engine at start-up (tests may set ``app.state.service.engine`` themselves).
    """
    from rekomendasi.serving.routes import router, system_router

    settings = settings or get_settings()
    store = store_from_settings(settings)
    state = ServiceState(
        settings=settings, store=store, audit=AuditWriter(store, settings.audit_flush_seconds)
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
        store.close()

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
    app.include_router(router, prefix="/v1")

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
