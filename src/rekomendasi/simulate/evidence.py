"""Evidence tables generated from true levels with realistic noise, bias and missingness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import (
    ASPECT,
    CORE_VALUES,
    NATIONAL_COMPETENCIES,
    PREDIKAT_MATRIX,
    RATING3,
    SKM_ELEMENTS,
)
from rekomendasi.simulate import dynamics
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.history import History
from rekomendasi.simulate.lexicon import lexicon
from rekomendasi.simulate.people import People
from rekomendasi.simulate.textgen import PhrasePool, decorate, where_present
from rekomendasi.simulate.world import World

ATAS, SESUAI, BAWAH = RATING3
# Assessment methods: share of assessment events, noise SD (levels) and bias. Self-assessment is lenient.
METHODS = {
    "assessment_center": (0.25, 0.25, 0.0),
    "metode_sederhana": (0.25, 0.5, 0.1),
    "cat": (0.13, 0.4, 0.0),
    "uji_kompetensi": (0.17, 0.35, 0.0),
    "360": (0.12, 0.55, 0.15),
    "self": (0.08, 0.7, 0.35),
}
TECHNICAL_METHODS = ("cat", "uji_kompetensi")
CORE_VALUE_COMPETENCIES = {
    "berorientasi_pelayanan": ("pelayanan_publik",),
    "akuntabel": ("integritas", "orientasi_hasil"),
    "kompeten": ("pengembangan_diri",),
    "harmonis": ("perekat_bangsa", "kerja_sama"),
    "loyal": ("integritas", "perekat_bangsa"),
    "adaptif": ("mengelola_perubahan",),
    "kolaboratif": ("kerja_sama", "komunikasi"),
}
SHARE_ASSESSED = 0.45


@dataclass(frozen=True)
class Evidence:
    """Evidence tables with internal columns (emp, comp) used for the truth folder."""

    assessments: pd.DataFrame
    skp: pd.DataFrame
    behaviour: pd.DataFrame
    indicators: pd.DataFrame
    daily_reports: pd.DataFrame
    feedback: pd.DataFrame
    public_feedback: pd.DataFrame
    jp_log: pd.DataFrame


class LevelModel:
    """True level of any employee and competency at any date: start level + drift + realised gains."""

    def __init__(self, config: SimConfig, world: World, people: People, history: History) -> None:
        self.level0 = people.level0.astype(np.float64)
        self.in_standard = world.required[people.frame["pos_idx"].to_numpy()] > 0
        self.required = world.required[people.frame["pos_idx"].to_numpy()].astype(np.float64)
        self.start = pd.Timestamp(config.start)
        gains = history.gains.sort_values("date", kind="stable")
        self.n_comp = self.level0.shape[1]
        self.gains = pd.DataFrame(
            {
                "date": pd.to_datetime(gains["date"]).astype("datetime64[us]"),
                "key": gains["emp"].to_numpy(dtype=np.int64) * self.n_comp
                + gains["comp"].to_numpy(dtype=np.int64),
                "gain": gains["gain"].to_numpy(dtype=np.float64),
            }
        )
        self.gains["cum"] = self.gains.groupby("key")["gain"].cumsum()

    def _years(self, dates: np.ndarray) -> np.ndarray:
        return np.maximum(
            (dates - self.start.to_datetime64()).astype("timedelta64[D]").astype(float) / 365.25, 0.0
        )

    def dense(self, date: pd.Timestamp) -> np.ndarray:
        """[employee, competency] true levels on ``date`` (gains effective before that day), in [1, 5]."""
        levels = (
            self.level0
            + dynamics.YEARLY_DRIFT * self._years(np.array([date.to_datetime64()]))[0] * self.in_standard
        )
        before = self.gains[self.gains["date"] < date]
        flat = levels.reshape(-1)
        np.add.at(flat, before["key"].to_numpy(), before["gain"].to_numpy())
        return np.clip(levels, 1.0, 5.0)

    def at(self, emp: np.ndarray, comp: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """True levels for row-aligned (employee, competency, date) queries, in [1, 5]."""
        if len(emp) == 0:
            return np.zeros(0)
        query = pd.DataFrame(
            {
                "date": pd.to_datetime(dates).astype("datetime64[us]"),
                "key": emp.astype(np.int64) * self.n_comp + comp,
                "pos": np.arange(len(emp)),
            }
        )
        query = query.sort_values("date", kind="stable")
        merged = pd.merge_asof(
            query, self.gains[["date", "key", "cum"]], on="date", by="key", allow_exact_matches=False
        )
        cum = np.zeros(len(emp))
        cum[merged["pos"].to_numpy()] = merged["cum"].fillna(0.0).to_numpy()
        base = (
            self.level0[emp, comp]
            + dynamics.YEARLY_DRIFT
            * self._years(pd.to_datetime(dates).to_numpy())
            * self.in_standard[emp, comp]
        )
        return np.clip(base + cum, 1.0, 5.0)


def generate_evidence(
    config: SimConfig, world: World, people: People, history: History, levels: LevelModel
) -> Evidence:
    """Every optional evidence table of the contract."""
    comp_ids = world.competency_ids
    mid_year = {y: levels.dense(pd.Timestamp(y, 7, 1)) for y in config.history_years}
    behaviour, behaviour_latent = _behaviour(config, people, levels, mid_year, comp_ids)
    indicators = _indicators(config, people, levels, mid_year, comp_ids)
    return Evidence(
        assessments=_assessments(config, people, levels, comp_ids),
        skp=_skp(config, world, people, levels, mid_year, behaviour_latent),
        behaviour=behaviour,
        indicators=indicators,
        daily_reports=_daily_reports(config, world, people, indicators),
        feedback=_feedback(config, people, levels, comp_ids),
        public_feedback=_public_feedback(config, people, levels, mid_year, comp_ids),
        jp_log=_jp_log(config, people),
    )


def _random_dates(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    span = np.maximum((high - low).astype("timedelta64[D]").astype(np.int64), 0)
    return low + (rng.random(len(low)) * (span + 1)).astype(np.int64).astype("timedelta64[D]")


def _assessments(config: SimConfig, people: People, levels: LevelModel, comp_ids: list[str]) -> pd.DataFrame:
    rng = config.rng("assessments")
    frame = people.frame
    n = len(frame)
    assessed = rng.random(n) < SHARE_ASSESSED
    events = np.flatnonzero(assessed)
    events = np.concatenate([events, events[rng.random(len(events)) < 0.3]])
    names = list(METHODS)
    shares = np.array([METHODS[m][0] for m in names])
    method = np.array(names, dtype=object)[rng.choice(len(names), size=len(events), p=shares / shares.sum())]
    low = np.maximum(pd.Timestamp(config.start).to_datetime64(), frame["entry_date"].to_numpy()[events])
    dates = _random_dates(rng, low, np.full(len(events), pd.Timestamp(config.as_of).to_datetime64()))
    national = np.array([comp_ids.index(c) for c in NATIONAL_COMPETENCIES])
    technical = np.array([i for i, c in enumerate(comp_ids) if c not in NATIONAL_COMPETENCIES])
    rows_emp, rows_comp, rows_event = [], [], []
    in_std = levels.in_standard
    for tech, comps in ((True, technical), (False, national)):
        ev = np.flatnonzero(np.isin(method, TECHNICAL_METHODS) == tech)
        grid = in_std[events[ev]][:, comps]
        e_i, c_i = np.nonzero(grid)
        rows_emp.append(events[ev][e_i])
        rows_comp.append(comps[c_i])
        rows_event.append(ev[e_i])
    emp = np.concatenate(rows_emp)
    comp = np.concatenate(rows_comp)
    event = np.concatenate(rows_event)
    true = levels.at(emp, comp, dates[event])
    sd = np.array([METHODS[m][1] for m in method])[event]
    bias = np.array([METHODS[m][2] for m in method])[event]
    observed = np.clip(np.round(true + bias + rng.normal(0, 1, len(emp)) * sd, 1), 1.0, 5.0)
    out = pd.DataFrame(
        {
            "nip": frame["nip"].to_numpy()[emp],
            "competency_id": np.array(comp_ids, dtype=object)[comp],
            "level": observed,
            "assessed_on": dates[event],
            "method": method[event],
            "emp": emp,
            "comp": comp,
        }
    )
    return out.drop_duplicates(["nip", "competency_id", "assessed_on", "method"]).reset_index(drop=True)


def _quota_rating(
    latent: np.ndarray, group: np.ndarray, q_top: np.ndarray, q_bottom: np.ndarray
) -> np.ndarray:
    """Rate within each group by rank: the top ``q_top`` share above, the bottom ``q_bottom`` below."""
    pct = pd.Series(latent).groupby(group).rank(pct=True, method="first").to_numpy()
    return np.where(pct > 1 - q_top, ATAS, np.where(pct <= q_bottom, BAWAH, SESUAI))


def _unit_quotas(
    latent: np.ndarray, unit: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row quotas from the unit's own result: strong units may rate more staff above expectation,
    weak units must rate more below (PermenPANRB 6/2022 caps); leniency varies between units."""
    if len(latent) == 0:
        return np.zeros(0), np.zeros(0)
    unit_codes, inverse = np.unique(unit, return_inverse=True)
    unit_mean = np.bincount(inverse, weights=latent) / np.bincount(inverse)
    z = (unit_mean - unit_mean.mean()) / (unit_mean.std() + 1e-9)
    band = np.digitize(z, [-1.0, 0.0, 1.0])  # 0 kurang .. 3 istimewa
    q_top = np.array([0.04, 0.10, 0.22, 0.38])[band] + rng.normal(0, 0.05, len(unit_codes))
    q_bottom = np.array([0.22, 0.10, 0.05, 0.02])[band] + np.abs(rng.normal(0, 0.02, len(unit_codes)))
    return np.clip(q_top, 0.0, 0.5)[inverse], np.clip(q_bottom, 0.0, 0.4)[inverse]


def _employees_in(frame: pd.DataFrame, date: pd.Timestamp) -> np.ndarray:
    return np.flatnonzero(frame["entry_date"].to_numpy() <= date.to_datetime64())


def _behaviour(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> tuple[pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray]]]:
    rng = config.rng("behaviour")
    frame = people.frame
    praise = PhrasePool(comp_ids, "praise")
    critique = PhrasePool(comp_ids, "critique")
    lex = lexicon()
    parts, latent_by_year = [], {}
    for year, dense in mid_year.items():
        emp = _employees_in(frame, pd.Timestamp(year, 6, 30))
        unit_leniency = pd.Series(
            rng.normal(0, 0.15, frame["unit_id"].nunique()), index=sorted(frame["unit_id"].unique())
        )
        lenient = unit_leniency.reindex(frame["unit_id"].to_numpy()[emp]).to_numpy()
        values = np.zeros((len(emp), len(CORE_VALUES)))
        mapped_comp = np.zeros((len(emp), len(CORE_VALUES)), dtype=np.int64)
        for v, core in enumerate(CORE_VALUES):
            comps = np.array([comp_ids.index(c) for c in CORE_VALUE_COMPETENCIES[core]])
            gap = dense[emp][:, comps] - levels.required[emp][:, comps]
            values[:, v] = gap.mean(axis=1) + rng.normal(0, 0.35, len(emp)) + lenient
            mapped_comp[:, v] = comps[rng.integers(0, len(comps), len(emp))]
        latent_by_year[year] = (emp, values.mean(axis=1))
        rating = np.where(values > 0.35, ATAS, np.where(values < -0.75, BAWAH, SESUAI))
        e_rep = np.repeat(emp, len(CORE_VALUES))
        comp = mapped_comp.reshape(-1)
        flat_rating = rating.reshape(-1)
        flat_value = values.reshape(-1)
        with_text = rng.random(len(e_rep)) < 0.25
        positive = (flat_rating == ATAS) | ((flat_rating == SESUAI) & (flat_value > -0.2))
        text = np.where(positive, praise.draw(comp, rng), critique.draw(comp, rng))
        text = decorate(text, lex.feedback_openers, 0.35, rng, prefix=True)
        parts.append(
            pd.DataFrame(
                {
                    "nip": frame["nip"].to_numpy()[e_rep],
                    "period": str(year),
                    "core_value": np.tile(np.array(CORE_VALUES, dtype=object), len(emp)),
                    "rating": flat_rating,
                    "feedback": where_present(with_text, text),
                    "emp": e_rep,
                    "comp": np.where(with_text, comp, -1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True), latent_by_year


def _skp(
    config: SimConfig,
    world: World,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    behaviour_latent: dict[int, tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    rng = config.rng("skp")
    frame = people.frame
    technical = np.array([g == "teknis" for g in world.competencies["group"]])
    unit = frame["unit_id"].to_numpy()
    periodic_agency = world.agencies.set_index("instansi_id")["periodic_skp"]
    periodic = periodic_agency.reindex(frame["instansi_id"]).to_numpy()
    parts = []
    for year, dense in mid_year.items():
        emp, beh = behaviour_latent[year]
        gap = dense[emp] - levels.required[emp]
        std = levels.in_standard[emp]
        tech_gap = np.where(std & technical, gap, 0).sum(1) / np.maximum((std & technical).sum(1), 1)
        nat_gap = np.where(std & ~technical, gap, 0).sum(1) / np.maximum((std & ~technical).sum(1), 1)
        perf = 0.6 * tech_gap + 0.4 * nat_gap + 0.25 * frame["ability"].to_numpy()[emp]
        periods: list[tuple[str, float]] = [(str(year), 0.3)]
        if year == config.as_of.year:
            periods += [
                (f"{year}-{m:02d}", 0.45)
                for m in (3, 6, 9, 12)
                if pd.Timestamp(year, m, 28) <= pd.Timestamp(config.as_of)
            ]
        for period, noise in periods:
            rows = emp if len(period) == 4 else emp[periodic[emp]]
            sel = np.ones(len(emp), bool) if len(period) == 4 else periodic[emp]
            p_lat = perf[sel] + rng.normal(0, noise, int(sel.sum()))
            b_lat = beh[sel] + rng.normal(0, noise / 2, int(sel.sum()))
            q_top, q_bottom = _unit_quotas(p_lat, unit[rows], rng)
            hasil = _quota_rating(p_lat, unit[rows], q_top, q_bottom)
            q_top_b, q_bottom_b = _unit_quotas(b_lat, unit[rows], rng)
            perilaku = _quota_rating(b_lat, unit[rows], q_top_b + 0.05, q_bottom_b * 0.6)
            keep = rng.random(len(rows)) > 0.05
            parts.append(
                pd.DataFrame(
                    {
                        "nip": frame["nip"].to_numpy()[rows][keep],
                        "period": period,
                        "hasil_kerja": hasil[keep],
                        "perilaku_kerja": perilaku[keep],
                        "predikat": [
                            PREDIKAT_MATRIX[(h, p)] for h, p in zip(hasil[keep], perilaku[keep], strict=True)
                        ],
                        "emp": rows[keep],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _indicators(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> pd.DataFrame:
    rng = config.rng("indicators")
    frame = people.frame
    pool = PhrasePool(comp_ids, "indicators")
    technical = np.array([c not in NATIONAL_COMPETENCIES for c in comp_ids])
    aspects = np.array(ASPECT, dtype=object)
    parts = []
    for year, dense in mid_year.items():
        emp = _employees_in(frame, pd.Timestamp(year, 6, 30))
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
                    "nip": frame["nip"].to_numpy()[e_rep],
                    "period": str(year),
                    "indicator_id": [f"IKI-{s + 1:02d}" for s in slot],
                    "description": pool.draw(pick, rng),
                    "aspect": aspect,
                    "target": target,
                    "realization": np.where(reported, realization, np.nan),
                    "competency_id": where_present(tagged, np.array(comp_ids, dtype=object)[pick]),
                    "emp": e_rep,
                    "comp": pick,
                    "year": year,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _daily_reports(config: SimConfig, world: World, people: People, indicators: pd.DataFrame) -> pd.DataFrame:
    rng = config.rng("daily_reports")
    frame = people.frame
    lex = lexicon()
    pool = PhrasePool(world.competency_ids, "activities")
    keeps = world.agencies.set_index("instansi_id")["daily_reports"].reindex(frame["instansi_id"]).to_numpy()
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
        dates = _random_dates(
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
                    "nip": frame["nip"].to_numpy()[emp],
                    "date": dates,
                    "activity": np.where(linked, activity, noise),
                    "minutes": np.clip(np.round(rng.lognormal(np.log(90), 0.5, len(emp))), 10, 480).astype(
                        int
                    ),
                    "indicator_id": where_present(linked, ind["indicator_id"].to_numpy()),
                    "verified": rng.random(len(emp)) < 0.85,
                    "emp": emp,
                    "comp": np.where(linked, comp, -1),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=["nip", "date", "activity", "minutes", "indicator_id", "verified", "emp", "comp"]
        )
    return pd.concat(parts, ignore_index=True)


def _feedback(config: SimConfig, people: People, levels: LevelModel, comp_ids: list[str]) -> pd.DataFrame:
    rng = config.rng("feedback")
    frame = people.frame
    lex = lexicon()
    n = len(frame)
    count = rng.poisson(0.7 * config.years, n)
    emp = np.repeat(np.arange(n), count)
    structural = ~frame["jenis"].isin(["fungsional", "pelaksana"]).to_numpy()
    source = np.array(["atasan", "rekan", "bawahan", "publik"], dtype=object)[
        rng.choice(4, size=len(emp), p=[0.4, 0.35, 0.1, 0.15])
    ]
    source = np.where((source == "bawahan") & ~structural[emp], "rekan", source)
    source = np.where((source == "publik") & ~frame["service"].to_numpy()[emp], "atasan", source)
    std = levels.in_standard[emp]
    cdf = np.cumsum(std, axis=1)
    pick = (rng.random(len(emp))[:, None] * cdf[:, -1:] < cdf).argmax(axis=1)
    public_comp = np.where(
        rng.random(len(emp)) < 0.7, comp_ids.index("pelayanan_publik"), comp_ids.index("komunikasi")
    )
    comp = np.where(source == "publik", public_comp, pick)
    low = np.maximum(pd.Timestamp(config.start).to_datetime64(), frame["entry_date"].to_numpy()[emp])
    dates = _random_dates(rng, low, np.full(len(emp), pd.Timestamp(config.as_of).to_datetime64()))
    gap = levels.at(emp, comp, dates) - levels.required[emp, comp]
    rating = np.clip(np.round(3.2 + 1.1 * gap + rng.normal(0, 0.7, len(emp))), 1, 5)
    has_text = rng.random(len(emp)) < 0.7
    no_rating = has_text & (rng.random(len(emp)) < 0.15)
    positive = (rating >= 4) | ((rating == 3) & (rng.random(len(emp)) < 0.5))
    text = np.where(
        positive,
        PhrasePool(comp_ids, "praise").draw(comp, rng),
        PhrasePool(comp_ids, "critique").draw(comp, rng),
    )
    text = decorate(text, lex.feedback_openers, 0.35, rng, prefix=True)
    tagged = rng.random(len(emp)) < 0.3
    out = pd.DataFrame(
        {
            "nip": frame["nip"].to_numpy()[emp],
            "given_on": dates,
            "source": source,
            "rating": pd.array(np.where(no_rating, np.nan, rating), dtype="Int64")
            if len(emp)
            else pd.array([], dtype="Int64"),
            "text": where_present(has_text, text),
            "competency_id": where_present(tagged, np.array(comp_ids, dtype=object)[comp]),
            "emp": emp,
            "comp": np.where(has_text, comp, -1),
        }
    )
    return out


def _public_feedback(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> pd.DataFrame:
    rng = config.rng("public_feedback")
    frame = people.frame
    service = frame["service"].to_numpy()
    pp = comp_ids.index("pelayanan_publik")
    element_effect = rng.normal(0, 0.12, len(SKM_ELEMENTS))
    parts = []
    for year, dense in mid_year.items():
        emp = np.intersect1d(_employees_in(frame, pd.Timestamp(year, 6, 30)), np.flatnonzero(service))
        if not len(emp):
            continue
        gap = (
            pd.Series(dense[emp, pp] - levels.required[emp, pp])
            .groupby(frame["unit_id"].to_numpy()[emp])
            .mean()
        )
        units = gap.index.to_numpy()
        score = np.clip(
            3.05
            + 0.35 * gap.to_numpy()[:, None]
            + element_effect[None, :]
            + rng.normal(0, 0.1, (len(units), len(SKM_ELEMENTS))),
            1.0,
            4.0,
        )
        parts.append(
            pd.DataFrame(
                {
                    "unit_id": np.repeat(units, len(SKM_ELEMENTS)),
                    "period": str(year),
                    "element": np.tile(np.array(SKM_ELEMENTS, dtype=object), len(units)),
                    "score": np.round(score.reshape(-1), 2),
                    "responses": rng.poisson(120, len(units) * len(SKM_ELEMENTS)),
                }
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["unit_id", "period", "element", "score", "responses"])
    )


def _jp_log(config: SimConfig, people: People) -> pd.DataFrame:
    rng = config.rng("jp_log")
    frame = people.frame
    kinds = np.array(["seminar", "coaching", "belajar_mandiri", "webinar", "komunitas_belajar"], dtype=object)
    jp_of = {
        "seminar": (4, 8),
        "coaching": (2, 2),
        "belajar_mandiri": (2, 6),
        "webinar": (2, 3),
        "komunitas_belajar": (1, 2),
    }
    parts = []
    for year in config.history_years:
        emp = _employees_in(frame, pd.Timestamp(year, 6, 30))
        count = rng.poisson(1.6, len(emp))
        e_rep = np.repeat(emp, count)
        kind = kinds[rng.choice(len(kinds), size=len(e_rep), p=[0.3, 0.2, 0.2, 0.2, 0.1])]
        lo = np.array([jp_of[k][0] for k in kind])
        hi = np.array([jp_of[k][1] for k in kind])
        end = min(pd.Timestamp(year, 12, 31), pd.Timestamp(config.as_of))
        low = np.maximum(pd.Timestamp(year, 1, 1).to_datetime64(), frame["entry_date"].to_numpy()[e_rep])
        parts.append(
            pd.DataFrame(
                {
                    "nip": frame["nip"].to_numpy()[e_rep],
                    "date": _random_dates(rng, low, np.full(len(e_rep), end.to_datetime64())),
                    "activity_type": kind,
                    "jp": (lo + rng.integers(0, hi - lo + 1)).astype(float),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
