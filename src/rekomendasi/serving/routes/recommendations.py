"""Recommendation routes: one employee, a list of NIPs, a whole agency (paged).

Ranking, explaining and serialising run off the event loop: one employee's answer in the ``one`` lane
(:meth:`ServiceState.run`), list answers a piece at a time in a lane of their own
(:meth:`ServiceState.run_list`), so a large answer never makes a single employee's request wait.
Answers are bounded: employees x k of one request is at most ``Settings.max_answer_recommendations``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from rekomendasi.errors import Forbidden, PayloadTooLarge, RekomendasiError
from rekomendasi.explain import Lang
from rekomendasi.recommend import Filters, Objections
from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import employee_out
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.deps import (
    ERRORS,
    FILTER_PARAMS,
    NOT_FOUND,
    WITH_BODY,
    Caller,
    K,
    LangQ,
    MaxCost,
    MaxJp,
    ModalityQ,
    NipPath,
    Province,
    Service,
    ServiceState,
    guarded,
    only,
    visible,
)
from rekomendasi.serving.edge import note
from rekomendasi.serving.engine import Engine

router = APIRouter(tags=["recommendations"])

_PIECE = 100
"""Recommendations ranked and serialised per hop to the list lane's thread (at least one employee):
small pieces let other list answers take turns with a large one."""


Shown = Callable[[s.EmployeeRecommendations], None]
"""Records one employee's answer as shown (:func:`_shown`)."""


def _json(
    engine: Engine,
    principal: Principal,
    nips: Sequence[str],
    k: int,
    lang: Lang,
    f: Filters,
    objections: Callable[[Sequence[str]], Objections],
    shown: Shown | None = None,
) -> bytes:
    """The answers of ``nips`` as JSON objects joined by commas (each serialised on its own, so no single
    call holds the interpreter for long), without the entries of their standing ``objections`` (read for
    all of them at once), each recorded by ``shown`` when given."""
    standing = objections(nips)
    parts = []
    for nip in nips:
        out = employee_out(engine, principal, engine.employee(nip), k, lang, f, standing)
        if shown is not None:
            shown(out)
        parts.append(out.model_dump_json().encode())
    return b",".join(parts)


def _shown(service: ServiceState, principal: Principal, request: Request) -> Shown | None:
    """For a platform key, what records each employee's answer as shown (one insert per employee, in the
    thread that builds the answer), so it can be exported as xAPI ``recommended`` statements; None for
    other keys."""
    if principal.role is not Role.PLATFORM:
        return None
    request_id = request.scope.get("state", {}).get("request_id")

    def record(out: s.EmployeeRecommendations) -> None:
        items = [(r.training_id, r.rank) for r in out.recommendations]
        service.stores.xapi.record_shown(principal, out.nip, items, out.model_version, "api", request_id)

    return record


async def _results(
    service: ServiceState,
    principal: Principal,
    nips: Sequence[str],
    k: int,
    lang: Lang,
    wanted: Filters,
    shown: Shown | None = None,
) -> bytes:
    engine = service.require_engine()
    size = max(_PIECE // k, 1)
    parts = []
    for start in range(0, len(nips), size):
        piece = nips[start : start + size]
        parts.append(
            await service.run_list(
                _json, engine, principal, piece, k, lang, wanted, service.objections, shown
            )
        )
    return b",".join(part for part in parts if part)


def _page(
    results: bytes, errors: list[s.BulkError], total: int, offset: int, following: int | None
) -> Response:
    """A :class:`~rekomendasi.serving.schemas.BulkOut` written from serialised results."""
    tail = {
        "errors": [e.model_dump() for e in errors],
        "total": total,
        "offset": offset,
        "next_offset": following,
    }
    body = b'{"results":[' + results + b"]," + json.dumps(tail).encode()[1:]
    return Response(body, media_type="application/json")


@router.get(
    "/employees/{nip}/recommendations",
    response_model=s.EmployeeRecommendations,
    responses={**ERRORS, **NOT_FOUND},
    dependencies=[Depends(only("k", "lang", *FILTER_PARAMS))],
)
async def employee_recommendations(
    request: Request,
    service: Service,
    principal: Caller,
    nip: NipPath,
    k: K = 10,
    lang: LangQ = "id",
    modality: ModalityQ = None,
    max_cost_idr: MaxCost = None,
    max_jp: MaxJp = None,
    province: Province = None,
) -> s.EmployeeRecommendations:
    """Top k catalogue trainings for one employee, each explained: the gaps it addresses (required vs
    estimated level, uncertainty, the evidence in plain words), the expected benefit and the model's main
    contributions. Also the mandatory programmes due (with their rule) and the 20 JP status of the year.
    Platform keys get the same list without levels, evidence or contributions (see the README)."""
    who = guarded(service, principal, request, nip)
    wanted = Filters.from_request(modality, max_cost_idr, max_jp, province)
    shown = _shown(service, principal, request)
    body = await service.run(
        _json, service.require_engine(), principal, [who.nip], k, lang, wanted, service.objections, shown
    )
    # Serialised once: the model was built from validated parts, so FastAPI need not validate it again.
    return Response(body, media_type="application/json")  # type: ignore[return-value]


@router.post(
    "/recommendations/bulk",
    response_model=s.BulkOut,
    responses=WITH_BODY,
    dependencies=[Depends(only())],
)
async def bulk_recommendations(
    request: Request, service: Service, principal: Caller, body: s.BulkIn
) -> s.BulkOut:
    """Recommendations for a list of NIPs (at most `REKOMENDASI_BULK_MAX_NIPS`, 500 by default, and at
    most `REKOMENDASI_MAX_ANSWER_RECOMMENDATIONS` NIPs x k, 5,000 by default). NIPs outside the key's scope
    are listed under `errors` and never answered."""
    nips = list(dict.fromkeys(body.nips))
    note(request, [], refused=nips)  # until it is known which are answered, all count as asked for
    limit = service.settings.bulk_max_nips
    if len(body.nips) > limit:
        raise PayloadTooLarge(f"{len(body.nips)} NIPs in one request; the limit is {limit}. Split the list.")
    budget = service.settings.max_answer_recommendations
    if len(nips) * body.k > budget:
        raise PayloadTooLarge(
            f"{len(nips)} NIPs x k={body.k} is {len(nips) * body.k:,} recommendations in one answer; the "
            f"limit is {budget:,}. Send at most {max(budget // body.k, 1)} NIPs with this k, or a smaller k."
        )
    engine = service.require_engine()
    wanted = (body.filters or s.FiltersIn()).to_filters()
    answered, errors = [], []
    for nip in nips:
        try:
            answered.append(visible(engine, principal, nip).nip)
        except RekomendasiError as err:
            errors.append(s.BulkError(nip=nip, detail=str(err)))
    note(request, answered, refused=[e.nip for e in errors])
    shown = _shown(service, principal, request)
    results = await _results(service, principal, answered, body.k, body.lang, wanted, shown)
    return _page(results, errors, len(nips), 0, None)  # type: ignore[return-value]


@router.get(
    "/agencies/{instansi_id}/recommendations",
    response_model=s.BulkOut,
    responses=ERRORS,
    dependencies=[Depends(only("unit_id", "k", "lang", "offset", "limit", *FILTER_PARAMS))],
)
async def agency_recommendations(
    request: Request,
    service: Service,
    principal: Caller,
    instansi_id: Annotated[str, Path(min_length=1, max_length=64)],
    unit_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    k: K = 10,
    lang: LangQ = "id",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=100,
            description="Employees per page (1-100); a page holds at most "
            "`REKOMENDASI_MAX_ANSWER_RECOMMENDATIONS` / k employees.",
        ),
    ] = 50,
    modality: ModalityQ = None,
    max_cost_idr: MaxCost = None,
    max_jp: MaxJp = None,
    province: Province = None,
) -> s.BulkOut:
    """Recommendations for a whole agency (or one unit), a page of employees at a time, by NIP order.
    Follow `next_offset` until it is null."""
    engine = service.require_engine()
    if not principal.can_see(instansi_id):
        raise Forbidden(f"agency {instansi_id} is not among the agencies this key may see.")
    staff = engine.staff(instansi_id, unit_id)
    size = min(limit, max(service.settings.max_answer_recommendations // k, 1))
    page = staff[offset : offset + size]
    note(request, page)
    wanted = Filters.from_request(modality, max_cost_idr, max_jp, province)
    results = await _results(service, principal, page, k, lang, wanted, _shown(service, principal, request))
    following = offset + size
    return _page(results, [], len(staff), offset, following if following < len(staff) else None)  # type: ignore[return-value]
