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

from rekomendasi.candidates import EVIDENCE_COLUMNS, Matrices

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
    "entry_effect": (
        "efektivitas terukur: kenaikan tingkat peserta sebelumnya dibanding pegawai serupa",
        "measured effectiveness: earlier participants' gain beyond similar staff",
    ),
    "peer_share": ("rekan dengan jabatan sama yang sudah mengikuti", "colleagues in the same position"),
    "jenis_jabatan": ("jenis jabatan", "position type"),
    "predikat_mean": ("predikat kinerja SKP", "SKP performance rating"),
    "jp_remaining": ("sisa kewajiban 20 JP tahun ini", "remaining 20 JP this year"),
    "prior_only_share": ("kompetensi tanpa bukti", "competencies without evidence"),
}


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
    evidence: Mapping[str, object]  # the estimate's evidence counts (EVIDENCE_COLUMNS); empty: none


@dataclass(frozen=True)
class GapArrays:
    """The competencies each (employee, entry) pair's entry targets, seen from the employee: [pairs, w]
    arrays, each row's slots ordered largest shortfall first, competencies outside the standard after,
    empty slots (``competency`` -1) last."""

    competency: np.ndarray  # int64 index into the catalogue's competencies, -1 for an empty slot
    required_level: np.ndarray  # nan: not in the position's standard
    estimated_level: np.ndarray  # nan: no estimate
    uncertainty: np.ndarray
    target_level: np.ndarray
    gap: np.ndarray  # max(required - estimated, 0); 0 outside the standard
    closable: np.ndarray  # the part of the gap the entry can close (up to its target level)
    evidence: dict[str, np.ndarray]  # EVIDENCE_COLUMNS of each slot's estimate (0 / False / NaT: none)

    @property
    def expected_gap_closed(self) -> np.ndarray:
        """[pairs] levels of the person's gaps the entry can close, summed over its competencies."""
        return np.where(self.competency >= 0, self.closable, 0.0).sum(axis=1)


def gap_arrays(m: Matrices, emp: np.ndarray, entry: np.ndarray) -> GapArrays:
    """The gaps each (employee row, entry column) pair of ``m`` addresses (vectorised; any number of
    pairs, from one request's ten to a national batch)."""
    cat = m.catalogue
    comp = cat.targets[entry]
    valid = comp >= 0
    safe = np.where(valid, comp, 0)
    rows = np.asarray(emp)[:, None]
    required = m.required[rows, safe].astype(np.float64)
    estimated = m.estimated[rows, safe].astype(np.float64)
    uncertainty = m.uncertainty[rows, safe].astype(np.float64)
    target = cat.target_levels[entry].astype(np.float64)
    base = np.where(np.isnan(estimated), 1.0, estimated)
    in_standard = required > 0
    gap = np.where(in_standard, np.maximum(required - base, 0.0), 0.0)
    closable = np.minimum(gap, np.maximum(target - base, 0.0))
    # Largest shortfall first (the signed one, so a near miss comes before a comfortable surplus);
    # competencies outside the standard after; empty slots last. Stable: ties keep the catalogue's order.
    key = np.where(valid, np.where(in_standard, -(required - base), np.inf), np.nan)
    order = np.argsort(key, axis=1, kind="stable")

    def ordered(values: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values, order, axis=1)

    found = np.where(valid, m.gap_rows[rows, safe], -1)
    evidence = {}
    for column, values in m.evidence.items():
        picked = values[np.maximum(found, 0)] if len(values) else np.zeros(found.shape, values.dtype)
        missing = np.array("NaT" if values.dtype.kind == "M" else 0, dtype=values.dtype)  # NaT, 0, False
        evidence[column] = ordered(np.where(found >= 0, picked, missing))
    return GapArrays(
        competency=ordered(np.where(valid, comp, -1)),
        required_level=ordered(np.where(valid & in_standard, required, np.nan)),
        estimated_level=ordered(np.where(valid, estimated, np.nan)),
        uncertainty=ordered(np.where(valid, uncertainty, np.nan)),
        target_level=ordered(np.where(valid, target, np.nan)),
        gap=ordered(np.where(valid, gap, 0.0)),
        closable=ordered(np.where(valid, closable, 0.0)),
        evidence=evidence,
    )


def gaps_from_records(
    records: Sequence[Mapping[str, object]], names: Mapping[str, str]
) -> tuple[GapAddressed, ...]:
    """:class:`GapAddressed` values from the gap records of a scores row (``recommend.schemas.GAP_TYPE``)."""

    def number(value: object) -> float | None:
        return None if value is None else float(value)  # type: ignore[arg-type]

    out = []
    for record in records:
        competency = str(record["competency_id"])
        out.append(
            GapAddressed(
                competency_id=competency,
                name=names.get(competency, competency),
                required_level=number(record["required_level"]),
                estimated_level=number(record["estimated_level"]),
                uncertainty=number(record["uncertainty"]),
                target_level=float(record["target_level"]),  # type: ignore[arg-type]
                gap=float(record["gap"]),  # type: ignore[arg-type]
                closable=float(record["closable"]),  # type: ignore[arg-type]
                evidence={c: record[c] for c in EVIDENCE_COLUMNS if c in record},
            )
        )
    return tuple(out)


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
    # Without levels or evidence, for keys that may not see them (learning platforms).
    "close_plain": (
        "Membantu menutup kesenjangan kompetensi {named} yang dibutuhkan jabatannya.",
        "Helps close the gap in {named}, which the position requires.",
    ),
    "strengthen_plain": (
        "Memperkuat kompetensi {named} yang dibutuhkan jabatannya.",
        "Strengthens {named}, which the position requires.",
    ),
    "outside_plain": (
        "Mengembangkan kompetensi {named} di luar standar jabatan.",
        "Develops {named}, outside the position's standard.",
    ),
}


GAP_OPEN = 0.05
"""A gap larger than this is open: :func:`reason` says the entry closes it."""


class _Koma(float):
    """A number written the Indonesian way inside a sentence: a decimal comma (``1,5``)."""

    def __format__(self, spec: str) -> str:
        return format(float(self), spec).translate(str.maketrans(",.", ".,"))


def _say(template: str, lang: Lang, **values: object) -> str:
    if lang == "id":
        values = {
            k: _Koma(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in values.items()
        }
    return _TEMPLATES[template][LANGUAGES.index(lang)].format(**values)


def reason(gaps: Sequence[GapAddressed], lang: Lang = "id", levels: bool = True) -> str:
    """One sentence naming the gap(s) the entry addresses (the two largest), in ``lang``.

    Args:
        gaps: The competencies the entry targets, largest gap first.
        lang: Language of the sentence.
        levels: Say the estimated, required and target levels. False for keys that may not see levels
            or evidence (learning platforms): the sentence then names the competencies and the benefit
            only, and no number in it comes from the person's evidence.
    """

    def gap(g: GapAddressed) -> str:
        est = g.estimated_level if g.estimated_level is not None else 1.0
        return _say("gap", lang, name=g.name, est=est, req=g.required_level)

    and_word = " and " if lang == "en" else " dan "
    open_gaps = [g for g in gaps if g.gap > GAP_OPEN]
    if open_gaps:
        if not levels:
            return _say("close_plain", lang, named=and_word.join(g.name for g in open_gaps[:2]))
        return _say("close", lang, named="; ".join(gap(g) for g in open_gaps[:2]))
    if not gaps:
        return _say("general", lang)
    first = gaps[0]
    if not levels:
        plain = "strengthen_plain" if first.required_level is not None else "outside_plain"
        return _say(plain, lang, named=first.name)
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
