"""The platforms' widget over HTTP: tokens for one person, what a token opens (and does not), origins
and CORS, the widget's feedback, the script and the iframe page. The browser tests are in
tests/ui/test_widget.py."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from rekomendasi.serving.auth import Role, hash_nip
from rekomendasi.serving.embed import EmbedTokens
from rekomendasi.serving.store import StateInputError
from rekomendasi.serving.store.keys import clean_origin
from tests.served import Served

LMS = "https://lms.example.go.id"


@pytest.fixture(scope="module")
def platform(served: Served) -> str:
    """A platform key of the served agency whose widget may run on LMS pages."""
    keys = served.app.state.service.stores.keys
    return keys.create_key("LMS", Role.PLATFORM, [served.agency], origins=[LMS, "http://localhost:8080/"])[1]


def client(served: Served) -> TestClient:
    return TestClient(served.app)  # not entered: the shared app's lifespan stays the session's


def token_for(served: Served, key: str, nip: str) -> str:
    answer = client(served).post("/v1/embed/tokens", json={"nip": nip}, headers={"X-API-Key": key})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["widget"] == "/embed/saran.js" and body["iframe"].endswith(body["token"])
    return str(body["token"])


def bearer(token: str, origin: str | None = LMS) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if origin:
        headers["Origin"] = origin
    return headers


def test_only_platform_and_admin_keys_make_tokens_for_people_in_scope(served: Served, platform: str) -> None:
    api = client(served)
    assert (
        api.post(
            "/v1/embed/tokens", json={"nip": served.other_nip}, headers={"X-API-Key": platform}
        ).status_code
        == 403
    )
    assert (
        api.post(
            "/v1/embed/tokens", json={"nip": served.nip}, headers={"X-API-Key": served.planner}
        ).status_code
        == 403
    )
    assert api.post("/v1/embed/tokens", json={"nip": served.nip}).status_code == 401
    assert token_for(served, served.admin, served.nip)


def test_a_token_reads_its_person_only_without_evidence(served: Served, platform: str) -> None:
    token = token_for(served, platform, served.nip)
    answer = client(served).get("/v1/embed/recommendations?k=3", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    engine = served.app.state.service.engine
    expected = [r.training_id for r in engine.recommend(served.nip, 3)]
    assert [s["training_id"] for s in body["suggestions"]] == expected
    assert served.nip not in answer.text, "the browser is not told the NIP"
    for suggestion in body["suggestions"]:
        assert "perkiraan tingkat" not in suggestion["reason"], "no levels, as for platform keys"
    # There is no way to ask for anyone else: the routes take no NIP, and a NIP parameter is refused.
    other = client(served).get(f"/v1/embed/recommendations?nip={served.other_nip}", headers=bearer(token))
    assert other.status_code == 422


def test_altered_foreign_expired_or_key_tokens_get_401(
    served: Served, platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = client(served)
    token = token_for(served, platform, served.nip)
    payload, _, signature = token.rpartition(".")
    altered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    foreign = EmbedTokens(b"another service", 10).issue(
        served.app.state.service.stores.keys.authenticate(platform), served.other_nip
    )[0]
    for bad in (altered, foreign, platform, "", "x" * 2000):
        answer = api.get("/v1/embed/recommendations", headers=bearer(bad))
        assert answer.status_code == 401, (bad[:20], answer.text)
        assert answer.headers.get("access-control-allow-origin") == LMS, "the widget may read why"
    later = time.time() + 11 * 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(later))
    expired = api.get("/v1/embed/recommendations", headers=bearer(token))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_a_revoked_keys_tokens_stop(served: Served) -> None:
    keys = served.app.state.service.stores.keys
    principal, key = keys.create_key("LMS to revoke", Role.PLATFORM, [served.agency], origins=[LMS])
    token = token_for(served, key, served.nip)
    assert client(served).get("/v1/embed/recommendations", headers=bearer(token)).status_code == 200
    keys.revoke_key(principal.key_id)
    assert client(served).get("/v1/embed/recommendations", headers=bearer(token)).status_code == 401


def test_origins_are_enforced_with_cors(served: Served, platform: str) -> None:
    api = client(served)
    token = token_for(served, platform, served.nip)
    allowed = api.get("/v1/embed/recommendations", headers=bearer(token, LMS))
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == LMS
    assert "Origin" in allowed.headers["vary"]
    refused = api.get("/v1/embed/recommendations", headers=bearer(token, "https://evil.example"))
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    own = api.get("/v1/embed/recommendations", headers=bearer(token, "http://testserver"))
    assert own.status_code == 200, "the iframe page calls from the service's own origin"
    preflight = {
        "Origin": LMS,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    ok = api.options("/v1/embed/feedback", headers=preflight)
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == LMS
    assert "authorization" in ok.headers["access-control-allow-headers"]
    stranger = api.options("/v1/embed/feedback", headers={**preflight, "Origin": "https://evil.example"})
    assert stranger.status_code == 403 and "access-control-allow-origin" not in stranger.headers


def test_the_widgets_feedback_is_the_tokens_person(served: Served, platform: str) -> None:
    api = client(served)
    token = token_for(served, platform, served.nip)
    training = served.app.state.service.engine.recommend(served.nip, 1)[0].training_id
    saved = api.post(
        "/v1/embed/feedback", json={"training_id": training, "event": "rejected"}, headers=bearer(token)
    )
    assert saved.status_code == 201, saved.text
    row = served.app.state.service.stores.feedback.export().iloc[-1]
    assert (row["id"], row["nip"], row["training_id"], row["event"]) == (
        saved.json()["id"],
        served.nip,
        training,
        "rejected",
    )
    wrong = api.post(
        "/v1/embed/feedback", json={"training_id": training, "event": "completed"}, headers=bearer(token)
    )
    assert wrong.status_code == 422
    unknown = api.post(
        "/v1/embed/feedback", json={"training_id": "NOPE", "event": "accepted"}, headers=bearer(token)
    )
    assert unknown.status_code == 422


def test_widget_requests_are_audited_with_the_persons_nip(served: Served, platform: str) -> None:
    token = token_for(served, platform, served.nip)
    client(served).get("/v1/embed/recommendations", headers=bearer(token))
    row = served.app.state.service.stores.audit.read(limit=1).iloc[-1]
    assert row["action"] == "GET /v1/embed/recommendations" and row["status"] == 200
    assert hash_nip(served.nip, "test-salt") in row["nip_hashes"]


def test_the_script_and_the_iframe_page(served: Served, platform: str) -> None:
    api = client(served)
    script = api.get("/embed/saran.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "customElements.define" in script.text and len(script.content) < 10_000
    token = token_for(served, platform, served.nip)
    page = api.get("/embed/saran", params={"token": token, "k": 3})
    assert page.status_code == 200 and f'token="{token}"' in page.text
    assert f"frame-ancestors http://localhost:8080 {LMS}" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    bad = api.get("/embed/saran", params={"token": "forged"})
    assert "frame-ancestors 'none'" in bad.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://LMS.example.go.id/", "https://lms.example.go.id"),
        ("http://localhost:8080", "http://localhost:8080"),
    ],
)
def test_origins_are_kept_as_browsers_send_them(given: str, kept: str) -> None:
    assert clean_origin(given) == kept


@pytest.mark.parametrize("bad", ["lms.example.go.id", "https://lms.example.go.id/path", "ftp://x", "*"])
def test_an_origin_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(StateInputError):
        clean_origin(bad)
