"""Signing in and out of the planner's web page, choosing its language, and its front door.

Signing in exchanges a planner or admin API key for a session (:class:`~rekomendasi.serving.store
.SessionStore`): the key is checked once and never kept by the browser; the session cookie is HttpOnly,
SameSite=Strict, limited to ``/ui`` and expires after ``Settings.ui_session_hours``. The sign-in form has
its own CSRF token, double-submitted in a cookie; signing out is a POST with the session's token.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from rekomendasi.serving.auth import Role
from rekomendasi.serving.edge import SESSION_COOKIE, note
from rekomendasi.serving.store.sessions import same_token
from rekomendasi.ui.web import (
    PRE_COOKIE,
    SECURITY_HEADERS,
    PageError,
    SignInNeeded,
    caller,
    check_origin,
    form_of,
    lang_of,
    page_data,
    redirect,
    remember_lang,
    render,
    safe_next,
    service_of,
    session_cookie,
)

router = APIRouter()


@router.get("/")
async def home(request: Request) -> Response:
    """The front door: the caller's only agency, or the list of agencies they may see."""
    try:
        who = caller(request)
    except SignInNeeded:
        return redirect(request, "/ui/masuk")
    data = page_data(request)
    agencies = [a for a in data.agencies() if who.can_see(a[0])]
    if who.principal.role is not Role.ADMIN and len(agencies) == 1:
        return redirect(request, f"/ui/instansi/{agencies[0][0]}")
    return render(request, "agencies.html", who=who, agencies=agencies)


@router.get("/masuk")
async def sign_in_page(
    request: Request, lanjut: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    """The sign-in form."""
    try:
        caller(request)
        return redirect(request, safe_next(lanjut))  # already signed in
    except (SignInNeeded, PageError):
        pass
    return _sign_in_form(request, lanjut, None, 200)


@router.post("/masuk")
async def sign_in(request: Request) -> Response:
    """Check the key; on success start a session and go where the planner was going."""
    form = await form_of(request)
    check_origin(request)
    target = safe_next(form.get("lanjut"))
    if not same_token(form.get("csrf"), request.cookies.get(PRE_COOKIE, "")):
        note(request, detail="sign-in form without its CSRF token")
        return _sign_in_form(request, target, "csrf_failed", 403)
    service = service_of(request)
    hours = service.settings.ui_session_hours
    key = form.get("kunci", "").strip()
    principal = service.stores.keys.authenticate(key)
    if principal is None:
        note(request, detail="sign-in with an unknown or revoked key")
        return _sign_in_form(request, target, "wrong_key", 401)
    if principal.role is Role.PLATFORM:
        note(request, detail=f"sign-in refused to platform key {principal.key_id}")
        return _sign_in_form(request, target, "platform_key", 403)
    started = service.stores.sessions.start(key, hours)
    if started is None:  # revoked in between
        return _sign_in_form(request, target, "wrong_key", 401)
    token, _ = started
    note(request, detail=f"signed in with key {principal.key_id}")
    response = redirect(request, target)
    session_cookie(response, request, token, hours)
    response.delete_cookie(PRE_COOKIE, path="/ui")
    return response


@router.post("/keluar")
async def sign_out(request: Request) -> Response:
    """End the session (the form carries its CSRF token) and show the sign-in page."""
    form = await form_of(request)
    try:
        who = caller(request)
    except SignInNeeded:
        return redirect(request, "/ui/masuk")
    check_origin(request)
    if not same_token(form.get("csrf"), who.session.csrf):
        raise PageError(403, "csrf_failed")
    service_of(request).stores.sessions.end(request.cookies.get(SESSION_COOKIE))
    response = redirect(request, "/ui/masuk?keluar=1")
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


@router.get("/bahasa")
async def language(
    request: Request,
    ke: Annotated[str, Query(pattern="^(id|en)$")] = "id",
    lanjut: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Switch the page language (a preference cookie) and go back."""
    response = redirect(request, safe_next(lanjut))
    remember_lang(response, "en" if ke == "en" else "id", request)
    return response


def _sign_in_form(request: Request, target: str | None, problem: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    service = service_of(request)
    response = render(
        request,
        "sign_in.html",
        status=status,
        problem=problem,
        pre_csrf=token,
        lanjut=safe_next(target),
        hours=service.settings.ui_session_hours,
        signed_out=request.query_params.get("keluar") == "1",
        lang_now=lang_of(request),
    )
    response.set_cookie(
        PRE_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=service.settings.ui_secure_cookie,
        path="/ui",
    )
    response.headers.update(SECURITY_HEADERS)
    return response
