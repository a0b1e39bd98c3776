"""Employees of the simulated world and their latent competency levels at the start of the history."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import GOLONGAN_PNS, GOLONGAN_PPPK
from rekomendasi.contract.schemas import Employees, Positions
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.geography import JAKARTA, PROVINCES
from rekomendasi.simulate.positions import AHLI, SKILL
from rekomendasi.simulate.world import World

# Shares of PNS by position type (domain.md, 2021): functional 51%, pelaksana 38%, structural 11% of
# which pengawas 70%, administrator 22%, JPT 5% (the remaining 3% are counted as pengawas here).
JENIS_SHARES = {
    "fungsional": 0.51,
    "pelaksana": 0.38,
    "pengawas": 0.11 * 0.73,
    "administrator": 0.11 * 0.22,
    "jpt_pratama": 0.11 * 0.05 * 0.85,
    "jpt_madya": 0.11 * 0.05 * 0.13,
    "jpt_utama": 0.11 * 0.05 * 0.02,
}
# Job family weights by position type: functional staff are mostly teachers and health workers.
_FAMILY_WEIGHTS_FUNCTIONAL = {
    "keuangan": 0.04,
    "pengadaan": 0.02,
    "kepegawaian": 0.03,
    "perencanaan": 0.04,
    "teknologi_informasi": 0.04,
    "kesehatan": 0.27,
    "pendidikan": 0.45,
    "pelayanan_administrasi": 0.03,
    "hukum": 0.02,
    "infrastruktur": 0.06,
}
_FAMILY_WEIGHTS_OTHER = {
    "keuangan": 0.14,
    "pengadaan": 0.05,
    "kepegawaian": 0.10,
    "perencanaan": 0.09,
    "teknologi_informasi": 0.07,
    "kesehatan": 0.12,
    "pendidikan": 0.14,
    "pelayanan_administrasi": 0.17,
    "hukum": 0.05,
    "infrastruktur": 0.07,
}
_EDUCATION_ENTRY_GOLONGAN = {
    "sd": 0,
    "smp": 2,
    "sma": 4,
    "d1": 4,
    "d2": 5,
    "d3": 6,
    "d4": 8,
    "s1": 8,
    "s2": 9,
    "s3": 10,
}
_EDUCATION_ENTRY_GRADE = {
    "sd": 1,
    "smp": 3,
    "sma": 5,
    "d1": 5,
    "d2": 6,
    "d3": 7,
    "d4": 9,
    "s1": 9,
    "s2": 10,
    "s3": 11,
}
UNIT_SIZE = 40  # staff per simulated work unit


@dataclass(frozen=True)
class People:
    """Employees (contract columns plus latent state) and their starting levels.

    Attributes:
        frame: contract columns of ``employees`` plus pos_idx, family, agency_idx, position_since,
            ability (general latent ability), service (front-line service unit).
        level0: [employee, competency] true level at the start of the history, in [1, 5].
    """

    frame: pd.DataFrame
    level0: np.ndarray

    @cached_property
    def nip_dtype(self) -> pd.CategoricalDtype:
        """Every NIP as a category, in row order (which is NIP order): category i is employee row i."""
        return pd.CategoricalDtype(pd.Index(self.frame[Employees.nip].to_numpy(dtype=object), dtype=str))

    def nips(self, emp: np.ndarray) -> pd.Categorical:
        """The NIP column of rows about employees ``emp`` (row positions), held as those positions."""
        return pd.Categorical.from_codes(np.asarray(emp), dtype=self.nip_dtype)

    @cached_property
    def unit_codes(self) -> np.ndarray:
        """int [employee] position of the employee's unit_id among the sorted distinct unit ids."""
        return pd.factorize(self.frame[Employees.unit_id], sort=True)[0]


def build_people(config: SimConfig, world: World) -> People:
    """Draw ``config.employees`` employees consistent with the world's agencies and positions."""
    rng = config.rng("people")
    n = config.employees
    positions = world.positions
    as_of = pd.Timestamp(config.as_of)

    agency_idx = rng.choice(len(world.agencies), size=n, p=world.agencies["weight"].to_numpy())
    central = world.agencies["kind"].to_numpy()[agency_idx] == "central"
    jenis_names = list(JENIS_SHARES)
    shares = np.array(list(JENIS_SHARES.values()))
    jenis = np.array(jenis_names)[rng.choice(len(jenis_names), size=n, p=shares / shares.sum())]
    jenis = np.where((jenis == "jpt_utama") & ~central, "jpt_madya", jenis)

    families = list(_FAMILY_WEIGHTS_OTHER)
    wf = np.array([_FAMILY_WEIGHTS_FUNCTIONAL[f] for f in families])
    wo = np.array([_FAMILY_WEIGHTS_OTHER[f] for f in families])
    family = np.where(
        jenis == "fungsional",
        np.array(families)[rng.choice(len(families), size=n, p=wf / wf.sum())],
        np.array(families)[rng.choice(len(families), size=n, p=wo / wo.sum())],
    )

    pos_lookup = {pid: i for i, pid in enumerate(positions[Positions.position_id])}
    has_skill = {f for f in families if f"{f}.jf.terampil" in pos_lookup}
    pelaksana_count = (
        positions[positions[Positions.jenis_jabatan] == "pelaksana"].groupby("family").size().to_dict()
    )
    ahli = np.array(AHLI)[rng.choice(4, size=n, p=[0.35, 0.38, 0.24, 0.03])]
    skill = np.array(SKILL)[rng.choice(3, size=n, p=[0.45, 0.35, 0.20])]
    use_skill = (rng.random(n) < 0.25) & np.isin(family, list(has_skill))
    pos_id = np.empty(n, dtype=object)
    for i in range(n):
        j, f = jenis[i], family[i]
        if j == "fungsional":
            pos_id[i] = f"{f}.jf.{skill[i] if use_skill[i] else ahli[i]}"
        elif j == "pelaksana":
            pos_id[i] = f"{f}.pl.{1 + int(rng.integers(pelaksana_count[f]))}"
        elif j in ("pengawas", "administrator", "jpt_pratama"):
            pos_id[i] = f"{f}.{j}"
        elif j == "jpt_madya":
            pos_id[i] = "pimpinan.jpt_madya.pusat" if central[i] else "pimpinan.jpt_madya.daerah"
        else:
            pos_id[i] = "pimpinan.jpt_utama"
    pos_idx = np.array([pos_lookup[p] for p in pos_id])
    structural = np.isin(jenis, ["pengawas", "administrator", "jpt_pratama", "jpt_madya", "jpt_utama"])

    # PPPK (23% of ASN) hold functional and pelaksana positions only.
    pppk = (~structural) & (
        rng.random(n) < 0.23 / 0.89 * np.where(np.isin(family, ["pendidikan", "kesehatan"]), 1.25, 0.8)
    )
    female_p = np.where(
        np.isin(family, ["pendidikan", "kesehatan"]), 0.66, np.where(family == "infrastruktur", 0.3, 0.47)
    )
    female_p = np.where(structural, 0.38, female_p)
    female = rng.random(n) < female_p

    # Ages: about a third are 51-60; leaders are older.
    band = rng.choice(4, size=n, p=[0.12, 0.25, 0.30, 0.33])
    age = np.array([20, 31, 41, 51])[band] + rng.random(n) * np.array([11, 10, 10, 7.9])[band]
    age = np.where(structural, np.maximum(age, rng.uniform(35, 56, n)), age)
    age = np.where(
        np.isin(jenis, ["jpt_pratama", "jpt_madya", "jpt_utama"]),
        np.maximum(age, rng.uniform(44, 58, n)),
        age,
    )
    birth = as_of - pd.to_timedelta((age * 365.25).astype(int), unit="D")
    entry_age = np.clip(rng.normal(26, 3.5, n), 19, 40)
    entry_age = np.minimum(entry_age, age - 0.1)
    entry = birth + pd.to_timedelta((entry_age * 365.25).astype(int), unit="D")
    # PPPK contracts started with the 2019-2024 recruitment rounds.
    pppk_entry = pd.to_datetime(
        [f"{y}-{m:02d}-01" for y, m in zip(rng.integers(2019, 2025, n), rng.integers(1, 13, n), strict=True)]
    )
    entry = pd.DatetimeIndex(
        np.where(pppk & (pppk_entry > birth + pd.Timedelta(days=int(20 * 365.25))), pppk_entry, entry)
    )
    entry = entry.normalize()
    tenure = (as_of - entry).days.to_numpy() / 365.25

    education = _education(jenis, pos_id, rng)
    golongan = _golongan(education, tenure, pppk, rng)

    agencies = world.agencies
    province = agencies["province"].to_numpy()[agency_idx].astype(object)
    prov_names = np.array([p for p, _ in PROVINCES], dtype=object)
    pop = np.array([w for _, w in PROVINCES])
    vertical = central & (rng.random(n) < 0.3)
    province = np.where(
        vertical, prov_names[rng.choice(len(prov_names), size=n, p=pop / pop.sum())], province
    )
    province = np.where(central & ~vertical, JAKARTA, province)

    frame = pd.DataFrame(
        {
            "birth": birth,
            "entry": entry,
            "female": female,
            "agency_idx": agency_idx,
            "family": family,
            "pos_idx": pos_idx,
            "jenis": jenis,
            "pppk": pppk,
        }
    )
    frame[Employees.nip] = _nips(frame, rng)
    frame[Employees.instansi_id] = agencies["instansi_id"].to_numpy()[agency_idx]
    frame[Employees.unit_id] = _units(frame, rng)
    frame[Employees.position_id] = pos_id
    frame[Employees.status] = np.where(pppk, "pppk", "pns")
    frame[Employees.golongan] = golongan
    frame[Employees.gender] = np.where(female, "p", "l")
    frame[Employees.birth_date] = birth.normalize()
    frame[Employees.entry_date] = entry
    frame[Employees.education] = education
    frame[Employees.province] = province
    frame[Employees.active] = rng.random(n) > 0.02
    # When the employee took the current structural post (drives PKP/PKA/PKN being due).
    years_in_post = np.minimum(rng.exponential(4.0, n), np.maximum(tenure - 3, 0.2))
    frame["position_since"] = (
        as_of - pd.to_timedelta((years_in_post * 365.25).astype(int), unit="D")
    ).normalize()
    frame["ability"] = rng.normal(0.0, 0.45, n)
    frame["service"] = (
        np.isin(family, ["pelayanan_administrasi", "kesehatan"])
        & (jenis != "jpt_pratama")
        & (rng.random(n) < 0.6)
    )
    frame["tenure"] = tenure
    frame = frame.sort_values(Employees.nip, kind="stable").reset_index(drop=True)

    required = world.required[frame["pos_idx"].to_numpy()]
    specific = rng.normal(0.0, 0.55, required.shape)
    experience = 0.3 * np.tanh(frame["tenure"].to_numpy() / 10.0)[:, None]
    ability = frame["ability"].to_numpy()[:, None]
    base = np.where(required > 0, required - 0.45, 1.4)
    level0 = np.clip(base + ability + specific + experience - 0.3, 1.0, 5.0).astype(np.float32)
    return People(frame=frame, level0=level0)


def _education(jenis: np.ndarray, pos_id: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(jenis)
    out = np.empty(n, dtype=object)
    skill = np.array([p.rsplit(".", 1)[-1] in SKILL for p in pos_id])
    choices = {
        "ahli": (["d4", "s1", "s2", "s3"], [0.05, 0.68, 0.25, 0.02]),
        "skill": (["sma", "d3", "d4", "s1"], [0.1, 0.7, 0.08, 0.12]),
        "pelaksana": (["sd", "smp", "sma", "d3", "s1"], [0.02, 0.03, 0.45, 0.2, 0.3]),
        "struktural": (["s1", "s2", "s3"], [0.45, 0.5, 0.05]),
    }
    group = np.where(
        jenis == "fungsional",
        np.where(skill, "skill", "ahli"),
        np.where(jenis == "pelaksana", "pelaksana", "struktural"),
    )
    for name, (values, probs) in choices.items():
        mask = group == name
        out[mask] = np.array(values, dtype=object)[rng.choice(len(values), size=int(mask.sum()), p=probs)]
    return out


def _golongan(
    education: np.ndarray, tenure: np.ndarray, pppk: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    # Regular promotion every four years, slower into golongan IV (it needs credit points or a
    # structural post): caps by education keep golongan III the largest group, as in the real ASN.
    steps = (tenure / 4.5).astype(int) + (rng.random(len(tenure)) < 0.3)
    entry_pns = np.array([_EDUCATION_ENTRY_GOLONGAN[e] for e in education])
    cap = np.select(
        [
            np.isin(education, ["s2", "s3"]),
            np.isin(education, ["s1", "d4"]),
            np.isin(education, ["sd", "smp"]),
        ],
        [14, 12 - (rng.random(len(tenure)) < 0.6), 7],
        10,
    )
    pns = np.array(GOLONGAN_PNS, dtype=object)[np.minimum(entry_pns + steps, cap)]
    entry_grade = np.array([_EDUCATION_ENTRY_GRADE[e] for e in education])
    pppk_grade = np.array(GOLONGAN_PPPK, dtype=object)[np.minimum(entry_grade - 1 + (tenure > 4), 16)]
    return np.where(pppk, pppk_grade, pns)


def _nips(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """18-digit NIP: birth date YYYYMMDD + TMT YYYYMM + sex digit + a 3-digit sequence, unique."""
    prefix = (
        frame["birth"].dt.strftime("%Y%m%d")
        + frame["entry"].dt.strftime("%Y%m")
        + np.where(frame["female"], "2", "1")
    )
    start = rng.integers(1, 400, len(frame))
    seq = prefix.groupby(prefix).cumcount().to_numpy() + start
    seq = np.where(seq > 999, seq % 999 + 1, seq)
    nips = prefix + pd.Series(seq, index=frame.index).map("{:03d}".format)
    while nips.duplicated().any():  # rare wrap-around collisions: move to the next free number
        dup = nips.duplicated()
        nips[dup] = prefix[dup] + pd.Series(rng.integers(1, 1000, int(dup.sum())), index=nips[dup].index).map(
            "{:03d}".format
        )
    return nips.to_numpy()


def _units(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Work units: per agency one per job family, split into sub-units of about UNIT_SIZE staff."""
    key = frame[Employees.instansi_id].astype(str) + "." + frame["family"].astype(str)
    counts = key.map(key.value_counts())
    n_sub = np.maximum(1, np.ceil(counts.to_numpy() / UNIT_SIZE)).astype(int)
    sub = (rng.random(len(frame)) * n_sub).astype(int) + 1
    return (key + "." + pd.Series(sub, index=frame.index).map("{:02d}".format)).to_numpy()
