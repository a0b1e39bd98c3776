"""The browser test harness of the web pages: the system's Chromium driven by Playwright (pytest-playwright),
the app served over real HTTP, and helpers for accessibility and page weight.

- ``chromium_path``: the system's Chromium (``scripts/ensure-chromium.sh`` installs it). Missing, every
  browser test skips LOUDLY, or fails with ``REKOMENDASI_TEST_REQUIRE_BROWSER=1`` (CI).
- ``browser_type_launch_args`` / ``browser_context_args``: pytest-playwright's fixtures, overridden so its
  ``browser``, ``context`` and ``page`` fixtures use that Chromium, headless and without background
  networking, in an Indonesian locale at 1280x800.
- ``ui_app`` and ``live_server``: the ASGI app under test, served by uvicorn on 127.0.0.1 in a thread.
- :func:`axe_violations`, :func:`assert_accessible`: axe-core (vendored) run on a page.
- :func:`transferred_bytes`: what loading a page costs over the wire.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from starlette.types import ASGIApp

from rekomendasi.serving.app import create_app
from tests.served import Served

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "src" / "rekomendasi" / "ui" / "static" / "vendor" / "axe.min.js"
"""axe-core, vendored by ``scripts/vendor-assets.sh``; only the tests inject it into pages."""
REQUIRE_ENV = "REKOMENDASI_TEST_REQUIRE_BROWSER"
"""Set to 1 to make the browser fixtures fail, not skip, when there is no Chromium (CI)."""
SKIP_MARKER = "Chromium UNAVAILABLE"
"""Starts the skip reason of the browser tests, so a terminal summary can find and repeat it."""
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # we run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home: without these, Chromium's outbound connections are refused, noisily, on a machine
    # without network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""The command-line switches Chromium is launched with."""
SERIOUS_IMPACTS = frozenset({"serious", "critical"})
"""The axe impacts :func:`assert_accessible` fails on (axe's other two are ``minor`` and ``moderate``)."""
SERVER_START_SECONDS = 30.0

# axe's violations, each cut to what a failure message needs.
_RUN_AXE = """async () => {
    const results = await axe.run(document, {resultTypes: ['violations']});
    return results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({target: n.target, html: n.html, summary: n.failureSummary})),
    }));
}"""


# --- the browser ------------------------------------------------------------------------------------


def find_chromium() -> str:
    """The system's Chromium executable: ``chromium``, else ``chromium-browser``, on PATH.

    When there is none: skips LOUDLY (a warning too, so the reason shows in the warnings summary), or
    fails with REKOMENDASI_TEST_REQUIRE_BROWSER=1.
    """
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = (
            f"{SKIP_MARKER}: neither chromium nor chromium-browser is on PATH, so the browser tests of the "
            "web pages were NOT run; install Debian's chromium (`make setup` does it when root: "
            "scripts/ensure-chromium.sh)"
        )
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
        warnings.warn(reason, pytest.PytestWarning, stacklevel=1)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system's Chromium (:func:`find_chromium`): every test using a browser skips or fails without."""
    return find_chromium()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], chromium_path: str) -> dict[str, Any]:
    """pytest-playwright's launch options (``--slowmo`` and the like), on the system's Chromium, headless."""
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path,
        "args": list(CHROMIUM_ARGS),
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's context options, in Indonesian (``id-ID``) on a 1280x800 viewport. A test
    changes them with ``@pytest.mark.browser_context_args(locale="en-US")``."""
    return {**browser_context_args, "locale": "id-ID", "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config) -> str | None:
    """pytest-playwright's ``base_url`` (``--base-url``; pages are opened at ``live_server`` URLs), as a
    plain fixture: the fallback it defines without pytest-base-url is a method, which pytest 9 deprecates
    with a warning."""
    value: str | None = pytestconfig.getoption("--base-url", None) or pytestconfig.getini("base_url") or None
    return value


# --- the server -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ui_app(served: Served) -> ASGIApp:
    """The app the pages are served from: a second app on the served world's settings (its snapshot,
    champion and state database, so the world's keys work), started by the live server's own lifespan
    as a deployment starts it. Not the ``served`` app itself: that one runs on its TestClient's event
    loop, and the service's lanes belong to the loop that first used them."""
    return create_app(served.settings)


@pytest.fixture(scope="session")
def live_server(ui_app: ASGIApp) -> Iterator[str]:
    """``ui_app`` served over HTTP (:func:`serve`): yields its base URL, ``http://127.0.0.1:PORT``."""
    with serve(ui_app, lifespan="on") as url:
        yield url


@contextmanager
def serve(app: ASGIApp, lifespan: str = "off") -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a daemon thread; yield its base URL,
    ``http://127.0.0.1:PORT``, once its ``/health`` answers 200, and stop it on exit.

    ``lifespan``: ``"on"`` for an app not started yet (uvicorn starts and stops it), ``"off"`` for one
    already started elsewhere.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # bound here and handed over, so no other process can take the port
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"live-server-{port}", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, thread)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_until_healthy(url: str, thread: threading.Thread) -> None:
    """Return once ``url``/health answers 200; fail when the server thread died or it takes too long."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    last = "no answer yet"
    with httpx.Client(trust_env=False, timeout=2.0) as client:  # never through a proxy from the environment
        while time.monotonic() < deadline:
            if not thread.is_alive():
                pytest.fail(f"the live server at {url} stopped while starting (see its log)", pytrace=False)
            try:
                answer = client.get(f"{url}/health")
            except httpx.TransportError as err:
                last = repr(err)
            else:
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            time.sleep(0.05)
    pytest.fail(f"the live server at {url} did not answer /health in {SERVER_START_SECONDS:.0f} s: {last}")


# --- accessibility ----------------------------------------------------------------------------------


def axe_violations(page: Page, serious_only: bool = True) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the whole document).

    Each is ``{"id", "impact", "help", "helpUrl", "nodes": [{"target", "html", "summary"}]}``. With
    ``serious_only`` (the default), only those of impact ``serious`` or ``critical``.

    axe is injected with a script tag; when the page's Content-Security-Policy forbids inline scripts
    (as it should), it is evaluated through the DevTools protocol instead, which the policy does not
    govern.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        try:
            page.add_script_tag(path=AXE_JS)
        except PlaywrightError as err:
            if "Content Security Policy" not in str(err):
                raise
            page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(_RUN_AXE)
    if serious_only:
        violations = [v for v in violations if v["impact"] in SERIOUS_IMPACTS]
    return violations


def format_violations(violations: list[dict[str, Any]]) -> str:
    """Violations as readable lines: rule, impact, what it asks, and each offending element."""
    lines: list[str] = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"    at {target}: {node['html'][:160]}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail, listing them, when axe finds serious or critical violations on the page."""
    violations = axe_violations(page, serious_only=True)
    if violations:  # raised, not asserted: pytest would append the list's repr to the message
        raise AssertionError(
            f"{len(violations)} serious or critical accessibility violation(s) on {page.url}:\n"
            + format_violations(violations)
        )


# --- page weight ------------------------------------------------------------------------------------


def transferred_bytes(page: Page, url: str) -> int:
    """The bytes that loading ``url`` transfers over the wire (compressed bodies and headers): the
    document, its redirects and every subresource, including requests made once it has loaded until the
    network is idle (htmx ``load`` triggers), as Chromium counts them (``encodedDataLength`` of the
    DevTools protocol).

    Loaded in a fresh page of ``page``'s context (its cookies, so a signed-in session) with the cache
    disabled: a first visit. The browser's own favicon fetch is left out: Chromium makes it only on its
    first visit to a site, so counting it would make the number depend on which test ran first. The fresh
    page is closed afterwards; ``page`` is left as it was. A page that keeps polling is never idle: it
    times out (Playwright's navigation timeout).
    """
    fresh = page.context.new_page()
    try:
        cdp = page.context.new_cdp_session(fresh)
        received: dict[str, float] = {}
        redirects: list[float] = []
        the_browsers: set[str] = set()

        def on_request(event: dict[str, Any]) -> None:
            if event.get("type") == "Other" and event.get("initiator", {}).get("type") == "other":
                the_browsers.add(event["requestId"])  # not the page's: its favicon
            # A redirect's answer is reported with the request it leads to, not by loadingFinished.
            if "redirectResponse" in event:
                redirects.append(event["redirectResponse"].get("encodedDataLength", 0))

        def on_finished(event: dict[str, Any]) -> None:
            received[event["requestId"]] = event["encodedDataLength"]

        cdp.on("Network.requestWillBeSent", on_request)
        cdp.on("Network.loadingFinished", on_finished)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        fresh.goto(url, wait_until="networkidle")
        cdp.detach()
    finally:
        fresh.close()
    return round(sum(n for request, n in received.items() if request not in the_browsers) + sum(redirects))
