"""Receiving xAPI statements: a request body checked statement by statement, each good one turned into the
record the store keeps, each bad one into a reason.

A body that is not a statement or a list of statements is refused whole (:class:`InvalidStatements`);
inside a list, one invalid statement never stops the others (:func:`parse_statements` gives one
:class:`Parsed` per statement, in order). Which catalogue entry a statement is about and whether its
employee is the caller's business is decided by the API route, which knows the catalogue and the key.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from rekomendasi.contract.schemas import NIP_DIGITS
from rekomendasi.errors import PayloadTooLarge, RekomendasiError
from rekomendasi.xapi.model import Score, Statement
from rekomendasi.xapi.verbs import INBOUND_VERBS, Verb, inbound_verb

MAX_STATEMENTS = 1000
"""Statements one request may carry (413 past it): a day's records of a large agency's platform fit in a
few requests, and one request's work stays well under a second."""
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:rekomendasi:xapi")
"""Namespace of the ids the service derives (statements sent without an id, recommended statements)."""
_UNCOMPARED = ("stored", "authority", "version")
"""Properties an LRS sets or may change when forwarding; two statements differing only there are equal."""
_MAX_PROBLEMS = 3


class InvalidStatements(RekomendasiError):
    """The body is not a statement or a list of statements, or no statement in it is valid (HTTP 400)."""

    status_code = 400


class Outcome(StrEnum):
    """What became of one received statement."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # its id was already stored with the same content: nothing done
    CONFLICT = "conflict"  # its id was already stored with other content: refused, the first one stands
    INVALID = "invalid"  # not a statement the service can use; ``detail`` says why
    REFUSED = "refused"  # the employee is not the key's to report on


@dataclass(frozen=True, slots=True)
class StatementResult:
    """The answer about one statement.

    Attributes:
        id: The statement id (the derived one for a statement sent without), or None when unreadable.
        status: What became of it.
        detail: Why, for anything but ``stored``; empty otherwise.
    """

    id: str | None
    status: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Parsed:
    """One statement of a body: valid (``statement`` set) or not (``problem`` says why).

    Attributes:
        index: Its place in the body (0 for a single statement).
        id: Its id, derived from its content when it came without one; None when unreadable.
        statement: The validated statement, or None.
        problem: Why it is invalid, naming the property; empty when valid.
    """

    index: int
    id: str | None
    statement: Statement | None
    problem: str = ""

    def invalid(self, problem: str | None = None) -> StatementResult:
        """This statement reported invalid (with ``problem``, default its own)."""
        return StatementResult(self.id, Outcome.INVALID, problem or self.problem)


@dataclass(frozen=True, slots=True)
class IncomingStatement:
    """A valid statement about a catalogue entry, as the store keeps it.

    Attributes:
        statement_id: Its id (lower-case UUID text).
        nip: The employee (18 digits).
        training_id: The catalogue entry its activity maps to.
        verb: One of :data:`~rekomendasi.xapi.verbs.INBOUND_VERBS`.
        timestamp: When it happened (UTC); the time it was received when the statement has none.
        day: The date it happened on in the statement's own time zone (what the training history records).
        score: Its score on the contract's 0-100 scale (:func:`contract_score`), or None.
        success, completion: The result's flags, or None.
        raw: The statement as canonical JSON (id included).
    """

    statement_id: str
    nip: str
    training_id: str
    verb: Verb
    timestamp: dt.datetime
    day: dt.date
    score: float | None
    success: bool | None
    completion: bool | None
    raw: str

    @classmethod
    def build(cls, parsed: Parsed, training_id: str, received: dt.datetime) -> IncomingStatement:
        """The record of the valid ``parsed`` statement about ``training_id``, received at ``received``.

        Raises:
            ValueError: ``parsed`` is not valid (check it first).
        """
        statement = parsed.statement
        if statement is None or parsed.id is None:
            raise ValueError(f"statement {parsed.index} is invalid: {parsed.problem}")
        verb = inbound_verb(statement.verb.id)
        if verb is None:
            raise ValueError(f"statement {parsed.index} has the verb {statement.verb.id}, not an inbound one")
        when = statement.timestamp or received
        result = statement.result
        return cls(
            statement_id=parsed.id,
            nip=statement.nip,
            training_id=training_id,
            verb=verb,
            timestamp=when.astimezone(dt.UTC),
            day=when.date(),
            score=contract_score(result.score) if result is not None and result.score is not None else None,
            success=result.success if result is not None else None,
            completion=result.completion if result is not None else None,
            raw=canonical(statement, parsed.id),
        )


def parse_statements(body: bytes | str) -> list[Parsed]:
    """The statements of a request body (one JSON object, or a JSON array of them), each checked.

    A statement is valid when it is an xAPI 1.0.3 statement (:mod:`rekomendasi.xapi.model`) whose actor's
    account name is an 18-digit NIP and whose verb is one of
    :data:`~rekomendasi.xapi.verbs.INBOUND_VERBS`. A statement sent without an id gets one derived from
    its content, so sending it again is recognised as the same statement.

    Raises:
        InvalidStatements: not JSON, neither an object nor an array, an empty array, or an array holding
            something other than objects.
        PayloadTooLarge: more than :data:`MAX_STATEMENTS` statements.
    """
    try:
        data = json.loads(body)
    except (ValueError, TypeError) as err:
        raise InvalidStatements(f"the body is not JSON ({err}); send an xAPI statement or a list") from err
    items: list[Any]
    if isinstance(data, dict):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise InvalidStatements(
            f"the body is a JSON {type(data).__name__}; send an xAPI statement (an object) or a list of them"
        )
    if not items:
        raise InvalidStatements("the body is an empty list; send at least one xAPI statement")
    if len(items) > MAX_STATEMENTS:
        raise PayloadTooLarge(
            f"{len(items)} statements in one request; the limit is {MAX_STATEMENTS}. Split the list."
        )
    not_objects = [i for i, item in enumerate(items) if not isinstance(item, dict)]
    if not_objects:
        raise InvalidStatements(
            f"item {not_objects[0]} of the list is not a JSON object; each item must be an xAPI statement"
        )
    return [_parse_one(index, item) for index, item in enumerate(items)]


def _parse_one(index: int, item: dict[str, Any]) -> Parsed:
    sent_id = item.get("id") if isinstance(item.get("id"), str) else None
    try:
        statement = Statement.model_validate(item)
    except ValidationError as err:
        return Parsed(index, _uuid_text(sent_id), None, _problems(err))
    statement_id = str(statement.id) if statement.id is not None else derived_id(statement)
    if not re.fullmatch(NIP_DIGITS, statement.nip):
        problem = (
            f"actor.account.name: must be the employee's 18-digit NIP, got {len(statement.nip)} characters"
        )
        return Parsed(index, statement_id, None, problem)
    if inbound_verb(statement.verb.id) is None:
        accepted = ", ".join(verb.value for verb in INBOUND_VERBS)
        problem = f"verb.id: {statement.verb.id[:120]!r} is not accepted; use one of {accepted}"
        return Parsed(index, statement_id, None, problem)
    return Parsed(index, statement_id, statement)


def _uuid_text(value: str | None) -> str | None:
    """``value`` as a UUID's canonical text, or None when it is no UUID."""
    try:
        return str(uuid.UUID(value)) if value is not None else None
    except ValueError:
        return None


def _problems(err: ValidationError) -> str:
    """The first few of pydantic's errors as ``where: what`` (``actor.mbox: ...``)."""
    parts = []
    for error in err.errors()[:_MAX_PROBLEMS]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("function-after", "str"))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "not a property xAPI 1.0.3 defines here (an LRS must refuse it)"
        parts.append(f"{where or 'statement'}: {message}")
    more = err.error_count() - _MAX_PROBLEMS
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def canonical(statement: Statement, statement_id: str) -> str:
    """The statement as canonical JSON (sorted keys, no nulls, its id set): what is stored."""
    data = statement.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["id"] = statement_id
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def comparable(raw: str) -> str:
    """What two statements with one id must share to be the same statement: the stored JSON without the
    properties an LRS may set on forwarding (:data:`_UNCOMPARED`), times in UTC."""
    data = json.loads(raw)
    for name in _UNCOMPARED:
        data.pop(name, None)
    if "timestamp" in data:
        data["timestamp"] = dt.datetime.fromisoformat(data["timestamp"]).astimezone(dt.UTC).isoformat()
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def derived_id(statement: Statement) -> str:
    """A statement id for ``statement`` sent without one: a UUID 5 of its content, so the same statement
    sent again is a duplicate, not a second record."""
    return str(uuid.uuid5(ID_NAMESPACE, comparable(canonical(statement, ""))))


def contract_score(score: Score) -> float | None:
    """A result's score on the training history's 0-100 scale.

    ``scaled`` x 100 when given (a negative scaled score counts as 0); otherwise ``raw`` placed between
    ``min`` and ``max`` when both are given; otherwise ``raw`` itself when it lies in 0..100 (how most
    learning platforms report); otherwise None.
    """
    if score.scaled is not None:
        return round(max(score.scaled, 0.0) * 100.0, 4)
    if score.raw is None:
        return None
    if score.min is not None and score.max is not None:
        return round((score.raw - score.min) / (score.max - score.min) * 100.0, 4)
    return score.raw if 0.0 <= score.raw <= 100.0 else None


__all__ = [
    "ID_NAMESPACE",
    "MAX_STATEMENTS",
    "IncomingStatement",
    "InvalidStatements",
    "Outcome",
    "Parsed",
    "StatementResult",
    "canonical",
    "comparable",
    "contract_score",
    "derived_id",
    "parse_statements",
]
