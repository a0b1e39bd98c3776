"""The platforms' widget in a real browser: a learning platform's page on another origin embeds it, as a
platform does (its server asks for a token with its key, the page gets the token only)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from rekomendasi.serving.auth import Role
from tests.served import Served
from tests.ui.conftest import assert_accessible, serve


@dataclass
class Platform:
    """The platform's site (``url``, an allowed origin), the same site under a name the key does not
    allow (``stranger``), and the key its server uses."""

    url: str
    stranger: str
    key: str


def host_app(api: str, key: str) -> Starlette:
    """A learning platform's pages: its server asks for a token, the page embeds the widget with it."""

    def token(request: Request) -> str:
        nip = request.query_params["nip"]
        answer = httpx.post(f"{api}/v1/embed/tokens", json={"nip": nip}, headers={"X-API-Key": key})
        answer.raise_for_status()
        return str(answer.json()["token"])

    def widget(request: Request) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="id"><head><meta charset="utf-8"><title>LMS</title>'
            f'<script src="{api}/embed/saran.js" defer></script></head><body><main><h1>Kelas saya</h1>'
            f'<rekomendasi-saran token="{token(request)}" k="3" lang="id"></rekomendasi-saran>'
            "</main></body></html>"
        )

    def frame(request: Request) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="id"><head><meta charset="utf-8"><title>LMS</title></head><body><main>'
            f'<h1>Kelas saya</h1><iframe title="Saran pelatihan" width="600" height="500" '
            f'src="{api}/embed/saran?token={token(request)}&k=3"></iframe></main></body></html>'
        )

    def health(request: Request) -> HTMLResponse:
        return HTMLResponse("ok")

    return Starlette(routes=[Route("/", widget), Route("/iframe", frame), Route("/health", health)])


@pytest.fixture(scope="module")
def platform(live_server: str, served: Served) -> Iterator[Platform]:
    keys = served.app.state.service.stores.keys
    holder: dict[str, str] = {}
    app = host_app(live_server, "")
    with serve(app) as url:
        port = url.rsplit(":", 1)[1]
        holder["key"] = keys.create_key("LMS uji", Role.PLATFORM, [served.agency], origins=[url])[1]
        app.router.routes[:] = host_app(live_server, holder["key"]).router.routes
        # The live server caches origins for a few seconds: wait until its preflight knows this one.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = httpx.options(
                f"{live_server}/v1/embed/recommendations",
                headers={"Origin": url, "Access-Control-Request-Method": "GET"},
            )
            if answer.status_code == 204:
                break
            time.sleep(0.2)
        yield Platform(url=url, stranger=f"http://localhost:{port}", key=holder["key"])


def test_the_widget_lists_suggestions_and_records_a_click(
    page: Page, platform: Platform, served: Served
) -> None:
    page.goto(f"{platform.url}/?nip={served.nip}")
    items = page.locator("rekomendasi-saran li")
    expect(items).to_have_count(3)
    engine = served.app.state.service.engine
    first = engine.recommend(served.nip, 1)[0]
    title = str(engine.entry_info[first.training_id]["title"])
    expect(items.first.locator("h3")).to_have_text(title)
    assert_accessible(page)
    items.first.get_by_role("button", name=f"Tidak relevan: {title}").click()
    expect(page.locator("rekomendasi-saran [role=status]").last).to_have_text(
        "Terima kasih, tanggapan Anda tersimpan."
    )
    rows = served.app.state.service.stores.feedback.export()
    last = rows.iloc[-1]
    assert (last["nip"], last["training_id"], last["event"]) == (served.nip, first.training_id, "rejected")


def test_the_iframe_page_for_platforms_without_scripts(
    page: Page, platform: Platform, served: Served
) -> None:
    page.goto(f"{platform.url}/iframe?nip={served.nip}")
    frame = page.frame_locator("iframe")
    expect(frame.locator("rekomendasi-saran li")).to_have_count(3)


def test_an_origin_the_key_does_not_allow_gets_nothing(
    page: Page, platform: Platform, served: Served
) -> None:
    page.goto(f"{platform.stranger}/?nip={served.nip}")
    expect(page.locator("rekomendasi-saran [role=alert]")).to_be_visible()
    expect(page.locator("rekomendasi-saran li")).to_have_count(0)


def test_a_token_cannot_read_another_person(
    page: Page, platform: Platform, served: Served, live_server: str
) -> None:
    page.goto(f"{platform.url}/?nip={served.nip}")
    expect(page.locator("rekomendasi-saran li")).to_have_count(3)
    token = page.locator("rekomendasi-saran").get_attribute("token")
    assert token
    statuses = page.evaluate(
        """async ([api, token, other]) => {
            const ask = (path, t) => fetch(api + path, {headers: {Authorization: 'Bearer ' + t}})
                .then(r => r.status, () => 'blocked');
            const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
            return [await ask('/v1/embed/recommendations?nip=' + other, token),
                    await ask('/v1/embed/recommendations', tampered),
                    await ask('/v1/employees/' + other + '/recommendations', token)];
        }""",
        [live_server, token, served.other_nip],
    )
    # A NIP parameter is refused; a tampered token is refused; the API's own routes do not take tokens
    # (and do not answer other origins at all: the browser blocks the call).
    assert statuses == [422, 401, "blocked"]
