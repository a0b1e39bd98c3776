"""SKP performance ratings and work-behaviour (core value) ratings, rated within unit quotas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import CORE_VALUES, PREDIKAT_MATRIX, RATING3
from rekomendasi.contract.schemas import Behaviour, Competencies, Employees, Skp
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.lexicon import lexicon
from rekomendasi.simulate.people import People
from rekomendasi.simulate.sampling import employees_in
from rekomendasi.simulate.textgen import PhrasePool, decorate, where_present
from rekomendasi.simulate.world import World

ATAS, SESUAI, BAWAH = RATING3
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


def generate_behaviour(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> tuple[pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Behaviour ratings (plus emp, comp) per year and core value, and each year's (employees,
    latent behaviour) for the SKP."""
    rng = config.rng("behaviour")
    frame = people.frame
    praise = PhrasePool(comp_ids, "praise")
    critique = PhrasePool(comp_ids, "critique")
    lex = lexicon()
    parts, latent_by_year = [], {}
    for year, dense in mid_year.items():
        emp = employees_in(frame, pd.Timestamp(year, 6, 30))
        unit_leniency = pd.Series(
            rng.normal(0, 0.15, frame[Employees.unit_id].nunique()),
            index=sorted(frame[Employees.unit_id].unique()),
        )
        lenient = unit_leniency.reindex(frame[Employees.unit_id].to_numpy()[emp]).to_numpy()
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
                    Behaviour.nip: frame[Employees.nip].to_numpy()[e_rep],
                    Behaviour.period: str(year),
                    Behaviour.core_value: np.tile(np.array(CORE_VALUES, dtype=object), len(emp)),
                    Behaviour.rating: flat_rating,
                    Behaviour.feedback: where_present(with_text, text),
                    "emp": e_rep,
                    "comp": np.where(with_text, comp, -1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True), latent_by_year


def generate_skp(
    config: SimConfig,
    world: World,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    behaviour_latent: dict[int, tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    """SKP (plus emp): yearly ratings and, in the as-of year where the agency runs them, quarterly
    ones; both rated within unit quotas."""
    rng = config.rng("skp")
    frame = people.frame
    technical = np.array([g == "teknis" for g in world.competencies[Competencies.group]])
    unit = frame[Employees.unit_id].to_numpy()
    periodic_agency = world.agencies.set_index("instansi_id")["periodic_skp"]
    periodic = periodic_agency.reindex(frame[Employees.instansi_id]).to_numpy()
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
                        Skp.nip: frame[Employees.nip].to_numpy()[rows][keep],
                        Skp.period: period,
                        Skp.hasil_kerja: hasil[keep],
                        Skp.perilaku_kerja: perilaku[keep],
                        Skp.predikat: [
                            PREDIKAT_MATRIX[(h, p)] for h, p in zip(hasil[keep], perilaku[keep], strict=True)
                        ],
                        "emp": rows[keep],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
