"""Why an entry is recommended, in Indonesian (default) or English: the gaps it addresses with the
evidence behind each estimate, what it can be expected to close, and the model's main contributions.

Pure functions over the candidate matrices (:class:`rekomendasi.candidates.Matrices`); the batch job
and the API build their reasons here, so both say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from rekomendasi.candidates import Matrices

Lang = Literal["id", "en"]
LANGUAGES: tuple[Lang, ...] = ("id", "en")

# Evidence counts of the snapshot's competency_gaps, in plain words.
EVIDENCE_WORDS: dict[str, tuple[str, str]] = {
    "n_assessment": ("penilaian kompetensi", "competency assessments"),
    "n_indicators": ("indikator kinerja", "performance indicators"),
    "n_behaviour": ("penilaian perilaku BerAKHLAK", "BerAKHLAK behaviour ratings"),
    "n_skp": ("periode SKP", "SKP periods"),
    "n_feedback": ("umpan balik", "feedback items"),
    "n_training": ("pelatihan selesai", "completed trainings"),
}

# What each pair feature means, for the model contributions of an explanation.
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "generator_score": ("kecocokan kesenjangan dan tingkat pelatihan", "gap and level fit"),
    "n_targets": ("jumlah kompetensi sasaran", "number of targeted competencies"),
    "gap_sum": ("total kesenjangan pada kompetensi sasaran", "total gap on the targeted competencies"),
    "gap_max": ("kesenjangan terbesar pada kompetensi sasaran", "largest gap on a targeted competency"),
    "level_diff_mean": ("selisih tingkat sasaran dan tingkat saat ini", "target level vs current level"),
    "level_diff_min": ("selisih tingkat terkecil", "smallest level difference"),
    "level_diff_max": ("selisih tingkat terbesar", "largest level difference"),
    "surplus_mean": ("kelebihan tingkat di atas standar", "level above the standard"),
    "in_standard_share": ("bagian kompetensi yang ada di standar jabatan", "share in the position standard"),
    "uncertainty_mean": ("ketidakpastian perkiraan tingkat", "uncertainty of the level estimates"),
    "text_share_sum": ("bukti teks (laporan, umpan balik) tentang kompetensi ini", "text evidence on these"),
    "target_level_mean": ("tingkat sasaran pelatihan", "the entry's target level"),
    "jp": ("lama pelatihan (JP)", "length (JP)"),
    "log_cost": ("biaya", "cost"),
    "modality": ("moda pelatihan", "modality"),
    "english": ("bahasa pengantar", "language of instruction"),
    "held_in_province": ("lokasi penyelenggaraan", "where it is held"),
    "entry_takers": ("jumlah peserta sebelumnya", "number of earlier participants"),
    "entry_completion_rate": ("tingkat kelulusan peserta sebelumnya", "earlier participants' completion"),
    "entry_mean_score": ("nilai rata-rata peserta sebelumnya", "earlier participants' mean score"),
    "entry_mean_satisfaction": ("kepuasan peserta sebelumnya", "earlier participants' satisfaction"),
    "peer_share": ("rekan dengan jabatan sama yang sudah mengikuti", "colleagues in the same position"),
    "jenis_jabatan": ("jenis jabatan", "position type"),
    "predikat_mean": ("predikat kinerja SKP", "SKP performance rating"),
    "jp_remaining": ("sisa kewajiban 20 JP tahun ini", "remaining 20 JP this year"),
    "prior_only_share": ("kompetensi tanpa bukti", "competencies without evidence"),
}


def competency_names(competencies: pd.DataFrame) -> dict[str, str]:
    """competency_id -> name, from the contract's competencies table."""
    return {str(c): str(n) for c, n in zip(competencies["competency_id"], competencies["name"], strict=True)}


@dataclass(frozen=True, slots=True)
class GapAddressed:
    """One competency an entry targets, seen from the employee."""

    competency_id: str
    name: str
    required_level: float | None  # None: not in the position's standard
    estimated_level: float | None  # None: no estimate (not in the standard)
    uncertainty: float | None
    target_level: float
    gap: float  # max(required - estimated, 0)
    closable: float  # the part of the gap the entry can close (up to its target level)


def gaps_addressed(m: Matrices, emp: int, entry: int, names: Mapping[str, str]) -> list[GapAddressed]:
    """The entry's target competencies for employee row ``emp``, largest gap first."""
    out = []
    for slot in range(m.targets.shape[1]):
        comp = int(m.targets[entry, slot])
        if comp < 0:
            continue
        required = float(m.required[emp, comp])
        est_raw = float(m.estimated[emp, comp])
        unc_raw = float(m.uncertainty[emp, comp])
        target = float(m.target_levels[entry, slot])
        estimated = None if np.isnan(est_raw) else est_raw
        base = estimated if estimated is not None else 1.0
        gap = max(required - base, 0.0) if required > 0 else 0.0
        competency = str(m.competencies[comp])
        out.append(
            GapAddressed(
                competency_id=competency,
                name=names.get(competency, competency),
                required_level=required if required > 0 else None,
                estimated_level=estimated,
                uncertainty=None if np.isnan(unc_raw) else unc_raw,
                target_level=target,
                gap=gap,
                closable=min(gap, max(target - base, 0.0)),
            )
        )
    # Largest shortfall first (the signed one, so a near miss comes before a comfortable surplus);
    # competencies outside the standard last. Stable: ties keep the catalogue's order.
    out.sort(
        key=lambda g: (
            -(g.required_level - (g.estimated_level if g.estimated_level is not None else 1.0))
            if g.required_level is not None
            else np.inf
        )
    )
    return out


_TEMPLATES: dict[str, tuple[str, str]] = {
    "gap": (
        "{name} (perkiraan tingkat {est:.1f}, dibutuhkan {req:.0f})",
        "{name} (estimated level {est:.1f}, required {req:.0f})",
    ),
    "close": ("Menutup kesenjangan kompetensi {named}.", "Closes the competency gap in {named}."),
    "strengthen": (
        "Memperkuat kompetensi {gap} menuju tingkat {target:.0f}.",
        "Strengthens {gap} towards level {target:.0f}.",
    ),
    "outside": (
        "Mengembangkan kompetensi {name} di luar standar jabatan, menuju tingkat {target:.0f}.",
        "Develops {name}, outside the position's standard, towards level {target:.0f}.",
    ),
    "general": ("Pengembangan kompetensi umum.", "General competency development."),
}


def _say(template: str, lang: Lang, **values: object) -> str:
    return _TEMPLATES[template][LANGUAGES.index(lang)].format(**values)


def reason(gaps: Sequence[GapAddressed], lang: Lang = "id") -> str:
    """One sentence naming the gap(s) the entry addresses (the two largest), in ``lang``."""

    def gap(g: GapAddressed) -> str:
        est = g.estimated_level if g.estimated_level is not None else 1.0
        return _say("gap", lang, name=g.name, est=est, req=g.required_level)

    open_gaps = [g for g in gaps if g.gap > 0.05]
    if open_gaps:
        return _say("close", lang, named="; ".join(gap(g) for g in open_gaps[:2]))
    if not gaps:
        return _say("general", lang)
    first = gaps[0]
    if first.required_level is not None:
        return _say("strengthen", lang, gap=gap(first), target=first.target_level)
    return _say("outside", lang, name=first.name, target=first.target_level)


def evidence_words(counts: Mapping[str, object], lang: Lang = "id") -> str:
    """Plain words for the evidence behind one competency estimate (counts from the snapshot)."""
    if bool(counts.get("prior_only", False)):
        return (
            "no evidence yet; estimated from the position's standard and similar colleagues"
            if lang == "en"
            else "belum ada bukti; diperkirakan dari standar jabatan dan rekan sejenis"
        )
    parts = []
    for column, words in EVIDENCE_WORDS.items():
        value = counts.get(column)
        numeric = isinstance(value, (int, float, np.integer, np.floating)) and not np.isnan(value)
        count = int(value) if numeric else 0  # type: ignore[call-overload]
        if count > 0:
            parts.append(f"{count} {words[1] if lang == 'en' else words[0]}")
    latest = counts.get("latest_evidence_on")
    text = ", ".join(parts) if parts else ("no direct evidence" if lang == "en" else "tanpa bukti langsung")
    if latest is not None and str(latest) not in ("NaT", "None", "nan"):
        text += f" ({'latest' if lang == 'en' else 'terakhir'} {str(latest)[:10]})"
    return text


def contribution_words(feature: str, lang: Lang = "id") -> str:
    """What a pair feature means, in ``lang``."""
    words = FEATURE_WORDS.get(feature)
    if words is None:
        return feature
    return words[1] if lang == "en" else words[0]
