"""xAPI over HTTP: statements in (per-statement answers, idempotency, scope, feedback, history) and
recommended statements out (what was answered to a platform, paged with since/more)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.store import Stores
from rekomendasi.serving.store.xapi import XAPI_STATEMENTS
from tests.served import Served
from tests.xapi.factory import statement

URL = "/v1/xapi/statements"
TLA_RECOMMENDED = "https://w3id.org/xapi/tla/verbs/recommended"


def client(served: Served) -> TestClient:
    return TestClient(served.app)  # not entered: the shared app's lifespan stays the session's


def stores_of(served: Served) -> Stores:
    stores: Stores = served.app.state.service.stores
    return stores


def new_platform_key(served: Served) -> tuple[Principal, str]:
    """A platform key of the served agency of its own, so what it was shown is this test's alone."""
    return stores_of(served).keys.create_key(f"LMS {uuid.uuid4().hex[:6]}", Role.PLATFORM, [served.agency])


@pytest.fixture(scope="module")
def training(served: Served) -> str:
    """A catalogue entry of the served world."""
    return sorted(served.app.state.service.engine.entry_info)[0]


def of(served: Served, training: str, **kwargs: Any) -> dict[str, Any]:
    """A valid statement about the served employee and ``training`` (by its canonical IRI)."""
    kwargs.setdefault("nip", served.nip)
    return statement(activity=f"urn:rekomendasi:training:{training}", **kwargs)


def post(served: Served, key: str, body: object, request_id: str | None = None) -> Any:
    headers = {"X-API-Key": key, **({"X-Request-ID": request_id} if request_id else {})}
    return client(served).post(URL, json=body, headers=headers)


def stored(served: Served, ids: list[str]) -> list[str]:
    with stores_of(served).db.reading() as conn:
        found = conn.execute(
            sa.select(XAPI_STATEMENTS.c.statement_id).where(XAPI_STATEMENTS.c.statement_id.in_(ids))
        )
        return sorted(found.scalars())


def test_a_list_is_answered_per_statement_and_only_the_valid_in_scope_one_stored(
    served: Served, training: str
) -> None:
    valid = of(served, training, result={"score": {"scaled": 0.9}, "success": True})
    invalid = of(served, training, actor={"mbox": "mailto:budi@example.go.id"})
    outside = of(served, training, nip=served.other_nip)
    request_id = f"xapi-{uuid.uuid4().hex}"
    answer = post(served, served.platform, [valid, invalid, outside], request_id)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Experience-API-Version"] == "1.0.3"
    body = answer.json()
    assert [(r["id"], r["status"]) for r in body] == [
        (valid["id"], "stored"),
        (invalid["id"], "invalid"),
        (outside["id"], "refused"),
    ]
    assert "mbox is not accepted" in body[1]["detail"]
    assert "not an active employee in the agencies this key may see" in body[2]["detail"]
    assert stored(served, [valid["id"], invalid["id"], outside["id"]]) == [valid["id"]]
    audit = stores_of(served).audit.read(limit=50)
    row = audit[audit["request_id"] == request_id].iloc[0]
    assert (row["status"], row["nip_count"], row["refused_count"]) == (200, 1, 1)


def test_a_single_statement_is_answered_as_a_list(served: Served, training: str) -> None:
    data = of(served, training, verb="registered")
    answer = post(served, served.platform, data)
    assert answer.status_code == 200 and answer.json() == [
        {"id": data["id"], "status": "stored", "detail": ""}
    ]


def test_statements_are_idempotent_by_id(served: Served, training: str) -> None:
    data = of(served, training, verb="attempted")
    assert post(served, served.platform, data).json()[0]["status"] == "stored"
    again = post(served, served.platform, data)
    assert again.status_code == 200 and again.json()[0]["status"] == "duplicate"
    changed = {**data, "result": {"completion": True}}
    conflict = post(served, served.platform, [changed, of(served, training)])
    assert [r["status"] for r in conflict.json()] == ["conflict", "stored"]
    assert "already stored with other content" in conflict.json()[0]["detail"]


def test_every_statement_invalid_is_a_400_naming_the_problems(served: Served, training: str) -> None:
    bad_verb = of(served, training, verb="experienced")
    unmapped = statement(nip=served.nip, activity=f"https://lms.example.go.id/course/{uuid.uuid4().hex}")
    unknown = of(served, "NO-SUCH-ENTRY")
    answer = post(served, served.platform, [bad_verb, unmapped, unknown])
    assert answer.status_code == 400
    body = answer.json()
    assert body["detail"].startswith("no statement is valid: statement 0: verb.id:")
    assert "statement 1: object.id: the activity 'https://lms.example.go.id/course/" in body["detail"]
    assert "rekomendasi xapi map IRI TRAINING_ID" in body["detail"]
    assert "statement 2: object.id: training_id 'NO-SUCH-ENTRY' is not in the catalogue" in body["detail"]
    assert [r["status"] for r in body["statements"]] == ["invalid"] * 3
    assert stored(served, [bad_verb["id"], unmapped["id"], unknown["id"]]) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[1, 2", "the body is not JSON"),
        (b"42", "the body is a JSON int"),
        (b"[]", "the body is an empty list"),
    ],
)
def test_a_body_that_is_no_statement_is_a_400(served: Served, body: bytes, expected: str) -> None:
    answer = client(served).post(
        URL, content=body, headers={"X-API-Key": served.platform, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400 and expected in answer.json()["detail"]


def test_a_mapped_activity_iri_counts_for_its_entry(served: Served, training: str) -> None:
    iri = f"https://lms.example.go.id/course/{uuid.uuid4().hex}"
    data = statement(nip=served.nip, activity=iri, verb="registered")
    unmapped = post(served, served.platform, data)
    assert unmapped.status_code == 400 and unmapped.json()["statements"][0]["status"] == "invalid"
    stores_of(served).xapi.map_activity(iri, training)
    assert post(served, served.platform, data).json()[0]["status"] == "stored"


def test_admin_keys_may_report_on_any_agency_and_planner_keys_on_none(served: Served, training: str) -> None:
    data = of(served, training, nip=served.other_nip)
    assert post(served, served.admin, data).json()[0]["status"] == "stored"
    answer = post(served, served.planner, of(served, training))
    assert answer.status_code == 403 and "platform and admin keys" in answer.json()["detail"]
    assert client(served).get(URL, headers={"X-API-Key": served.planner}).status_code == 403


def test_stored_statements_become_feedback_and_history(served: Served) -> None:
    training = sorted(served.app.state.service.engine.entry_info)[1]  # an entry no other test reports on
    registered = of(served, training, verb="registered", timestamp="2025-06-02T08:00:00+07:00")
    passed = of(
        served,
        training,
        verb="passed",
        timestamp="2025-06-20T08:00:00+07:00",
        result={"score": {"scaled": 0.75}},
    )
    assert [r["status"] for r in post(served, served.platform, [registered, passed]).json()] == ["stored"] * 2
    feedback = stores_of(served).feedback.export()
    mine = feedback[
        feedback["reason"].isin([f"xAPI statement {registered['id']}", f"xAPI statement {passed['id']}"])
    ]
    assert sorted(zip(mine["event"], mine["nip"], mine["training_id"], strict=True)) == [
        ("completed", served.nip, training),
        ("enrolled", served.nip, training),
    ]
    history = stores_of(served).xapi.history_rows()
    row = history[(history["nip"] == served.nip) & (history["training_id"] == training)]
    june = row[row["enrolled_on"] == "2025-06-02"]
    assert len(june) == 1
    assert (june["status"].iloc[0], str(june["completed_on"].iloc[0].date()), june["score"].iloc[0]) == (
        "completed",
        "2025-06-20",
        75.0,
    )


def test_recommendations_answered_to_a_platform_are_exported_as_recommended(served: Served) -> None:
    principal, key = new_platform_key(served)
    request_id = f"rec-{uuid.uuid4().hex}"
    answer = client(served).get(
        f"/v1/employees/{served.nip}/recommendations",
        params={"k": 3},
        headers={"X-API-Key": key, "X-Request-ID": request_id},
    )
    assert answer.status_code == 200
    answered = [r["training_id"] for r in answer.json()["recommendations"]]
    exported = client(served).get(URL, headers={"X-API-Key": key})
    assert exported.status_code == 200 and exported.headers["X-Experience-API-Version"] == "1.0.3"
    page = exported.json()
    assert page["more"] == ""
    statements = page["statements"]
    assert [s["context"]["extensions"]["urn:rekomendasi:training_id"] for s in statements] == answered
    assert [s["context"]["extensions"]["urn:rekomendasi:rank"] for s in statements] == [1, 2, 3]
    for s in statements:
        assert s["verb"]["id"] == TLA_RECOMMENDED
        assert s["actor"]["account"] == {"homePage": served.settings.xapi_home_page, "name": served.nip}
        assert s["context"]["extensions"]["urn:rekomendasi:request_id"] == request_id
        assert s["context"]["extensions"]["urn:rekomendasi:via"] == "api"
        assert s["object"]["id"].endswith(s["context"]["extensions"]["urn:rekomendasi:training_id"])
    title = served.app.state.service.engine.entry_info[answered[0]]["title"]
    assert list(statements[0]["object"]["definition"]["name"].values()) == [title]
    # what a planner or admin key was answered is not a platform's showing
    client(served).get(f"/v1/employees/{served.nip}/recommendations", headers={"X-API-Key": served.planner})
    assert len(client(served).get(URL, headers={"X-API-Key": key}).json()["statements"]) == 3
    # bulk answers are recorded per employee, and the admin key sees every key's (or one key's)
    bulk = client(served).post(
        "/v1/recommendations/bulk",
        json={"nips": [served.nip, served.other_nip], "k": 2},
        headers={"X-API-Key": key},
    )
    assert bulk.status_code == 200
    everything = client(served).get(
        URL, params={"key_id": principal.key_id, "limit": 1000}, headers={"X-API-Key": served.admin}
    )
    assert everything.status_code == 200
    names = [s["actor"]["account"]["name"] for s in everything.json()["statements"]]
    assert names == [served.nip] * 5  # the out-of-scope NIP was never answered, so never shown


def test_paging_with_since_and_more(served: Served) -> None:
    _, key = new_platform_key(served)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    headers = {"X-API-Key": key}
    assert (
        client(served)
        .get(f"/v1/employees/{served.nip}/recommendations", params={"k": 5}, headers=headers)
        .status_code
        == 200
    )
    seen: list[int] = []
    url: str = f"{URL}?limit=2&since={before.isoformat().replace('+00:00', 'Z')}"
    pages = 0
    while url:
        page = client(served).get(url, headers=headers).json()
        seen += [s["context"]["extensions"]["urn:rekomendasi:rank"] for s in page["statements"]]
        url, pages = page["more"], pages + 1
        assert pages <= 5
    assert (seen, pages) == ([1, 2, 3, 4, 5], 3)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    assert client(served).get(URL, params={"since": later}, headers=headers).json() == {
        "statements": [],
        "more": "",
    }


def test_a_platform_key_exports_only_its_own(served: Served) -> None:
    principal, key = new_platform_key(served)
    answer = client(served).get(URL, params={"key_id": "0123456789abcdef"}, headers={"X-API-Key": key})
    assert answer.status_code == 403
    assert (
        client(served).get(URL, params={"key_id": principal.key_id}, headers={"X-API-Key": key}).status_code
        == 200
    )
    assert client(served).get(URL, params={"page": 2}, headers={"X-API-Key": key}).status_code == 422


def test_widget_views_are_exported_as_shown_via_the_widget(served: Served) -> None:
    """The widget route (another module) records what it shows through the same store."""
    lms = "https://lms.example.go.id"
    _, key = stores_of(served).keys.create_key("LMS widget", Role.PLATFORM, [served.agency], origins=[lms])
    token = client(served).post("/v1/embed/tokens", json={"nip": served.nip}, headers={"X-API-Key": key})
    assert token.status_code == 201, token.text
    headers = {"Authorization": f"Bearer {token.json()['token']}", "Origin": lms}
    shown = client(served).get("/v1/embed/recommendations", params={"k": 2}, headers=headers)
    assert shown.status_code == 200, shown.text
    page = client(served).get(URL, headers={"X-API-Key": key}).json()
    assert [s["context"]["extensions"]["urn:rekomendasi:via"] for s in page["statements"]] == ["widget"] * 2
    assert [s["context"]["extensions"]["urn:rekomendasi:training_id"] for s in page["statements"]] == [
        s["training_id"] for s in shown.json()["suggestions"]
    ]
    assert {s["actor"]["account"]["name"] for s in page["statements"]} == {served.nip}
