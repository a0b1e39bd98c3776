"""The web page's words in Indonesian (the default) and English, and numbers the planner's way.

Every visible word of the templates comes from :data:`TEXTS` through ``t("key")``, so the two languages
cannot drift apart silently: :func:`missing` lists keys without both (a test keeps it empty). Numbers use
the same formatter as the plan files (:func:`rekomendasi.plans.export.number`): ``Rp 1.250.000`` and
``12,5`` in Indonesian, ``IDR 1,250,000`` and ``12.5`` in English.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from rekomendasi.explain import Lang
from rekomendasi.plans.export import number, rupiah

LANG_COOKIE = "rk_bahasa"

TEXTS: dict[str, tuple[str, str]] = {
    # frame
    "app": ("rekomendasi", "rekomendasi"),
    "tagline": ("Rencana pengembangan kompetensi ASN", "Civil-servant competency development planning"),
    "skip": ("Langsung ke isi", "Skip to content"),
    "lang_other": ("English", "Bahasa Indonesia"),
    "signed_in_as": ("Masuk sebagai", "Signed in as"),
    "sign_out": ("Keluar", "Sign out"),
    "nav_agencies": ("Instansi", "Agencies"),
    "nav_model": ("Model", "Model"),
    "nav_plan": ("Rencana (AKPK)", "Plan (AKPK)"),
    "back": ("Kembali", "Back"),
    "show": ("Tampilkan", "Show"),
    "none": ("Tidak ada", "None"),
    "loading": ("Memuat…", "Loading…"),
    # sign-in
    "sign_in": ("Masuk", "Sign in"),
    "sign_in_title": ("Masuk dengan kunci API", "Sign in with an API key"),
    "sign_in_help": (
        "Tempelkan kunci API perencana atau admin Anda (diawali rk_). Kunci tidak disimpan di peramban; "
        "Anda tetap masuk selama {hours} jam.",
        "Paste your planner or admin API key (it starts with rk_). The key is not kept in the browser; "
        "you stay signed in for {hours} hours.",
    ),
    "key_label": ("Kunci API", "API key"),
    "wrong_key": (
        "Kunci tidak dikenal atau sudah dicabut. Periksa lalu coba lagi.",
        "Unknown or revoked key. Check it and try again.",
    ),
    "platform_key": (
        "Kunci platform pembelajaran tidak dapat membuka halaman ini; gunakan kunci perencana.",
        "A learning-platform key cannot open this page; use a planner key.",
    ),
    "signed_out": ("Anda sudah keluar.", "You are signed out."),
    "csrf_failed": (
        "Formulir kedaluwarsa atau bukan dari halaman ini. Muat ulang halaman lalu kirim lagi.",
        "The form expired or did not come from this page. Reload the page and send it again.",
    ),
    # agencies
    "agencies_title": ("Instansi yang dapat Anda lihat", "Agencies you may see"),
    "staff": ("Pegawai", "Staff"),
    "units": ("Unit", "Units"),
    # overview
    "overview": ("Ringkasan instansi", "Agency overview"),
    "as_of": ("Data per", "Data as of"),
    "jp_status": ("Status 20 JP tahun {year}", "20 JP status, {year}"),
    "jp_met": ("Sudah terpenuhi", "Met"),
    "jp_on_track": ("Sesuai jalur", "On track"),
    "jp_behind": ("Tertinggal", "Behind"),
    "jp_unknown": ("Tanpa data", "No data"),
    "jp_rule": (
        "Sesuai jalur: JP yang sudah diperoleh paling sedikit {share} dari {target} JP, yaitu bagian tahun "
        "yang sudah berjalan pada tanggal data.",
        "On track: JP earned is at least {share} of {target} JP, the part of the year gone by on the data "
        "date.",
    ),
    "mandatory_due": ("Program wajib yang harus diikuti", "Mandatory programmes due"),
    "programme": ("Program", "Programme"),
    "due": ("Wajib", "Due"),
    "enrolled": ("Sudah terdaftar", "Enrolled"),
    "heatmap": (
        "Peta kesenjangan kompetensi (unit × kompetensi)",
        "Competency-gap heatmap (unit × competency)",
    ),
    "heatmap_help": (
        "Angka: rata-rata kesenjangan (level) pegawai unit pada kompetensi itu; makin gelap makin besar. "
        "Kosong: kompetensi tidak ada pada standar jabatan unit itu. {shown} kompetensi dengan "
        "kesenjangan total terbesar.",
        "Numbers: the unit's mean gap (levels) in that competency; darker is larger. Blank: not in the "
        "standards of the unit's positions. The {shown} competencies with the largest total gap.",
    ),
    "unit": ("Unit", "Unit"),
    "talent": ("Kotak talenta (9 kotak)", "Talent grid (9 boxes)"),
    "talent_help": (
        "Kinerja dari predikat SKP terakhir; potensi dari level kompetensi manajerial. {missing} pegawai "
        "belum punya predikat tahunan.",
        "Performance from the latest SKP rating; potential from managerial competency levels. {missing} "
        "staff have no yearly rating yet.",
    ),
    "performance": ("Kinerja", "Performance"),
    "potential": ("Potensi", "Potential"),
    "band_above": ("Di atas ekspektasi", "Above expectations"),
    "band_meets": ("Sesuai ekspektasi", "Meets expectations"),
    "band_below": ("Di bawah ekspektasi", "Below expectations"),
    "band_high": ("Tinggi", "High"),
    "band_medium": ("Menengah", "Medium"),
    "band_low": ("Rendah", "Low"),
    "box": ("Kotak", "Box"),
    # unit
    "unit_title": ("Unit {unit}", "Unit {unit}"),
    "largest_gaps": ("Kesenjangan terbesar", "Largest gaps"),
    "jp": ("JP", "JP"),
    "position": ("Jabatan", "Position"),
    "all": ("Semua", "All"),
    "sort": ("Urutkan", "Sort"),
    "sort_gap": ("Kesenjangan terbesar", "Largest gap"),
    "sort_jp": ("Sisa JP terbanyak", "Most JP remaining"),
    "sort_nip": ("NIP", "NIP"),
    "competency": ("Kompetensi", "Competency"),
    "staff_shown": ("{shown} dari {total} pegawai", "{shown} of {total} staff"),
    # person
    "person": ("Pegawai {nip}", "Employee {nip}"),
    "gap_profile": ("Profil kesenjangan kompetensi", "Competency-gap profile"),
    "required": ("Standar", "Required"),
    "estimated": ("Perkiraan", "Estimated"),
    "gap": ("Kesenjangan", "Gap"),
    "gain": ("Manfaat (level)", "Gain (levels)"),
    "evidence": ("Bukti", "Evidence"),
    "recommendations": ("Rekomendasi pelatihan", "Recommended trainings"),
    "why": ("Mengapa", "Why"),
    "expected_benefit": ("Manfaat yang diharapkan", "Expected benefit"),
    "benefit_words": (
        "menutup sekitar {levels} level kesenjangan; {past} peserta sebelumnya, {done} selesai",
        "closes about {levels} levels of gap; {past} earlier participants, {done} completed",
    ),
    "cost": ("Biaya", "Cost"),
    "modality": ("Moda", "Modality"),
    "free": ("Tanpa biaya", "No cost"),
    "feedback_title": ("Catat tanggapan atau keberatan", "Record feedback or an objection"),
    "feedback_help": (
        "Dicatat atas nama pegawai, dengan kunci Anda. Keberatan (UU 27/2022 pasal 10) wajib disertai "
        "alasan.",
        "Recorded on the employee's behalf, under your key. An objection (UU 27/2022 art. 10) needs a "
        "reason.",
    ),
    "training": ("Pelatihan", "Training"),
    "event": ("Tanggapan", "Response"),
    "event_accepted": ("Diterima", "Accepted"),
    "event_rejected": ("Ditolak", "Rejected"),
    "event_enrolled": ("Mendaftar", "Enrolled"),
    "event_completed": ("Selesai", "Completed"),
    "event_objected": ("Keberatan", "Objection"),
    "event_resolved": ("Keberatan selesai ditinjau", "Objection resolved"),
    "objections_title": ("Keberatan yang berlaku", "Standing objections"),
    "objections_help": (
        "Pelatihan berikut tidak direkomendasikan kepada pegawai ini sampai keberatannya dinyatakan selesai "
        "ditinjau (dengan alasan).",
        "These trainings are not recommended to this employee until the objection is resolved (with a "
        "reason).",
    ),
    "resolve_this": ("Nyatakan selesai ditinjau", "Resolve"),
    "reason": ("Alasan", "Reason"),
    "record": ("Simpan", "Save"),
    "recorded": (
        "Tersimpan: {event} untuk {training} (nomor {id}).",
        "Saved: {event} for {training} (no. {id}).",
    ),
    "object_this": ("Ajukan keberatan", "Object"),
    "mandatory_person": ("Program wajib", "Mandatory programmes"),
    "jp_person": (
        "JP tahun {year}: {earned} dari {target} (sisa {remaining})",
        "JP in {year}: {earned} of {target} ({remaining} to go)",
    ),
    "no_recs": ("Belum ada rekomendasi untuk pegawai ini.", "No recommendations for this employee yet."),
    # measured effectiveness of a course (#16)
    "effect": ("Efektivitas terukur", "Measured effectiveness"),
    "effect_measured": (
        "{effect} level (kisaran {low} sampai {high}), dari {n} peserta yang terukur",
        "{effect} levels (range {low} to {high}), from {n} measured participants",
    ),
    "effect_unclear": (
        "belum terbukti lebih baik daripada tidak ikut",
        "not clearly better than not taking it",
    ),
    "effect_mostly_kind": ("sebagian besar dari pelatihan sejenis", "mostly from similar courses"),
    "effect_too_few": (
        "belum cukup peserta untuk diukur ({n} peserta yang terukur)",
        "too few participants to measure it ({n} measured participants)",
    ),
    "effect_not_yet": (
        "belum diukur (pelatihan baru di katalog)",
        "not measured yet (new in the catalogue)",
    ),
    "effect_what": ("Apa artinya?", "What does this mean?"),
    "effect_help": (
        "Peserta pelatihan ini dibandingkan dengan pegawai serupa yang belum mengikutinya. Angkanya: "
        "berapa level kompetensi (hasil pengukuran) yang naik lebih banyak pada peserta. Level dijumlahkan "
        "untuk kompetensi yang dituju pelatihan. Peserta yang terukur: peserta yang selesai dan tingkat "
        "kompetensinya bisa diukur sebelum dan sesudah pelatihan. Kisaran: nilai sebenarnya hampir pasti "
        "({share}) ada di dalamnya. Dihitung dari data sampai {date}. Paling berguna untuk membandingkan "
        "pelatihan satu dengan yang lain.",
        "The participants of this training are compared with similar staff who had not taken it. The "
        "number: how many more levels of measured competency the participants rose. Levels are added up "
        "over the competencies the training targets. Measured participants: those who completed it and "
        "whose competency levels could be measured before and after. Range: the true value is almost "
        "certainly ({share}) inside it. Computed from data up to {date}. Most useful for comparing one "
        "training with another.",
    ),
    "effect_own": (
        "Hasil peserta pelatihan ini sendiri: {effect} level.",
        "This training's own participants: {effect} levels.",
    ),
    "effect_kind": (
        "Hasil pelatihan sejenis (moda sama, lama serupa): {effect} level.",
        "Similar courses (same modality, similar length): {effect} levels.",
    ),
    "effect_leans_kind": (
        "Angka efektivitas di atas menggabungkan keduanya. Angka itu sebagian besar dari pelatihan sejenis.",
        "The effectiveness figure above combines the two. It comes mostly from similar courses.",
    ),
    "effect_leans_own": (
        "Angka efektivitas di atas menggabungkan keduanya. Angka itu sebagian besar dari pesertanya sendiri.",
        "The effectiveness figure above combines the two. It comes mostly from its own participants.",
    ),
    "effect_indistinct": (
        "Data pesertanya belum cukup untuk membedakan pelatihan ini dari pelatihan sejenis.",
        "Its participants' data cannot yet tell this training apart from similar courses.",
    ),
    "effect_provider": ("Semua pelatihan penyelenggara {name}", "All trainings by {name}"),
    "effect_modality": ("Semua pelatihan dengan moda {name}", "All trainings in the {name} modality"),
    "effect_pooled": (
        "{effect} level, dari {n} peserta yang terukur",
        "{effect} levels, from {n} measured participants",
    ),
    "effect_pooled_few": ("belum cukup peserta ({n} yang terukur)", "too few participants ({n} measured)"),
    # plan
    "plan_title": ("Penyusun rencana (AKPK)", "Plan builder (AKPK)"),
    "plan_help": (
        "Program wajib didanai lebih dulu, lalu sebanyak mungkin pegawai mencapai {jp} JP, lalu manfaat "
        "terbesar. Penyusunan bisa memakan waktu sampai satu menit.",
        "Mandatory programmes are funded first, then as many staff as possible reach {jp} JP, then the "
        "largest benefit. Building can take up to a minute.",
    ),
    "budget": ("Anggaran (rupiah)", "Budget (rupiah)"),
    "budget_hint": ("Contoh: 500.000.000", "For example: 500,000,000"),
    "min_jp": ("JP minimal per orang", "Minimum JP per person"),
    "only_unit": ("Hanya unit (kosongkan untuk semua)", "Only unit (empty: all)"),
    "cap": ("Batas biaya per orang (rupiah, boleh kosong)", "Cost cap per person (rupiah, optional)"),
    "build": ("Susun rencana", "Build the plan"),
    "building": ("Menyusun rencana…", "Building the plan…"),
    "bad_budget": ("Anggaran harus berupa angka rupiah lebih dari 0.", "The budget must be rupiah above 0."),
    "bad_number": ("{field}: bukan angka yang dapat dibaca.", "{field}: not a number I can read."),
    "plan_result": ("Rencana {agency} tahun {year}", "Plan for {agency}, {year}"),
    "plan_made": ("Disusun {when} dengan model v{version}", "Made {when} with model v{version}"),
    "coverage": ("Pegawai mencapai {jp} JP", "Staff reaching {jp} JP"),
    "spent": ("Biaya rencana", "Planned cost"),
    "of_budget": ("dari anggaran {budget}", "of a {budget} budget"),
    "gain_total": ("Perkiraan kesenjangan yang tertutup", "Expected gap closed"),
    "levels": ("level", "levels"),
    "for_all": ("Biaya agar semua pegawai mencapai {jp} JP", "Cost for everyone to reach {jp} JP"),
    "what_binds": ("Yang membatasi rencana", "What limits the plan"),
    "by_unit": ("Per unit", "By unit"),
    "by_group": ("Per kelompok", "By group"),
    "group": ("Kelompok", "Group"),
    "at_floor": ("Mencapai JP", "At the floor"),
    "share": ("Bagian", "Share"),
    "trainings": ("Pelatihan", "Trainings"),
    "download_xlsx": ("Unduh Excel (XLSX)", "Download Excel (XLSX)"),
    "download_csv": ("Unduh CSV", "Download CSV"),
    "what_if": ("Bagaimana jika anggarannya lain?", "What if the budget were different?"),
    "what_if_help": (
        "Rencana dihitung ulang untuk beberapa anggaran (bisa sampai beberapa menit).",
        "The plan is computed again for several budgets (can take a few minutes).",
    ),
    "what_if_run": ("Hitung perbandingan", "Compare budgets"),
    "budget_axis": ("Anggaran (juta rupiah)", "Budget (million rupiah)"),
    "mandatory_funded": ("Program wajib didanai", "Mandatory funded"),
    "solver": ("Status penyelesaian", "Solver status"),
    "made": ("Disusun", "Made"),
    "dimension": ("Dimensi", "Dimension"),
    "value": ("Nilai", "Value"),
    "recent_plans": ("Rencana terakhir", "Recent plans"),
    "dimension_unit_id": ("Unit", "Unit"),
    "dimension_gender": ("Jenis kelamin", "Gender"),
    "dimension_status": ("Status kepegawaian", "Employment status"),
    "dimension_all": ("Semua", "All"),
    # model
    "model_title": ("Model yang dipakai", "The serving model"),
    "version": ("Versi", "Version"),
    "trained_as_of": ("Dilatih dengan data sampai", "Trained on data up to"),
    "snapshot": ("Snapshot yang dinilai", "Snapshot scored"),
    "loaded_at": ("Dimuat", "Loaded"),
    "quality": ("Mutu dibanding cara lain", "Quality against the baselines"),
    "quality_help": (
        "Diukur pada pegawai yang disisihkan saat pelatihan (tahun validasi). NDCG@10: seberapa tinggi "
        "pelatihan yang benar-benar membantu muncul di 10 teratas (0-1, makin besar makin baik).",
        "Measured on employees held out of training (the validation year). NDCG@10: how high the "
        "trainings that actually helped rank in the top 10 (0-1, higher is better).",
    ),
    "method": ("Cara", "Method"),
    "fairness": ("Keadilan per kelompok", "Fairness by group"),
    "fairness_help": (
        "Mutu dan paparan rekomendasi per kelompok pegawai; selisih besar antarkelompok perlu diperiksa.",
        "Quality and exposure of recommendations by group of staff; a large difference between groups "
        "needs a look.",
    ),
    "exposure": ("Paparan", "Exposure"),
    "employees": ("Pegawai", "Employees"),
    "no_report": (
        "Laporan evaluasi model ini tidak ditemukan di MLflow.",
        "This model's evaluation report is not in MLflow.",
    ),
    # errors
    "error_title": ("Ada masalah", "Something is wrong"),
    "forbidden": ("Anda tidak berhak membuka halaman ini.", "You may not open this page."),
    "not_found": ("Halaman atau data tidak ditemukan.", "Page or data not found."),
    "not_ready": ("Layanan belum siap: {why}", "The service is not ready: {why}"),
}


def text(key: str, lang: Lang, **values: object) -> str:
    """The words of ``key`` in ``lang``, with ``values`` filled in (an unknown key shows itself)."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    chosen = pair[0] if lang == "id" else pair[1]
    return chosen.format(**values) if values else chosen


def missing() -> list[str]:
    """Keys whose Indonesian or English words are empty (kept empty by a test)."""
    return [key for key, (id_, en) in TEXTS.items() if not id_.strip() or not en.strip()]


def formatters(lang: Lang) -> dict[str, Callable[..., str]]:
    """The template helpers of one language: ``t``, ``num``, ``signed`` (``+0,12``), ``idr`` (exact),
    ``idr_short``, ``pct``, ``date``."""

    def num(value: float | None, decimals: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return number(value, lang, decimals)

    def signed(value: float | None, decimals: int = 0) -> str:
        """A change: ``+0,12``, ``-0,05``, and ``0,00`` without a sign when it rounds to nothing."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        shown = round(float(value), decimals)
        return ("+" if shown > 0 else "") + number(shown if shown != 0 else 0.0, lang, decimals)

    def idr(value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{'Rp' if lang == 'id' else 'IDR'} {number(round(value), lang)}"

    def idr_short(value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return rupiah(float(value), lang)

    def pct(value: float | None, decimals: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{number(100 * value, lang, decimals)}%"

    def date(value: dt.date | dt.datetime | str | None) -> str:
        if value is None:
            return "–"
        if isinstance(value, str):
            value = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime):
            return value.strftime("%d-%m-%Y %H:%M") + (" UTC" if value.tzinfo else "")
        return value.strftime("%d-%m-%Y")

    return {
        "t": lambda key, **values: text(key, lang, **values),
        "num": num,
        "signed": signed,
        "idr": idr,
        "idr_short": idr_short,
        "pct": pct,
        "date": date,
    }


def parse_rupiah(raw: str) -> int | None:
    """A rupiah amount as a planner types it (``500.000.000``, ``Rp 500,000,000``, ``500000000``); None
    when it is not a whole number. Indonesian and English digit grouping are both read: every '.', ','
    and space is taken as grouping (amounts in rupiah have no decimals)."""
    cleaned = raw.strip().lower().removeprefix("rp").removeprefix("idr").strip()
    for mark in (".", ",", " ", "\u00a0", "_"):
        cleaned = cleaned.replace(mark, "")
    if not cleaned.isdigit() or len(cleaned) > 18:
        return None
    return int(cleaned)
