"""The API's routes. Every route that reads or writes someone's data checks the key's scope first and
writes one audit row (who, whose NIPs hashed, model version, snapshot, status)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from rekomendasi.contract.schemas import list_items
from rekomendasi.errors import (
    BadRequest,
    EmployeeNotFound,
    Forbidden,
    PayloadTooLarge,
    RekomendasiError,
    Unauthorized,
)
from rekomendasi.explain import Lang, contribution_words, evidence_words
from rekomendasi.serving import schemas as s
from rekomendasi.serving.app import ServiceState
from rekomendasi.serving.engine import Employee, Engine, Filters, Recommendation
from rekomendasi.serving.state import Principal, Role

router = APIRouter()
system_router = APIRouter()

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (`rk_...`).")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": s.Problem, "description": "No API key, or an unknown or revoked one."},
    403: {"model": s.Problem, "description": "Outside the key's role or agencies."},
    422: {"model": s.Problem, "description": "Malformed input; the message says what is wrong."},
    503: {"model": s.Problem, "description": "No champion model or snapshot yet; says what to run."},
}
MAX_BODY_BYTES = 1_000_000


def _service(request: Request) -> ServiceState:
    return request.app.state.service


Service = Annotated[ServiceState, Depends(_service)]


async def _principal(
    request: Request,
    service: Service,
    key: Annotated[str | None, Security(_api_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    token = key or (bearer.credentials if bearer is not None else None)
    if not token:
        raise Unauthorized("no API key: send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.")
    principal = service.store.authenticate(token)
    if principal is None:
        service.audit(None, f"{request.method} {request.url.path}", [], None, None, 401)
        raise Unauthorized("unknown or revoked API key.")
    return principal


Caller = Annotated[Principal, Depends(_principal)]


def _only(*allowed: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency that rejects query parameters the route does not know (422, naming them)."""

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise BadRequest(
                f"unknown query parameter(s) {', '.join(unknown)}; allowed: {', '.join(allowed) or 'none'}."
            )

    return check


def _audit(
    service: ServiceState, principal: Principal, request: Request, nips: Sequence[str], status: int
) -> None:
    engine = service.engine
    service.audit(
        principal,
        f"{request.method} {request.url.path}",
        list(nips),
        engine.model_version.version if engine is not None else None,
        engine.snapshot_id if engine is not None else None,
        status,
    )


def _visible(engine: Engine, principal: Principal, nip: str) -> Employee:
    """The employee if the key may see them. Non-admins get the same 403 whether or not the NIP exists."""
    found = engine.employees.get(nip)
    if principal.role is Role.ADMIN:
        if found is None:
            raise EmployeeNotFound(f"no active employee {nip} in snapshot {engine.snapshot_id}.")
        return found
    if found is None or not principal.can_see(found.instansi_id):
        raise Forbidden(f"employee {nip} is not in the agencies this key may see.")
    return found


def _guarded(service: ServiceState, principal: Principal, request: Request, nip: str) -> Employee:
    """Scope check with its audit row on refusal."""
    engine = service.require_engine()
    try:
        return _visible(engine, principal, nip)
    except RekomendasiError as err:
        _audit(service, principal, request, [nip], err.status_code)
        raise


def _filters(
    modality: list[str] | None, max_cost_idr: int | None, max_jp: int | None, province: str | None
) -> Filters:
    return Filters(
        modalities=tuple(modality) if modality else None,
        max_cost_idr=max_cost_idr,
        max_jp=max_jp,
        province=province,
    )


def _gap_out(gap: Any, evidence: dict[str, object] | None, lang: Lang) -> s.GapOut:
    return s.GapOut(
        competency_id=gap.competency_id,
        name=gap.name,
        required_level=gap.required_level,
        estimated_level=None if gap.estimated_level is None else round(gap.estimated_level, 3),
        uncertainty=None if gap.uncertainty is None else round(gap.uncertainty, 3),
        gap=round(gap.gap, 3),
        target_level=gap.target_level,
        evidence=evidence_words(evidence, lang) if evidence is not None else None,
    )


def _recommendation_out(
    engine: Engine, rec: Recommendation, evidence: dict[str, dict[str, object]] | None, lang: Lang
) -> s.RecommendationOut:
    entry = engine.entry_info[rec.training_id]
    past = engine.past_outcomes(rec.training_id)
    gaps: list[s.GapOut] | list[s.GapNameOut]
    if evidence is None:
        gaps = [s.GapNameOut(competency_id=g.competency_id, name=g.name) for g in rec.gaps]
    else:
        gaps = [_gap_out(g, evidence.get(g.competency_id, {}), lang) for g in rec.gaps]
    return s.RecommendationOut(
        rank=rec.rank,
        training_id=rec.training_id,
        title=str(entry["title"]),
        provider=_text(entry["provider"]),
        modality=str(entry["modality"]),
        jp=int(entry["jp"]),  # type: ignore[call-overload]
        cost_idr=None if entry["cost_idr"] is None else int(entry["cost_idr"]),  # type: ignore[call-overload]
        score=rec.score,
        reason=rec.reason(lang),
        explanation=s.Explanation(
            gaps=gaps,
            expected_benefit=s.ExpectedBenefit(
                gap_closed_levels=rec.expected_gap_closed,
                past_participants=float(past["participants"] or 0.0),
                completion_rate=past["completion_rate"],
                mean_score=past["mean_score"],
            ),
            model_contributions=[
                s.ContributionOut(
                    feature=c.feature, description=contribution_words(c.feature, lang), value=c.value
                )
                for c in rec.contributions
            ],
        ),
    )


def _employee_out(
    engine: Engine, principal: Principal, who: Employee, k: int, lang: Lang, filters: Filters
) -> s.EmployeeRecommendations:
    recs = engine.recommend(who.nip, k, filters)
    evidence = engine.evidence(who.nip) if principal.sees_evidence else None
    due = engine.mandatory_due(who.nip)
    jp = engine.jp_status(who.nip)
    return s.EmployeeRecommendations(
        nip=who.nip,
        as_of=engine.snapshot.as_of.isoformat(),
        model_version=engine.model_version.version,
        k=k,
        lang=lang,
        recommendations=[_recommendation_out(engine, r, evidence, lang) for r in recs],
        mandatory_due=[
            s.MandatoryOut(
                training_id=str(row["training_id"]),
                title=str(
                    engine.entry_info.get(str(row["training_id"]), {}).get("title", row["training_id"])
                ),
                condition=str(row["condition"]),
                rule=str(row["rule_en"] if lang == "en" else row["rule_id"]),
                enrolled=bool(row["enrolled"]),
            )
            for row in due
        ],
        jp=s.JpStatus(**dataclasses.asdict(jp)) if jp is not None else None,
    )


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


K = Annotated[int, Query(ge=1, le=50, description="How many recommendations (1-50).")]
LangQ = Annotated[s.LangParam, Query(description="Language of reasons and evidence: `id` (default) or `en`.")]
ModalityQ = Annotated[list[s.Modality] | None, Query(description="Allowed modalities (repeatable).")]
MaxCost = Annotated[int | None, Query(ge=0, description="Highest cost per participant, in rupiah.")]
MaxJp = Annotated[int | None, Query(ge=1, description="Longest entry, in JP.")]
Province = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Leave out classroom entries held in other provinces."),
]
NipPath = Annotated[
    str, Path(pattern=s.NIP_PATTERN, description="18-digit NIP.", examples=["198503152010011001"])
]
_FILTERS = ("modality", "max_cost_idr", "max_jp", "province")


@router.get(
    "/employees/{nip}/recommendations",
    response_model=s.EmployeeRecommendations,
    responses={**_ERRORS, 404: {"model": s.Problem, "description": "Unknown NIP (admin keys only)."}},
    dependencies=[Depends(_only("k", "lang", *_FILTERS))],
    tags=["recommendations"],
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
    who = _guarded(service, principal, request, nip)
    out = _employee_out(
        service.require_engine(), principal, who, k, lang, _filters(modality, max_cost_idr, max_jp, province)
    )
    _audit(service, principal, request, [nip], 200)
    # Serialised once here: the model was built from validated parts, so FastAPI need not validate it again.
    return Response(out.model_dump_json(), media_type="application/json")  # type: ignore[return-value]


@router.get(
    "/employees/{nip}/gaps",
    response_model=s.GapProfile,
    responses={**_ERRORS, 404: {"model": s.Problem, "description": "Unknown NIP (admin keys only)."}},
    dependencies=[Depends(_only("lang"))],
    tags=["employees"],
)
async def gap_profile(
    request: Request, service: Service, principal: Caller, nip: NipPath, lang: LangQ = "id"
) -> s.GapProfile:
    """The employee's competency-gap profile, with the evidence behind each estimate.

    Not for platform keys: learning platforms see recommendations and reasons, not evidence."""
    if not principal.sees_evidence:
        _audit(service, principal, request, [nip], 403)
        raise Forbidden("this key's role (platform) may not see evidence; ask a planner key.")
    who = _guarded(service, principal, request, nip)
    engine = service.require_engine()
    gaps = []
    for row in engine.gap_profile(who.nip):
        required = float(row["required_level"])
        gaps.append(
            s.GapOut(
                competency_id=str(row["competency_id"]),
                name=engine.competency_names.get(str(row["competency_id"]), str(row["competency_id"])),
                required_level=required if required > 0 else None,
                estimated_level=round(float(row["estimated_level"]), 3),
                uncertainty=round(float(row["uncertainty"]), 3),
                gap=round(max(float(row["gap"]), 0.0), 3),
                evidence=evidence_words(row, lang),
            )
        )
    _audit(service, principal, request, [nip], 200)
    return s.GapProfile(nip=who.nip, as_of=engine.snapshot.as_of.isoformat(), gaps=gaps)


async def _body_limit(request: Request) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body of {length} bytes; the limit is {MAX_BODY_BYTES:,}.")


@router.post(
    "/recommendations/bulk",
    response_model=s.BulkOut,
    responses={**_ERRORS, 413: {"model": s.Problem, "description": "More NIPs than the server's limit."}},
    dependencies=[Depends(_body_limit), Depends(_only())],
    tags=["recommendations"],
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
    f = body.filters or s.Filters()
    filters = _filters(f.modality, f.max_cost_idr, f.max_jp, f.province)
    results, errors = [], []
    for nip in dict.fromkeys(body.nips):
        try:
            who = _visible(engine, principal, nip)
        except RekomendasiError as err:
            errors.append(s.BulkError(nip=nip, detail=str(err)))
            continue
        results.append(_employee_out(engine, principal, who, body.k, body.lang, filters))
    _audit(service, principal, request, [r.nip for r in results], 200)
    return s.BulkOut(
        results=results, errors=errors, total=len(results) + len(errors), offset=0, next_offset=None
    )


@router.get(
    "/agencies/{instansi_id}/recommendations",
    response_model=s.BulkOut,
    responses=_ERRORS,
    dependencies=[Depends(_only("unit_id", "k", "lang", "offset", "limit", *_FILTERS))],
    tags=["recommendations"],
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
        _audit(service, principal, request, [], 403)
        raise Forbidden(f"agency {instansi_id} is not among the agencies this key may see.")
    staff = engine.staff(instansi_id, unit_id)
    page = staff[offset : offset + limit]
    filters = _filters(modality, max_cost_idr, max_jp, province)
    results = [_employee_out(engine, principal, engine.employees[n], k, lang, filters) for n in page]
    _audit(service, principal, request, page, 200)
    following = offset + limit
    return s.BulkOut(
        results=results,
        errors=[],
        total=len(staff),
        offset=offset,
        next_offset=following if following < len(staff) else None,
    )


@router.post(
    "/feedback",
    response_model=s.FeedbackOut,
    status_code=201,
    responses={**_ERRORS, 404: {"model": s.Problem, "description": "Unknown training id or NIP (admin)."}},
    dependencies=[Depends(_body_limit), Depends(_only())],
    tags=["feedback"],
)
async def feedback(
    request: Request, service: Service, principal: Caller, body: s.FeedbackIn
) -> s.FeedbackOut:
    """Record what happened to a recommendation: accepted, rejected, enrolled, completed, or objected
    (the person contests an automated recommendation, UU 27/2022 art. 10; a reason is required).
    Stored durably; `rekomendasi feedback export` hands it to training."""
    engine = service.require_engine()
    _guarded(service, principal, request, body.nip)
    if body.training_id not in engine.entry_info:
        raise BadRequest(f"training_id {body.training_id!r} is not in the catalogue.")
    version = engine.model_version.version
    row = service.store.add_feedback(principal, body.nip, body.training_id, body.event, body.reason, version)
    _audit(service, principal, request, [body.nip], 201)
    return s.FeedbackOut(id=row, event=str(body.event), model_version=version)


def _catalog_entries(service: ServiceState) -> list[s.CatalogEntry]:
    """The catalogue as API entries, built once per loaded engine."""
    engine = service.require_engine()
    if service.catalog_out is not None:
        return service.catalog_out
    links = engine.dataset["catalog_competencies"].groupby("training_id")["competency_id"].agg(list)
    out = []
    for row in engine.dataset["catalog"].sort_values("training_id").to_dict("records"):

        def text(value: object) -> str | None:
            return None if value is None or pd.isna(value) else str(value)  # type: ignore[call-overload]

        out.append(
            s.CatalogEntry(
                training_id=str(row["training_id"]),
                title=str(row["title"]),
                description=text(row["description"]),
                provider=text(row["provider"]),
                modality=str(row["modality"]),
                jp=int(row["jp"]),
                cost_idr=None if pd.isna(row["cost_idr"]) else int(row["cost_idr"]),
                eligible_jenis_jabatan=sorted(list_items(row["eligible_jenis_jabatan"])),
                mandatory_for=sorted(list_items(row["mandatory_for"])),
                province=text(row["province"]),
                language=text(row["language"]),
                active=bool(row["active"]) if not pd.isna(row["active"]) else False,
                competencies=list(links.get(row["training_id"], [])),
            )
        )
    service.catalog_out = out
    return out


@router.get(
    "/catalog",
    response_model=s.CatalogPage,
    responses=_ERRORS,
    dependencies=[Depends(_only("modality", "competency_id", "active", "offset", "limit"))],
    tags=["catalogue"],
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
        for e in _catalog_entries(service)
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
    responses={**_ERRORS, 404: {"model": s.Problem, "description": "No such entry."}},
    dependencies=[Depends(_only())],
    tags=["catalogue"],
)
async def catalog_entry(
    service: Service, principal: Caller, training_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> s.CatalogEntry:
    """One catalogue entry."""
    for entry in _catalog_entries(service):
        if entry.training_id == training_id:
            return entry
    return JSONResponse({"detail": f"no catalogue entry {training_id}."}, status_code=404)  # type: ignore[return-value]


@router.get(
    "/model", response_model=s.ModelInfo, responses=_ERRORS, dependencies=[Depends(_only())], tags=["model"]
)
async def model_info(service: Service, principal: Caller) -> s.ModelInfo:
    """The serving model (version, training date and data, metrics) and the snapshot it scores."""
    engine = service.require_engine()
    version = engine.model_version
    return s.ModelInfo(
        name="rekomendasi-ranker",
        version=version.version,
        aliases=list(version.aliases),
        run_id=version.run_id,
        trained_as_of=version.tags.get("as_of") or None,
        data_fingerprint=version.tags.get("data_fingerprint"),
        embedding_model=version.tags.get("embedding_model"),
        metrics={k: float(v) for k, v in version.metrics.items() if np.isfinite(v)},
        snapshot=engine.snapshot_id,
        snapshot_as_of=engine.snapshot.as_of.isoformat(),
        employees=len(engine.employees),
        catalogue_entries=len(engine.entry_info),
        loaded_at=engine.loaded_at.isoformat(),
    )


@system_router.get("/health", tags=["system"])
async def health() -> dict[str, str]:
    """Liveness: the process answers (no key needed)."""
    return {"status": "ok"}


@system_router.get("/ready", tags=["system"], responses={503: {"model": s.Problem}})
async def ready(service: Service) -> JSONResponse:
    """Readiness: 200 once the snapshot and the champion are loaded, else 503 with what to run."""
    engine = service.engine
    if engine is None:
        return JSONResponse({"ready": False, "detail": service.not_ready}, status_code=503)
    return JSONResponse(
        {"ready": True, "model_version": engine.model_version.version, "snapshot": engine.snapshot_id}
    )
