"""Feedback route: what happened to a recommendation, including the person's objection."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from rekomendasi.errors import BadRequest, Forbidden
from rekomendasi.feedback import FeedbackEvent
from rekomendasi.serving import schemas as s
from rekomendasi.serving.auth import Role
from rekomendasi.serving.deps import WITH_BODY, Caller, Service, guarded, only

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=s.FeedbackOut,
    status_code=201,
    responses={**WITH_BODY, 404: {"model": s.Problem, "description": "Unknown NIP (admin keys only)."}},
    dependencies=[Depends(only())],
)
async def feedback(
    request: Request, service: Service, principal: Caller, body: s.FeedbackIn
) -> s.FeedbackOut:
    """Record what happened to a recommendation: accepted, rejected, enrolled, completed, or objected
    (the person contests an automated recommendation, UU 27/2022 art. 10; a reason is required). An
    objection takes the entry out of the person's recommendations on every surface until a planner or
    admin records `resolved` for the same NIP and training (with a reason: how it was reviewed; 422
    when no objection stands; 403 for platform keys). Rows are never changed: to correct one, send a new
    row with `corrects` set to its id. Stored durably; `rekomendasi feedback export` hands it to
    training."""
    engine = service.require_engine()
    guarded(service, principal, request, body.nip)
    if body.event == FeedbackEvent.RESOLVED and principal.role is Role.PLATFORM:
        raise Forbidden("a platform key cannot resolve an objection; a planner or admin reviews it.")
    if body.training_id not in engine.entry_info:
        raise BadRequest(f"training_id {body.training_id!r} is not in the catalogue.")
    version = engine.model_version.version
    row = await service.run(
        service.stores.feedback.add,
        principal,
        body.nip,
        body.training_id,
        body.event,
        body.reason,
        version,
        corrects=body.corrects,
    )
    return s.FeedbackOut(id=row, event=str(body.event), model_version=version)
