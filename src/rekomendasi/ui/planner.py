"""The plan builder: make the agency's yearly plan (AKPK) under a budget, read its summary by unit and
group, download it (XLSX or CSV), and compare budgets (the what-if curve).

Plans are made by the same core as the API's (:func:`~rekomendasi.plans.make_plan`), in the service's plan
lane, and stored in the same plan store, so a plan built here is also ``GET /v1/plans/{id}``. The form is a
plain POST answered with a redirect to the plan's page, so it works without JavaScript too.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from rekomendasi.plans import PlanRequest
from rekomendasi.serving import schemas as s
from rekomendasi.serving.routes.plans import plan_file, solve_and_save
from rekomendasi.serving.store import StoredPlan
from rekomendasi.ui.i18n import parse_rupiah, text
from rekomendasi.ui.web import (
    Caller,
    PageError,
    caller,
    check_csrf,
    engine_of,
    form_of,
    lang_of,
    page_data,
    redirect,
    render,
    require_agency,
    service_of,
)

router = APIRouter()

Agency = Annotated[str, Path(min_length=1, max_length=64)]
PlanId = Annotated[str, Path(pattern=s.PLAN_ID_PATTERN)]
WHAT_IF_SHARES = (0.25, 0.5, 0.75, 1.0, 1.25)
"""Budgets of the what-if curve, as shares of the least cost for everyone (or of the plan's budget when
that is unknown); the plan's own budget is added."""
WHAT_IF_SECONDS = 20.0
"""Time limit of each point of the what-if curve."""
_WHAT_IF: OrderedDict[str, pd.DataFrame] = OrderedDict()
_WHAT_IF_LOCK = threading.Lock()


@router.get("/instansi/{agency}/rencana")
async def plan_form(request: Request, agency: Agency) -> Response:
    """The plan builder's form and the agency's latest plans."""
    who = caller(request)
    require_agency(who, agency)
    data = page_data(request)
    if not data.has_agency(agency):
        raise PageError(404, "not_found")
    service = service_of(request)
    recent = await service.run(service.stores.plans.recent, agency, 10)
    return _form(request, who, agency, recent, {}, None, 200)


@router.post("/instansi/{agency}/rencana")
async def build_plan(request: Request, agency: Agency) -> Response:
    """Make the plan and go to its page (or show the form again, saying what is wrong)."""
    who = caller(request)
    require_agency(who, agency)
    form = await form_of(request)
    check_csrf(request, who, form)
    data = page_data(request)
    if not data.has_agency(agency):
        raise PageError(404, "not_found")
    lang = lang_of(request)
    budget = parse_rupiah(form.get("anggaran", ""))
    problem = None
    if budget is None or budget <= 0:
        problem = text("bad_budget", lang)
    min_jp = _number(form.get("jp", "20"))
    if problem is None and (min_jp is None or not 1 <= min_jp <= 200):
        problem = text("bad_number", lang, field=text("min_jp", lang))
    cap_raw = form.get("batas", "").strip()
    cap = parse_rupiah(cap_raw) if cap_raw else None
    if problem is None and cap_raw and (cap is None or cap <= 0):
        problem = text("bad_number", lang, field=text("cap", lang))
    unit = form.get("unit", "").strip() or None
    if problem is None and unit is not None and unit not in data.units(agency):
        problem = text("not_found", lang) + f" ({text('unit', lang)} {unit})"
    service = service_of(request)
    if problem is not None:
        recent = await service.run(service.stores.plans.recent, agency, 10)
        return _form(request, who, agency, recent, form, problem, 422)
    assert budget is not None and min_jp is not None
    wanted = PlanRequest(
        agency=agency,
        budget_idr=budget,
        min_jp=min_jp,
        unit=unit,
        max_cost_per_person_idr=cap,
        lang=lang,
    )
    engine = engine_of(request)
    plan_id, _ = await service.run_plan(
        solve_and_save, engine, service.stores.plans, wanted, who.principal, service.objections
    )
    return redirect(request, f"/ui/rencana/{plan_id}")


@router.get("/rencana/{plan_id}")
async def plan_page(request: Request, plan_id: PlanId) -> Response:
    """A stored plan: its summary, what limits it, coverage by unit and group, and its downloads."""
    who = caller(request)
    stored = await _visible(request, who, plan_id)
    groups: dict[str, list[object]] = {}
    for line in stored.summary.groups:
        groups.setdefault(line.dimension, []).append(line)
    what_if = _WHAT_IF.get(plan_id)
    return render(
        request,
        "plan.html",
        who=who,
        stored=stored,
        summary=stored.summary,
        by_unit=groups.get("unit_id", []),
        by_group={k: v for k, v in groups.items() if k not in ("unit_id", "all")},
        binding=[b.text(lang_of(request)) for b in stored.summary.binding],
        what_if=_points(what_if) if what_if is not None else None,
    )


@router.get("/rencana/{plan_id}/unduh")
async def download(
    request: Request,
    plan_id: PlanId,
    format: Annotated[str, Query(pattern="^(xlsx|csv)$")] = "xlsx",
) -> Response:
    """The whole plan as a file, in the page language."""
    who = caller(request)
    stored = await _visible(request, who, plan_id)
    return await plan_file(request, service_of(request), stored, format, lang_of(request))  # type: ignore[arg-type]


@router.get("/rencana/{plan_id}/bandingkan")
async def what_if_page(request: Request, plan_id: PlanId) -> Response:
    """The plan's request at several budgets: staff at the floor and expected gain against money. The
    curve is computed once per plan and kept in memory (it takes a solve per budget)."""
    from rekomendasi.plans.core import what_if

    who = caller(request)
    stored = await _visible(request, who, plan_id)
    with _WHAT_IF_LOCK:
        points = _WHAT_IF.get(plan_id)
    if points is None:
        engine = engine_of(request)
        base = stored.summary.budget_for_all_idr or stored.summary.budget_idr
        budgets = sorted({int(base * share) for share in WHAT_IF_SHARES} | {stored.summary.budget_idr})
        budgets = [b for b in budgets if b > 0]
        request_now = dataclasses.replace(stored.request, time_limit_s=WHAT_IF_SECONDS)
        points = await service_of(request).run_plan(
            what_if, engine.reader.head, engine.store, engine.model, request_now, budgets
        )
        with _WHAT_IF_LOCK:
            _WHAT_IF[plan_id] = points
            while len(_WHAT_IF) > 64:
                _WHAT_IF.popitem(last=False)
    if request.headers.get("hx-request") == "true":
        return render(request, "what_if.html", who=who, stored=stored, what_if=_points(points))
    return await plan_page(request, plan_id)  # without JavaScript: the whole plan page, with the curve


def _points(points: pd.DataFrame) -> list[dict[str, float]]:
    return [
        {
            "budget": float(r["budget_idr"]),
            "cost": float(r["total_cost_idr"]),
            "at_floor": float(r["at_floor"]),
            "staff": float(r["staff"]),
            "share": float(r["share_at_floor"]),
            "gain": float(r["expected_gain"]),
            "mandatory": float(r["mandatory_funded"]),
        }
        for r in points.to_dict("records")
    ]


async def _visible(request: Request, who: Caller, plan_id: str) -> StoredPlan:
    service = service_of(request)
    stored = await service.run(service.stores.plans.get, plan_id)
    if stored is None:
        raise PageError(404, "not_found")
    require_agency(who, stored.agency)
    return stored


def _form(
    request: Request,
    who: Caller,
    agency: str,
    recent: list[StoredPlan],
    form: dict[str, str],
    problem: str | None,
    status: int,
) -> Response:
    return render(
        request,
        "plan_form.html",
        status=status,
        who=who,
        agency=agency,
        recent=recent,
        form=form,
        problem=problem,
        units=page_data(request).units(agency),
    )


def _number(raw: str) -> float | None:
    try:
        return float(raw.strip().replace(",", "."))
    except ValueError:
        return None
