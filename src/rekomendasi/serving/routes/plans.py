"""Agency plan routes (AKPK): make a plan, read it a page of assignments at a time, download it as a file.

A plan is solved (:func:`~rekomendasi.plans.make_plan`) and stored
(:class:`~rekomendasi.serving.store.PlanStore`) off the event loop, in a lane of its own
(:meth:`ServiceState.run_plan`), so neither requests for one employee nor list pages wait for it; exports
are built in the list lane. Reading and exporting
answer the stored plan, exactly as it was solved, whatever model serves by then. Plans are agency
planning: planner keys for their own agencies and admin keys; platform keys never.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from rekomendasi.errors import Forbidden, NotFound
from rekomendasi.plans import Plan, PlanRequest, PlanSummary, make_plan, output_table
from rekomendasi.recommend import Objections
from rekomendasi.serving import schemas as s
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.deps import ERRORS, WITH_BODY, Caller, Service, ServiceState, only
from rekomendasi.serving.edge import note
from rekomendasi.serving.engine import Engine
from rekomendasi.serving.store import PlanStore, StoredPlan

router = APIRouter(tags=["plans"])

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
AGENCY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": s.Problem, "description": "The agency has no active employee in the snapshot."}
}
PLAN_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": s.Problem, "description": "No such plan."}}
MAX_OFFSET = 2**31 - 1  # rows of a plan are numbered in a 32-bit column

AgencyPath = Annotated[str, Path(min_length=1, max_length=64, description="The agency (`instansi_id`).")]
PlanIdPath = Annotated[
    str, Path(pattern=s.PLAN_ID_PATTERN, description="The plan's id, as its creation answered it.")
]
PlanLang = Annotated[
    s.LangParam | None, Query(description="Language of reasons and sentences; default: the plan's own.")
]


@router.post(
    "/agencies/{instansi_id}/plans",
    response_model=s.PlanCreated,
    status_code=201,
    responses={**WITH_BODY, **AGENCY_NOT_FOUND},
    dependencies=[Depends(only())],
)
async def create_plan(
    response: Response, service: Service, principal: Caller, instansi_id: AgencyPath, body: s.PlanIn
) -> s.PlanCreated:
    """Plan the agency's (or one unit's) trainings for a year under a budget (AKPK): mandatory programmes
    due first, then as many staff as possible at the yearly JP floor, then the most expected gap closure.
    Answers the summary (coverage by group, cost, what binds the plan, in words) and the links to its
    assignments and its file. The plan is stored; its id is in `Location`."""
    _may_plan(principal, instansi_id)
    engine = service.require_engine()
    if not engine.staff(instansi_id):  # said at once, without queueing behind other list work
        raise NotFound(f"agency {instansi_id!r} has no active employee in snapshot {engine.snapshot_id}.")
    wanted = PlanRequest(
        agency=instansi_id,
        budget_idr=body.budget_idr,
        year=body.year,
        min_jp=body.min_jp,
        unit=body.unit_id,
        max_cost_per_person_idr=body.max_cost_per_person_idr,
        fair_coverage=tuple(dict.fromkeys(body.fair_coverage)),
        lang=body.lang,
    )
    plan_id, plan = await service.run_plan(
        solve_and_save, engine, service.stores.plans, wanted, principal, service.objections
    )
    links = _links(plan_id)
    response.headers["Location"] = links.plan
    return s.PlanCreated(plan_id=plan_id, summary=_summary_out(plan.summary, wanted.lang), links=links)


@router.get(
    "/plans/{plan_id}",
    response_model=s.PlanOut,
    responses={**ERRORS, **PLAN_NOT_FOUND},
    dependencies=[Depends(only("offset", "limit", "lang"))],
)
async def read_plan(
    request: Request,
    service: Service,
    principal: Caller,
    plan_id: PlanIdPath,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Assignments per page (1-1000).")] = 100,
    lang: PlanLang = None,
) -> s.PlanOut:
    """A stored plan: its request, its summary, what it was computed from, and a page of its assignments
    (sorted by unit, NIP, mandatory first, then expected gain). Follow `next_offset` until it is null."""
    stored = await _visible(service, principal, plan_id)
    page = await service.run(service.stores.plans.assignments, plan_id, offset, limit)
    lang = lang or stored.request.lang
    table = output_table(page, lang)
    note(request, list(dict.fromkeys(table["nip"])))
    following = offset + limit
    return s.PlanOut(
        plan_id=plan_id,
        created_at=stored.created_at.isoformat(),
        lang=lang,
        request=s.PlanRequestOut.model_validate(stored.request.to_dict()),
        summary=_summary_out(stored.summary, lang),
        snapshot_id=stored.snapshot_id,
        model_version=stored.model_version,
        assignments=[_assignment_out(row) for row in table.to_dict("records")],
        total=stored.rows,
        offset=offset,
        next_offset=following if following < stored.rows else None,
        links=_links(plan_id),
    )


@router.get(
    "/plans/{plan_id}/export",
    response_class=Response,
    responses={
        **ERRORS,
        **PLAN_NOT_FOUND,
        200: {
            "description": "The plan as a file: a workbook of its summary and assignments (xlsx), or "
            "its assignments (csv, UTF-8, NIPs as 18-digit text).",
            "content": {
                MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
    },
    dependencies=[Depends(only("format", "lang"))],
)
async def export_plan(
    request: Request,
    service: Service,
    principal: Caller,
    plan_id: PlanIdPath,
    format: Annotated[Literal["xlsx", "csv"], Query(description="`xlsx` (default) or `csv`.")] = "xlsx",
    lang: PlanLang = None,
) -> Response:
    """The whole plan as a file to download (`Content-Disposition: attachment`)."""
    stored = await _visible(service, principal, plan_id)
    return await plan_file(request, service, stored, format, lang or stored.request.lang)


async def plan_file(
    request: Request,
    service: ServiceState,
    stored: StoredPlan,
    fmt: Literal["xlsx", "csv"],
    lang: s.LangParam,
) -> Response:
    """A stored plan as a file to download, its NIPs noted for the audit row (the API's export and the web
    page's download). Never kept by a cache: it lists people."""
    from rekomendasi.plans.export import plan_bytes  # lazily: the app must start without the writers

    plan = await service.run_list(service.stores.plans.plan, stored.plan_id)
    note(request, list(dict.fromkeys(plan.assignments["nip"])))
    data = await service.run_list(plan_bytes, plan, fmt, lang)
    agency = re.sub(r"[^A-Za-z0-9._-]", "_", stored.agency)
    filename = f"akpk-{agency}-{stored.summary.year}-{stored.plan_id}.{fmt}"
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def solve_and_save(
    engine: Engine,
    store: PlanStore,
    wanted: PlanRequest,
    principal: Principal,
    objections: Callable[[Sequence[str] | None], Objections],
) -> tuple[str, Plan]:
    """Make the plan, without the staff's standing objections (read here, in the plan's thread), and
    store it (the API's and the web page's plans alike); its id and the plan."""
    standing = objections(None)  # everyone's: an agency can hold more NIPs than one query may list
    plan = make_plan(engine.reader.head, engine.store, engine.model, engine.model_version, wanted, standing)
    return store.save(plan, principal.key_id), plan


def _may_plan(principal: Principal, instansi_id: str) -> None:
    """Refuse platform keys, and planner keys outside their agencies (whether or not the agency exists).

    Raises:
        Forbidden: as above.
    """
    if principal.role is Role.PLATFORM:
        raise Forbidden("this key's role (platform) may not see agency plans; ask a planner key.")
    if not principal.can_see(instansi_id):
        raise Forbidden(f"agency {instansi_id} is not among the agencies this key may see.")


async def _visible(service: ServiceState, principal: Principal, plan_id: str) -> StoredPlan:
    """The stored plan if the key may see it.

    Raises:
        Forbidden: a platform key, or a planner key and a plan of another agency.
        NotFound: no plan has this id (for any key but a platform's: an unknown id reveals nothing).
    """
    if principal.role is Role.PLATFORM:
        raise Forbidden("this key's role (platform) may not see agency plans; ask a planner key.")
    stored = await service.run(service.stores.plans.get, plan_id)
    if stored is None:
        raise NotFound(f"no plan {plan_id}.")
    if not principal.can_see(stored.agency):
        raise Forbidden(f"plan {plan_id} is of an agency this key may not see.")
    return stored


def _links(plan_id: str) -> s.PlanLinks:
    return s.PlanLinks(plan=f"/v1/plans/{plan_id}", export=f"/v1/plans/{plan_id}/export")


def _summary_out(summary: PlanSummary, lang: s.LangParam) -> s.PlanSummaryOut:
    """The summary as answered: its sentences in ``lang``, without the solver's extras."""
    raw = summary.to_dict()
    raw.pop("extra", None)
    raw["binding"] = [{"kind": b.kind, "text": b.text(lang), "amount": b.amount} for b in summary.binding]
    return s.PlanSummaryOut.model_validate(raw)


def _assignment_out(row: Mapping[Hashable, Any]) -> s.AssignmentOut:
    gain = row["expected_gain"]
    return s.AssignmentOut(
        nip=row["nip"],
        unit_id=row["unit_id"],
        training_id=row["training_id"],
        title=row["title"],
        modality=row["modality"],
        jp=float(row["jp"]),
        cost_idr=int(row["cost_idr"]),
        expected_gain=None if gain is None or math.isnan(gain) else float(gain),
        mandatory=bool(row["mandatory"]),
        competencies=[c for c in str(row["competencies"]).split(";") if c],
        reason=row["reason"],
    )
