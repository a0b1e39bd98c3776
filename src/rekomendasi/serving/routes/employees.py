"""Employee routes: the competency-gap profile behind the recommendations."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from rekomendasi.errors import Forbidden
from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import gap_profile_out
from rekomendasi.serving.deps import ERRORS, NOT_FOUND, Caller, LangQ, NipPath, Service, guarded, only
from rekomendasi.serving.edge import note

router = APIRouter(tags=["employees"])


@router.get(
    "/employees/{nip}/gaps",
    response_model=s.GapProfile,
    responses={**ERRORS, **NOT_FOUND},
    dependencies=[Depends(only("lang"))],
)
async def gap_profile(
    request: Request, service: Service, principal: Caller, nip: NipPath, lang: LangQ = "id"
) -> s.GapProfile:
    """The employee's competency-gap profile, with the evidence behind each estimate.

    Not for platform keys: learning platforms see recommendations and reasons, not evidence."""
    note(request, [nip])
    if not principal.sees_evidence:
        raise Forbidden("this key's role (platform) may not see evidence; ask a planner key.")
    who = guarded(service, principal, request, nip)
    return await service.run(gap_profile_out, service.require_engine(), who, lang)
