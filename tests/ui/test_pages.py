"""The planner's web page through HTTP (no browser): sign-in and its cookie, CSRF, who sees what, the
audit trail, words and numbers, compression. The browser tests (test_browser.py) use it as a person would."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rekomendasi.serving.auth import Role, hash_nip
from rekomendasi.ui.i18n import TEXTS, missing, parse_rupiah, text
from tests.serving.conftest import Served

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def sign_in(client: TestClient, key: str, target: str = "/ui/") -> TestClient:
    """Sign ``client`` in with ``key`` through the form, as a browser does."""
    form = client.get("/ui/masuk")
    token = CSRF.search(form.text)
    assert token is not None
    answer = client.post("/ui/masuk", data={"csrf": token.group(1), "kunci": key, "lanjut": target})
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture()
def browser_like(served: Served) -> Iterator[TestClient]:
    """A fresh client on the shared app, not following redirects. Not entered as a context manager: that
    would run the app's lifespan again, whose end closes the stores every later test uses."""
    yield TestClient(served.app, follow_redirects=False, base_url="http://testserver")


@pytest.fixture()
def planner(served: Served, browser_like: TestClient) -> TestClient:
    return sign_in(browser_like, served.planner)


def csrf_of(client: TestClient, url: str) -> str:
    token = CSRF.search(client.get(url).text)
    assert token is not None
    return token.group(1)


def test_every_word_has_both_languages() -> None:
    assert missing() == []
    assert text("sign_in", "id") == "Masuk" and text("sign_in", "en") == "Sign in"
    assert len(TEXTS) > 100


def test_every_word_the_templates_use_exists() -> None:
    """Literal ``t('key')`` calls only (keys built from values, ``t('jp_' ~ state)``, are checked by the
    pages rendering them in the other tests)."""
    folder = Path(__file__).resolve().parents[2] / "src" / "rekomendasi" / "ui" / "templates"
    used = set()
    for template in folder.glob("*.html"):
        used |= set(re.findall(r"""\bt\(['"]([a-z_0-9]+)['"]\s*[,)]""", template.read_text(encoding="utf-8")))
    assert used and not used - set(TEXTS), sorted(used - set(TEXTS))


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("500.000.000", 500_000_000),
        ("Rp 1.250.000", 1_250_000),
        ("IDR 1,250,000", 1_250_000),
        ("750000", 750_000),
        ("12,5", 125),  # grouping marks only: rupiah have no decimals
        ("lima ratus", None),
        ("", None),
        ("-5", None),
    ],
)
def test_budgets_are_read_as_planners_type_them(typed: str, amount: int | None) -> None:
    assert parse_rupiah(typed) == amount


def test_signed_out_pages_send_to_the_sign_in_page_and_back(served: Served, browser_like: TestClient) -> None:
    answer = browser_like.get(f"/ui/instansi/{served.agency}")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/masuk?lanjut=%2Fui%2Finstansi%2F{served.agency}"
    form = browser_like.get(answer.headers["location"])
    assert form.status_code == 200 and f'value="/ui/instansi/{served.agency}"' in form.text
    token = CSRF.search(form.text)
    assert token is not None
    signed = browser_like.post(
        "/ui/masuk",
        data={"csrf": token.group(1), "kunci": served.planner, "lanjut": f"/ui/instansi/{served.agency}"},
    )
    assert signed.headers["location"] == f"/ui/instansi/{served.agency}"


def test_the_session_cookie_is_httponly_strict_and_expires(served: Served, browser_like: TestClient) -> None:
    token = csrf_of(browser_like, "/ui/masuk")
    answer = browser_like.post("/ui/masuk", data={"csrf": token, "kunci": served.planner, "lanjut": "/ui/"})
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("rk_sesi=")
    )
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=strict"
    assert attributes["path"].strip() == "Path=/ui"
    assert int(attributes["max-age"].split("=")[1]) == int(served.settings.ui_session_hours * 3600)
    assert served.planner not in cookie, "the key itself never goes into a cookie"


def test_a_wrong_key_is_refused_in_plain_words(browser_like: TestClient) -> None:
    token = csrf_of(browser_like, "/ui/masuk")
    answer = browser_like.post(
        "/ui/masuk", data={"csrf": token, "kunci": "rk_0123456789abcdef_" + "x" * 43, "lanjut": "/ui/"}
    )
    assert answer.status_code == 401
    assert text("wrong_key", "id") in answer.text
    assert "rk_sesi" not in answer.headers.get("set-cookie", "")


def test_a_platform_key_cannot_sign_in(served: Served, browser_like: TestClient) -> None:
    token = csrf_of(browser_like, "/ui/masuk")
    answer = browser_like.post("/ui/masuk", data={"csrf": token, "kunci": served.platform, "lanjut": "/ui/"})
    assert answer.status_code == 403 and text("platform_key", "id") in answer.text


def test_the_sign_in_form_needs_its_csrf_token(served: Served, browser_like: TestClient) -> None:
    browser_like.get("/ui/masuk")
    answer = browser_like.post(
        "/ui/masuk", data={"csrf": "forged", "kunci": served.planner, "lanjut": "/ui/"}
    )
    assert answer.status_code == 403
    assert "rk_sesi=" not in answer.headers.get("set-cookie", "")


def test_signing_out_ends_the_session_on_the_server(served: Served, planner: TestClient) -> None:
    session = planner.cookies.get("rk_sesi")
    assert planner.get(f"/ui/instansi/{served.agency}").status_code == 200
    token = csrf_of(planner, f"/ui/instansi/{served.agency}")
    out = planner.post("/ui/keluar", data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/ui/masuk?keluar=1"
    # The old cookie, replayed, opens nothing: the session ended on the server, not only in the browser.
    replay = TestClient(served.app, follow_redirects=False)
    replay.cookies.set("rk_sesi", session or "", path="/ui")
    assert replay.get(f"/ui/instansi/{served.agency}").status_code == 303


def test_signing_out_needs_the_csrf_token(served: Served, planner: TestClient) -> None:
    assert planner.post("/ui/keluar", data={"csrf": "forged"}).status_code == 403
    assert planner.get(f"/ui/instansi/{served.agency}").status_code == 200, "still signed in"


def test_a_revoked_key_ends_its_sessions(served: Served, browser_like: TestClient) -> None:
    keys = served.app.state.service.stores.keys
    principal, key = keys.create_key("short-lived", Role.PLANNER, [served.agency])
    sign_in(browser_like, key)
    assert browser_like.get(f"/ui/instansi/{served.agency}").status_code == 200
    keys.revoke_key(principal.key_id)
    assert browser_like.get(f"/ui/instansi/{served.agency}").status_code == 303


def test_a_planner_sees_only_their_agency(served: Served, planner: TestClient) -> None:
    engine = served.app.state.service.engine
    other = engine.employee(served.other_nip)
    assert planner.get(f"/ui/instansi/{other.instansi_id}").status_code == 403
    assert planner.get(f"/ui/instansi/{other.instansi_id}/unit/{other.unit_id}").status_code == 403
    assert planner.get(f"/ui/instansi/{other.instansi_id}/rencana").status_code == 403
    assert planner.get(f"/ui/pegawai/{served.other_nip}").status_code == 403
    home = planner.get("/ui/")
    assert home.status_code == 303 and home.headers["location"] == f"/ui/instansi/{served.agency}"


def test_forms_need_the_sessions_csrf_token_and_this_origin(served: Served, planner: TestClient) -> None:
    engine = served.app.state.service.engine
    training = engine.recommend(served.nip, 1)[0].training_id
    url = f"/ui/pegawai/{served.nip}/tanggapan"
    fields = {"pelatihan": training, "tanggapan": "accepted", "alasan": ""}
    assert planner.post(url, data={**fields, "csrf": "forged"}).status_code == 403
    assert planner.post(url, data=fields).status_code == 403
    token = csrf_of(planner, f"/ui/pegawai/{served.nip}")
    foreign = planner.post(url, data={**fields, "csrf": token}, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert planner.post(url, data={**fields, "csrf": token}).status_code == 303


def test_an_objection_is_stored_and_exported(served: Served, planner: TestClient) -> None:
    stores = served.app.state.service.stores
    engine = served.app.state.service.engine
    training = engine.recommend(served.nip, 1)[0].training_id
    token = csrf_of(planner, f"/ui/pegawai/{served.nip}")
    url = f"/ui/pegawai/{served.nip}/tanggapan"
    empty = planner.post(
        url, data={"csrf": token, "pelatihan": training, "tanggapan": "objected", "alasan": " "}
    )
    assert empty.status_code == 422, "an objection needs a reason"
    answer = planner.post(
        url,
        data={"csrf": token, "pelatihan": training, "tanggapan": "objected", "alasan": "Sudah pernah ikut"},
    )
    assert answer.status_code == 303
    row = stores.feedback.export().iloc[-1]
    assert (row["nip"], row["training_id"], row["event"], row["reason"]) == (
        served.nip,
        training,
        "objected",
        "Sudah pernah ikut",
    )
    shown = planner.get(answer.headers["location"])
    assert text("event_objected", "id") in shown.text and f"(nomor {row['id']})" in shown.text
    # The page lists the standing objection, leaves it out of the recommendations, and resolves it.
    assert text("objections_title", "id") in shown.text
    listed = shown.text.split(text("objections_title", "id"))[0]
    assert f"keberatan={training}#tanggapan" not in listed, "not among the recommendations any more"
    resolving = planner.get(f"/ui/pegawai/{served.nip}?keberatan={training}")
    assert '<option value="resolved" selected' in resolving.text
    resolved = planner.post(
        url,
        data={"csrf": token, "pelatihan": training, "tanggapan": "resolved", "alasan": "Ditinjau bersama"},
    )
    assert resolved.status_code == 303
    assert stores.feedback.export().iloc[-1]["event"] == "resolved"
    back = planner.get(f"/ui/pegawai/{served.nip}")
    assert text("objections_title", "id") not in back.text and f"keberatan={training}#tanggapan" in back.text


def test_pages_with_personal_data_are_audited(served: Served, planner: TestClient) -> None:
    audit = served.app.state.service.stores.audit
    assert planner.get(f"/ui/pegawai/{served.nip}").status_code == 200
    row = audit.read(limit=1).iloc[-1]
    assert row["action"].startswith("GET /ui/pegawai/nip:"), "the NIP in the path is hashed"
    assert hash_nip(served.nip, "test-salt") in row["nip_hashes"]
    assert row["status"] == 200
    unit = served.app.state.service.engine.employee(served.nip).unit_id
    assert planner.get(f"/ui/instansi/{served.agency}/unit/{unit}").status_code == 200
    row = audit.read(limit=1).iloc[-1]
    assert hash_nip(served.nip, "test-salt") in row["nip_hashes"], "the unit list's NIPs are audited"
    refused = planner.get(f"/ui/pegawai/{served.other_nip}")
    assert refused.status_code == 403
    assert audit.read(limit=1).iloc[-1]["status"] == 403


def test_numbers_are_indonesian_and_english_is_one_switch(served: Served, planner: TestClient) -> None:
    page = planner.get(f"/ui/instansi/{served.agency}")
    assert page.status_code == 200 and 'lang="id"' in page.text
    assert text("overview", "id") in page.text
    assert re.search(r"\d,\d<", page.text), "decimals with a comma in the heatmap"
    switch = planner.get(f"/ui/bahasa?ke=en&lanjut=/ui/instansi/{served.agency}")
    assert switch.status_code == 303 and switch.headers["location"] == f"/ui/instansi/{served.agency}"
    english = planner.get(f"/ui/instansi/{served.agency}")
    assert 'lang="en"' in english.text and text("overview", "en") in english.text
    assert re.search(r"\d\.\d<", english.text)
    planner.get("/ui/bahasa?ke=id&lanjut=/ui/")


def test_the_switch_never_sends_to_another_site(planner: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example", "/v1/model", "/ui\\evil"):
        answer = planner.get("/ui/bahasa", params={"ke": "id", "lanjut": target})
        assert answer.headers["location"] == "/ui/"


def test_pages_are_compressed_and_carry_security_headers(served: Served, planner: TestClient) -> None:
    answer = planner.get(f"/ui/instansi/{served.agency}", headers={"accept-encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    raw = len(answer.content)
    assert len(gzip.compress(answer.content)) < raw
    api = TestClient(served.app).get(
        "/v1/model", headers={"X-API-Key": served.admin, "accept-encoding": "gzip"}
    )
    assert "content-encoding" not in api.headers, "the API's answers are not compressed"


def test_unknown_pages_and_bad_nips_are_plain_pages(planner: TestClient) -> None:
    missing_page = planner.get("/ui/tidak-ada")
    assert missing_page.status_code == 404 and "text/html" in missing_page.headers["content-type"]
    bad = planner.get("/ui/pegawai/123")
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]


def test_the_unit_page_filters_and_sorts(served: Served, planner: TestClient) -> None:
    engine = served.app.state.service.engine
    unit = engine.employee(served.nip).unit_id
    url = f"/ui/instansi/{served.agency}/unit/{unit}"
    everyone = planner.get(url)
    nips = re.findall(r'href="/ui/pegawai/(\d{18})"', everyone.text)
    assert served.nip in nips and len(nips) == len(engine.staff(served.agency, unit))
    by_nip = re.findall(r'href="/ui/pegawai/(\d{18})"', planner.get(url, params={"urut": "nip"}).text)
    assert by_nip == sorted(nips)
    behind = planner.get(url, params={"status": "behind"})
    for row in re.findall(r"<tr>.*?</tr>", behind.text, re.S)[1:]:
        assert "s-behind" in row
    partial = planner.get(url, params={"status": "met"}, headers={"hx-request": "true"})
    assert partial.text.lstrip().startswith('<div id="staf">'), "htmx gets the table alone"


def test_the_model_page_shows_the_champion_and_its_groups(served: Served, planner: TestClient) -> None:
    engine = served.app.state.service.engine
    page = planner.get("/ui/model")
    assert page.status_code == 200
    assert f"v{engine.model_version.version}" in page.text
    assert "NDCG@10" in page.text and "gender" in page.text


def test_a_proxy_forwarded_origin_is_this_site(served: Served, planner: TestClient) -> None:
    engine = served.app.state.service.engine
    training = engine.recommend(served.nip, 1)[0].training_id
    token = csrf_of(planner, f"/ui/pegawai/{served.nip}")
    fields = {"csrf": token, "pelatihan": training, "tanggapan": "accepted", "alasan": ""}
    url = f"/ui/pegawai/{served.nip}/tanggapan"
    proxied = {"origin": "https://asn.example.go.id", "x-forwarded-host": "asn.example.go.id"}
    assert planner.post(url, data=fields, headers=proxied).status_code == 303
    spoofed = {"origin": "https://evil.example", "x-forwarded-host": "asn.example.go.id"}
    assert planner.post(url, data=fields, headers=spoofed).status_code == 403


def test_the_what_if_curve_without_javascript_is_the_plan_page(served: Served, planner: TestClient) -> None:
    token = csrf_of(planner, f"/ui/instansi/{served.agency}/rencana")
    made = planner.post(
        f"/ui/instansi/{served.agency}/rencana", data={"csrf": token, "anggaran": "20.000.000", "jp": "20"}
    )
    assert made.status_code == 303
    plan = made.headers["location"]
    page = planner.get(plan + "/bandingkan")
    assert page.status_code == 200 and 'id="kurva"' in page.text
    rows = re.findall(r"<tr><td class=\"n\">Rp ", page.text)
    assert len(rows) >= 3, "a row per budget compared"


def test_a_bad_budget_is_said_on_the_form(served: Served, planner: TestClient) -> None:
    url = f"/ui/instansi/{served.agency}/rencana"
    token = csrf_of(planner, url)
    for typed in ("lima ratus juta", "0", ""):
        answer = planner.post(url, data={"csrf": token, "anggaran": typed, "jp": "20"})
        assert answer.status_code == 422 and text("bad_budget", "id") in answer.text
        assert f'value="{typed}"' in answer.text, "what was typed stays in the form"
    odd_unit = planner.post(url, data={"csrf": token, "anggaran": "1.000.000", "jp": "20", "unit": "nope"})
    assert odd_unit.status_code == 422


def test_a_plan_built_on_the_page_is_the_apis_plan(served: Served, planner: TestClient) -> None:
    url = f"/ui/instansi/{served.agency}/rencana"
    made = planner.post(url, data={"csrf": csrf_of(planner, url), "anggaran": "15.000.000", "jp": "20"})
    plan_id = made.headers["location"].rsplit("/", 1)[1]
    api = TestClient(served.app).get(f"/v1/plans/{plan_id}", headers={"X-API-Key": served.planner})
    assert api.status_code == 200 and api.json()["request"]["budget_idr"] == 15_000_000
    listed = planner.get(url)
    assert f"/ui/rencana/{plan_id}" in listed.text, "listed among the agency's recent plans"
