"""The API: ``create_app(settings)`` builds it; ``rekomendasi serve`` runs it with uvicorn.

The engine (snapshot, champion, scores store) loads when the app starts. Until it has loaded, or when
there is no champion, snapshot or scores store for them, every data endpoint answers 503 with what to
run, and ``/ready`` says why; ``/health`` only says the process is alive.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from rekomendasi import __version__
from rekomendasi.errors import RekomendasiError
from rekomendasi.serving.deps import ServiceState, load_engine
from rekomendasi.serving.edge import Edge, note_detail
from rekomendasi.serving.embed import EmbedTokens
from rekomendasi.serving.routes import api_router, system_router, widget_router
from rekomendasi.serving.store import AuditWriter, open_stores, settings_chain_key
from rekomendasi.settings import Settings, get_settings
from rekomendasi.ui import mount_ui, ui_http_error
from rekomendasi.ui.web import error_page

log = logging.getLogger("rekomendasi.api")


def create_app(settings: Settings | None = None, load: bool = True) -> FastAPI:
    """The API for ``settings`` (default: from the environment).

    Args:
        settings: paths, registry, state database and limits.
        load: load the engine at start-up (tests may set ``app.state.service.engine`` themselves).
    """
    settings = settings or get_settings()
    stores = open_stores(settings)
    state = ServiceState(
        settings=settings,
        stores=stores,
        audit=AuditWriter(stores.audit),
        embed=EmbedTokens(settings_chain_key(settings), settings.embed_token_minutes),
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
            "sees recommendations and reasons, without levels or evidence). Every `/v1` request is "
            "written to a tamper-evident audit log before it is answered. Bodies are limited in size "
            "and each key in rate (429 with `Retry-After`)."
        ),
        lifespan=lifespan,
    )
    app.state.service = state
    app.include_router(system_router)
    app.include_router(widget_router)
    app.include_router(api_router, prefix="/v1")

    @app.exception_handler(RekomendasiError)
    async def _product_error(request: Request, err: RekomendasiError) -> Response:
        note_detail(request.scope, str(err))
        if _on_page(request):
            return error_page(request, err.status_code, "error_title")
        return JSONResponse({"detail": str(err)}, status_code=err.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> Response:
        page = ui_http_error(request, err)
        return page if page is not None else await http_exception_handler(request, err)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError) -> Response:
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
        note_detail(request.scope, "; ".join(f"{p['where']}: {p['problem']}" for p in problems))
        if _on_page(request):
            return error_page(request, 422, "not_found")
        return JSONResponse({"detail": problems}, status_code=422)

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """The OpenAPI document, with this server's limits where JSON Schema can say them."""
        if app.openapi_schema is None:
            document = generate_openapi()
            nips = document["components"]["schemas"]["BulkIn"]["properties"]["nips"]
            nips["maxItems"] = settings.bulk_max_nips
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(state.metrics), media_type=CONTENT_TYPE_LATEST)

    mount_ui(app)  # the planner's web page under /ui (its gzip sits inside the edge)
    app.add_middleware(Edge, state=state)
    return app


def _on_page(request: Request) -> bool:
    """Whether the request is for the web page (answered with pages, not JSON)."""
    return request.url.path == "/ui" or request.url.path.startswith("/ui/")
