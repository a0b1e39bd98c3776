"""Individual performance indicators (IKI) and the daily activity reports logged against them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import ASPECT, NATIONAL_COMPETENCIES
from rekomendasi.contract.schemas import DailyReports, Employees, Indicators
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.lexicon import lexicon
from rekomendasi.simulate.people import People
from rekomendasi.simulate.sampling import employees_in, random_dates, weighted_columns
from rekomendasi.simulate.tables import categorical, stack
from rekomendasi.simulate.textgen import PhrasePool, Texts, decorate, off_topic
from rekomendasi.simulate.world import World

_KUANTITAS, _KUALITAS, _WAKTU = (ASPECT.index(a) for a in ("kuantitas", "kualitas", "waktu"))


def generate_indicators(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> pd.DataFrame:
    """Indicators (plus emp, comp, year): 3 to 5 per employee and year; attainment follows the gap
    in the indicator's competency. String columns are categoricals."""
    rng = config.rng("indicators")
    a = config.assumptions
    text_rng = config.rng("text_noise.indicators")
    frame = people.frame
    pool = PhrasePool(comp_ids, "indicators")
    technical = np.array([c not in NATIONAL_COMPETENCIES for c in comp_ids])
    ability = frame["ability"].to_numpy()
    parts: list[dict[str, np.ndarray]] = []
    texts: list[Texts] = []
    for year, dense in mid_year.items():
        emp = employees_in(frame, pd.Timestamp(year, 6, 30))
        count = rng.integers(3, 6, len(emp))
        e_rep = np.repeat(emp, count)
        slot = np.arange(len(e_rep)) - np.repeat(np.cumsum(count) - count, count)
        pick = weighted_columns(
            levels.in_standard, e_rep, rng.random(len(e_rep)), np.where(technical, 2.0, 0.5)
        )
        aspect = rng.choice(4, size=len(e_rep), p=[0.4, 0.3, 0.25, 0.05])  # position in ASPECT
        target = np.select(
            [aspect == _KUANTITAS, aspect == _KUALITAS, aspect == _WAKTU],
            [
                rng.integers(4, 200, len(e_rep)).astype(float),
                rng.integers(80, 101, len(e_rep)).astype(float),
                np.full(len(e_rep), 12.0),
            ],
            np.round(rng.uniform(1e7, 5e8, len(e_rep)), -5),
        )
        gap = dense[e_rep, pick] - levels.required[e_rep, pick]
        attainment = np.clip(
            1
            + 0.2 * gap
            + 0.08 * ability[e_rep]
            + rng.normal(0, 0.12 * a.indicator_noise, len(e_rep))
            + a.indicator_inflation,
            0.1,
            1.5,
        )
        realization = np.where(
            aspect == _KUANTITAS, np.round(target * attainment), np.round(target * attainment, 1)
        )
        reported = rng.random(len(e_rep)) > (0.15 if year == config.as_of.year else 0.03)
        tagged = rng.random(len(e_rep)) < a.indicator_tag_share
        # The description (and the daily reports logged against it) may be about another competency than
        # the one the attainment follows and the tag names.
        about = off_topic(pick, e_rep, levels.in_standard, a.text_noise, text_rng)
        texts.append(pool.draw(about, rng))
        parts.append(
            {
                "emp": e_rep.astype(np.int32),
                "year": np.full(len(e_rep), year, dtype=np.int16),
                "slot": slot.astype(np.int8),
                "aspect": aspect.astype(np.int8),
                Indicators.target: target,
                Indicators.realization: np.where(reported, realization, np.nan),
                "tagged": np.where(tagged, pick, -1).astype(np.int16),
                "comp": about.astype(np.int16),
            }
        )
    columns = stack(parts)
    years = list(mid_year)
    return pd.DataFrame(
        {
            Indicators.nip: people.nips(columns["emp"]),
            Indicators.period: categorical(np.searchsorted(years, columns["year"]), [str(y) for y in years]),
            Indicators.indicator_id: categorical(
                columns["slot"], [f"IKI-{s + 1:02d}" for s in range(int(columns["slot"].max(initial=0)) + 1)]
            ),
            Indicators.description: Texts.concat(texts).categorical(),
            Indicators.aspect: categorical(columns["aspect"], ASPECT),
            Indicators.target: columns[Indicators.target],
            Indicators.realization: columns[Indicators.realization],
            Indicators.competency_id: categorical(columns["tagged"], comp_ids),
            "emp": columns["emp"],
            "comp": columns["comp"],
            "year": columns["year"],
        }
    )


def generate_daily_reports(
    config: SimConfig, world: World, people: People, indicators: pd.DataFrame
) -> pd.DataFrame:
    """Daily reports (plus emp, comp) of the as-of year's last ``daily_report_months`` months, in
    agencies that keep them; most rows log work on one of the current indicators. String columns are
    categoricals."""
    rng = config.rng("daily_reports")
    frame = people.frame
    lex = lexicon()
    pool = PhrasePool(world.competency_ids, "activities")
    keeps = (
        world.agencies.set_index("instansi_id")["daily_reports"]
        .reindex(frame[Employees.instansi_id])
        .to_numpy(dtype=bool)
    )
    as_of = pd.Timestamp(config.as_of)
    # The current year's indicators: each employee's rows are consecutive, in employee order.
    current = np.flatnonzero(indicators["year"].to_numpy() == as_of.year)
    current_ids = indicators[Indicators.indicator_id].array
    ids, current_comp = current_ids.codes[current], indicators["comp"].to_numpy()[current]
    with_indicators, first, count_ind = np.unique(
        indicators["emp"].to_numpy()[current], return_index=True, return_counts=True
    )
    emp_with = with_indicators[keeps[with_indicators]].astype(np.int64)
    first, count_ind = first[keeps[with_indicators]], count_ind[keeps[with_indicators]]
    parts: list[dict[str, np.ndarray]] = []
    texts: list[Texts] = []
    for back in range(config.daily_report_months):
        month_start = (as_of - pd.DateOffset(months=back)).replace(day=1)
        month_end = min(month_start + pd.offsets.MonthEnd(0), as_of)
        if month_start.year != as_of.year:
            break  # daily reports tie to the current year's indicators
        n_rows = rng.poisson(9, len(emp_with))
        idx = np.repeat(np.arange(len(emp_with)), n_rows)
        emp = emp_with[idx]
        dates = random_dates(
            rng, np.full(len(emp), month_start.to_datetime64()), np.full(len(emp), month_end.to_datetime64())
        )
        ind_row = first[idx] + (rng.random(len(emp)) * count_ind[idx]).astype(np.int64)
        linked = rng.random(len(emp)) < 0.75
        comp = current_comp[ind_row]
        activity = decorate(pool.draw(comp, rng), lex.activity_suffixes, 0.4, rng, prefix=False)
        noise = Texts.of(lex.noise_activities, rng.integers(0, len(lex.noise_activities), len(emp)))
        texts.append(activity.where(linked, noise))
        parts.append(
            {
                "emp": emp.astype(np.int32),
                DailyReports.date: dates,
                DailyReports.minutes: np.clip(
                    np.round(rng.lognormal(np.log(90), 0.5, len(emp))), 10, 480
                ).astype(int),
                "indicator": np.where(linked, ids[ind_row], -1).astype(ids.dtype),
                DailyReports.verified: rng.random(len(emp)) < 0.85,
                "comp": np.where(linked, comp, -1).astype(np.int16),
            }
        )
    empty = {
        "emp": np.zeros(0, np.int32),
        DailyReports.date: np.zeros(0, "datetime64[ns]"),
        DailyReports.minutes: np.zeros(0, int),
        "indicator": np.zeros(0, ids.dtype),
        DailyReports.verified: np.zeros(0, bool),
        "comp": np.zeros(0, np.int16),
    }
    columns = stack([empty, *parts])
    del parts
    return pd.DataFrame(
        {
            DailyReports.nip: people.nips(columns["emp"]),
            DailyReports.date: columns[DailyReports.date],
            DailyReports.activity: Texts.concat(texts).categorical(),
            DailyReports.minutes: columns[DailyReports.minutes],
            DailyReports.indicator_id: pd.Categorical.from_codes(
                columns["indicator"], dtype=current_ids.dtype
            ),
            DailyReports.verified: columns[DailyReports.verified],
            "emp": columns["emp"],
            "comp": columns["comp"],
        }
    )
