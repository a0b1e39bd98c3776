"""The values the pages show, checked against the snapshot computed another way."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.ui.views import JP_STATES, PageData
from tests.served import Served


def test_the_heatmap_is_each_units_mean_gap(served: Served) -> None:
    engine = served.app.state.service.engine
    view = PageData(engine).overview(served.agency)
    gaps = pd.read_parquet(engine.reader.directory / "competency_gaps.parquet")
    roster = engine.snapshot.roster
    staff = roster[roster["active"] & (roster["instansi_id"] == served.agency)][["nip", "unit_id"]]
    gaps = gaps.merge(staff, on="nip")
    assert view.heatmap.values.shape == (len(view.heatmap.units), len(view.heatmap.competencies))
    checked = 0
    for i, unit in enumerate(view.heatmap.units):
        for j, (competency, _) in enumerate(view.heatmap.competencies):
            cell = gaps[(gaps["unit_id"] == unit) & (gaps["competency_id"] == competency)]
            expected = cell["gap"].clip(lower=0).mean() if len(cell) else np.nan
            shown = view.heatmap.values[i, j]
            assert (np.isnan(expected) and np.isnan(shown)) or abs(shown - expected) < 1e-9, (
                unit,
                competency,
            )
            checked += 1
    assert checked > 0
    totals = gaps.assign(g=gaps["gap"].clip(lower=0)).groupby("competency_id")["g"].sum()
    chosen = [c for c, _ in view.heatmap.competencies]
    assert chosen == totals.sort_values(ascending=False, kind="stable").index[: len(chosen)].tolist()


def test_every_person_is_counted_once(served: Served) -> None:
    engine = served.app.state.service.engine
    view = PageData(engine).overview(served.agency)
    assert view.staff == len(engine.staff(served.agency))
    assert sum(view.jp[s] for s in JP_STATES) == view.staff
    assert sum(view.talent.values()) + view.no_box == view.staff
    assert sum(n for _, n in view.units) == view.staff
    development = engine.snapshot.development.set_index("nip").loc[engine.staff(served.agency)]
    assert view.jp["met"] == int(development["meets_jp_target"].sum())


def test_a_units_list_sorted_and_filtered(served: Served) -> None:
    engine = served.app.state.service.engine
    data = PageData(engine)
    unit = engine.employee(served.nip).unit_id
    rows, total = data.unit_staff(served.agency, unit, sort="gap")
    assert total == len(rows) == len(engine.staff(served.agency, unit))
    largest = [r.gaps[0][2] if r.gaps else 0.0 for r in rows]
    assert largest == sorted(largest, reverse=True)
    for row in rows:
        assert [g for _, _, g in row.gaps] == sorted((g for _, _, g in row.gaps), reverse=True)
        assert len(row.gaps) <= 3 and all(g > 0 for _, _, g in row.gaps)
    by_jp, _ = data.unit_staff(served.agency, unit, sort="jp")
    remaining = [r.jp_remaining or 0.0 for r in by_jp]
    assert remaining == sorted(remaining, reverse=True)
    competency = next(c for r in rows for c, _, _ in r.gaps)
    focused, _ = data.unit_staff(served.agency, unit, competency=competency)
    assert focused and all(r.focus_gap is not None and r.focus_gap > 0 for r in focused)
    focus = [r.focus_gap for r in focused]
    assert focus == sorted(focus, reverse=True)
