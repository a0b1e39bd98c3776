"""Catalogue routes: the entries of the served snapshot's catalogue, with their competencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import catalog_entries
from rekomendasi.serving.deps import ERRORS, Caller, ModalityQ, Service, ServiceState, only

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
