"""The serving model and the system routes: liveness, readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import model_info
from rekomendasi.serving.deps import ERRORS, Caller, Service, only

router = APIRouter()
system_router = APIRouter(tags=["system"])


@router.get(
    "/model", response_model=s.ModelInfo, responses=ERRORS, dependencies=[Depends(only())], tags=["model"]
)
async def model(service: Service, principal: Caller) -> s.ModelInfo:
    """The serving model (version, training date and data, metrics) and the snapshot it scores."""
    return model_info(service.require_engine())


@system_router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers (no key needed)."""
    return {"status": "ok"}


@system_router.get("/ready", responses={503: {"model": s.Problem}})
async def ready(service: Service) -> JSONResponse:
    """Readiness: 200 once the snapshot, the champion and its scores store are loaded, else 503 with
    what to run."""
    engine = service.engine
    if engine is None:
        return JSONResponse({"ready": False, "detail": service.not_ready}, status_code=503)
    return JSONResponse(
        {
            "ready": True,
            "model_version": engine.model_version.version,
            "snapshot": engine.snapshot_id,
            "scores": engine.store.path.name,
        }
    )
