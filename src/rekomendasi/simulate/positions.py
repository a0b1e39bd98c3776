"""Competencies and positions of the simulated world, with each position's competency standard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import NATIONAL_COMPETENCIES
from rekomendasi.contract.schemas import Competencies, Positions, PositionStandards

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


def build_competencies(spec: dict[str, Any]) -> pd.DataFrame:
    """One row per competency: the national ones with their group, then every family's technical
    ones (group ``teknis``)."""
    rows = [
        {
            Competencies.competency_id: c["id"],
            Competencies.group: c["group"],
            Competencies.name: c["name"],
            Competencies.description: c["description"],
        }
        for c in spec["national"]
    ]
    for family in spec["families"].values():
        rows += [
            {
                Competencies.competency_id: c["id"],
                Competencies.group: "teknis",
                Competencies.name: c["name"],
                Competencies.description: c["description"],
            }
            for c in family["technical"]
        ]
    return pd.DataFrame(rows)


def build_positions(spec: dict[str, Any], rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positions of every family plus the top leadership, and their competency standards.

    Returns:
        (positions, standards): positions with contract columns + family; standards as rows of
        (position_id, competency_id, required_level in [1, 5]).
    """
    positions: list[dict[str, Any]] = []

    def add(
        pid: str, title: str, jenis: str, jenjang: str | None, family: str | None, technical: list[str]
    ) -> None:
        positions.append(
            {
                Positions.position_id: pid,
                Positions.title: title,
                Positions.jenis_jabatan: jenis,
                Positions.jenjang: jenjang,
                Positions.rumpun: family,
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
        grade = pos[Positions.jenjang] or pos[Positions.jenis_jabatan]
        for cid in NATIONAL_COMPETENCIES:
            level = MANAGERIAL_LEVEL[grade]
            if (cid == "pelayanan_publik" and pos["family"] in SERVICE_FAMILIES) or rng.random() < 0.12:
                level += 1
            standards.append(
                {
                    PositionStandards.position_id: pos[Positions.position_id],
                    PositionStandards.competency_id: cid,
                    PositionStandards.required_level: min(level, 5),
                }
            )
        for cid in dict.fromkeys(pos["technical"]):
            level = TECHNICAL_LEVEL[grade] - int(rng.random() < 0.25)
            standards.append(
                {
                    PositionStandards.position_id: pos[Positions.position_id],
                    PositionStandards.competency_id: cid,
                    PositionStandards.required_level: max(level, 1),
                }
            )
    frame = pd.DataFrame(positions).drop(columns="technical")
    return frame, pd.DataFrame(standards)
