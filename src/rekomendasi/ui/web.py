"""What every page of the planner's web page shares: the templates, the signed-in caller, CSRF checks,
the language, the page's security headers, and turning errors into plain pages.

The caller comes from the session cookie, which the edge (:mod:`rekomendasi.serving.edge`) resolves before
any page runs and audits like an API request. A page that needs a caller and has none sends the browser to
the sign-in page (303; htmx requests get ``HX-Redirect``). Every form carries the session's CSRF token and
every POST is checked against it (the cookie is also SameSite=Strict, and the Origin header, when sent,
must be this site).
"""

from __future__ import annotations

import contextlib
import hashlib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from rekomendasi import __version__
from rekomendasi.explain import Lang
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.deps import ServiceState
from rekomendasi.serving.edge import SESSION_COOKIE, principal_of
from rekomendasi.serving.embed import own_origins
from rekomendasi.serving.engine import Engine
from rekomendasi.serving.store.sessions import UiSession, same_token
from rekomendasi.ui.i18n import LANG_COOKIE, formatters, text
from rekomendasi.ui.views import PageData

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["app_version"] = __version__
PRE_COOKIE = "rk_pra"
"""The sign-in form's CSRF cookie (before there is a session): double-submitted in the form."""
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",  # pages show personal data: never kept by a shared cache or the back button
}


def _asset_version() -> str:
    """A short hash of the static files, in their URLs: browsers may cache them for a year."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


ASSET_VERSION = _asset_version()


class SignInNeeded(Exception):
    """The page needs a signed-in caller (answered with a redirect to the sign-in page)."""


class PageError(Exception):
    """An error shown as a page: ``key`` of the words (:data:`~rekomendasi.ui.i18n.TEXTS`) and a status."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Caller:
    """The signed-in planner or admin of a page request."""

    principal: Principal
    session: UiSession

    def can_see(self, agency: str) -> bool:
        return self.principal.can_see(agency)


def service_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def lang_of(request: Request) -> Lang:
    """The page language: ``?lang=`` when given, else the language cookie, else Indonesian."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "id"
    return "en" if chosen == "en" else "id"


def caller(request: Request) -> Caller:
    """The signed-in caller (a planner or an admin).

    Raises:
        SignInNeeded: no live session.
        PageError: 403 for a platform key (which cannot sign in; only if its role changed).
    """
    principal = principal_of(request)
    session: UiSession | None = request.scope.get("state", {}).get("ui_session")
    if principal is None or session is None:
        raise SignInNeeded
    if principal.role is Role.PLATFORM:
        raise PageError(403, "platform_key")
    return Caller(principal, session)


def engine_of(request: Request) -> Engine:
    """The loaded engine, or a 503 page that says why there is none."""
    state = service_of(request)
    if state.engine is None:
        raise PageError(503, "not_ready", why=state.not_ready)
    return state.engine


def page_data(request: Request) -> PageData:
    """The pages' values for the engine now serving (built at first use, again after a reload)."""
    engine = engine_of(request)
    state = service_of(request)
    data: PageData | None = state.ui_data
    if data is None or data.engine is not engine:
        data = state.ui_data = PageData(engine)
    return data


def require_agency(who: Caller, agency: str) -> None:
    if not who.can_see(agency):
        raise PageError(403, "forbidden")


async def form_of(request: Request) -> dict[str, str]:
    """The POSTed form's fields (``application/x-www-form-urlencoded``; the edge has bounded its size)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def check_origin(request: Request) -> None:
    """Refuse a POST whose Origin (when the browser sends one) is not this site: the Host it was sent to,
    or the host a reverse proxy says it forwarded (``X-Forwarded-Host``; a cross-site form cannot set
    that header, and the CSRF token is checked besides)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.lower() not in own_origins(request.scope):
        raise PageError(403, "csrf_failed")


def check_csrf(request: Request, who: Caller, form: dict[str, str]) -> None:
    """Refuse a form without this session's CSRF token, or from another site.

    Raises:
        PageError: 403, in words asking to reload the page.
    """
    check_origin(request)
    if not same_token(form.get("csrf"), who.session.csrf):
        raise PageError(403, "csrf_failed")


def render(
    request: Request,
    name: str,
    status: int = 200,
    who: Caller | None = None,
    **context: Any,
) -> HTMLResponse:
    """The template ``name`` with the page's common values, in the page language, with its headers."""
    lang = lang_of(request)
    values = {
        "request": request,
        "lang": lang,
        "who": who,
        "csrf": who.session.csrf if who is not None else "",
        "static": f"/ui/static/{ASSET_VERSION}",
        "path": request.url.path,
        "query": request.url.query,
        "htmx": request.headers.get("hx-request") == "true",
        **formatters(lang),
        **context,
    }
    response = templates.TemplateResponse(request, name, values, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    if request.query_params.get("lang") in ("id", "en"):
        remember_lang(response, lang, request)
    return response


def remember_lang(response: Response, lang: Lang, request: Request) -> None:
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="strict",
        secure=service_of(request).settings.ui_secure_cookie,
        path="/ui",
    )


def redirect(request: Request, url: str) -> Response:
    """303 to ``url`` (htmx requests: 200 with ``HX-Redirect``, which htmx follows as a full page)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url, **SECURITY_HEADERS})
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(request, "/ui/masuk?" + urllib.parse.urlencode({"lanjut": target}))


def error_page(request: Request, status: int, key: str, **values: object) -> HTMLResponse:
    """A plain page saying what went wrong, in the page language."""
    who = None
    with contextlib.suppress(SignInNeeded, PageError):
        who = caller(request)
    message = text(key, lang_of(request), **values)
    return render(request, "error.html", status=status, who=who, message=message)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this page only (never another site)."""
    if not target or not target.startswith("/ui") or target.startswith("//") or "\\" in target:
        return "/ui/"
    return target


def session_cookie(response: Response, request: Request, token: str, hours: float) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="strict",
        secure=service_of(request).settings.ui_secure_cookie,
        path="/ui",
    )
