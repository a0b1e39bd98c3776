"""The hardened edge of the API: the key before the body, bodies counted as they arrive, strict and
documented input, rate limits, bounded answers off the event loop, what a platform key may see, an
audit row for every /v1 request, and log lines that cannot be forged."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from rekomendasi.serving.app import create_app
from rekomendasi.serving.auth import Principal, Role, hash_nip
from rekomendasi.serving.edge import RateLimiter

from .conftest import FakeClock, Served, served_settings

BULK = "/v1/recommendations/bulk"


# --- the body: key first, counted on what arrives ---------------------------------------------------


def _call(app: Any, headers: dict[str, str], chunks: Iterator[bytes]) -> tuple[int, dict[str, str], int]:
    """POST to the bulk route at ASGI level with a chunked body from ``chunks``; return the status, the
    answer's headers and how many chunks the app pulled."""
    pulled = 0
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        try:
            chunk = next(chunks)
        except StopIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": BULK,
        "raw_path": BULK.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
    }
    asyncio.run(app(scope, receive, send))
    return answer["status"], answer["headers"], pulled


def _endless(chunk: bytes = b"x" * 65_536) -> Iterator[bytes]:
    while True:
        yield chunk


def test_without_a_key_no_body_byte_is_read(served: Served) -> None:
    status, headers, pulled = _call(served.app, {}, _endless())
    assert status == 401 and pulled == 0
    status, _, pulled = _call(served.app, {"X-API-Key": "rk_0000000000000000_" + "a" * 43}, _endless())
    assert status == 401 and pulled == 0
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert headers["connection"] == "close"  # the server closes rather than reading the rest to discard it


def test_a_chunked_body_is_refused_once_its_bytes_pass_the_limit(served: Served) -> None:
    status, headers, pulled = _call(served.app, {"X-API-Key": served.planner}, _endless())
    limit_chunks = served.settings.max_body_bytes // 65_536 + 1
    assert status == 413 and pulled == limit_chunks  # stopped at the first chunk past the limit
    assert headers["connection"] == "close"


def test_a_declared_oversized_body_is_413_and_a_small_one_passes(served: Served) -> None:
    headers = {"X-API-Key": served.planner, "Content-Type": "application/json"}
    big = json.dumps({"nips": [served.nip], "lang": "id", "pad": "x" * 2_000_000})
    assert served.client.post(BULK, headers=headers, content=big).status_code == 413
    small = served.client.post(BULK, headers=headers, json={"nips": [served.nip], "k": 1})
    assert small.status_code == 200


def test_a_body_that_is_not_utf8_is_a_documented_422(served: Served) -> None:
    headers = {"X-API-Key": served.planner, "Content-Type": "application/json"}
    answer = served.client.post(BULK, headers=headers, content=b'{"nips": ["\xff\xfe"]}')
    assert answer.status_code == 422 and "UTF-8" in answer.json()["detail"]
    documented = served.client.get("/openapi.json").json()["paths"][BULK]["post"]["responses"]
    assert {"401", "413", "422", "429", "503"} <= set(documented)


# --- strict, documented input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("k", True), ("k", "5"), ("k", 2.5), ("max_cost_idr", False), ("max_jp", "10"), ("lang", 1)],
)
def test_json_bodies_are_strict(served: Served, field: str, value: object) -> None:
    body: dict[str, Any] = {"nips": [served.nip]}
    if field in ("max_cost_idr", "max_jp"):
        body["filters"] = {field: value}
    else:
        body[field] = value
    answer = served.client.post(BULK, headers={"X-API-Key": served.planner}, json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["detail"][0]["where"]


def test_a_whole_json_number_is_an_integer(served: Served) -> None:
    """JSON Schema, and so the OpenAPI document, counts 2.0 as the integer 2; the API agrees with it."""
    body = {"nips": [served.nip], "k": 2.0, "filters": {"max_jp": 40.0}}
    answer = served.client.post(BULK, headers={"X-API-Key": served.planner}, json=body)
    assert answer.status_code == 200 and len(answer.json()["results"][0]["recommendations"]) == 2


def test_every_v1_operation_documents_the_edge_answers(served: Served) -> None:
    paths = served.client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            assert {"401", "422", "429"} <= set(operation["responses"]), (method, path)
            if method == "post":
                assert "413" in operation["responses"], path


# --- what each role sees ---------------------------------------------------------------------------

_LEVELS = re.compile(r"\d")


def test_each_role_sees_what_it_may(served: Served) -> None:
    """Admin and planner get levels, evidence and contributions; a platform gets the same trainings in
    the same order, reasons naming the competencies without a number, no gap sizes and no contributions,
    and the mandatory programmes and 20 JP status as they are."""
    answers = {}
    for role, key in (("admin", served.admin), ("planner", served.planner), ("platform", served.platform)):
        for lang in ("id", "en"):
            response = served.client.get(
                f"/v1/employees/{served.nip}/recommendations",
                headers={"X-API-Key": key},
                params={"k": 10, "lang": lang},
            )
            assert response.status_code == 200, (role, response.text)
            answers[role, lang] = response.json()
    for lang in ("id", "en"):
        full, platform = answers["planner", lang], answers["platform", lang]
        assert answers["admin", lang] == full
        assert [r["training_id"] for r in platform["recommendations"]] == [
            r["training_id"] for r in full["recommendations"]
        ]
        assert platform["mandatory_due"] == full["mandatory_due"] and platform["jp"] == full["jp"]
        assert any(_LEVELS.search(r["reason"]) for r in full["recommendations"])
        for rec in platform["recommendations"]:
            assert rec["reason"] and not _LEVELS.search(rec["reason"]), rec["reason"]
            names = [g["name"] for g in rec["explanation"]["gaps"]]
            assert all(set(g) == {"competency_id", "name"} for g in rec["explanation"]["gaps"])
            assert not names or any(name in rec["reason"] for name in names)
            assert rec["explanation"]["expected_benefit"]["gap_closed_levels"] is None
            assert rec["explanation"]["model_contributions"] == []
    for path in (f"/v1/agencies/{served.agency}/recommendations?limit=3&k=5", None):
        response = (
            served.client.get(path, headers={"X-API-Key": served.platform})
            if path
            else served.client.post(BULK, headers={"X-API-Key": served.platform}, json={"nips": [served.nip]})
        )
        for result in response.json()["results"]:
            for rec in result["recommendations"]:
                assert not _LEVELS.search(rec["reason"]) and rec["explanation"]["model_contributions"] == []
    gaps = served.client.get(f"/v1/employees/{served.nip}/gaps", headers={"X-API-Key": served.platform})
    assert gaps.status_code == 403


# --- off the event loop, bounded ---------------------------------------------------------------------


def test_ranking_and_serialising_run_off_the_event_loop(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rekomendasi.serving.routes import recommendations

    threads: list[str] = []
    original = recommendations.employee_out

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            threads.append("event loop")
        except RuntimeError:
            threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(recommendations, "employee_out", spy)
    headers = {"X-API-Key": served.planner}
    assert (
        served.client.get(f"/v1/employees/{served.nip}/recommendations", headers=headers).status_code == 200
    )
    assert served.client.post(BULK, headers=headers, json={"nips": [served.nip]}).status_code == 200
    assert served.client.get(
        f"/v1/agencies/{served.agency}/recommendations?limit=2", headers=headers
    ).is_success
    assert threads and "event loop" not in threads


@pytest.fixture(scope="module")
def tight(served_home: Any, small_world: Any) -> Iterator[tuple[TestClient, str, str, str, list[str]]]:
    """An app with small limits: 2 requests/s for planners (burst 2), 100 recommendations an answer."""
    settings = served_settings(
        served_home,
        small_world,
        rate_limit_planner=2.0,
        rate_burst_seconds=1.0,
        max_answer_recommendations=100,
        bulk_max_nips=500,
        state_db_url=f"sqlite:///{served_home / 'tight-state.db'}",
    )
    app = create_app(settings)
    with TestClient(app) as client:
        state = app.state.service
        engine = state.engine
        agency = engine.employee(engine.nips[0]).instansi_id
        staff = engine.staff(agency, None)
        keys = state.stores.keys
        yield (
            client,
            keys.create_key("admin", Role.ADMIN)[1],
            keys.create_key("planner", Role.PLANNER, [agency])[1],
            agency,
            staff,
        )


def test_a_key_over_its_rate_gets_429_with_retry_after(tight: Any) -> None:
    client, admin, planner, _, staff = tight
    path = f"/v1/employees/{staff[0]}/recommendations"
    statuses = [client.get(path, headers={"X-API-Key": planner}).status_code for _ in range(6)]
    assert statuses[:2] == [200, 200] and 429 in statuses
    refused = client.get(path, headers={"X-API-Key": planner})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "rate limit" in refused.json()["detail"]
    assert client.get(path, headers={"X-API-Key": admin}).status_code == 200  # other keys are not held up


def test_answers_are_bounded(tight: Any) -> None:
    client, admin, _, agency, staff = tight
    headers = {"X-API-Key": admin}
    too_big = client.post(BULK, headers=headers, json={"nips": staff[:11], "k": 10})
    assert too_big.status_code == 413 and "at most 10 NIPs" in too_big.json()["detail"]
    page = client.get(f"/v1/agencies/{agency}/recommendations", headers=headers, params={"k": 50}).json()
    assert len(page["results"]) == 2 and page["next_offset"] == 2  # 100 recommendations / k=50


def test_rate_limiter_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter({Role.PLANNER: 2.0, Role.ADMIN: 0.0}, burst_seconds=1.0, clock=clock)
    planner = Principal("k1", "p", Role.PLANNER, frozenset({"a"}))
    assert [limiter.wait(planner) for _ in range(2)] == [0.0, 0.0]
    assert limiter.wait(planner) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.wait(planner) == 0.0
    admin = Principal("k2", "a", Role.ADMIN)
    assert all(limiter.wait(admin) == 0.0 for _ in range(1000))  # 0: no limit


# --- every /v1 request audited -----------------------------------------------------------------------


def test_every_v1_request_has_its_audit_row_refusals_included(served: Served) -> None:
    audit = served.app.state.service.stores.audit
    salt = "test-salt"
    asked = [
        ("GET", f"/v1/employees/{served.nip}/recommendations", None, None, 401),
        ("GET", f"/v1/employees/{served.nip}/recommendations", "rk_bad", None, 401),
        ("GET", "/v1/employees/12/recommendations", served.planner, None, 422),
        ("GET", f"/v1/employees/{served.other_nip}/recommendations", served.planner, None, 403),
        ("POST", BULK, served.planner, {"nips": [served.nip, served.other_nip], "k": 1}, 200),
        ("POST", BULK, served.planner, {"nips": [served.nip], "k": "1"}, 422),
    ]
    ids = []
    for i, (method, path, key, body, status) in enumerate(asked):
        request_id = f"edge-test-{i}"
        headers = {"X-Request-ID": request_id, **({"X-API-Key": key} if key else {})}
        answer = served.client.request(method, path, headers=headers, json=body)
        assert answer.status_code == status and answer.headers["x-request-id"] == request_id
        ids.append(request_id)
    rows = audit.read(limit=None)
    rows = rows[rows["request_id"].isin(ids)].set_index("request_id")
    assert list(rows.loc[ids, "status"]) == [s for *_, s in asked]
    assert pd.isna(rows.loc["edge-test-0", "key_id"]) and "no API key" in rows.loc["edge-test-0", "detail"]
    assert rows.loc["edge-test-3", "nip_hashes"] == hash_nip(served.other_nip, salt)
    bulk = rows.loc["edge-test-4"]
    assert bulk["nip_hashes"] == hash_nip(served.nip, salt)
    assert bulk["refused_hashes"] == hash_nip(served.other_nip, salt) and bulk["refused_count"] == 1
    assert "k" in rows.loc["edge-test-5", "detail"]
    assert served.nip not in rows.to_csv() and served.other_nip not in rows.to_csv()


# --- logs --------------------------------------------------------------------------------------------


def test_log_lines_escape_control_characters_and_hash_nips_in_any_written_form(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    nip = served.nip
    spaced = f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"
    dashed = f"{nip[:8]}-{nip[8:14]}-{nip[14]}-{nip[15:]}"
    with caplog.at_level(logging.INFO, logger="rekomendasi.api"):
        served.client.get("/v1/x%0AGET /v1/forged 200 1.0ms%00", headers={"X-API-Key": served.planner})
        for written in (spaced, dashed, nip + "7"):
            served.client.get(
                f"/v1/employees/{written}/recommendations", headers={"X-API-Key": served.planner}
            )
    lines = [r.getMessage() for r in caplog.records if r.name == "rekomendasi.api"]
    forged = next(line for line in lines if "forged" in line)
    assert "\n" not in forged and "\x00" not in forged and "\\x0a" in forged and "\\x00" in forged
    logged = "\n".join(lines)
    assert nip not in logged and spaced not in logged and dashed not in logged and nip[:14] not in logged
    assert logged.count(f"nip:{hash_nip(nip, 'test-salt')}") >= 2


def test_a_single_answer_never_queues_behind_the_pieces_of_list_answers(served: Served) -> None:
    """The list lane has one thread of its own: with it busy and more pieces queued, a request for one
    employee still gets a thread at once."""
    state = served.app.state.service
    release = threading.Event()

    async def scenario() -> tuple[int, float]:
        pieces = [asyncio.ensure_future(state.run_list(release.wait, 10)) for _ in range(3)]
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        answer = await asyncio.wait_for(state.run(sum, [1, 2, 3]), timeout=5)
        waited = asyncio.get_running_loop().time() - started
        release.set()
        await asyncio.gather(*pieces)
        return answer, waited

    state._lanes.clear()  # lanes belong to the loop that made them; this test runs its own loop
    try:
        answer, waited = asyncio.run(scenario())
    finally:
        state._lanes.clear()
    assert answer == 6 and waited < 1.0
