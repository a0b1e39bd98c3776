"""The HR planner's web page, served under ``/ui`` by the API's own application (no second server).

Server-rendered Jinja2 pages in plain Indonesian (English with one switch), small partial updates with
htmx, one chart library (uPlot) for the what-if curve; every asset is vendored in ``static/`` so the page
works offline. Read pages work with JavaScript disabled. Sign-in exchanges a planner or admin API key for a
session cookie (:mod:`.access`); every page that shows personal data is audited like the API (the edge
writes the row, :mod:`rekomendasi.serving.edge`).

Modules: :mod:`.web` (shared: templates, caller, CSRF, errors), :mod:`.access` (sign-in, sign-out,
language), :mod:`.pages` (overview, unit, person, model), :mod:`.planner` (plan builder), :mod:`.views`
(the values the pages show), :mod:`.i18n` (words and numbers).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from rekomendasi.ui import access, pages, planner
from rekomendasi.ui.web import (
    ASSET_VERSION,
    STATIC_DIR,
    PageError,
    SignInNeeded,
    error_page,
    sign_in_redirect,
)

UI_PREFIX = "/ui"
STATIC_MAX_AGE = 365 * 24 * 3600  # the URLs carry the assets' hash


def ui_router() -> APIRouter:
    """Every page of the web page, under ``/ui``."""
    router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)
    router.include_router(access.router)
    router.include_router(pages.router)
    router.include_router(planner.router)
    return router


class CachedStatic(StaticFiles):
    """The vendored assets, cacheable for a year (their URL changes with their content)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = f"public, max-age={STATIC_MAX_AGE}, immutable"
            response.headers["x-content-type-options"] = "nosniff"
        return response


class UiCompression:
    """gzip for the web page's answers only (slow connections); the API's answers pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=500, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == UI_PREFIX or path.startswith(UI_PREFIX + "/"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def mount_ui(app: FastAPI) -> None:
    """Add the web page to the API's application: its routes, static files, error pages and gzip."""
    app.include_router(ui_router())
    app.mount(f"{UI_PREFIX}/static/{ASSET_VERSION}", CachedStatic(directory=STATIC_DIR), name="ui-static")

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, err: SignInNeeded) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, err: PageError) -> Response:
        return error_page(request, err.status, err.key, **err.values)

    app.add_middleware(UiCompression)


def ui_http_error(request: Request, err: StarletteHTTPException) -> Response | None:
    """The page for an HTTP error under ``/ui`` (unknown page, bad query), or None elsewhere."""
    if not request.url.path.startswith(UI_PREFIX):
        return None
    key = "not_found" if err.status_code == 404 else "error_title"
    return error_page(request, err.status_code, key)


__all__ = ["mount_ui", "ui_http_error", "ui_router"]
