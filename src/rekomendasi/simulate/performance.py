"""SKP performance ratings and work-behaviour (core value) ratings, rated within unit quotas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import CORE_VALUES, PREDIKAT, PREDIKAT_MATRIX, RATING3
from rekomendasi.contract.schemas import Behaviour, Competencies, Employees, Skp
from rekomendasi.simulate import sampling
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.lexicon import lexicon
from rekomendasi.simulate.people import People
from rekomendasi.simulate.sampling import employees_in
from rekomendasi.simulate.tables import categorical, stack
from rekomendasi.simulate.textgen import PhrasePool, Texts, decorate, off_topic
from rekomendasi.simulate.world import World

_ATAS, _SESUAI, _BAWAH = range(len(RATING3))  # positions in RATING3
CORE_VALUE_COMPETENCIES = {
    "berorientasi_pelayanan": ("pelayanan_publik",),
    "akuntabel": ("integritas", "orientasi_hasil"),
    "kompeten": ("pengembangan_diri",),
    "harmonis": ("perekat_bangsa", "kerja_sama"),
    "loyal": ("integritas", "perekat_bangsa"),
    "adaptif": ("mengelola_perubahan",),
    "kolaboratif": ("kerja_sama", "komunikasi"),
}


def _quota_rating(
    latent: np.ndarray, group: np.ndarray, q_top: np.ndarray, q_bottom: np.ndarray
) -> np.ndarray:
    """Rate within each group by rank: the top ``q_top`` share above, the bottom ``q_bottom`` below
    (positions in RATING3)."""
    pct = pd.Series(latent).groupby(group).rank(pct=True, method="first").to_numpy()
    return np.where(pct > 1 - q_top, _ATAS, np.where(pct <= q_bottom, _BAWAH, _SESUAI))


def _unit_quotas(
    latent: np.ndarray, unit: np.ndarray, rng: np.random.Generator, leniency: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row quotas from the unit's own result: strong units may rate more staff above expectation,
    weak units must rate more below (PermenPANRB 6/2022 caps); leniency varies between units, and a
    world's ``leniency`` moves a share from below to above expectation (stretching the cap by as much)."""
    if len(latent) == 0:
        return np.zeros(0), np.zeros(0)
    unit_codes, inverse = np.unique(unit, return_inverse=True)
    unit_mean = np.bincount(inverse, weights=latent) / np.bincount(inverse)
    z = (unit_mean - unit_mean.mean()) / (unit_mean.std() + 1e-9)
    band = np.digitize(z, [-1.0, 0.0, 1.0])  # 0 kurang .. 3 istimewa
    q_top = np.array([0.04, 0.10, 0.22, 0.38])[band] + leniency + rng.normal(0, 0.05, len(unit_codes))
    q_bottom = (
        np.array([0.22, 0.10, 0.05, 0.02])[band] - leniency + np.abs(rng.normal(0, 0.02, len(unit_codes)))
    )
    cap = 0.5 + max(leniency, 0.0)
    return np.clip(q_top, 0.0, cap)[inverse], np.clip(q_bottom, 0.0, 0.4)[inverse]


def generate_behaviour(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> tuple[pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Behaviour ratings (plus emp, comp; string columns as categoricals) per year and core value, and
    each year's (employees, latent behaviour) for the SKP."""
    rng = config.rng("behaviour")
    a = config.assumptions
    text_rng = config.rng("text_noise.behaviour")
    frame = people.frame
    praise = PhrasePool(comp_ids, "praise")
    critique = PhrasePool(comp_ids, "critique")
    lex = lexicon()
    unit = people.unit_codes  # sorted unit ids, so leniency i belongs to the i-th unit id in order
    parts: list[dict[str, np.ndarray]] = []
    texts: list[Texts] = []
    latent_by_year = {}
    for year, dense in mid_year.items():
        emp = employees_in(frame, pd.Timestamp(year, 6, 30))
        lenient = rng.normal(0, 0.15 * a.behaviour_noise, int(unit.max(initial=-1)) + 1)[unit[emp]]
        values = np.zeros((len(emp), len(CORE_VALUES)))
        mapped_comp = np.zeros((len(emp), len(CORE_VALUES)), dtype=np.int64)
        for v, core in enumerate(CORE_VALUES):
            comps = np.array([comp_ids.index(c) for c in CORE_VALUE_COMPETENCIES[core]])
            gap = dense[emp[:, None], comps] - levels.required[emp[:, None], comps]
            noise = rng.normal(0, 0.35 * a.behaviour_noise, len(emp))
            values[:, v] = gap.mean(axis=1) + noise + lenient + a.behaviour_bias
            mapped_comp[:, v] = comps[rng.integers(0, len(comps), len(emp))]
        latent_by_year[year] = (emp, values.mean(axis=1))
        rating = np.where(values > 0.35, _ATAS, np.where(values < -0.75, _BAWAH, _SESUAI))
        e_rep = np.repeat(emp, len(CORE_VALUES))
        comp = mapped_comp.reshape(-1)
        flat_rating = rating.reshape(-1)
        flat_value = values.reshape(-1)
        with_text = rng.random(len(e_rep)) < 0.25
        positive = (flat_rating == _ATAS) | ((flat_rating == _SESUAI) & (flat_value > -0.2))
        comp = off_topic(comp, e_rep, levels.in_standard, a.text_noise, text_rng)
        praised = praise.draw(comp, rng)
        criticised = critique.draw(comp, rng)
        text = decorate(praised.where(positive, criticised), lex.feedback_openers, 0.35, rng, prefix=True)
        texts.append(text.present(with_text))
        parts.append(
            {
                "emp": e_rep.astype(np.int32),
                "year": np.full(len(e_rep), year, dtype=np.int16),
                "core": np.tile(np.arange(len(CORE_VALUES), dtype=np.int8), len(emp)),
                "rating": flat_rating.astype(np.int8),
                "comp": np.where(with_text, comp, -1).astype(np.int16),
            }
        )
    columns = stack(parts)
    years = list(mid_year)
    behaviour = pd.DataFrame(
        {
            Behaviour.nip: people.nips(columns["emp"]),
            Behaviour.period: categorical(np.searchsorted(years, columns["year"]), [str(y) for y in years]),
            Behaviour.core_value: categorical(columns["core"], CORE_VALUES),
            Behaviour.rating: categorical(columns["rating"], RATING3),
            Behaviour.feedback: Texts.concat(texts).categorical(),
            "emp": columns["emp"],
            "comp": columns["comp"],
        }
    )
    return behaviour, latent_by_year


def _mean_gaps(
    dense: np.ndarray, levels: LevelModel, emp: np.ndarray, technical: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean gap (true minus required level) of each employee's technical and of their national
    standard competencies, a block of employees at a time."""
    tech_gap, nat_gap = np.zeros(len(emp)), np.zeros(len(emp))
    for low in range(0, len(emp), sampling.BLOCK_ROWS):
        rows = emp[low : low + sampling.BLOCK_ROWS]
        gap = dense[rows] - levels.required[rows]
        std = levels.in_standard[rows]
        part = slice(low, low + len(rows))
        tech_gap[part] = np.where(std & technical, gap, 0).sum(1) / np.maximum((std & technical).sum(1), 1)
        nat_gap[part] = np.where(std & ~technical, gap, 0).sum(1) / np.maximum((std & ~technical).sum(1), 1)
    return tech_gap, nat_gap


def generate_skp(
    config: SimConfig,
    world: World,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    behaviour_latent: dict[int, tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    """SKP (plus emp; string columns as categoricals): yearly ratings and, in the as-of year where the
    agency runs them, quarterly ones; both rated within unit quotas."""
    rng = config.rng("skp")
    a = config.assumptions
    frame = people.frame
    technical = np.array([g == "teknis" for g in world.competencies[Competencies.group]])
    unit = people.unit_codes  # grouping by code is grouping by unit id, in the same order
    periodic_agency = world.agencies.set_index("instansi_id")["periodic_skp"]
    periodic = periodic_agency.reindex(frame[Employees.instansi_id]).to_numpy(dtype=bool)
    predikat = np.array([[PREDIKAT.index(PREDIKAT_MATRIX[(h, p)]) for p in RATING3] for h in RATING3])
    parts: list[dict[str, np.ndarray]] = []
    period_names: list[str] = []
    for year, dense in mid_year.items():
        emp, beh = behaviour_latent[year]
        tech_gap, nat_gap = _mean_gaps(dense, levels, emp, technical)
        perf = 0.6 * tech_gap + 0.4 * nat_gap + a.skp_ability_weight * frame["ability"].to_numpy()[emp]
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
            p_lat = perf[sel] + rng.normal(0, noise * a.skp_noise, int(sel.sum()))
            b_lat = beh[sel] + rng.normal(0, noise * a.skp_noise / 2, int(sel.sum()))
            q_top, q_bottom = _unit_quotas(p_lat, unit[rows], rng, a.skp_leniency)
            hasil = _quota_rating(p_lat, unit[rows], q_top, q_bottom)
            q_top_b, q_bottom_b = _unit_quotas(b_lat, unit[rows], rng, a.skp_leniency)
            perilaku = _quota_rating(b_lat, unit[rows], q_top_b + 0.05, q_bottom_b * 0.6)
            keep = rng.random(len(rows)) > a.skp_missing
            period_names.append(period)
            parts.append(
                {
                    "emp": rows[keep].astype(np.int32),
                    "period": np.full(int(keep.sum()), len(period_names) - 1, dtype=np.int8),
                    "hasil": hasil[keep].astype(np.int8),
                    "perilaku": perilaku[keep].astype(np.int8),
                }
            )
    columns = stack(parts)
    return pd.DataFrame(
        {
            Skp.nip: people.nips(columns["emp"]),
            Skp.period: categorical(columns["period"], period_names),
            Skp.hasil_kerja: categorical(columns["hasil"], RATING3),
            Skp.perilaku_kerja: categorical(columns["perilaku"], RATING3),
            Skp.predikat: categorical(predikat[columns["hasil"], columns["perilaku"]], PREDIKAT),
            "emp": columns["emp"],
        }
    )
