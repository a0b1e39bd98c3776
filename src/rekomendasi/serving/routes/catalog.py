"""Catalogue routes: the entries of the served snapshot's catalogue, with their competencies, and each
entry's measured effectiveness (from the serving model's estimates)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import catalog_entries, effectiveness_out
from rekomendasi.serving.deps import ERRORS, Caller, ModalityQ, Service, ServiceState, only
from rekomendasi.serving.effect_schemas import EffectivenessOut

router = APIRouter(tags=["catalogue"])


async def _entries(service: ServiceState) -> list[s.CatalogEntry]:
    """The catalogue as API entries, built once per loaded engine (off the event loop)."""
    engine = service.require_engine()
    if service.catalog_out is None:
        service.catalog_out = await service.run(catalog_entries, engine)
    return service.catalog_out


@router.get(
    "/catalog",
    response_model=s.CatalogPage,
    responses=ERRORS,
    dependencies=[Depends(only("modality", "competency_id", "active", "offset", "limit"))],
)
async def catalog(
    service: Service,
    principal: Caller,
    modality: ModalityQ = None,
    competency_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    active: Annotated[bool | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> s.CatalogPage:
    """Catalogue entries, filtered, a page at a time."""
    entries = [
        e
        for e in await _entries(service)
        if (not modality or e.modality in modality)
        and (competency_id is None or competency_id in e.competencies)
        and (active is None or e.active == active)
    ]
    following = offset + limit
    return s.CatalogPage(
        entries=entries[offset:following],
        total=len(entries),
        offset=offset,
        next_offset=following if following < len(entries) else None,
    )


@router.get(
    "/catalog/{training_id}",
    response_model=s.CatalogEntry,
    responses={**ERRORS, 404: {"model": s.Problem, "description": "No such entry."}},
    dependencies=[Depends(only())],
)
async def catalog_entry(
    service: Service, principal: Caller, training_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> s.CatalogEntry:
    """One catalogue entry."""
    for entry in await _entries(service):
        if entry.training_id == training_id:
            return entry
    return JSONResponse({"detail": f"no catalogue entry {training_id}."}, status_code=404)  # type: ignore[return-value]


@router.get(
    "/catalog/{training_id}/effectiveness",
    response_model=EffectivenessOut,
    responses={
        **ERRORS,
        404: {"model": s.Problem, "description": "No such entry in the served catalogue."},
        409: {
            "model": s.Problem,
            "description": "The serving model has no effectiveness estimates (trained before they were "
            "made); the message says to run `rekomendasi train`.",
        },
    },
    dependencies=[Depends(only())],
)
async def catalog_effectiveness(
    service: Service, principal: Caller, training_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> EffectivenessOut:
    """How well one catalogue entry works, measured from outcomes: its estimated gain in measured
    competency levels (summed over the competencies it targets) beyond comparable staff who had not taken
    it, with a bootstrap interval. The estimate is pooled: its own participants' mean gain (`raw_effect`)
    pulled towards what courses of its kind reached (`kind_effect`) by as much as its own participants
    cannot say (`own_weight`). Beside it the same participants' plain before/after change, and the
    estimates of its provider and its modality (all their entries' participants together). Estimates are
    the serving model's, as of its training date; an entry with too few measured participants has a
    `reason` instead of a number. Measured levels are smaller than true gains: compare entries with each
    other. 409 when the serving model was trained before estimates existed."""
    engine = service.require_engine()
    return effectiveness_out(engine, engine.effectiveness(training_id))
