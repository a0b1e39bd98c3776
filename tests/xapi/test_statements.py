"""Parsing received xAPI statements: what is valid, what is refused and why, ids, scores."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from rekomendasi.errors import PayloadTooLarge
from rekomendasi.xapi import (
    MAX_STATEMENTS,
    IncomingStatement,
    InvalidStatements,
    Verb,
    contract_score,
    parse_statements,
)
from rekomendasi.xapi.model import Score
from rekomendasi.xapi.statements import canonical, comparable
from tests.xapi.factory import NIP, statement


def parse_one(data: object) -> tuple[str | None, bool, str]:
    (parsed,) = parse_statements(json.dumps(data))
    return parsed.id, parsed.statement is not None, parsed.problem


def test_a_valid_statement_parses_with_its_id() -> None:
    data = statement(result={"score": {"scaled": 0.9}, "success": True, "completion": True})
    statement_id, valid, problem = parse_one(data)
    assert (statement_id, valid, problem) == (data["id"], True, "")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"actor": {"mbox": "mailto:budi@example.go.id"}},
            "actor: mbox is not accepted: identify the employee",
        ),
        ({"actor": {"objectType": "Group", "member": []}}, "actor: a Group is not accepted"),
        ({"actor": {"name": "Budi"}}, "actor: an account {homePage, name: the 18-digit NIP} is required"),
        (
            {"actor": {"account": {"homePage": "https://x.go.id", "name": "1985"}}},
            "actor.account.name: must be the employee's 18-digit NIP, got 4 characters",
        ),
        (
            {"actor": {"account": {"homePage": "x.go.id", "name": NIP}}},
            "actor.account.homePage: must be an absolute IRI",
        ),
        (
            {"verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}},
            "verb.id: 'http://adlnet.gov/expapi/",
        ),
        (
            {"verb": {"id": "https://w3id.org/xapi/tla/verbs/recommended"}},
            "is not accepted; use one of http://adlnet.gov/expapi/verbs/registered",
        ),
        ({"object": {"objectType": "Agent", "id": "urn:x:1"}}, "object: objectType 'Agent' is not accepted"),
        ({"object": {"id": "not an iri"}}, "object.id: must be an absolute IRI"),
        ({"timestamp": 1700000000}, "timestamp: must be an ISO 8601 timestamp string"),
        ({"timestamp": "yesterday"}, "timestamp: "),
        (
            {"result": {"score": {"scaled": 1.5}}},
            "result.score.scaled: Input should be less than or equal to 1",
        ),
        (
            {"result": {"score": {"raw": 120, "min": 0, "max": 100}}},
            "result.score: raw (120) is above max (100)",
        ),
        ({"result": {"score": {"min": 10, "max": 10}}}, "result.score: min (10) must be less than max (10)"),
        ({"result": {"success": "true"}}, "result.success: Input should be a valid boolean"),
        ({"result": {"duration": "90 minutes"}}, "result.duration: must be an ISO 8601 duration"),
        ({"context": {"registration": "nope"}}, "context.registration: "),
        ({"version": "2.0.0"}, "version: String should match pattern"),
        ({"grade": "A"}, "grade: not a property xAPI 1.0.3 defines here"),
        ({"id": 12}, "statement: id must be a UUID string"),
    ],
)
def test_an_invalid_statement_names_what_is_wrong(change: dict[str, object], expected: str) -> None:
    _, valid, problem = parse_one({**statement(), **change})
    assert not valid
    assert expected in problem, problem


def test_an_invalid_statement_keeps_its_readable_id() -> None:
    data = statement(actor={"mbox": "mailto:a@b.go.id"})
    assert parse_one(data)[0] == data["id"]
    assert parse_one({**data, "id": "not-a-uuid"})[0] is None


def test_a_list_is_checked_statement_by_statement_in_order() -> None:
    good, bad = statement(), statement(verb="experienced")
    parsed = parse_statements(json.dumps([good, bad, good]))
    assert [(p.index, p.id, p.statement is not None) for p in parsed] == [
        (0, good["id"], True),
        (1, bad["id"], False),
        (2, good["id"], True),
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "the body is not JSON"),
        (b"42", "the body is a JSON int; send an xAPI statement"),
        (b'"a"', "the body is a JSON str"),
        (b"[]", "the body is an empty list"),
        (b'[{"id": 1}, 3]', "item 1 of the list is not a JSON object"),
    ],
)
def test_a_body_that_is_no_statement_is_refused_whole(body: bytes, expected: str) -> None:
    with pytest.raises(InvalidStatements, match=expected) as caught:
        parse_statements(body)
    assert caught.value.status_code == 400


def test_too_many_statements_are_refused_with_413() -> None:
    with pytest.raises(PayloadTooLarge, match=f"the limit is {MAX_STATEMENTS}"):
        parse_statements(json.dumps([{}] * (MAX_STATEMENTS + 1)))


def test_a_statement_without_id_gets_one_derived_from_its_content() -> None:
    first = statement(statement_id="x")
    del first["id"]
    again = json.loads(json.dumps(first))
    other = {**first, "timestamp": "2025-03-04T09:00:00+07:00"}
    ids = [parse_one(data)[0] for data in (first, again, other)]
    assert ids[0] == ids[1] and ids[0] != ids[2]
    assert uuid.UUID(str(ids[0])).version == 5


def test_same_statement_compares_equal_despite_lrs_properties_and_time_zone() -> None:
    data = statement()
    forwarded = {
        **data,
        "timestamp": "2025-03-03T02:00:00Z",  # the same instant as 09:00 +07:00
        "stored": "2025-03-03T03:00:00Z",
        "authority": {"account": {"homePage": "https://lrs.example", "name": "lrs"}},
        "version": "1.0.3",
    }
    changed = {**data, "result": {"success": False}}
    (a,), (b,), (c,) = (parse_statements(json.dumps(d)) for d in (data, forwarded, changed))
    assert a.statement and b.statement and c.statement
    raw_a, raw_b, raw_c = (canonical(p.statement, str(p.id)) for p in (a, b, c))  # type: ignore[arg-type]
    assert comparable(raw_a) == comparable(raw_b)
    assert comparable(raw_a) != comparable(raw_c)


def test_incoming_statement_keeps_local_day_and_utc_time() -> None:
    data = statement(
        verb="passed",
        timestamp="2025-03-03T23:30:00+08:00",  # WITA: still 3 March there, 15:30 UTC
        result={"score": {"raw": 45, "min": 0, "max": 50}, "success": True},
    )
    (parsed,) = parse_statements(json.dumps(data))
    incoming = IncomingStatement.build(parsed, "TRN-0001", dt.datetime(2025, 4, 1, tzinfo=dt.UTC))
    assert incoming.verb is Verb.PASSED
    assert incoming.day == dt.date(2025, 3, 3)
    assert incoming.timestamp == dt.datetime(2025, 3, 3, 15, 30, tzinfo=dt.UTC)
    assert incoming.score == 90.0 and incoming.success is True and incoming.completion is None
    assert json.loads(incoming.raw)["id"] == data["id"]


def test_incoming_statement_without_timestamp_happened_when_received() -> None:
    (parsed,) = parse_statements(json.dumps(statement(timestamp=None)))
    received = dt.datetime(2025, 4, 1, 20, 0, tzinfo=dt.UTC)
    incoming = IncomingStatement.build(parsed, "TRN-0001", received)
    assert (incoming.timestamp, incoming.day) == (received, dt.date(2025, 4, 1))


def test_an_invalid_statement_cannot_be_built() -> None:
    (parsed,) = parse_statements(json.dumps(statement(verb="experienced")))
    with pytest.raises(ValueError, match="is invalid"):
        IncomingStatement.build(parsed, "TRN-0001", dt.datetime.now(dt.UTC))


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ({"scaled": 0.875}, 87.5),
        ({"scaled": -0.5}, 0.0),
        ({"scaled": 0.5, "raw": 3, "min": 0, "max": 4}, 50.0),  # scaled wins
        ({"raw": 3, "min": 1, "max": 5}, 50.0),
        ({"raw": 72.5}, 72.5),
        ({"raw": 450}, None),  # no scale to place it on
        ({"raw": 3, "max": 5}, 3.0),  # only one bound: taken as given
        ({}, None),
    ],
)
def test_contract_score(score: dict[str, float], expected: float | None) -> None:
    assert contract_score(Score(**score)) == expected
