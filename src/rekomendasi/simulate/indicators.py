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
from rekomendasi.simulate.sampling import employees_in, random_dates
from rekomendasi.simulate.textgen import PhrasePool, decorate, where_present
from rekomendasi.simulate.world import World


def generate_indicators(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> pd.DataFrame:
    """Indicators (plus emp, comp, year): 3 to 5 per employee and year; attainment follows the gap
    in the indicator's competency."""
    rng = config.rng("indicators")
    frame = people.frame
    pool = PhrasePool(comp_ids, "indicators")
    technical = np.array([c not in NATIONAL_COMPETENCIES for c in comp_ids])
    aspects = np.array(ASPECT, dtype=object)
    parts = []
    for year, dense in mid_year.items():
        emp = employees_in(frame, pd.Timestamp(year, 6, 30))
        count = rng.integers(3, 6, len(emp))
        e_rep = np.repeat(emp, count)
        slot = np.concatenate([np.arange(c) for c in count]) if len(count) else np.zeros(0, int)
        weight = levels.in_standard[e_rep] * np.where(technical, 2.0, 0.5)[None, :]
        cdf = np.cumsum(weight, axis=1)
        pick = (rng.random(len(e_rep))[:, None] * cdf[:, -1:] < cdf).argmax(axis=1)
        aspect = aspects[rng.choice(4, size=len(e_rep), p=[0.4, 0.3, 0.25, 0.05])]
        target = np.select(
            [aspect == "kuantitas", aspect == "kualitas", aspect == "waktu"],
            [
                rng.integers(4, 200, len(e_rep)).astype(float),
                rng.integers(80, 101, len(e_rep)).astype(float),
                np.full(len(e_rep), 12.0),
            ],
            np.round(rng.uniform(1e7, 5e8, len(e_rep)), -5),
        )
        gap = dense[e_rep, pick] - levels.required[e_rep, pick]
        attainment = np.clip(
            1 + 0.2 * gap + 0.08 * frame["ability"].to_numpy()[e_rep] + rng.normal(0, 0.12, len(e_rep)),
            0.1,
            1.5,
        )
        realization = np.where(
            aspect == "kuantitas", np.round(target * attainment), np.round(target * attainment, 1)
        )
        reported = rng.random(len(e_rep)) > (0.15 if year == config.as_of.year else 0.03)
        tagged = rng.random(len(e_rep)) < 0.4
        parts.append(
            pd.DataFrame(
                {
                    Indicators.nip: frame[Employees.nip].to_numpy()[e_rep],
                    Indicators.period: str(year),
                    Indicators.indicator_id: [f"IKI-{s + 1:02d}" for s in slot],
                    Indicators.description: pool.draw(pick, rng),
                    Indicators.aspect: aspect,
                    Indicators.target: target,
                    Indicators.realization: np.where(reported, realization, np.nan),
                    Indicators.competency_id: where_present(tagged, np.array(comp_ids, dtype=object)[pick]),
                    "emp": e_rep,
                    "comp": pick,
                    "year": year,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def generate_daily_reports(
    config: SimConfig, world: World, people: People, indicators: pd.DataFrame
) -> pd.DataFrame:
    """Daily reports (plus emp, comp) of the as-of year's last ``daily_report_months`` months, in
    agencies that keep them; most rows log work on one of the current indicators."""
    rng = config.rng("daily_reports")
    frame = people.frame
    lex = lexicon()
    pool = PhrasePool(world.competency_ids, "activities")
    keeps = (
        world.agencies.set_index("instansi_id")["daily_reports"]
        .reindex(frame[Employees.instansi_id])
        .to_numpy()
    )
    as_of = pd.Timestamp(config.as_of)
    current = indicators[indicators["year"] == as_of.year]
    by_emp: dict[int, np.ndarray] = {int(e): rows for e, rows in current.groupby("emp").indices.items()}  # type: ignore[call-overload, misc]
    emp_with = np.array(sorted(e for e in by_emp if keeps[e]), dtype=np.int64)
    first = np.array([by_emp[int(e)][0] for e in emp_with], dtype=np.int64)
    count_ind = np.array([len(by_emp[int(e)]) for e in emp_with], dtype=np.int64)
    parts = []
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
        ind = current.iloc[ind_row]
        linked = rng.random(len(emp)) < 0.75
        comp = ind["comp"].to_numpy()
        activity = decorate(pool.draw(comp, rng), lex.activity_suffixes, 0.4, rng, prefix=False)
        noise = np.array(lex.noise_activities, dtype=object)[
            rng.integers(0, len(lex.noise_activities), len(emp))
        ]
        parts.append(
            pd.DataFrame(
                {
                    DailyReports.nip: frame[Employees.nip].to_numpy()[emp],
                    DailyReports.date: dates,
                    DailyReports.activity: np.where(linked, activity, noise),
                    DailyReports.minutes: np.clip(
                        np.round(rng.lognormal(np.log(90), 0.5, len(emp))), 10, 480
                    ).astype(int),
                    DailyReports.indicator_id: where_present(linked, ind[Indicators.indicator_id].to_numpy()),
                    DailyReports.verified: rng.random(len(emp)) < 0.85,
                    "emp": emp,
                    "comp": np.where(linked, comp, -1),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=[
                DailyReports.nip,
                DailyReports.date,
                DailyReports.activity,
                DailyReports.minutes,
                DailyReports.indicator_id,
                DailyReports.verified,
                "emp",
                "comp",
            ]
        )
    return pd.concat(parts, ignore_index=True)
