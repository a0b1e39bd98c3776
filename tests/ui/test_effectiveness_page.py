"""The person page shows each recommended course's measured effectiveness (issue #16): a number with its
range and measured participants, or that too few took it, explained in plain words (with its own
participants' figure, what similar courses reached and which of the two it leans on); Indonesian by
default, English on request; nothing when the serving model has no estimates. The last test opens it in
Chromium."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from starlette.types import ASGIApp

from rekomendasi.serving.effects import EntryEffect, Estimate
from rekomendasi.ui.i18n import Lang, formatters
from rekomendasi.ui.web import templates
from tests.served import Served
from tests.serving.estimates import hand_made, pooled_entry, serve_estimates, too_few
from tests.ui.conftest import assert_accessible
from tests.ui.test_browser import sign_in as sign_in_browser
from tests.ui.test_pages import sign_in


@pytest.fixture()
def planner(served: Served) -> Iterator[TestClient]:
    """A signed-in planner on the shared app (not entered: its lifespan's end would close the stores)."""
    client = TestClient(served.app, follow_redirects=False, base_url="http://testserver")
    yield sign_in(client, served.planner)


@pytest.fixture()
def recommended(served: Served) -> list[str]:
    """The served employee's recommended entries, as the page lists them (standing objections left out)."""
    service = served.app.state.service
    recs = service.engine.recommend(served.nip, 10, objections=service.objections([served.nip]))
    assert len(recs) >= 4
    return [r.training_id for r in recs]


@pytest.fixture()
def estimates(served: Served, recommended: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    engine = served.app.state.service.engine
    pinned = {
        recommended[0]: pooled_entry(84, 0.1213, 0.0517, 0.1902, raw=0.1015, kind=0.1345, weight=0.4),
        recommended[1]: too_few(7),
        recommended[2]: pooled_entry(1234, -0.034, -0.081, 0.013, raw=-0.09, kind=-0.0329, weight=0.02),
    }
    left_out = (recommended[3],)  # new in the catalogue since the estimates
    serve_estimates(monkeypatch, engine, hand_made(engine.snapshot.catalog, pinned, left_out))


def _items(page: str) -> list[str]:
    """The recommendation items of the page, as the words a reader sees (tags out, entities resolved,
    spaces collapsed)."""
    listed = re.search(r'<ol class="recs">(.*?)</ol>', page, re.S)
    assert listed is not None
    items = re.findall(r"<li>(.*?)</li>", listed.group(1), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


def test_the_person_page_shows_each_courses_effectiveness(
    served: Served, planner: TestClient, recommended: list[str], estimates: None
) -> None:
    answer = planner.get(f"/ui/pegawai/{served.nip}")
    assert answer.status_code == 200
    items = _items(answer.text)
    assert [re.search(r"(\S+) · ", i).group(1) for i in items] == recommended  # type: ignore[union-attr]
    first, second, third = items[:3]
    assert (
        "Efektivitas terukur: +0,12 level (kisaran 0,05 sampai 0,19), dari 84 peserta yang terukur" in first
    )
    assert "belum terbukti" not in first  # its range leaves out 0
    # The compact line says where a figure that leans on similar trainings comes from (weight 40%).
    assert "dari 84 peserta yang terukur · sebagian besar dari pelatihan sejenis Apa artinya?" in first
    assert "Apa artinya?" in first and "<summary>Apa artinya?</summary>" in answer.text
    assert "dibandingkan dengan pegawai serupa yang belum mengikutinya" in first and "31-12-2025" in first
    assert "Hasil peserta pelatihan ini sendiri: +0,10 level." in first
    assert "Hasil pelatihan sejenis (moda sama, lama serupa): +0,13 level." in first
    assert "sebagian besar dari pelatihan sejenis" in first and "pesertanya sendiri" not in first  # 40%
    assert "belum cukup untuk membedakan" not in first
    provider = served.app.state.service.engine.entry_info[recommended[0]]["provider"]
    assert f"Semua pelatihan penyelenggara {provider}: +0," in first
    assert "Efektivitas terukur: belum cukup peserta untuk diukur (7 peserta yang terukur)" in second
    assert "kisaran" not in second and "pelatihan sejenis" not in second
    assert (
        "Efektivitas terukur: -0,03 level (kisaran -0,08 sampai 0,01), dari 1.234 peserta yang terukur"
        in third
    )
    assert "belum terbukti lebih baik daripada tidak ikut" in third  # its range holds 0
    assert "Hasil peserta pelatihan ini sendiri: -0,09 level." in third
    assert "sebagian besar dari pelatihan sejenis" in third  # 2%: and its data cannot tell them apart
    assert "Data pesertanya belum cukup untuk membedakan pelatihan ini dari pelatihan sejenis." in third
    assert "Efektivitas terukur: belum diukur (pelatihan baru di katalog)" in items[3]
    assert "pelatihan sejenis" not in items[3]


def test_the_english_page(
    served: Served, planner: TestClient, recommended: list[str], estimates: None
) -> None:
    items = _items(planner.get(f"/ui/pegawai/{served.nip}?lang=en").text)
    assert (
        "Measured effectiveness: +0.12 levels (range 0.05 to 0.19), from 84 measured participants" in items[0]
    )
    assert "What does this mean?" in items[0]
    assert "compared with similar staff who had not taken it" in items[0]
    assert "This training's own participants: +0.10 levels." in items[0]
    assert "Similar courses (same modality, similar length): +0.13 levels." in items[0]
    assert "It comes mostly from similar courses." in items[0]
    assert "Measured effectiveness: too few participants to measure it (7 measured participants)" in items[1]
    assert "-0.03 levels (range -0.08 to 0.01), from 1,234 measured participants" in items[2]
    assert "not clearly better than not taking it" in items[2]
    assert "Its participants' data cannot yet tell this training apart from similar courses." in items[2]
    assert "Measured effectiveness: not measured yet (new in the catalogue)" in items[3]
    assert "Efektivitas" not in " ".join(items)


def test_without_estimates_the_page_shows_none_and_works(
    served: Served, planner: TestClient, recommended: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_estimates(monkeypatch, served.app.state.service.engine, None)
    answer = planner.get(f"/ui/pegawai/{served.nip}")
    assert answer.status_code == 200
    items = _items(answer.text)
    assert len(items) == len(recommended)
    assert not any("Efektivitas" in i or "Apa artinya?" in i for i in items)


def _card(e: EntryEffect, lang: Lang = "id") -> str:
    """The effectiveness card of ``e`` alone, as the words a reader sees."""
    page = templates.env.get_template("effect.html").render(e=e, **formatters(lang))
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _entry(estimate: Estimate) -> EntryEffect:
    return EntryEffect("T-1", None, "klasikal", estimate, None, None, True, dt.date(2025, 12, 31), 0.95)


def test_a_figure_that_leans_on_its_own_participants_and_one_made_before_pooling() -> None:
    numbers = (300, 0.2, 0.15, 0.25, None, 0.3, 0.25, 0.35)
    own = _entry(Estimate(*numbers, raw_effect=0.22, kind_effect=0.15, own_weight=0.7))
    card = _card(own)
    assert "dari 300 peserta yang terukur Apa artinya?" in card  # nothing added: its own figure
    assert "Hasil peserta pelatihan ini sendiri: +0,22 level." in card
    assert "Hasil pelatihan sejenis (moda sama, lama serupa): +0,15 level." in card
    assert "Angka itu sebagian besar dari pesertanya sendiri." in card and "belum cukup" not in card
    assert "It comes mostly from its own participants." in _card(own, "en")
    at_half = _card(_entry(Estimate(*numbers, raw_effect=0.2, kind_effect=0.2, own_weight=0.5)))
    assert "sebagian besar dari pesertanya sendiri" in at_half
    before = _card(_entry(Estimate(*numbers)))  # a model trained before pooling: its mean, no parts
    assert "+0,20 level (kisaran 0,15 sampai 0,25), dari 300 peserta yang terukur Apa artinya?" in before
    assert "pelatihan sejenis" not in before and "Hasil peserta" not in before


def test_in_a_browser_the_explanation_opens_and_the_page_stays_accessible(
    page: Page, live_server: str, ui_app: ASGIApp, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ui_app.state.service  # type: ignore[attr-defined]
    engine = service.engine  # the live server's own engine
    recs = [
        r.training_id for r in engine.recommend(served.nip, 10, objections=service.objections([served.nip]))
    ]
    pinned = {
        recs[0]: pooled_entry(84, 0.1213, 0.0517, 0.1902, raw=0.1015, kind=0.1345, weight=0.4),
        recs[1]: too_few(7),
    }
    serve_estimates(monkeypatch, engine, hand_made(engine.snapshot.catalog, pinned))
    sign_in_browser(page, live_server, served.planner)
    page.goto(f"{live_server}/ui/pegawai/{served.nip}")
    first = page.locator("ol.recs > li").first
    expect(first).to_contain_text(
        "Efektivitas terukur: +0,12 level (kisaran 0,05 sampai 0,19), dari 84 peserta yang terukur"
    )
    help_text = first.get_by_text("pegawai serupa yang belum mengikutinya", exact=False)
    leans = first.get_by_text("Angka itu sebagian besar dari pelatihan sejenis", exact=False)
    expect(help_text).to_be_hidden()  # folded until asked: the list stays short
    expect(leans).to_be_hidden()
    first.get_by_text("Apa artinya?").click()
    expect(help_text).to_be_visible()
    expect(leans).to_be_visible()
    expect(page.locator("ol.recs > li").nth(1)).to_contain_text(
        "belum cukup peserta untuk diukur (7 peserta yang terukur)"
    )
    assert_accessible(page)
