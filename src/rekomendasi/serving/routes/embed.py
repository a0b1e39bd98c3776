"""The learning platforms' widget: tokens for one person, the person's suggestions, their feedback, and
the widget itself (one script, and an iframe page for platforms that cannot run third-party scripts).

``POST /v1/embed/tokens`` is called by the platform's server with its key. The other ``/v1/embed/`` routes
are called by the widget in the learner's browser with the token; they take no NIP (the token's is the only
one they can read), answer what a platform key may see (reasons without levels or evidence), and send CORS
headers for the origins the key allows (:mod:`rekomendasi.serving.embed`, enforced at the edge).
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from rekomendasi.errors import BadRequest, Forbidden, Unauthorized
from rekomendasi.recommend import NO_FILTERS, Recommendation
from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import recommendation_out
from rekomendasi.serving.deps import ERRORS, WITH_BODY, Caller, Service, ServiceState, guarded, only
from rekomendasi.serving.edge import note
from rekomendasi.serving.embed import TokenError, may_issue

router = APIRouter(tags=["embed"])
widget_router = APIRouter(include_in_schema=False)
WIDGET_EVENTS = ("accepted", "rejected")
"""What the widget's two buttons record: "Daftar" (the person takes it up), "Tidak relevan"."""


class TokenIn(BaseModel):
    nip: s.Nip
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenOut(BaseModel):
    token: str = Field(description="Give it to the widget (`<rekomendasi-saran token=...>`); never log it.")
    expires_at: str = Field(description="UTC time after which the widget gets 401.")
    widget: str = Field(description="The widget's script.")
    iframe: str = Field(description="The iframe page for this token, for platforms without scripts.")


class SuggestionOut(BaseModel):
    rank: int
    training_id: str
    title: str
    provider: str | None
    modality: str
    jp: int
    reason: str


class SuggestionsOut(BaseModel):
    as_of: str
    model_version: str
    lang: s.LangParam
    suggestions: list[SuggestionOut]


class WidgetFeedbackIn(BaseModel):
    training_id: str = Field(min_length=1, max_length=64)
    event: Literal["accepted", "rejected"]
    model_config = ConfigDict(extra="forbid", strict=True)


@router.post(
    "/embed/tokens",
    response_model=TokenOut,
    status_code=201,
    responses={**WITH_BODY, 404: {"model": s.Problem, "description": "Unknown NIP (admin keys only)."}},
    dependencies=[Depends(only())],
)
async def make_token(request: Request, service: Service, principal: Caller, body: TokenIn) -> TokenOut:
    """A widget token for one person in the key's agencies, valid `REKOMENDASI_EMBED_TOKEN_MINUTES` (10).
    Call it from the platform's server with the platform key, once per page shown; the key itself must
    never reach a browser."""
    who = guarded(service, principal, request, body.nip)
    if not may_issue(principal):
        raise Forbidden("only platform (and admin) keys make widget tokens.")
    assert service.embed is not None
    token, expires = service.embed.issue(principal, who.nip)
    return TokenOut(
        token=token,
        expires_at=expires.isoformat(),
        widget="/embed/saran.js",
        iframe=f"/embed/saran?token={token}",
    )


def _grant(request: Request, service: ServiceState) -> str:
    nip: str | None = request.scope.get("state", {}).get("embed_nip")
    if nip is None:  # only if the route were reached without the edge
        raise Unauthorized("no widget token.")
    note(request, [nip])
    return nip


@router.get(
    "/embed/recommendations",
    response_model=SuggestionsOut,
    responses=ERRORS,
    dependencies=[Depends(only("k", "lang"))],
)
async def suggestions(
    request: Request,
    service: Service,
    principal: Caller,
    k: Annotated[int, Query(ge=1, le=20, description="How many (1-20).")] = 5,
    lang: Annotated[s.LangParam, Query(description="`id` (default) or `en`.")] = "id",
) -> SuggestionsOut:
    """The token's person's top k, with short reasons (no levels or evidence, as for platform keys).
    Authenticate with `Authorization: Bearer <widget token>`."""
    nip = _grant(request, service)
    engine = service.require_engine()
    who = engine.employee(nip)
    recs = await service.run(_suggest, service, who.nip, k)
    fields = set(SuggestionOut.model_fields)
    out = SuggestionsOut(
        as_of=engine.snapshot.as_of.isoformat(),
        model_version=engine.model_version.version,
        lang=lang,
        # The API's platform view of each (reasons without levels), cut to what the widget shows.
        suggestions=[
            SuggestionOut.model_validate(
                recommendation_out(engine, r, False, lang).model_dump(include=fields)
            )
            for r in recs
        ],
    )
    shown = [(r.training_id, r.rank) for r in recs]
    await service.run(
        service.stores.xapi.record_shown,
        principal,
        nip,
        shown,
        engine.model_version.version,
        "widget",
        request.scope.get("state", {}).get("request_id"),
    )
    return out


def _suggest(service: ServiceState, nip: str, k: int) -> list[Recommendation]:
    """The person's top ``k`` without their standing objections (read in the same worker thread)."""
    return service.require_engine().recommend(nip, k, NO_FILTERS, service.objections([nip]))


@router.post(
    "/embed/feedback",
    response_model=s.FeedbackOut,
    status_code=201,
    responses=WITH_BODY,
    dependencies=[Depends(only())],
)
async def widget_feedback(
    request: Request, service: Service, principal: Caller, body: WidgetFeedbackIn
) -> s.FeedbackOut:
    """What the person did with a suggestion in the widget: `accepted` ("Daftar") or `rejected`
    ("Tidak relevan"), for the token's person only. Authenticate with the widget token."""
    nip = _grant(request, service)
    engine = service.require_engine()
    if body.training_id not in engine.entry_info:
        raise BadRequest(f"training_id {body.training_id!r} is not in the catalogue.")
    version = engine.model_version.version
    reason = "tidak relevan (widget)" if body.event == "rejected" else ""
    row = await service.run(
        service.stores.feedback.add, principal, nip, body.training_id, body.event, reason, version
    )
    return s.FeedbackOut(id=row, event=body.event, model_version=version)


# --- the widget itself ----------------------------------------------------------------------------


def _asset(name: str) -> bytes:
    return resources.files("rekomendasi.serving").joinpath("widget", name).read_bytes()


WIDGET_JS = _asset("saran.js")


@widget_router.get("/embed/saran.js")
async def widget_script() -> Response:
    """The widget: a web component `<rekomendasi-saran token="..." k="5" lang="id">`."""
    return Response(
        WIDGET_JS,
        media_type="text/javascript; charset=utf-8",
        headers={
            "cache-control": "public, max-age=3600",
            "access-control-allow-origin": "*",  # a public script; the data needs a token
            "x-content-type-options": "nosniff",
        },
    )


@widget_router.get("/embed/saran")
async def widget_page(
    request: Request,
    token: Annotated[str, Query(max_length=1000)] = "",
    k: Annotated[int, Query(ge=1, le=20)] = 5,
    lang: Annotated[Literal["id", "en"], Query()] = "id",
) -> HTMLResponse:
    """The iframe page: the widget alone, for platforms that cannot run third-party scripts. It may be
    framed only by the origins the token's key allows."""
    service: ServiceState = request.app.state.service
    ancestors = "'none'"
    try:
        assert service.embed is not None
        grant = service.embed.check(token)
        origins = sorted(service.stores.keys.origins(grant.key_id))
        if origins:
            ancestors = " ".join(origins)
    except TokenError:
        pass  # the widget shows the 401 it gets; nothing may frame the page
    page = _IFRAME.format(
        lang=html.escape(lang),
        token=html.escape(token, quote=True),
        k=k,
        title="Saran pelatihan" if lang == "id" else "Suggested trainings",
    )
    return HTMLResponse(
        page,
        headers={
            "content-security-policy": (
                f"default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
                f"frame-ancestors {ancestors}"
            ),
            "referrer-policy": "no-referrer",  # the token is in this page's address
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


_IFRAME = (
    '<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<title>{title}</title><script src="/embed/saran.js" defer></script></head>\n'
    '<body style="margin:0"><rekomendasi-saran token="{token}" k="{k}" lang="{lang}"></rekomendasi-saran>'
    "</body></html>\n"
)


__all__ = ["WIDGET_EVENTS", "router", "widget_router"]
