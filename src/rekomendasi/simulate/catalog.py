"""The training catalogue of the simulated world, with each entry's latent effectiveness."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import NATIONAL_COMPETENCIES
from rekomendasi.contract.schemas import Catalog, CatalogCompetencies
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.geography import PROVINCES
from rekomendasi.simulate.lexicon import lexicon

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


def build_catalog(spec: dict[str, Any], config: SimConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The catalogue and its (training_id, competency_id, target_level) links.

    Entries are the mandatory programmes, technical and national courses per tier and a few
    seminars; each carries family, tier, effect (latent effectiveness), popularity, active and
    launched_on beside the contract columns.
    """
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
                Catalog.training_id: tid,
                Catalog.title: f"International Course: {title}" if english else title,
                Catalog.description: description,
                Catalog.provider: provider,
                Catalog.modality: modality,
                Catalog.jp: int(jp if jp is not None else _jp(modality, rng)),
                Catalog.cost_idr: int(_cost(modality, rng)),
                Catalog.eligible_jenis_jabatan: eligible,
                Catalog.mandatory_for: mandatory,
                Catalog.province: str(rng.choice(provinces))
                if modality == "klasikal" and provider.startswith("BPSDM")
                else None,
                Catalog.seats: int(rng.integers(25, 41))
                if modality in ("klasikal", "workshop", "magang")
                else None,
                Catalog.language: "en" if english else "id",
                "family": family,
                "tier": tier,
            }
        )
        links.extend(
            {
                CatalogCompetencies.training_id: tid,
                CatalogCompetencies.competency_id: cid,
                CatalogCompetencies.target_level: level,
            }
            for cid, level in comps
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
    mandatory = catalog[Catalog.mandatory_for].notna().to_numpy()
    a = config.assumptions
    # Latent effectiveness of each entry: quality x modality efficiency x saturating JP dose (x the
    # provider's own quality), each visible attribute raised to its weight in the assumptions.
    quality = np.clip(
        rng.normal(1.0, a.quality_sd, n), max(0.05, 1.0 - 2.5 * a.quality_sd), 1.0 + 2.5 * a.quality_sd
    )
    efficiency = catalog[Catalog.modality].map(MODALITY_EFFICIENCY).to_numpy()
    dose = 1.0 - np.exp(-catalog[Catalog.jp].to_numpy() / 24.0)
    effect = quality * efficiency**a.modality_weight * dose**a.jp_weight * _provider_factor(catalog, config)
    # Visibility knobs change what varies, not how effective the catalogue is on average (the factor is
    # exactly 1 with the default weights).
    effect = effect * (np.mean((quality * efficiency * dose)[~mandatory]) / np.mean(effect[~mandatory]))
    catalog["effect"] = np.round(np.where(mandatory, 1.0, effect) * a.effect_scale, 4)
    popularity = rng.lognormal(0.0, a.popularity_sd, n)
    if a.popularity_quality_corr:
        r = a.popularity_quality_corr
        popularity = np.exp(
            np.sqrt(1.0 - r**2) * np.log(popularity) + r * a.popularity_sd * effect_z(catalog)
        )
    catalog["popularity"] = np.round(popularity, 4)
    retired = (rng.random(n) < 0.08) & ~mandatory
    launched_recently = (rng.random(n) < 0.10) & ~retired & ~mandatory
    catalog[Catalog.active] = ~retired
    launch_day = pd.Timestamp(config.as_of) - pd.to_timedelta(rng.integers(30, 330, n), unit="D")
    catalog["launched_on"] = launch_day.where(launched_recently, pd.Timestamp(dt.date(2000, 1, 1)))
    return catalog, pd.DataFrame(links)


def effect_z(catalog: pd.DataFrame) -> np.ndarray:
    """Each entry's log effect in SDs from the mean of the non-mandatory entries (0 for mandatory ones)."""
    mandatory = catalog[Catalog.mandatory_for].notna().to_numpy()
    log_effect = np.log(np.maximum(catalog["effect"].to_numpy(dtype=np.float64), 1e-4))
    regular = log_effect[~mandatory]
    z = (log_effect - regular.mean()) / max(float(regular.std()), 1e-9)
    return np.where(mandatory, 0.0, z)


def _provider_factor(catalog: pd.DataFrame, config: SimConfig) -> np.ndarray:
    """A log-normal multiplier on the effect shared by one provider's entries (all 1 by default; drawn
    from its own stream, so the rest of the catalogue stays as it is)."""
    sd = config.assumptions.provider_effect_sd
    if not sd:
        return np.ones(len(catalog))
    providers, inverse = np.unique(catalog[Catalog.provider].to_numpy(dtype=str), return_inverse=True)
    return np.exp(config.rng("catalog.provider_effect").normal(0.0, sd, len(providers)))[inverse]


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
