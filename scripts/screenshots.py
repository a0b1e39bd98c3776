"""Screenshots of every page of the planner's web page, on a desktop and at 360 px, for docs/screenshots/.

Run it after `make run` has built a home (data, snapshot, champion and scores store), with the dev
dependencies and Debian's Chromium installed (`make setup` installs both):

    .venv/bin/python scripts/screenshots.py [--home .] [--out docs/screenshots] [--budget 300000000]

It serves the app of that home on a free local port (in this process), signs in with a planner key it
creates for the largest agency and revokes at the end, builds one plan with its what-if curve, and saves
``<page>-desktop.png`` (1280 px wide) and ``<page>-360.png`` for: sign-in, overview, unit, person, plan
builder, plan, model. Then it prints what a first visit to each page transfers over the wire
(compressed, every asset included, the browser's cache empty), for the README, and saves ``widget.png``:
the platforms' widget on a learning platform's page served from another local origin.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.ui.conftest
from tests.ui.conftest import CHROMIUM_ARGS

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "360": {"width": 360, "height": 740}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path("."), help="the project home `make run` built")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--budget", type=int, default=300_000_000, help="the plan's budget, in rupiah")
    args = parser.parse_args()
    os.environ["REKOMENDASI_HOME"] = str(args.home.resolve())
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH: run `make setup` (scripts/ensure-chromium.sh) first")

    from tests.ui.conftest import serve

    from rekomendasi.serving.app import create_app
    from rekomendasi.settings import get_settings

    app = create_app(get_settings())
    with serve(app, lifespan="on") as base:
        take(app, base, chromium, args.out, args.budget)


def take(app: object, base: str, chromium: str, out: Path, budget: int) -> None:
    """Sign in as a fresh planner of the largest agency and save every page at both widths."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from rekomendasi.serving.auth import Role

    state = app.state.service  # type: ignore[attr-defined]
    engine = state.engine
    staff: dict[str, int] = {}
    for nip in engine.nips:
        agency = engine.employee(nip).instansi_id
        staff[agency] = staff.get(agency, 0) + 1
    agency = max(staff, key=lambda a: (staff[a], a))
    principal, key = state.stores.keys.create_key("BKD (tangkapan layar)", Role.PLANNER, [agency])
    out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
            plan_url = None
            urls: dict[str, str] = {}
            for name, viewport in VIEWPORTS.items():
                page = browser.new_context(viewport=viewport, locale="id-ID").new_page()

                def shot(page_name: str, page=page, name=name) -> None:
                    page.wait_for_load_state("networkidle")
                    urls.setdefault(page_name, page.url)
                    path = out / f"{page_name}-{name}.png"
                    page.screenshot(path=str(path), full_page=True)
                    # 256 colours are plenty for a page of text and flat colour: a third of the bytes.
                    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
                    print(f"{path} ({path.stat().st_size:,} bytes)")

                page.goto(f"{base}/ui/masuk")
                shot("masuk")
                page.fill("#kunci", key)
                page.click("button[type=submit]")
                page.wait_for_url(f"**/ui/instansi/{agency}")
                shot("ringkasan")
                unit = page.locator("#peta tbody th a").first.inner_text()
                page.goto(f"{base}/ui/instansi/{agency}/unit/{unit}")
                shot("unit")
                nip = page.locator("#staf tbody td a").first.inner_text()
                page.goto(f"{base}/ui/pegawai/{nip}")
                shot("pegawai")
                page.goto(f"{base}/ui/instansi/{agency}/rencana")
                if plan_url is None:
                    page.fill("#anggaran", f"{budget:,}".replace(",", "."))
                    shot("penyusun-rencana")
                    page.click("form[data-busy] button[type=submit]")
                    page.wait_for_url("**/ui/rencana/*", timeout=300_000)
                    plan_url = page.url
                    page.click("#perbandingan a")
                    page.wait_for_selector("#kurva canvas", timeout=600_000)
                else:
                    shot("penyusun-rencana")
                    page.goto(plan_url)
                shot("rencana")
                page.goto(f"{base}/ui/model")
                shot("model")
                page.context.close()
            weigh(browser, urls, key)
            widget(app, base, browser, out, agency)
            browser.close()
    finally:
        state.stores.keys.revoke_key(principal.key_id)


def widget(app: object, base: str, browser: object, out: Path, agency: str) -> None:
    """The platforms' widget on a learning platform's page (another origin), as the README shows it."""
    from tests.ui.conftest import serve
    from tests.ui.test_widget import host_app

    from rekomendasi.serving.auth import Role

    state = app.state.service  # type: ignore[attr-defined]
    nip = state.engine.staff(agency)[0]
    placeholder = host_app(base, "")
    with serve(placeholder) as host:
        principal, key = state.stores.keys.create_key(
            "LMS (tangkapan layar)", Role.PLATFORM, [agency], [host]
        )
        try:
            placeholder.router.routes[:] = host_app(base, key).router.routes
            page = browser.new_context(viewport={"width": 900, "height": 700}, locale="id-ID").new_page()  # type: ignore[attr-defined]
            page.goto(f"{host}/?nip={nip}")
            page.locator("rekomendasi-saran li").first.wait_for()
            path = out / "widget.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"{path} ({path.stat().st_size:,} bytes)")
            page.context.close()
        finally:
            state.stores.keys.revoke_key(principal.key_id)


def weigh(browser: object, urls: dict[str, str], key: str) -> None:
    """Print what a first visit to each page transfers (compressed, with every asset, cache empty)."""
    from tests.ui.conftest import transferred_bytes

    page = browser.new_context(locale="id-ID").new_page()  # type: ignore[attr-defined]
    print("| page | bytes transferred on a first visit |\n|---|---|")
    print(f"| masuk (signed out) | {transferred_bytes(page, urls['masuk']):,} |")
    page.goto(urls["masuk"])
    page.fill("#kunci", key)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/instansi/*")
    for name, url in urls.items():
        if name != "masuk":
            print(f"| {name} | {transferred_bytes(page, url):,} |")
    page.context.close()


if __name__ == "__main__":
    main()
