"""The xAPI store on sqlite and PostgreSQL: idempotent ingest with its feedback, shown recommendations,
the activity map and the history rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.store import StateInputError, Stores
from rekomendasi.serving.store.xapi import XAPI_STATEMENTS
from rekomendasi.xapi import IncomingStatement, Outcome, parse_statements
from tests.xapi.factory import statement

PLATFORM = Principal("0123456789abcdef", "LMS", Role.PLATFORM, frozenset({"I-32"}))
OTHER = Principal("fedcba9876543210", "LMS 2", Role.PLATFORM, frozenset({"I-32"}))
NIP = "198501012010011001"
RECEIVED = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)


def incoming(*statements: dict[str, Any], training: str = "TRN-0001") -> list[IncomingStatement]:
    parsed = parse_statements(json.dumps(list(statements)))
    return [IncomingStatement.build(p, training, RECEIVED) for p in parsed]


def stored_ids(stores: Stores) -> list[str]:
    with stores.db.reading() as conn:
        return sorted(conn.execute(sa.select(XAPI_STATEMENTS.c.statement_id)).scalars())


def test_ingest_stores_new_statements_with_their_columns(stores: Stores) -> None:
    data = statement(verb="passed", result={"score": {"scaled": 0.8}, "success": True, "completion": True})
    (result,) = stores.xapi.ingest(PLATFORM, incoming(data))
    assert (result.id, result.status, result.detail) == (data["id"], Outcome.STORED, "")
    with stores.db.reading() as conn:
        row = conn.execute(sa.select(XAPI_STATEMENTS)).mappings().one()
    assert row["nip"] == NIP and row["training_id"] == "TRN-0001" and row["verb"] == "passed"
    assert row["day"] == dt.date(2025, 3, 3)
    assert row["timestamp"] == dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)
    assert (row["score"], row["success"], row["completion"], row["key_id"]) == (
        80.0,
        True,
        True,
        PLATFORM.key_id,
    )
    assert json.loads(row["raw"])["id"] == data["id"]


def test_ingest_is_idempotent_by_statement_id(stores: Stores) -> None:
    first = statement(result={"score": {"scaled": 0.5}})
    forwarded = {**first, "stored": "2025-04-01T00:00:00Z", "version": "1.0.3"}
    changed = {**first, "result": {"score": {"scaled": 0.9}}}
    assert [r.status for r in stores.xapi.ingest(PLATFORM, incoming(first))] == [Outcome.STORED]
    again = stores.xapi.ingest(PLATFORM, incoming(first, forwarded, changed))
    assert [r.status for r in again] == [Outcome.DUPLICATE, Outcome.DUPLICATE, Outcome.CONFLICT]
    assert "already stored with other content" in again[2].detail
    assert stored_ids(stores) == [first["id"]]
    with stores.db.reading() as conn:
        score = conn.execute(sa.select(XAPI_STATEMENTS.c.score)).scalar()
    assert score == 50.0  # the first one stands


def test_repeats_within_one_batch_are_recognised(stores: Stores) -> None:
    first = statement()
    results = stores.xapi.ingest(
        PLATFORM, incoming(first, first, {**first, "verb": statement(verb="failed")["verb"]})
    )
    assert [r.status for r in results] == [Outcome.STORED, Outcome.DUPLICATE, Outcome.CONFLICT]
    assert stored_ids(stores) == [first["id"]]


def test_stored_completions_and_registrations_become_feedback_in_the_same_transaction(stores: Stores) -> None:
    completed, passed, registered, attempted, failed = (
        statement(verb=v) for v in ("completed", "passed", "registered", "attempted", "failed")
    )
    stores.xapi.ingest(PLATFORM, incoming(completed, passed, registered, attempted, failed), stores.feedback)
    stores.xapi.ingest(PLATFORM, incoming(completed), stores.feedback)  # a duplicate records nothing
    feedback = stores.feedback.export()
    assert sorted(zip(feedback["event"], feedback["reason"], strict=True)) == sorted(
        [
            ("completed", f"xAPI statement {completed['id']}"),
            ("completed", f"xAPI statement {passed['id']}"),
            ("enrolled", f"xAPI statement {registered['id']}"),
        ]
    )
    assert set(feedback["nip"]) == {NIP} and set(feedback["key_id"]) == {PLATFORM.key_id}
    assert stores.verify().ok  # the feedback chain holds


def test_a_failed_feedback_write_stores_no_statement(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> list[dict[str, object]]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(stores.feedback.chain, "append", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        stores.xapi.ingest(PLATFORM, incoming(statement()), stores.feedback)
    assert stored_ids(stores) == []  # one transaction: no statement without its feedback


def test_record_shown_and_page_through_it(stores: Stores) -> None:
    stores.xapi.record_shown(
        PLATFORM, NIP, [("TRN-0001", 1), ("TRN-0002", 2), ("TRN-0003", 3)], "5", "api", "r1"
    )
    stores.xapi.record_shown(OTHER, NIP, [("TRN-0009", 1)], "5", "widget", None)
    stores.xapi.record_shown(PLATFORM, NIP, [], "5", "api", None)  # nothing answered: nothing written
    everything = stores.xapi.shown(None, None, 10)
    assert [(r.key_id, r.training_id, r.rank, r.via) for r in everything] == [
        (PLATFORM.key_id, "TRN-0001", 1, "api"),
        (PLATFORM.key_id, "TRN-0002", 2, "api"),
        (PLATFORM.key_id, "TRN-0003", 3, "api"),
        (OTHER.key_id, "TRN-0009", 1, "widget"),
    ]
    assert everything[0].request_id == "r1" and everything[0].at.tzinfo is not None
    first = stores.xapi.shown(None, PLATFORM.key_id, 2)
    rest = stores.xapi.shown(None, PLATFORM.key_id, 2, after=first[-1].id)
    assert [r.training_id for r in first + rest] == ["TRN-0001", "TRN-0002", "TRN-0003"]
    assert stores.xapi.shown(everything[-1].at, None, 10) == []  # since is exclusive
    assert len(stores.xapi.shown(everything[0].at - dt.timedelta(seconds=1), None, 10)) == 4


def test_record_shown_and_shown_refuse_bad_input(stores: Stores) -> None:
    with pytest.raises(StateInputError, match="via must be one of api, widget"):
        stores.xapi.record_shown(PLATFORM, NIP, [("TRN-0001", 1)], "5", "email", None)
    with pytest.raises(StateInputError, match="limit must be at least 1"):
        stores.xapi.shown(None, None, 0)


def test_activity_map(stores: Stores) -> None:
    assert stores.xapi.map_activity(" https://lms.example/c/1 ", "TRN-0001") is None
    assert stores.xapi.map_activity("https://lms.example/c/2", "TRN-0001") is None
    assert stores.xapi.map_activity("https://lms.example/c/1", "TRN-0001") is None  # unchanged
    assert stores.xapi.activities() == [
        ("https://lms.example/c/1", "TRN-0001"),
        ("https://lms.example/c/2", "TRN-0001"),
    ]
    assert stores.xapi.map_activity("https://lms.example/c/1", "TRN-0005") == "TRN-0001"
    assert stores.xapi.activities()[-1] == ("https://lms.example/c/1", "TRN-0005")  # remapped last
    with pytest.raises(StateInputError, match="activity IRI must be an absolute IRI"):
        stores.xapi.map_activity("course 1", "TRN-0001")
    with pytest.raises(StateInputError, match="training_id is empty"):
        stores.xapi.map_activity("https://lms.example/c/3", " ")


def test_history_rows(stores: Stores) -> None:
    stores.xapi.ingest(
        PLATFORM,
        incoming(
            statement(verb="registered", timestamp="2025-01-06T08:00:00+07:00"),
            statement(
                verb="passed", timestamp="2025-01-20T08:00:00+07:00", result={"score": {"scaled": 0.9}}
            ),
        ),
    )
    stores.xapi.ingest(PLATFORM, incoming(statement(verb="failed"), training="TRN-0002"))
    frame = stores.xapi.history_rows()
    got = [
        (
            r.training_id,
            r.enrolled_on.date(),
            None if pd.isna(r.completed_on) else r.completed_on.date(),
            r.status,
            None if pd.isna(r.score) else r.score,
        )
        for r in frame.itertuples(index=False)
    ]
    assert got == [
        ("TRN-0001", dt.date(2025, 1, 6), dt.date(2025, 1, 20), "completed", 90.0),
        ("TRN-0002", dt.date(2025, 3, 3), None, "failed", None),
    ]
    assert stores.xapi.history_rows(since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).empty


def test_history_rows_since_recomputes_touched_enrolments_from_all_their_statements(stores: Stores) -> None:
    stores.xapi.ingest(
        PLATFORM, incoming(statement(verb="registered", timestamp="2025-01-06T08:00:00+07:00"))
    )
    stores.xapi.ingest(PLATFORM, incoming(statement(verb="registered"), training="TRN-0002"))
    cut = dt.datetime.now(dt.UTC)
    stores.xapi.ingest(PLATFORM, incoming(statement(verb="completed", timestamp="2025-01-20T08:00:00+07:00")))
    frame = stores.xapi.history_rows(since=cut)
    assert list(frame["training_id"]) == ["TRN-0001"]
    assert frame["enrolled_on"].iloc[0] == pd.Timestamp("2025-01-06")  # opened before the cut
