"""The planner's read pages: an agency's overview, a unit's staff, one person (and recording feedback or
an objection on their behalf), and the serving model.

Each page checks the caller's agencies exactly as the API does (a planner of one agency gets 403 on
another's pages and people) and notes the NIPs it shows for its audit row. Work that reads files or ranks
runs off the event loop, in the service's lanes.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import urllib.parse
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from rekomendasi.errors import RekomendasiError
from rekomendasi.recommend import NO_FILTERS
from rekomendasi.serving import schemas as s
from rekomendasi.serving.answers import employee_out, gap_profile_out, model_info
from rekomendasi.serving.deps import visible
from rekomendasi.serving.edge import note
from rekomendasi.serving.store import FeedbackEvent, StateInputError
from rekomendasi.ui.i18n import text
from rekomendasi.ui.views import JP_STATES, SORTS, Heatmap
from rekomendasi.ui.web import (
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

log = logging.getLogger("rekomendasi.ui")
router = APIRouter()

Agency = Annotated[str, Path(min_length=1, max_length=64)]
Unit = Annotated[str, Path(min_length=1, max_length=64)]
Nip = Annotated[str, Path(pattern=s.NIP_PATTERN)]
EVENTS = [e.value for e in FeedbackEvent]


@router.get("/instansi/{agency}")
async def overview(request: Request, agency: Agency) -> Response:
    """Staff, 20 JP status, mandatory programmes due, the gap heatmap and the talent grid."""
    who = caller(request)
    require_agency(who, agency)
    data = page_data(request)
    if not data.has_agency(agency):
        raise PageError(404, "not_found")
    view = await service_of(request).run_list(data.overview, agency)
    return render(
        request,
        "overview.html",
        who=who,
        agency=agency,
        as_of=data.as_of,
        view=view,
        cells=_cells(view.heatmap),
        bands=(("above", "meets", "below"), ("low", "medium", "high")),
    )


@router.get("/instansi/{agency}/unit/{unit}")
async def unit_page(
    request: Request,
    agency: Agency,
    unit: Unit,
    status: Annotated[str | None, Query(max_length=20)] = None,
    kompetensi: Annotated[str | None, Query(max_length=64)] = None,
    urut: Annotated[str, Query(max_length=10)] = "gap",
) -> Response:
    """A unit's staff with their largest gaps and JP status; filter by JP status or competency, sort."""
    who = caller(request)
    require_agency(who, agency)
    data = page_data(request)
    if unit not in await service_of(request).run_list(data.units, agency):
        raise PageError(404, "not_found")
    state = status if status in JP_STATES else None
    sort = urut if urut in SORTS else "gap"
    rows, total = await service_of(request).run_list(
        data.unit_staff, agency, unit, state, kompetensi or None, sort
    )
    note(request, [r.nip for r in rows])
    template = "unit_table.html" if request.headers.get("hx-request") == "true" else "unit.html"
    return render(
        request,
        template,
        who=who,
        agency=agency,
        unit=unit,
        rows=rows,
        total=total,
        jp_filter=state or "",
        kompetensi=kompetensi or "",
        urut=sort,
        states=JP_STATES,
        sorts=SORTS,
        competencies=data.competencies_in(agency, unit),
    )


@router.get("/pegawai/{nip}")
async def person(
    request: Request,
    nip: Nip,
    tersimpan: Annotated[int | None, Query(ge=1)] = None,
    pelatihan: Annotated[str | None, Query(max_length=64)] = None,
    tanggapan: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The gap profile with its evidence, the recommendations with reasons, expected benefit and measured
    effectiveness (without the entries the person objected to), the mandatory programmes and JP, the
    standing objections, and the form to record feedback, an objection or its resolution."""
    who = caller(request)
    note(request, [nip])
    engine = engine_of(request)
    try:
        employee = visible(engine, who.principal, nip)
    except RekomendasiError as err:
        raise PageError(err.status_code, "forbidden" if err.status_code == 403 else "not_found") from err
    lang = lang_of(request)
    service = service_of(request)
    profile = await service.run(gap_profile_out, engine, employee, lang)
    objections = await service.run(service.objections, [nip])
    recs = await service.run(employee_out, engine, who.principal, employee, 10, lang, NO_FILTERS, objections)
    objected = [
        {"training_id": t, "title": str(engine.entry_info.get(t, {}).get("title", t))}
        for t in sorted(objections.of(nip))
    ]
    saved = None
    if tersimpan is not None:
        saved = {"id": tersimpan, "training": pelatihan or "", "event": tanggapan or ""}
    return render(
        request,
        "person.html",
        who=who,
        employee=employee,
        profile=profile,
        recs=recs,
        objected=objected,
        effects=engine.effects_of([r.training_id for r in recs.recommendations]),
        events=EVENTS,
        saved=saved,
        chosen=request.query_params.get("keberatan"),
    )


@router.post("/pegawai/{nip}/tanggapan")
async def record_feedback(request: Request, nip: Nip) -> Response:
    """Record feedback or an objection on the person's behalf (stored durably, like the API's), then
    show the person's page again with what was saved."""
    who = caller(request)
    note(request, [nip])
    form = await form_of(request)
    check_csrf(request, who, form)
    engine = engine_of(request)
    try:
        visible(engine, who.principal, nip)
    except RekomendasiError as err:
        raise PageError(err.status_code, "forbidden" if err.status_code == 403 else "not_found") from err
    training = form.get("pelatihan", "").strip()
    event = form.get("tanggapan", "")
    reason = form.get("alasan", "").strip()[:2000]
    if training not in engine.entry_info or event not in EVENTS:
        raise PageError(422, "not_found")
    service = service_of(request)
    try:
        row = await service.run(
            service.stores.feedback.add,
            who.principal,
            nip,
            training,
            event,
            reason,
            engine.model_version.version,
        )
    except StateInputError as err:
        lang = lang_of(request)
        return render(
            request,
            "error.html",
            status=422,
            who=who,
            message=f"{text('error_title', lang)}: {err}",
            back=f"/ui/pegawai/{nip}?{urllib.parse.urlencode({'keberatan': training})}#tanggapan",
        )
    query = urllib.parse.urlencode({"tersimpan": row, "pelatihan": training, "tanggapan": event})
    return redirect(request, f"/ui/pegawai/{nip}?{query}#tanggapan")


_REPORTS: dict[str, dict[str, pd.DataFrame]] = {}
_REPORTS_LOCK = threading.Lock()


@router.get("/model")
async def model_page(request: Request) -> Response:
    """The champion: version, training date, quality against the baselines, fairness by group."""
    who = caller(request)
    engine = engine_of(request)
    info = model_info(engine)
    tables = await service_of(request).run(_evaluation, request, engine.model_version.run_id)
    models = tables.get("models")
    groups = tables.get("groups")
    return render(
        request,
        "model.html",
        who=who,
        info=info,
        models=_records(
            models, ["model", "employees", "ndcg@10", "ndcg@10_low", "ndcg@10_high", "coverage@10"]
        ),
        groups=_records(
            groups, ["model", "group", "value", "employees", "ndcg@10", "exposure"], ranker_only=True
        ),
    )


def _evaluation(request: Request, run_id: str) -> dict[str, pd.DataFrame]:
    """The run's evaluation tables (``models``, ``groups``) from its MLflow artifacts, cached by run."""
    with _REPORTS_LOCK:
        if run_id in _REPORTS:
            return _REPORTS[run_id]
    found: dict[str, pd.DataFrame] = {}
    try:
        from rekomendasi.registry import registry_from_settings

        client = registry_from_settings(service_of(request).settings).client
        with tempfile.TemporaryDirectory() as folder:
            for name in ("models", "groups"):
                local = client.download_artifacts(run_id, f"evaluation/{name}.csv", folder)
                found[name] = pd.read_csv(local)
    except Exception as err:  # a page without the report is still useful; say so in the log
        log.warning("evaluation report of run %s not readable: %s", run_id, err)
        return found
    with _REPORTS_LOCK:
        _REPORTS[run_id] = found
    return found


def _records(
    table: pd.DataFrame | None, columns: list[str], ranker_only: bool = False
) -> list[dict[str, Any]]:
    if table is None:
        return []
    if ranker_only and "model" in table.columns:
        table = table[table["model"].astype(str).str.startswith("ranker")]
    kept = [c for c in columns if c in table.columns]
    clean = table[kept].astype(object).where(table[kept].notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict("records")]


def _cells(heatmap: Heatmap) -> list[list[tuple[float | None, int]]]:
    """Each heatmap cell's value (None when blank) and colour class."""
    return [
        [(None if pd.isna(v) else float(v), heatmap.level(float(v))) for v in row] for row in heatmap.values
    ]
