"""Recommendation routes: one employee, a list of NIPs, a whole agency (paged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from rekomendasi.errors import Forbidden, PayloadTooLarge, RekomendasiError
from rekomendasi.recommend import Filters
from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import employee_out
from rekomendasi.serving.deps import (
    ERRORS,
    FILTER_PARAMS,
    NOT_FOUND,
    Caller,
    K,
    LangQ,
    MaxCost,
    MaxJp,
    ModalityQ,
    NipPath,
    Province,
    Service,
    body_limit,
    guarded,
    only,
    visible,
)

router = APIRouter(tags=["recommendations"])


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
    contributions. Also the mandatory programmes due (with their rule) and the 20 JP status of the year."""
    who = guarded(service, principal, request, nip)
    wanted = Filters.from_request(modality, max_cost_idr, max_jp, province)
    out = employee_out(service.require_engine(), principal, who, k, lang, wanted)
    service.record(principal, request, [nip], 200)
    # Serialised once here: the model was built from validated parts, so FastAPI need not validate it again.
    return Response(out.model_dump_json(), media_type="application/json")  # type: ignore[return-value]


@router.post(
    "/recommendations/bulk",
    response_model=s.BulkOut,
    responses={**ERRORS, 413: {"model": s.Problem, "description": "More NIPs than the server's limit."}},
    dependencies=[Depends(body_limit), Depends(only())],
)
async def bulk_recommendations(
    request: Request, service: Service, principal: Caller, body: s.BulkIn
) -> s.BulkOut:
    """Recommendations for a list of NIPs (at most `REKOMENDASI_BULK_MAX_NIPS`, 500 by default). NIPs
    outside the key's scope are listed under `errors` and never answered."""
    limit = service.settings.bulk_max_nips
    if len(body.nips) > limit:
        raise PayloadTooLarge(f"{len(body.nips)} NIPs in one request; the limit is {limit}. Split the list.")
    engine = service.require_engine()
    wanted = (body.filters or s.FiltersIn()).to_filters()
    results, errors = [], []
    for nip in dict.fromkeys(body.nips):
        try:
            who = visible(engine, principal, nip)
        except RekomendasiError as err:
            errors.append(s.BulkError(nip=nip, detail=str(err)))
            continue
        results.append(employee_out(engine, principal, who, body.k, body.lang, wanted))
    service.record(principal, request, [r.nip for r in results], 200)
    return s.BulkOut(
        results=results, errors=errors, total=len(results) + len(errors), offset=0, next_offset=None
    )


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
    limit: Annotated[int, Query(ge=1, le=100, description="Employees per page (1-100).")] = 50,
    modality: ModalityQ = None,
    max_cost_idr: MaxCost = None,
    max_jp: MaxJp = None,
    province: Province = None,
) -> s.BulkOut:
    """Recommendations for a whole agency (or one unit), a page of employees at a time, by NIP order."""
    engine = service.require_engine()
    if not principal.can_see(instansi_id):
        service.record(principal, request, [], 403)
        raise Forbidden(f"agency {instansi_id} is not among the agencies this key may see.")
    staff = engine.staff(instansi_id, unit_id)
    page = staff[offset : offset + limit]
    wanted = Filters.from_request(modality, max_cost_idr, max_jp, province)
    results = [employee_out(engine, principal, engine.employee(n), k, lang, wanted) for n in page]
    service.record(principal, request, page, 200)
    following = offset + limit
    return s.BulkOut(
        results=results,
        errors=[],
        total=len(staff),
        offset=offset,
        next_offset=following if following < len(staff) else None,
    )
