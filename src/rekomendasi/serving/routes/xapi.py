"""xAPI routes: statements in from a learning platform or its LRS, recommended statements out.

``POST /v1/xapi/statements`` takes one statement or a list; each is answered on its own (stored,
duplicate, conflict, invalid, refused), so one bad statement never loses the others.
``GET /v1/xapi/statements`` pages through the recommendations shown to platforms as statements with the
TLA ``recommended`` verb, in the shape of xAPI's StatementResult (``statements`` and ``more``).
Platform and admin keys only: a planner key neither reports learning records nor exports them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from rekomendasi.contract.schemas import Catalog, optional_text
from rekomendasi.errors import Forbidden
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.deps import WITH_BODY, Caller, Service, only
from rekomendasi.serving.edge import note
from rekomendasi.serving.engine import Engine
from rekomendasi.serving.store import Stores
from rekomendasi.serving.store.db import utc_now
from rekomendasi.xapi import (
    CANONICAL_PREFIX,
    MAX_STATEMENTS,
    ActivityMap,
    EntryName,
    IncomingStatement,
    Outcome,
    Parsed,
    StatementResult,
    parse_statements,
    recommended_statement,
)
from rekomendasi.xapi.recommended import XAPI_VERSION
from rekomendasi.xapi.verbs import INBOUND_VERBS

router = APIRouter(tags=["xapi"])

VERSION_HEADER = "X-Experience-API-Version"
PAGE_LIMIT = 1000
_SENDERS = (Role.PLATFORM, Role.ADMIN)
_OUT_OF_SCOPE = "the employee is not an active employee in the agencies this key may see"


class StatementResultOut(BaseModel):
    """What became of one statement."""

    model_config = ConfigDict(extra="forbid")
    id: str | None
    status: Literal["stored", "duplicate", "conflict", "invalid", "refused"]
    detail: str


class StatementsRefused(BaseModel):
    """The body is no statement or list of them (``detail`` only), or no statement in it is valid (why,
    and the answer about each)."""

    detail: str
    statements: list[StatementResultOut] | None = None


class StatementPage(BaseModel):
    """xAPI's StatementResult: a page of statements and the relative URL of the next one (empty at the
    end)."""

    statements: list[dict[str, Any]]
    more: str


def _may_use(principal: Principal) -> None:
    if principal.role not in _SENDERS:
        raise Forbidden(f"xAPI statements are for platform and admin keys; this is a {principal.role} key.")


_IRI = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"}
_LANGUAGE_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_STATEMENT: dict[str, Any] = {
    "type": "object",
    "description": "An xAPI 1.0.3 statement. Every property of the specification is accepted (those not "
    "listed here are kept, not used); any other property makes the statement invalid.",
    "required": ["actor", "verb", "object"],
    "properties": {
        "id": {
            "type": "string",
            "format": "uuid",
            "description": "Without one, an id is derived from the "
            "content, so a statement sent twice is stored once.",
        },
        "actor": {
            "type": "object",
            "required": ["account"],
            "properties": {
                "objectType": {"enum": ["Agent"]},
                "name": {"type": "string"},
                "account": {
                    "type": "object",
                    "required": ["homePage", "name"],
                    "properties": {
                        "homePage": {"type": "string", "pattern": "^https?://"},
                        "name": {"type": "string", "pattern": r"^\d{18}$", "description": "The NIP."},
                    },
                },
            },
        },
        "verb": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"enum": [verb.value for verb in INBOUND_VERBS]}, "display": _LANGUAGE_MAP},
        },
        "object": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "objectType": {"enum": ["Activity"]},
                "id": {**_IRI, "description": "A mapped IRI, or urn:rekomendasi:training:<training_id>."},
                "definition": {"type": "object"},
            },
        },
        "result": {
            "type": "object",
            "properties": {
                "score": {
                    "type": "object",
                    "properties": {
                        "scaled": {"type": "number", "minimum": -1, "maximum": 1},
                        "raw": {"type": "number"},
                        "min": {"type": "number"},
                        "max": {"type": "number"},
                    },
                },
                "success": {"type": "boolean"},
                "completion": {"type": "boolean"},
                "duration": {"type": "string", "description": "ISO 8601 duration, e.g. PT2H."},
            },
        },
        "context": {
            "type": "object",
            "properties": {
                "registration": {"type": "string", "format": "uuid"},
                "platform": {"type": "string"},
            },
        },
        "timestamp": {"type": "string", "format": "date-time"},
    },
}
_BODY_SCHEMA: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    _STATEMENT,
                    {"type": "array", "items": _STATEMENT, "minItems": 1, "maxItems": MAX_STATEMENTS},
                ]
            },
            "example": {
                "id": "6f1a9b0e-2c7d-4e1a-9d1b-0a4c2f3e5d6b",
                "actor": {"account": {"homePage": "https://siasn.bkn.go.id", "name": "198503152010011001"}},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
                "object": {"objectType": "Activity", "id": "urn:rekomendasi:training:TRN-0001"},
                "result": {"completion": True, "success": True, "score": {"scaled": 0.86}},
                "timestamp": "2025-03-31T09:30:00+07:00",
            },
        }
    },
}
"""The body as OpenAPI documents it: what a client must send. The route checks more than JSON Schema
can say (raw between min and max, the catalogue, the key's agencies), and answers each statement of a
list on its own."""


@router.post(
    "/xapi/statements",
    response_model=list[StatementResultOut],
    responses={
        **WITH_BODY,
        400: {
            "model": StatementsRefused,
            "description": "Not a statement or a list of them, or no statement in it is valid.",
        },
        413: {"description": f"More than {MAX_STATEMENTS} statements, or a body over the size limit."},
    },
    dependencies=[Depends(only())],
    openapi_extra={"requestBody": _BODY_SCHEMA},
)
async def receive_statements(
    request: Request, response: Response, service: Service, principal: Caller
) -> Any:
    """Learning records from a platform or its LRS: xAPI 1.0.3 statements (one, or a list of at most
    1,000) with the verb registered, attempted, completed, passed or failed, the actor identified by an
    `account` whose `name` is the NIP, about an activity that is a catalogue entry (an IRI mapped with
    `rekomendasi xapi map`, or `urn:rekomendasi:training:<training_id>`). Each statement is answered on
    its own: `stored`, `duplicate` (its id was stored with the same content), `conflict` (its id was
    stored with other content), `invalid` (with what is wrong) or `refused` (an employee outside the
    key's agencies). 400 when no statement is valid. Stored statements become training history
    (`rekomendasi xapi history`) and feedback (`completed`, `enrolled`)."""
    _may_use(principal)
    engine = service.require_engine()
    body = await request.body()
    parsed = await service.run(parse_statements, body)
    # Until each is checked, every NIP counts as refused (as bulk requests do).
    note(request, [], refused=sorted({p.statement.nip for p in parsed if p.statement is not None}))
    results, answered, refused = await service.run(_receive, service.stores, engine, principal, parsed)
    note(request, answered, refused=refused)
    response.headers[VERSION_HEADER] = XAPI_VERSION
    out = [StatementResultOut(id=r.id, status=r.status.value, detail=r.detail) for r in results]
    if all(r.status is Outcome.INVALID for r in results):
        detail = _invalid_summary(results)
        note(request, answered, refused=refused, detail=detail)
        refusal = StatementsRefused(detail=detail, statements=out)
        return JSONResponse(refusal.model_dump(), status_code=400, headers={VERSION_HEADER: XAPI_VERSION})
    return out


def _receive(
    stores: Stores, engine: Engine, principal: Principal, parsed: list[Parsed]
) -> tuple[list[StatementResult], list[str], list[str]]:
    """Check each valid statement's activity and employee, store those that pass; return the results in
    the body's order, the NIPs stored or checked and the NIPs refused (for the audit row)."""
    activities = ActivityMap(stores.xapi.activities())
    received = utc_now()
    results: list[StatementResult | None] = []
    incoming: list[IncomingStatement] = []
    slots: list[int] = []
    answered: list[str] = []
    refused: list[str] = []
    for item in parsed:
        statement = item.statement
        if statement is None:
            results.append(item.invalid())
            continue
        iri = statement.object_.id
        training_id = activities.training_of(iri)
        if training_id is None:
            results.append(
                item.invalid(
                    f"object.id: the activity {iri[:200]!r} is no catalogue entry; map it with "
                    f"`rekomendasi xapi map IRI TRAINING_ID`, or use {CANONICAL_PREFIX}<training_id>"
                )
            )
            continue
        if training_id not in engine.entry_info:
            results.append(
                item.invalid(f"object.id: training_id {training_id[:100]!r} is not in the catalogue")
            )
            continue
        who = engine.find(statement.nip)
        if who is None or not principal.can_see(who.instansi_id):
            refused.append(statement.nip)
            results.append(StatementResult(item.id, Outcome.REFUSED, _OUT_OF_SCOPE))
            continue
        answered.append(statement.nip)
        slots.append(len(results))
        results.append(None)
        incoming.append(IncomingStatement.build(item, training_id, received))
    for slot, result in zip(slots, stores.xapi.ingest(principal, incoming, stores.feedback), strict=True):
        results[slot] = result
    done = [result for result in results if result is not None]
    return done, sorted(set(answered)), sorted(set(refused))


def _invalid_summary(results: list[StatementResult]) -> str:
    """Why no statement was valid: the first few reasons, by position."""
    shown = "; ".join(f"statement {i}: {r.detail}" for i, r in enumerate(results[:5]))
    more = f"; and {len(results) - 5} more" if len(results) > 5 else ""
    return f"no statement is valid: {shown}{more}"


@router.get(
    "/xapi/statements",
    response_model=StatementPage,
    responses=WITH_BODY,
    dependencies=[Depends(only("since", "limit", "after", "key_id"))],
)
async def recommended_statements(
    request: Request,
    response: Response,
    service: Service,
    principal: Caller,
    since: Annotated[
        dt.datetime | None,
        Query(description="Only recommendations shown after this time (ISO 8601; without a zone, UTC)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT, description="Statements per page (1-1000).")] = 100,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Cursor of the next page (from `more`).")
    ] = None,
    key_id: Annotated[
        str | None,
        Query(min_length=1, max_length=32, description="Admin keys: only those shown to this key."),
    ] = None,
) -> Any:
    """The recommendations shown to platforms (API answers to platform keys, widget views) as xAPI
    statements with the TLA verb `https://w3id.org/xapi/tla/verbs/recommended`: actor the employee
    (account name = NIP), object the catalogue entry's activity IRI, timestamp when shown, rank and
    model version as context extensions. Oldest first; follow `more` until it is empty. A platform key
    gets only what was shown to it; an admin key gets everything (or one key's, with `key_id`)."""
    _may_use(principal)
    if principal.role is Role.PLATFORM:
        if key_id not in (None, principal.key_id):
            raise Forbidden("a platform key may export only the recommendations shown to itself.")
        key_id = principal.key_id
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    rows = await service.run(service.stores.xapi.shown, since, key_id, limit + 1, after)
    page, following = rows[:limit], rows[limit:]
    note(request, sorted({row.nip for row in page}))
    activities = ActivityMap(await service.run(service.stores.xapi.activities))
    names = _names(service.engine, {row.training_id for row in page})
    home = service.settings.xapi_home_page
    more = ""
    if following:
        query: dict[str, str] = {"after": str(page[-1].id), "limit": str(limit)}
        if since is not None:
            query["since"] = since.isoformat()
        if key_id is not None and principal.role is Role.ADMIN:
            query["key_id"] = key_id
        more = f"{request.url.path}?{urlencode(query)}"
    response.headers[VERSION_HEADER] = XAPI_VERSION
    return StatementPage(
        statements=[recommended_statement(row, home, activities, names) for row in page], more=more
    )


def _names(engine: Engine | None, training_ids: set[str]) -> dict[str, EntryName]:
    """Titles of the entries in ``training_ids`` from the loaded catalogue (none while it loads: the
    statements then name the entries by id)."""
    if engine is None:
        return {}
    out = {}
    for training_id in training_ids:
        entry = engine.entry_info.get(training_id)
        if entry is not None:
            out[training_id] = EntryName(
                str(entry[Catalog.title]), optional_text(entry.get(Catalog.language))
            )
    return out
