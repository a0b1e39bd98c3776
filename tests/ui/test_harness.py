"""The browser test harness itself (tests/ui/conftest.py), without the web pages: the system's Chromium
launches and loads the live server, axe finds what it should (and nothing more), and page weight counts
documents, subresources and redirects."""

from __future__ import annotations

import base64
import random
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.ui.conftest import (
    REQUIRE_ENV,
    SKIP_MARKER,
    assert_accessible,
    axe_violations,
    find_chromium,
    serve,
    transferred_bytes,
)

TINY = "<html lang='en'><head><title>t</title></head><body><main><h1>x</h1>{img}</main></body></html>"
NO_ALT = "<img src='data:,'>"
CSP = "<meta http-equiv='Content-Security-Policy' content=\"default-src 'self'; script-src 'self'\">"
SCRIPT_BYTES = 20_000
"""The size of the weighed page's script: random base64, which no compression would shrink much."""


def test_chromium_loads_the_live_server(page: Page, live_server: str) -> None:
    answer = page.goto(f"{live_server}/health")
    assert answer is not None and answer.status == 200
    expect(page.locator("body")).to_contain_text('{"status":"ok"}')
    assert page.evaluate("navigator.language") == "id-ID"
    assert page.viewport_size == {"width": 1280, "height": 800}


def test_axe_finds_a_missing_alt(page: Page) -> None:
    page.set_content(TINY.format(img=NO_ALT))
    violations = axe_violations(page)
    assert [(v["id"], v["impact"]) for v in violations] == [("image-alt", "critical")]
    assert [node["target"] for node in violations[0]["nodes"]] == [["img"]]
    message = r"1 serious or critical .*\n- image-alt \(critical\).*\n +at img: <img"
    with pytest.raises(AssertionError, match=message):
        assert_accessible(page)


def test_axe_finds_nothing_once_the_image_has_an_alt(page: Page) -> None:
    page.set_content(TINY.format(img="<img src='data:,' alt='Grafik jam pelatihan'>"))
    assert axe_violations(page) == []
    assert_accessible(page)
    assert page.evaluate("typeof axe.run") == "function"  # axe did run: it was not a no-op


def test_axe_runs_under_a_content_security_policy(page: Page) -> None:
    """A page forbidding inline scripts refuses axe's script tag; axe is evaluated instead."""
    page.set_content(TINY.format(img=NO_ALT).replace("<title>", CSP + "<title>"))
    assert [v["id"] for v in axe_violations(page)] == ["image-alt"]


def test_serious_only_leaves_out_lesser_violations(page: Page) -> None:
    # Content outside any landmark: axe's `region` rule, of moderate impact.
    page.set_content("<html lang='en'><head><title>t</title></head><body><p>outside</p></body></html>")
    assert axe_violations(page) == []
    assert "region" in [v["id"] for v in axe_violations(page, serious_only=False)]


def test_transferred_bytes_of_health(page: Page, live_server: str) -> None:
    weight = transferred_bytes(page, f"{live_server}/health")
    assert 0 < weight < 2000
    assert page.url == "about:blank" and page.context.pages == [page]  # the fresh page was closed


@pytest.fixture(scope="module")
def weighed_site() -> Iterator[tuple[str, int]]:
    """A page with one script of known size, and a redirect to it: its base URL and the page's size."""
    script = base64.b64encode(random.Random(12).randbytes(SCRIPT_BYTES * 3 // 4)).decode()
    html = "<!doctype html><html lang='id'><head><title>t</title><script src='/app.js'></script></head>"

    async def page_(request: Request) -> Response:
        return HTMLResponse(html)

    async def app_js(request: Request) -> Response:
        # Cacheable: only the disabled cache makes a second visit fetch it again.
        return PlainTextResponse(
            script, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
        )

    async def moved(request: Request) -> Response:
        return RedirectResponse("/", status_code=303)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[Route("/", page_), Route("/app.js", app_js), Route("/moved", moved), Route("/health", health)]
    )
    with serve(app) as url:
        yield url, len(html) + len(script)


def test_transferred_bytes_counts_subresources_and_redirects(
    page: Page, weighed_site: tuple[str, int]
) -> None:
    url, bodies = weighed_site
    direct = transferred_bytes(page, f"{url}/")
    assert bodies < direct < bodies + 1000  # the bodies and two answers' headers
    assert transferred_bytes(page, f"{url}/") == direct  # the cache is off: the script is fetched again
    redirected = transferred_bytes(page, f"{url}/moved")
    assert 50 < redirected - direct < 500  # the 303's headers


def test_no_chromium_skips_or_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert shutil.which("chromium") is None
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.warns(pytest.PytestWarning, match=SKIP_MARKER), pytest.raises(pytest.skip.Exception):
        find_chromium()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{SKIP_MARKER}.*{REQUIRE_ENV}=1"):
        find_chromium()
