"""The planner's web page in a real browser (Debian's Chromium through Playwright), used as a planner uses
it: signing in (and a wrong key), the overview's heatmap, a unit, a person and an objection (seen in the
feedback export), building and downloading a plan, signing out, another agency's pages refused. axe-core
checks every page for serious or critical accessibility problems; the first page's weight, the 360 px
layout and the read pages without JavaScript are measured too."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import openpyxl
import pandas as pd
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from rekomendasi.ui.i18n import text
from tests.served import Served
from tests.ui.conftest import assert_accessible, transferred_bytes

FIRST_PAGE_LIMIT = 150_000
"""The issue's budget for the first page, in bytes transferred (compressed)."""
NARROW = {"width": 360, "height": 740}


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/ui/")
    expect(page).to_have_url(re.compile(r"/ui/masuk"))
    page.get_by_label(text("key_label", "id")).fill(key)
    page.get_by_role("button", name=text("sign_in", "id")).click()


@pytest.fixture()
def planner_page(page: Page, live_server: str, served: Served) -> Page:
    sign_in(page, live_server, served.planner)
    expect(page).to_have_url(f"{live_server}/ui/instansi/{served.agency}")
    return page


@pytest.fixture()
def narrow(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=NARROW, locale="id-ID")
    yield context
    context.close()


def fits(page: Page, width: int) -> None:
    """The page itself does not scroll sideways at ``width`` (wide tables scroll inside their box)."""
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"


def test_a_wrong_key_then_the_right_one(page: Page, live_server: str, served: Served) -> None:
    sign_in(page, live_server, "rk_0123456789abcdef_" + "x" * 43)
    expect(page.get_by_role("alert")).to_have_text(text("wrong_key", "id"))
    assert_accessible(page)
    page.get_by_label(text("key_label", "id")).fill(served.planner)
    page.get_by_role("button", name=text("sign_in", "id")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(served.agency)
    cookie = next(c for c in page.context.cookies() if c["name"] == "rk_sesi")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0


def test_the_overview_and_its_heatmap(planner_page: Page, served: Served) -> None:
    page = planner_page
    heatmap = page.locator("#peta")
    expect(heatmap).to_be_visible()
    engine = served.app.state.service.engine
    units = {engine.employee(n).unit_id for n in engine.staff(served.agency)}
    assert heatmap.locator("tbody tr").count() == len(units)
    columns = heatmap.locator("thead th").count() - 2
    assert 1 <= columns <= 12
    cells = heatmap.locator("tbody td.c")
    assert cells.count() == len(units) * columns
    # The colour scale is drawn: the darkest class is darker than an empty cell.
    darkest = page.locator("#peta td.h4").first
    expect(darkest).to_be_visible()
    colour = darkest.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour != "rgb(255, 255, 255)"
    expect(page.get_by_role("heading", name=text("talent", "id"))).to_be_visible()
    assert re.search(r"\d,\d", heatmap.inner_text()), "decimal commas"
    assert_accessible(page)


def test_a_unit_drill_down_with_its_filter(planner_page: Page, live_server: str, served: Served) -> None:
    page = planner_page
    engine = served.app.state.service.engine
    unit = engine.employee(served.nip).unit_id
    page.locator("#peta").get_by_role("link", name=unit, exact=True).click()
    expect(page).to_have_url(f"{live_server}/ui/instansi/{served.agency}/unit/{unit}")
    rows = page.locator("#staf tbody tr")
    expect(rows).to_have_count(len(engine.staff(served.agency, unit)))
    assert_accessible(page)
    # The filter swaps the table in place (htmx) and keeps the address shareable.
    page.get_by_label(text("sort", "id")).select_option("nip")
    expect(page).to_have_url(re.compile(r"urut=nip"))
    nips = [n.strip() for n in page.locator("#staf tbody td:first-child a").all_inner_texts()]
    assert nips == sorted(nips) and len(nips) == len(engine.staff(served.agency, unit))
    page.get_by_label(text("jp", "id"), exact=True).select_option("behind")
    expect(page).to_have_url(re.compile(r"status=behind"))
    for badge in page.locator("#staf tbody .badge").all_inner_texts():
        assert badge == text("jp_behind", "id")


def test_a_person_and_an_objection_reaching_the_feedback_export(
    planner_page: Page, live_server: str, served: Served
) -> None:
    page = planner_page
    page.goto(f"{live_server}/ui/pegawai/{served.nip}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(served.nip)
    expect(page.get_by_role("heading", name=text("gap_profile", "id"))).to_be_visible()
    first = page.locator("ol.recs > li").first
    expect(first).to_contain_text(text("why", "id"))
    expect(first).to_contain_text(text("expected_benefit", "id"))
    assert_accessible(page)
    training = first.locator("p.small.muted").inner_text().split(" · ")[0]
    first.get_by_role("link", name=text("object_this", "id")).click()
    expect(page.get_by_label(text("training", "id"), exact=True)).to_have_value(training)
    expect(page.get_by_label(text("event", "id"), exact=True)).to_have_value("objected")
    page.get_by_label(text("reason", "id")).fill("Materinya sudah dikuasai (uji peramban)")
    page.get_by_role("button", name=text("record", "id")).click()
    expect(page.get_by_role("status")).to_contain_text(text("event_objected", "id"))
    exported = served.app.state.service.stores.feedback.export()
    mine = exported[exported["reason"] == "Materinya sudah dikuasai (uji peramban)"]
    assert mine[["nip", "training_id", "event"]].values.tolist() == [[served.nip, training, "objected"]]
    # Resolved again, so the shared world's later tests see the person's list as it was.
    page.goto(f"{live_server}/ui/pegawai/{served.nip}?keberatan={training}#tanggapan")
    expect(page.get_by_label(text("event", "id"), exact=True)).to_have_value("resolved")
    page.get_by_label(text("reason", "id")).fill("Ditinjau bersama pegawai (uji peramban)")
    page.get_by_role("button", name=text("record", "id")).click()
    expect(page.get_by_role("status")).to_contain_text(text("event_resolved", "id"))


def test_building_a_plan_and_downloading_it(planner_page: Page, live_server: str, served: Served) -> None:
    page = planner_page
    page.get_by_role("link", name=text("nav_plan", "id")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text("plan_title", "id"))
    assert_accessible(page)
    page.get_by_label(text("budget", "id")).fill("25.000.000")
    page.get_by_role("button", name=text("build", "id")).click()
    expect(page).to_have_url(re.compile(r"/ui/rencana/[A-Za-z0-9_-]{16}$"), timeout=120_000)
    expect(page.get_by_role("heading", level=1)).to_contain_text(served.agency)
    expect(page.locator(".tiles")).to_contain_text("Rp 25 jt")
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name=text("download_xlsx", "id")).click()
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    assert book.sheetnames[0] == "Ringkasan"
    with page.expect_download() as download:
        page.get_by_role("link", name=text("download_csv", "id")).click()
    rows = pd.read_csv(download.value.path(), dtype=str)
    assert not rows.empty and set(rows["nip"].str.len()) == {18}
    # The what-if curve, loaded in place, drawn by the chart library, with its table.
    page.get_by_role("link", name=text("what_if_run", "id")).click()
    expect(page.locator("#perbandingan table tbody tr").first).to_be_visible(timeout=180_000)
    expect(page.locator("#kurva canvas")).to_have_count(1)
    assert_accessible(page)


def test_signing_out(planner_page: Page, live_server: str, served: Served) -> None:
    page = planner_page
    page.get_by_role("button", name=text("sign_out", "id")).click()
    expect(page.get_by_role("status")).to_have_text(text("signed_out", "id"))
    page.goto(f"{live_server}/ui/instansi/{served.agency}")
    expect(page).to_have_url(re.compile(r"/ui/masuk\?lanjut="))


def test_another_agencys_pages_are_refused(planner_page: Page, live_server: str, served: Served) -> None:
    engine = served.app.state.service.engine
    other = engine.employee(served.other_nip)
    for path in (
        f"/ui/instansi/{other.instansi_id}",
        f"/ui/instansi/{other.instansi_id}/unit/{other.unit_id}",
        f"/ui/pegawai/{served.other_nip}",
    ):
        answer = planner_page.goto(live_server + path)
        assert answer is not None and answer.status == 403
        expect(planner_page.get_by_role("alert")).to_have_text(text("forbidden", "id"))
    assert served.other_nip not in planner_page.locator("main").inner_text()


def test_english_is_one_switch(planner_page: Page) -> None:
    planner_page.get_by_role("link", name="English").click()
    expect(planner_page.get_by_role("heading", level=1)).to_contain_text(text("overview", "en"))
    assert planner_page.locator("html").get_attribute("lang") == "en"
    planner_page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(planner_page.get_by_role("heading", level=1)).to_contain_text(text("overview", "id"))


def test_the_first_pages_are_light(page: Page, live_server: str, served: Served) -> None:
    sign_in_page = transferred_bytes(page, f"{live_server}/ui/masuk")
    assert sign_in_page <= FIRST_PAGE_LIMIT
    sign_in(page, live_server, served.planner)
    overview = transferred_bytes(page, f"{live_server}/ui/instansi/{served.agency}")
    assert 1_000 < overview <= FIRST_PAGE_LIMIT, overview


def test_readable_at_360_px(narrow: BrowserContext, live_server: str, served: Served) -> None:
    page = narrow.new_page()
    sign_in(page, live_server, served.planner)
    unit = served.app.state.service.engine.employee(served.nip).unit_id
    for path in (
        f"/ui/instansi/{served.agency}",
        f"/ui/instansi/{served.agency}/unit/{unit}",
        f"/ui/pegawai/{served.nip}",
        f"/ui/instansi/{served.agency}/rencana",
        "/ui/model",
    ):
        page.goto(live_server + path)
        fits(page, NARROW["width"])
        assert_accessible(page)


def test_read_pages_work_without_javascript(browser: Browser, live_server: str, served: Served) -> None:
    context = browser.new_context(java_script_enabled=False, locale="id-ID")
    try:
        page = context.new_page()
        sign_in(page, live_server, served.planner)
        expect(page.locator("#peta tbody tr").first).to_be_visible()
        unit = served.app.state.service.engine.employee(served.nip).unit_id
        page.goto(f"{live_server}/ui/instansi/{served.agency}/unit/{unit}")
        page.get_by_label(text("sort", "id")).select_option("nip")
        page.get_by_role("button", name=text("show", "id")).click()  # a plain GET form without htmx
        expect(page).to_have_url(re.compile(r"urut=nip"))
        expect(page.locator("#staf tbody tr").first).to_be_visible()
        page.goto(f"{live_server}/ui/pegawai/{served.nip}")
        expect(page.locator("ol.recs > li").first).to_be_visible()
        page.goto(f"{live_server}/ui/model")
        expect(page.get_by_role("heading", name=text("quality", "id"))).to_be_visible()
    finally:
        context.close()


def test_an_admin_chooses_among_all_agencies(page: Page, live_server: str, served: Served) -> None:
    sign_in(page, live_server, served.admin)
    expect(page.get_by_role("heading", level=1)).to_have_text(text("agencies_title", "id"))
    agencies = page.locator("tbody tr")
    engine = served.app.state.service.engine
    assert agencies.count() == len({engine.employee(n).instansi_id for n in engine.nips})
    assert_accessible(page)
