"""The static structure of a simulated ASN world: competencies, positions with their standards,
agencies, and the training catalogue with each entry's latent effectiveness."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import NATIONAL_COMPETENCIES
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.geography import PROVINCES
from rekomendasi.simulate.lexicon import lexicon, world_spec

# Typical required managerial level by position (domain.md, unconfirmed defaults).
MANAGERIAL_LEVEL = {
    "jpt_utama": 5,
    "jpt_madya": 5,
    "jpt_pratama": 4,
    "administrator": 3,
    "pengawas": 2,
    "pelaksana": 1,
    "ahli_utama": 4,
    "ahli_madya": 3,
    "ahli_muda": 2,
    "ahli_pertama": 1,
    "penyelia": 2,
    "mahir": 1,
    "terampil": 1,
    "pemula": 1,
}
TECHNICAL_LEVEL = {
    "jpt_utama": 4,
    "jpt_madya": 4,
    "jpt_pratama": 4,
    "administrator": 3,
    "pengawas": 3,
    "pelaksana": 2,
    "ahli_utama": 5,
    "ahli_madya": 4,
    "ahli_muda": 3,
    "ahli_pertama": 2,
    "penyelia": 3,
    "mahir": 3,
    "terampil": 2,
    "pemula": 1,
}
AHLI = ("ahli_pertama", "ahli_muda", "ahli_madya", "ahli_utama")
SKILL = ("terampil", "mahir", "penyelia")
LEADER_TECHNICAL = (
    "tek_analisis_kebijakan",
    "tek_perencanaan_pembangunan",
    "tek_monitoring_evaluasi",
    "tek_tata_kelola_spbe",
)
SERVICE_FAMILIES = ("pelayanan_administrasi", "kesehatan")
# How well one JP of each modality develops a competency, relative to classroom training.
MODALITY_EFFICIENCY = {
    "klasikal": 1.0,
    "blended": 1.05,
    "coaching": 1.1,
    "mentoring": 1.0,
    "magang": 1.15,
    "workshop": 0.85,
    "e_learning": 0.7,
    "seminar": 0.45,
    "belajar_mandiri": 0.6,
    "detasering": 1.1,
    "benchmarking": 0.6,
}
LEVEL_WORDS = {2: "Dasar", 3: "Menengah", 4: "Lanjut", 5: "Ahli"}
_PROVIDERS = {
    "keuangan": ("BPSDM Provinsi", "Pusdiklat Keuangan Umum", "BPKP"),
    "pengadaan": ("LKPP", "BPSDM Provinsi"),
    "kepegawaian": ("BKN", "LAN", "BPSDM Provinsi"),
    "perencanaan": ("Pusbindiklatren Bappenas", "LAN"),
    "teknologi_informasi": ("Kementerian Komunikasi dan Digital", "BSSN", "ASN Corpu"),
    "kesehatan": ("Bapelkes", "Kementerian Kesehatan"),
    "pendidikan": ("Balai Guru Penggerak", "Kemendikdasmen", "BPSDM Provinsi"),
    "pelayanan_administrasi": ("ANRI", "BPSDM Provinsi"),
    "hukum": ("BPSDM Hukum", "Kementerian Hukum"),
    "infrastruktur": ("BPSDM Pekerjaan Umum", "Kementerian Pekerjaan Umum"),
    "national": ("LAN", "BPSDM Provinsi", "ASN Corpu"),
}
_CENTRAL_NAMES = (
    "Kementerian Keuangan",
    "Kementerian Dalam Negeri",
    "Kementerian Kesehatan",
    "Kementerian Pendidikan Dasar dan Menengah",
    "Kementerian PANRB",
    "Badan Kepegawaian Negara",
    "Lembaga Administrasi Negara",
    "Kementerian Pekerjaan Umum",
    "Kementerian Hukum",
    "Badan Pusat Statistik",
    "Kementerian Komunikasi dan Digital",
    "Kementerian Agama",
    "Kementerian Sosial",
    "Kementerian Perhubungan",
)


@dataclass(frozen=True)
class World:
    """Static structure shared by every later stage of the simulation.

    Matrices are indexed by position row / competency column / catalogue row in the order of the
    corresponding frames.
    """

    competencies: pd.DataFrame
    positions: pd.DataFrame  # contract columns + family, unit_family
    standards: pd.DataFrame
    required: np.ndarray  # [position, competency] required level, 0 where not in the standard
    agencies: pd.DataFrame  # instansi_id, name, kind, province, weight, daily_reports, periodic_skp
    catalog: pd.DataFrame  # contract columns + family, tier, launched_on, effect, popularity
    catalog_competencies: pd.DataFrame
    targets: np.ndarray  # [entry, 3] competency index, -1 padding
    target_levels: np.ndarray  # [entry, 3] target level, 0 padding
    families: dict[str, Any]

    @property
    def competency_ids(self) -> list[str]:
        return list(self.competencies["competency_id"])


def build_world(config: SimConfig) -> World:
    """Build competencies, positions, standards, agencies and the catalogue for ``config``."""
    spec = world_spec()
    competencies = _competencies(spec)
    comp_index = {cid: i for i, cid in enumerate(competencies["competency_id"])}
    positions, standards = _positions(spec, config.rng("positions"))
    required = np.zeros((len(positions), len(comp_index)), dtype=np.float32)
    pos_index = {pid: i for i, pid in enumerate(positions["position_id"])}
    required[
        standards["position_id"].map(pos_index).to_numpy(),
        standards["competency_id"].map(comp_index).to_numpy(),
    ] = standards["required_level"].to_numpy()
    catalog, catalog_comp = _catalog(spec, config)
    targets = np.full((len(catalog), 3), -1, dtype=np.int32)
    levels = np.zeros((len(catalog), 3), dtype=np.float32)
    entry_index = {tid: i for i, tid in enumerate(catalog["training_id"])}
    slot = catalog_comp.groupby("training_id", sort=False).cumcount().to_numpy()
    rows = catalog_comp["training_id"].map(entry_index).to_numpy()
    targets[rows, slot] = catalog_comp["competency_id"].map(comp_index).to_numpy()
    levels[rows, slot] = catalog_comp["target_level"].to_numpy()
    return World(
        competencies=competencies,
        positions=positions,
        standards=standards,
        required=required,
        agencies=_agencies(config),
        catalog=catalog,
        catalog_competencies=catalog_comp,
        targets=targets,
        target_levels=levels,
        families=spec["families"],
    )


def _competencies(spec: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {"competency_id": c["id"], "group": c["group"], "name": c["name"], "description": c["description"]}
        for c in spec["national"]
    ]
    for family in spec["families"].values():
        rows += [
            {"competency_id": c["id"], "group": "teknis", "name": c["name"], "description": c["description"]}
            for c in family["technical"]
        ]
    return pd.DataFrame(rows)


def _positions(spec: dict[str, Any], rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    positions: list[dict[str, Any]] = []

    def add(
        pid: str, title: str, jenis: str, jenjang: str | None, family: str | None, technical: list[str]
    ) -> None:
        positions.append(
            {
                "position_id": pid,
                "title": title,
                "jenis_jabatan": jenis,
                "jenjang": jenjang,
                "rumpun": family,
                "family": family or "pimpinan",
                "technical": technical,
            }
        )

    for key, family in spec["families"].items():
        tech = [c["id"] for c in family["technical"]]
        fn = family["functional"]
        for jenjang in AHLI:
            extra = (
                ["tek_monitoring_evaluasi"]
                if jenjang in ("ahli_madya", "ahli_utama") and "tek_monitoring_evaluasi" not in tech
                else []
            )
            add(
                f"{key}.jf.{jenjang}",
                f"{fn['title']} {jenjang.replace('_', ' ').title()}",
                "fungsional",
                jenjang,
                key,
                tech + extra,
            )
        if fn.get("skill_title"):
            for jenjang in SKILL:
                add(
                    f"{key}.jf.{jenjang}",
                    f"{fn['skill_title']} {jenjang.title()}",
                    "fungsional",
                    jenjang,
                    key,
                    tech,
                )
        for k, title in enumerate(family["pelaksana"]):
            extra = ["tek_administrasi_perkantoran"] if "tek_administrasi_perkantoran" not in tech else []
            add(f"{key}.pl.{k + 1}", title, "pelaksana", None, key, tech[:4] + extra)
        add(f"{key}.pengawas", f"Kepala Subbagian {family['name']}", "pengawas", None, key, tech)
        add(
            f"{key}.administrator",
            f"Kepala Bidang {family['name']}",
            "administrator",
            None,
            key,
            tech + (["tek_monitoring_evaluasi"] if "tek_monitoring_evaluasi" not in tech else []),
        )
        add(
            f"{key}.jpt_pratama",
            f"Kepala {family['unit']['regional']}",
            "jpt_pratama",
            None,
            key,
            tech[:3] + ["tek_analisis_kebijakan"] * (key != "perencanaan"),
        )
    add(
        "pimpinan.jpt_madya.daerah",
        "Sekretaris Daerah Provinsi",
        "jpt_madya",
        None,
        None,
        list(LEADER_TECHNICAL),
    )
    add("pimpinan.jpt_madya.pusat", "Direktur Jenderal", "jpt_madya", None, None, list(LEADER_TECHNICAL))
    add("pimpinan.jpt_utama", "Sekretaris Jenderal", "jpt_utama", None, None, list(LEADER_TECHNICAL))

    standards: list[dict[str, Any]] = []
    for pos in positions:
        grade = pos["jenjang"] or pos["jenis_jabatan"]
        for cid in NATIONAL_COMPETENCIES:
            level = MANAGERIAL_LEVEL[grade]
            if (cid == "pelayanan_publik" and pos["family"] in SERVICE_FAMILIES) or rng.random() < 0.12:
                level += 1
            standards.append(
                {"position_id": pos["position_id"], "competency_id": cid, "required_level": min(level, 5)}
            )
        for cid in dict.fromkeys(pos["technical"]):
            level = TECHNICAL_LEVEL[grade] - int(rng.random() < 0.25)
            standards.append(
                {"position_id": pos["position_id"], "competency_id": cid, "required_level": max(level, 1)}
            )
    frame = pd.DataFrame(positions).drop(columns="technical")
    return frame, pd.DataFrame(standards)


def _agencies(config: SimConfig) -> pd.DataFrame:
    rng = config.rng("agencies")
    total = max(2, round(config.employees / 2500))
    n_central = max(1, round(0.22 * total))
    n_regional = max(1, total - n_central)
    names = [p for p, _ in PROVINCES]
    pop = np.array([w for _, w in PROVINCES])
    rows = []
    for k in range(n_central):
        name = _CENTRAL_NAMES[k] if k < len(_CENTRAL_NAMES) else f"Lembaga Pemerintah Nonkementerian {k + 1}"
        rows.append(
            {"instansi_id": f"kl-{k + 1:03d}", "name": name, "kind": "central", "province": "DKI Jakarta"}
        )
    for k in range(n_regional):
        province = names[rng.choice(len(names), p=pop / pop.sum())]
        level = rng.choice(["provinsi", "kabupaten", "kota"], p=[0.2, 0.65, 0.15])
        name = (
            f"Pemerintah Provinsi {province}"
            if level == "provinsi"
            else f"Pemerintah {level.title()} {k + 1:03d} ({province})"
        )
        rows.append(
            {"instansi_id": f"pemda-{k + 1:03d}", "name": name, "kind": "regional", "province": province}
        )
    agencies = pd.DataFrame(rows)
    size = rng.lognormal(0.0, 0.5, len(agencies))
    central = agencies["kind"].eq("central").to_numpy()
    weight = np.where(central, 0.22 * size / size[central].sum(), 0.78 * size / size[~central].sum())
    agencies["weight"] = weight / weight.sum()
    agencies["daily_reports"] = rng.random(len(agencies)) < np.where(central, 0.3, 0.55)
    agencies["periodic_skp"] = rng.random(len(agencies)) < 0.35
    # The largest regional government always runs both, so every world exercises every table.
    largest = int(np.argmax(np.where(central, -1.0, weight)))
    agencies.loc[largest, ["daily_reports", "periodic_skp"]] = True
    return agencies


def _catalog(spec: dict[str, Any], config: SimConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = config.rng("catalog")
    lex = lexicon()
    entries: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    provinces = [p for p, _ in PROVINCES]

    def add(
        family: str,
        comps: list[tuple[str, int]],
        tier: int,
        modality: str,
        eligible: str | None,
        mandatory: str | None = None,
        title: str | None = None,
        jp: int | None = None,
    ) -> None:
        primary = comps[0][0]
        tid = f"TRN-{len(entries) + 1:04d}"
        if title is None:
            stem = str(rng.choice(lex.get(primary, "course_titles")))
            title = _title(stem, tier, modality)
        topics = list(rng.choice(lex.get(primary, "course_topics"), size=2, replace=False))
        topics += [str(rng.choice(lex.get(cid, "course_topics"))) for cid, _ in comps[1:]]
        template = str(rng.choice(lex.course_templates))
        description = template.format(topics=", ".join(topics), level=LEVEL_WORDS.get(tier, "dasar").lower())
        provider = str(rng.choice(_PROVIDERS.get(family, _PROVIDERS["national"])))
        english = mandatory is None and rng.random() < 0.03
        entries.append(
            {
                "training_id": tid,
                "title": f"International Course: {title}" if english else title,
                "description": description,
                "provider": provider,
                "modality": modality,
                "jp": int(jp if jp is not None else _jp(modality, rng)),
                "cost_idr": int(_cost(modality, rng)),
                "eligible_jenis_jabatan": eligible,
                "mandatory_for": mandatory,
                "province": str(rng.choice(provinces))
                if modality == "klasikal" and provider.startswith("BPSDM")
                else None,
                "seats": int(rng.integers(25, 41))
                if modality in ("klasikal", "workshop", "magang")
                else None,
                "language": "en" if english else "id",
                "family": family,
                "tier": tier,
            }
        )
        links.extend(
            {"training_id": tid, "competency_id": cid, "target_level": level} for cid, level in comps
        )

    add(
        "national",
        [("integritas", 2), ("perekat_bangsa", 2), ("pelayanan_publik", 2)],
        2,
        "blended",
        "pelaksana;fungsional",
        "cpns",
        "Pelatihan Dasar CPNS (Latsar)",
        261,
    )
    add(
        "national",
        [("orientasi_hasil", 2), ("kerja_sama", 2), ("pengambilan_keputusan", 2)],
        2,
        "blended",
        "pengawas",
        "new_pengawas",
        "Pelatihan Kepemimpinan Pengawas (PKP)",
        298,
    )
    add(
        "national",
        [("mengelola_perubahan", 3), ("orientasi_hasil", 3), ("pengambilan_keputusan", 3)],
        3,
        "blended",
        "administrator",
        "new_administrator",
        "Pelatihan Kepemimpinan Administrator (PKA)",
        322,
    )
    add(
        "national",
        [("pengambilan_keputusan", 4), ("mengelola_perubahan", 4), ("perekat_bangsa", 4)],
        4,
        "blended",
        "jpt_pratama",
        "new_jpt_pratama",
        "Pelatihan Kepemimpinan Nasional Tingkat II (PKN II)",
        360,
    )
    add(
        "national",
        [("pengambilan_keputusan", 5), ("mengelola_perubahan", 5), ("integritas", 5)],
        5,
        "blended",
        "jpt_madya",
        "new_jpt_madya",
        "Pelatihan Kepemimpinan Nasional Tingkat I (PKN I)",
        400,
    )

    for key, family in spec["families"].items():
        tech = [c["id"] for c in family["technical"]]
        for cid in tech:
            others = [c for c in tech if c != cid]
            for tier, modalities, eligible in (
                (2, ["klasikal", "e_learning"], "fungsional;pelaksana;pengawas"),
                (
                    3,
                    ["klasikal", str(rng.choice(["blended", "e_learning", "coaching"]))],
                    "fungsional;pelaksana;pengawas;administrator",
                ),
                (
                    4,
                    [str(rng.choice(["klasikal", "workshop", "magang"]))],
                    "fungsional;pengawas;administrator;jpt_pratama",
                ),
                (
                    5,
                    [str(rng.choice(["benchmarking", "detasering", "workshop"]))]
                    if rng.random() < 0.5
                    else [],
                    "fungsional;administrator;jpt_pratama;jpt_madya",
                ),
            ):
                for modality in modalities:
                    comps = [(cid, tier)]
                    if rng.random() < 0.25:
                        comps.append((str(rng.choice(others)), max(tier - 1, 1)))
                    add(key, comps, tier, modality, eligible)
    for cid in NATIONAL_COMPETENCIES:
        for tier, modalities, open_to in (
            (2, ["klasikal", "e_learning"], None),
            (3, ["klasikal"] + (["coaching"] if rng.random() < 0.5 else ["belajar_mandiri"]), None),
            (
                4,
                [str(rng.choice(["klasikal", "blended"]))] + (["mentoring"] if rng.random() < 0.5 else []),
                "fungsional;pengawas;administrator;jpt_pratama;jpt_madya;jpt_utama",
            ),
            (5, ["workshop"], "administrator;jpt_pratama;jpt_madya;jpt_utama"),
        ):
            for modality in modalities:
                add("national", [(cid, tier)], tier, modality, open_to)
    all_comps = [c["id"] for c in spec["national"]] + [
        c["id"] for f in spec["families"].values() for c in f["technical"]
    ]
    for _ in range(20):
        pair = rng.choice(all_comps, size=2, replace=False)
        add("national", [(str(pair[0]), 3), (str(pair[1]), 3)], 3, "seminar", None)

    catalog = pd.DataFrame(entries)
    n = len(catalog)
    mandatory = catalog["mandatory_for"].notna().to_numpy()
    # Latent effectiveness of each entry: modality efficiency x quality x saturating JP dose.
    quality = np.clip(rng.normal(1.0, 0.2, n), 0.5, 1.5)
    efficiency = catalog["modality"].map(MODALITY_EFFICIENCY).to_numpy()
    dose = 1.0 - np.exp(-catalog["jp"].to_numpy() / 24.0)
    catalog["effect"] = np.round(np.where(mandatory, 1.0, quality * efficiency * dose), 4)
    catalog["popularity"] = np.round(rng.lognormal(0.0, 0.8, n), 4)
    retired = (rng.random(n) < 0.08) & ~mandatory
    launched_recently = (rng.random(n) < 0.10) & ~retired & ~mandatory
    catalog["active"] = ~retired
    launch_day = pd.Timestamp(config.as_of) - pd.to_timedelta(rng.integers(30, 330, n), unit="D")
    catalog["launched_on"] = launch_day.where(launched_recently, pd.Timestamp(dt.date(2000, 1, 1)))
    return catalog, pd.DataFrame(links)


def _title(stem: str, tier: int, modality: str) -> str:
    level = f"Tingkat {LEVEL_WORDS[tier]}"
    prefix = {
        "coaching": "Coaching Klinik ",
        "mentoring": "Program Mentoring ",
        "workshop": "Lokakarya ",
        "magang": "Magang ",
        "benchmarking": "Benchmarking ",
        "detasering": "Detasering ",
        "seminar": "Seminar ",
        "belajar_mandiri": "Belajar Mandiri ",
    }.get(modality, "Pelatihan ")
    suffix = {"e_learning": " (E-Learning)", "blended": " (Blended Learning)"}.get(modality, "")
    return f"{prefix}{stem} {level}{suffix}"


def _jp(modality: str, rng: np.random.Generator) -> int:
    low, high = {
        "klasikal": (24, 80),
        "e_learning": (8, 30),
        "blended": (30, 60),
        "coaching": (8, 16),
        "mentoring": (12, 24),
        "magang": (40, 80),
        "seminar": (4, 8),
        "workshop": (16, 32),
        "belajar_mandiri": (6, 20),
        "detasering": (60, 120),
        "benchmarking": (16, 32),
    }[modality]
    return int(rng.integers(low, high + 1))


def _cost(modality: str, rng: np.random.Generator) -> int:
    low, high = {
        "klasikal": (2_500_000, 9_000_000),
        "e_learning": (0, 600_000),
        "blended": (3_000_000, 12_000_000),
        "coaching": (1_000_000, 4_000_000),
        "mentoring": (500_000, 3_000_000),
        "magang": (5_000_000, 15_000_000),
        "seminar": (0, 1_500_000),
        "workshop": (2_000_000, 6_000_000),
        "belajar_mandiri": (0, 300_000),
        "detasering": (8_000_000, 20_000_000),
        "benchmarking": (6_000_000, 18_000_000),
    }[modality]
    return int(round(rng.integers(low, high + 1), -4))
