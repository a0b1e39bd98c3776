"""Enumerations of the data contract (data-contract.md), exactly as agencies must write them."""

from __future__ import annotations

COMPETENCY_GROUPS = ("teknis", "manajerial", "sosial_kultural")
NATIONAL_COMPETENCIES = (
    "integritas",
    "kerja_sama",
    "komunikasi",
    "orientasi_hasil",
    "pelayanan_publik",
    "pengembangan_diri",
    "mengelola_perubahan",
    "pengambilan_keputusan",
    "perekat_bangsa",
)
JENIS_JABATAN = (
    "jpt_utama",
    "jpt_madya",
    "jpt_pratama",
    "administrator",
    "pengawas",
    "pelaksana",
    "fungsional",
)
JENJANG = ("ahli_utama", "ahli_madya", "ahli_muda", "ahli_pertama", "penyelia", "mahir", "terampil", "pemula")
STATUS = ("pns", "pppk")
GENDER = ("l", "p")
EDUCATION = ("sd", "smp", "sma", "d1", "d2", "d3", "d4", "s1", "s2", "s3")
GOLONGAN_PNS = tuple(
    f"{r}/{s}"
    for r, steps in (("I", "abcd"), ("II", "abcd"), ("III", "abcd"), ("IV", "abcde"))
    for s in steps
)
GOLONGAN_PPPK = (
    "I",
    "II",
    "III",
    "IV",
    "V",
    "VI",
    "VII",
    "VIII",
    "IX",
    "X",
    "XI",
    "XII",
    "XIII",
    "XIV",
    "XV",
    "XVI",
    "XVII",
)
MODALITY = (
    "klasikal",
    "e_learning",
    "blended",
    "coaching",
    "mentoring",
    "magang",
    "seminar",
    "workshop",
    "belajar_mandiri",
    "detasering",
    "benchmarking",
)
# The contract lists these conditions as examples ("such as"); the two JPT ones complete the set of
# mandatory programmes named in domain.md (PKN II for new JPT Pratama, PKN I for new JPT Madya).
MANDATORY_CONDITIONS = ("cpns", "new_pengawas", "new_administrator", "new_jpt_pratama", "new_jpt_madya")
LANGUAGE = ("id", "en")
METHOD = ("assessment_center", "metode_sederhana", "cat", "uji_kompetensi", "360", "self")
RATING3 = ("di_atas_ekspektasi", "sesuai_ekspektasi", "di_bawah_ekspektasi")
PREDIKAT = ("sangat_baik", "baik", "butuh_perbaikan", "kurang", "sangat_kurang")
CORE_VALUES = (
    "berorientasi_pelayanan",
    "akuntabel",
    "kompeten",
    "harmonis",
    "loyal",
    "adaptif",
    "kolaboratif",
)
ASPECT = ("kuantitas", "kualitas", "waktu", "biaya")
FEEDBACK_SOURCE = ("atasan", "rekan", "bawahan", "publik")
SKM_ELEMENTS = (
    "persyaratan",
    "prosedur",
    "waktu",
    "biaya",
    "produk",
    "kompetensi_pelaksana",
    "perilaku_pelaksana",
    "pengaduan",
    "sarana",
)
TRAINING_STATUS = ("enrolled", "completed", "dropped", "failed")

# Predikat matrix of PermenPANRB 6/2022: (hasil_kerja, perilaku_kerja) -> predikat.
PREDIKAT_MATRIX: dict[tuple[str, str], str] = {
    ("di_atas_ekspektasi", "di_atas_ekspektasi"): "sangat_baik",
    ("di_atas_ekspektasi", "sesuai_ekspektasi"): "baik",
    ("di_atas_ekspektasi", "di_bawah_ekspektasi"): "kurang",
    ("sesuai_ekspektasi", "di_atas_ekspektasi"): "baik",
    ("sesuai_ekspektasi", "sesuai_ekspektasi"): "baik",
    ("sesuai_ekspektasi", "di_bawah_ekspektasi"): "kurang",
    ("di_bawah_ekspektasi", "di_atas_ekspektasi"): "butuh_perbaikan",
    ("di_bawah_ekspektasi", "sesuai_ekspektasi"): "butuh_perbaikan",
    ("di_bawah_ekspektasi", "di_bawah_ekspektasi"): "sangat_kurang",
}
