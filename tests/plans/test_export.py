"""Plan files: CSV and Parquet keep NIPs as text and show reasons in the chosen language; the workbook has a
summary sheet and one sheet per unit with Excel-safe names, labelled headers and number formats; writes are
atomic; money reads as planners say it; the what-if chart is a PNG."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from rekomendasi import atomic
from rekomendasi.errors import BadRequest
from rekomendasi.plans import export
from rekomendasi.plans.export import plan_bytes, rupiah, what_if_chart, write_plan
from rekomendasi.plans.schemas import (
    ASSIGNMENT_COLUMNS,
    OUTPUT_COLUMNS,
    Assignments,
    Binding,
    GroupLine,
    Plan,
    PlanRequest,
    PlanSummary,
)

LONG_A = "Biro Perencanaan dan Keuangan Pusat A"
LONG_B = "Biro Perencanaan dan Keuangan Pusat B"  # the same as LONG_A in its first 31 characters
AWKWARD = "Bagian/Umum:*?"
# (unit, nip, mandatory) per row; 10 rows over 4 units, sorted as a plan is (unit, nip, mandatory first)
ROWS = [
    (AWKWARD, "000000000000000001", True),
    (AWKWARD, "000000000000000001", False),
    (LONG_A, "000000000000000002", False),
    (LONG_A, "000000000000000003", False),
    (LONG_A, "000000000000000003", False),
    (LONG_B, "019850101201001002", False),
    (LONG_B, "019850101201001002", False),
    ("U-01", "198501012010011001", False),
    ("U-01", "198501012010011001", False),
    ("U-01", "199001012015012002", False),
]
SHEETS = [
    "Ringkasan",
    "Bagian_Umum___",
    "Biro Perencanaan dan Keuangan P",
    "Biro Perencanaan dan Keuang (2)",
    "U-01",
]
UNIT_ROWS = {
    "Bagian_Umum___": 2,
    "Biro Perencanaan dan Keuangan P": 3,
    "Biro Perencanaan dan Keuang (2)": 2,
    "U-01": 3,
}
BUDGET_ID = "Anggaran Rp 1,2 M memenuhi 20 JP untuk 61% pegawai; untuk semua pegawai dibutuhkan Rp 2,0 M."
BUDGET_EN = "A budget of IDR 1.2 bn brings 61% of staff to 20 JP; all staff need IDR 2.0 bn."


def make_plan(lang: str = "id", budget_for_all: int | None = 2_000_000_000) -> Plan:
    """A valid 10-assignment plan: a mandatory row without gain, NIPs with leading zeros, awkward unit ids."""
    n = len(ROWS)
    mandatory = [m for _, _, m in ROWS]
    frame = pd.DataFrame(
        {
            "nip": [nip for _, nip, _ in ROWS],
            "unit_id": [unit for unit, _, _ in ROWS],
            "training_id": [f"T-{i:03d}" for i in range(n)],
            "title": [f'Pelatihan {i}, "dasar"' for i in range(n)],
            "modality": ["classroom" if i % 2 else "e_learning" for i in range(n)],
            "jp": [8.0 + i for i in range(n)],
            "cost_idr": [1_250_000 * (i + 1) for i in range(n)],
            "expected_gain": [np.nan if m else 0.125 * (i + 1) for i, m in enumerate(mandatory)],
            "mandatory": mandatory,
            "competencies": ["" if m else "K-01;K-02" for m in mandatory],
            "reason_id": [f"Menutup kesenjangan {i}." for i in range(n)],
            "reason_en": [f"Closes gap {i}." for i in range(n)],
        }
    )
    frame = Assignments.validate(frame.astype({"cost_idr": "int64"})[list(ASSIGNMENT_COLUMNS)])
    request = PlanRequest(agency="I-32", budget_idr=1_200_000_000, year=2026, lang=lang)  # type: ignore[arg-type]
    summary = PlanSummary(
        agency="I-32",
        unit=None,
        year=2026,
        as_of=dt.date(2025, 12, 31),
        budget_idr=1_200_000_000,
        total_cost_idr=int(frame["cost_idr"].sum()),
        min_jp=20.0,
        staff=100,
        at_floor=61,
        expected_gain=5.5,
        mandatory_due=2,
        mandatory_funded=1,
        budget_for_all_idr=budget_for_all,
        solver_status="time limit",
        mip_gap=0.0125,
        solve_seconds=1.5,
        groups=(
            GroupLine("all", "all", 100, 61, 68_750_000, 5.5, 10),
            GroupLine("unit_id", "U-01", 40, 30, 30_000_000, 2.25, 3),
            GroupLine("gender", "P", 55, 33, 35_000_000, 3.0, 6),
        ),
        binding=(Binding("budget", BUDGET_ID, BUDGET_EN, 800_000_000.0),),
        snapshot_id="2025-12-31-abcdef123456",
        model_version="7",
        model_run_id="run-7",
    )
    return Plan(request, frame, summary)


@pytest.fixture()
def plan() -> Plan:
    return make_plan()


def facts(sheet: Worksheet) -> dict[str, tuple[object, object]]:
    """The summary sheet's label -> (value, value in words) rows: from row 3 to the first empty row."""
    out: dict[str, tuple[object, object]] = {}
    for label, value, words in sheet.iter_rows(min_row=3, max_col=3):
        if label.value is None:
            break
        out[str(label.value)] = (value.value, words.value)
    return out


# CSV and Parquet


@pytest.mark.parametrize("lang", ["id", "en"])
def test_csv_keeps_nips_as_text_and_reasons_in_the_language(plan: Plan, tmp_path: Path, lang: str) -> None:
    path = write_plan(plan, tmp_path / "out" / "plan.csv", lang)  # type: ignore[arg-type]
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # UTF-8 without BOM, as contract.writing.write_table
    assert b"000000000000000001" in raw and b"E+" not in raw and b"e+" not in raw
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == list(OUTPUT_COLUMNS)
    assert back["nip"].tolist() == plan.assignments["nip"].tolist()
    assert back["reason"].tolist() == plan.assignments[f"reason_{lang}"].tolist()
    assert back["mandatory"].tolist()[:3] == ["true", "false", "false"]
    assert back["expected_gain"].iloc[0] == ""  # the mandatory row has no gain
    assert float(back["expected_gain"].iloc[1]) == 0.25
    assert back["cost_idr"].iloc[9] == "12500000"
    assert back["title"].iloc[0] == 'Pelatihan 0, "dasar"'
    assert raw == plan_bytes(plan, "csv", lang)  # type: ignore[arg-type]


def test_the_language_defaults_to_the_request(tmp_path: Path) -> None:
    back = pd.read_csv(write_plan(make_plan("en"), tmp_path / "plan.CSV"), dtype=str)
    assert back["reason"].iloc[0] == "Closes gap 0."


def test_parquet_round_trip(plan: Plan, tmp_path: Path) -> None:
    back = pd.read_parquet(write_plan(plan, tmp_path / "plan.parquet", "en"))
    assert list(back.columns) == list(OUTPUT_COLUMNS)
    assert back["nip"].tolist() == plan.assignments["nip"].tolist()
    assert back["nip"].iloc[0] == "000000000000000001"
    assert back["reason"].iloc[3] == "Closes gap 3."
    assert back["cost_idr"].dtype == "int64" and back["mandatory"].dtype == bool
    assert np.isnan(back["expected_gain"].iloc[0]) and back["expected_gain"].iloc[9] == 1.25


def test_an_empty_plan_writes_headers_only(plan: Plan, tmp_path: Path) -> None:
    empty = dataclasses.replace(plan, assignments=plan.assignments.iloc[:0])
    back = pd.read_csv(write_plan(empty, tmp_path / "plan.csv"), dtype=str)
    assert list(back.columns) == list(OUTPUT_COLUMNS) and back.empty
    book = openpyxl.load_workbook(io.BytesIO(plan_bytes(empty, "xlsx")))
    assert book.sheetnames == ["Ringkasan"]


# XLSX


def test_workbook_sheets_are_the_summary_and_one_per_unit(plan: Plan, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_plan(plan, tmp_path / "plan.xlsx"))
    assert book.sheetnames == SHEETS
    for name, rows in UNIT_ROWS.items():
        assert book[name].max_row == rows + 1
    assert book["Bagian_Umum___"]["B2"].value == AWKWARD  # the full unit id stays in the rows
    assert book["Biro Perencanaan dan Keuang (2)"]["B2"].value == LONG_B


@pytest.mark.parametrize(
    ("lang", "headers", "yes_no"),
    [
        (
            "id",
            ["NIP", "Unit kerja", "ID pelatihan", "Judul", "Moda", "JP", "Biaya (Rp)",
             "Perkiraan penutupan kesenjangan (level)", "Wajib", "Kompetensi", "Alasan"],
            ("Ya", "Tidak"),
        ),
        (
            "en",
            ["NIP", "Work unit", "Training ID", "Title", "Modality", "JP", "Cost (IDR)",
             "Expected gap closure (levels)", "Mandatory", "Competencies", "Reason"],
            ("Yes", "No"),
        ),
    ],
)  # fmt: skip
def test_unit_sheets_have_labels_types_and_formats(
    plan: Plan, lang: str, headers: list[str], yes_no: tuple[str, str]
) -> None:
    book = openpyxl.load_workbook(io.BytesIO(plan_bytes(plan, "xlsx", lang)))  # type: ignore[arg-type]
    sheet = book["Bagian_Umum___"]
    assert [cell.value for cell in sheet[1]] == headers
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:K3"
    mandatory, personal = sheet[2], sheet[3]
    assert mandatory[0].value == "000000000000000001" and mandatory[0].data_type == "s"
    assert mandatory[6].value == 1_250_000 and mandatory[6].number_format == "#,##0"
    assert mandatory[7].value is None  # no gain for a mandatory programme
    assert personal[7].value == 0.25 and personal[7].number_format == "0.00"
    assert (mandatory[8].value, personal[8].value) == yes_no
    assert mandatory[10].value == ("Menutup kesenjangan 0." if lang == "id" else "Closes gap 0.")
    assert mandatory[10].alignment.wrap_text
    assert sheet.column_dimensions["K"].width > sheet.column_dimensions["F"].width
    other = book["U-01"]
    assert [row[0].value for row in other.iter_rows(min_row=2)] == ["198501012010011001"] * 2 + [
        "199001012015012002"
    ]
    assert all(row[0].data_type == "s" for row in other.iter_rows(min_row=2))
    assert all(isinstance(row[6].value, int) for row in other.iter_rows(min_row=2))


def test_summary_sheet_in_indonesian(plan: Plan) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(plan_bytes(plan, "xlsx")))["Ringkasan"]
    found = facts(sheet)
    assert found["Instansi"] == ("I-32", None)
    assert found["Unit kerja"] == ("Semua unit", None)
    assert found["Tahun rencana"][0] == 2026
    assert found["Data per tanggal"][0] == dt.datetime(2025, 12, 31)
    assert found["Anggaran (Rp)"] == (1_200_000_000, "Rp 1,2 M")
    assert found["Total biaya (Rp)"] == (68_750_000, "Rp 68,8 jt")
    assert found["Pegawai yang mencapai batas JP"][0] == 61
    assert found["Persentase pegawai yang mencapai batas JP"][0] == pytest.approx(0.61)
    assert found["Program wajib jatuh tempo"][0] == 2 and found["Program wajib terdanai"][0] == 1
    assert found["Anggaran agar semua pegawai mencapai batas JP (Rp)"] == (2_000_000_000, "Rp 2,0 M")
    assert found["Status solver"][0] == "batas waktu tercapai"
    assert found["Selisih optimalitas"][0] == 0.0125
    assert found["Versi model"][0] == "7" and found["ID snapshot"][0] == "2025-12-31-abcdef123456"
    budget = next(row[1] for row in sheet.iter_rows() if row[0].value == "Anggaran (Rp)")
    assert budget.number_format == "#,##0"
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = rows.index(["Dimensi", "Kelompok", "Pegawai", "Mencapai batas JP", "Persentase", "Biaya (Rp)",
                         "Perkiraan penutupan kesenjangan (level)", "Penugasan"])  # fmt: skip
    assert rows[header + 1] == ["Semua pegawai", "Semua pegawai", 100, 61, 0.61, 68_750_000, 5.5, 10]
    assert rows[header + 2][:3] == ["Unit kerja", "U-01", 40]
    assert rows[header + 3][:2] == ["Jenis kelamin", "P"]
    assert rows[-2][0] == "Yang membatasi rencana" and rows[-1][0] == BUDGET_ID


def test_summary_sheet_in_english_without_a_budget_for_all(plan: Plan) -> None:
    unreachable = dataclasses.replace(
        plan, summary=dataclasses.replace(plan.summary, budget_for_all_idr=None, binding=(), mip_gap=np.nan)
    )
    book = openpyxl.load_workbook(io.BytesIO(plan_bytes(unreachable, "xlsx", "en")))
    assert book.sheetnames[0] == "Summary"
    found = facts(book["Summary"])
    assert found["Budget (IDR)"] == (1_200_000_000, "IDR 1.2 bn")
    assert found["Budget for all staff to reach the JP floor (IDR)"] == (
        "not reachable with the current catalogue",
        None,
    )
    assert found["Optimality gap"] == (None, None)  # NaN written as an empty cell, never 'nan'
    assert found["Solver status"][0] == "time limit"
    last = [row[0].value for row in book["Summary"].iter_rows()][-2:]
    assert last == ["What limits the plan", "Nothing"]


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("ringkasan", "ringkasan (2)"),  # the summary sheet's name, ignoring case
        ("History", "History (2)"),  # reserved by Excel
        ("'Biro'", "Biro"),
        ("[]", "__"),
        ("   ", "Unit"),
        ("x" * 40, "x" * 31),
    ],
)
def test_sheet_names_follow_excel_rules(unit: str, expected: str) -> None:
    taken = {"ringkasan", "history"}
    name = export._sheet_name(unit, taken)
    assert name == expected and len(name) <= 31 and name.casefold() in taken


# errors and atomic writes


@pytest.mark.parametrize("name", ["plan.txt", "plan.json", "plan", "plan.xls"])
def test_other_suffixes_are_refused(plan: Plan, tmp_path: Path, name: str) -> None:
    with pytest.raises(BadRequest, match=r"\.csv, \.parquet, \.xlsx"):
        write_plan(plan, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_or_language_is_refused(plan: Plan) -> None:
    with pytest.raises(BadRequest, match="pdf"):
        plan_bytes(plan, "pdf")  # type: ignore[arg-type]
    with pytest.raises(BadRequest, match="'fr'"):
        plan_bytes(plan, "csv", "fr")  # type: ignore[arg-type]


def test_a_write_leaves_no_temporary_file(plan: Plan, tmp_path: Path) -> None:
    for suffix in (".csv", ".parquet", ".xlsx"):
        write_plan(plan, tmp_path / f"plan{suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.csv", "plan.parquet", "plan.xlsx"]


def test_a_failed_write_keeps_the_old_file(
    plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("old plan\n", encoding="utf-8")

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_plan(plan, target)
    assert target.read_text(encoding="utf-8") == "old plan\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.csv"]


# money in words


@pytest.mark.parametrize(
    ("amount", "id_text", "en_text"),
    [
        (0, "Rp 0", "IDR 0"),
        (-0.4, "Rp 0", "IDR 0"),
        (999, "Rp 999", "IDR 999"),
        (12_500, "Rp 12.500", "IDR 12,500"),
        (999_999.4, "Rp 999.999", "IDR 999,999"),
        (999_999.6, "Rp 1 jt", "IDR 1 m"),  # rounds up to a million: shown in juta
        (1_000_000, "Rp 1 jt", "IDR 1 m"),
        (12_500_000, "Rp 12,5 jt", "IDR 12.5 m"),
        (12_040_000, "Rp 12 jt", "IDR 12 m"),
        (850_000_000, "Rp 850 jt", "IDR 850 m"),
        (999_940_000, "Rp 999,9 jt", "IDR 999.9 m"),
        (999_960_000, "Rp 1,0 M", "IDR 1.0 bn"),  # not "Rp 1000 jt"
        (1_200_000_000, "Rp 1,2 M", "IDR 1.2 bn"),
        (1_250_000_000, "Rp 1,3 M", "IDR 1.3 bn"),  # half up
        (2_000_000_000, "Rp 2,0 M", "IDR 2.0 bn"),  # one decimal always in miliar
        (999_949_999_999, "Rp 999,9 M", "IDR 999.9 bn"),
        (1_500_000_000_000, "Rp 1,5 T", "IDR 1.5 tn"),
        (2.5e15, "Rp 2.500,0 T", "IDR 2,500.0 tn"),
        (-850_000_000, "-Rp 850 jt", "-IDR 850 m"),
        (np.int64(12_500), "Rp 12.500", "IDR 12,500"),
    ],
)
def test_rupiah(amount: float, id_text: str, en_text: str) -> None:
    assert rupiah(amount, "id") == id_text
    assert rupiah(amount, "en") == en_text


def test_rupiah_refuses_what_is_not_an_amount() -> None:
    with pytest.raises(ValueError, match="finite"):
        rupiah(float("nan"), "id")


# what-if chart


def points() -> pd.DataFrame:
    budgets = [500_000_000, 1_000_000_000, 1_500_000_000, 2_000_000_000]
    return pd.DataFrame(
        {
            "budget_idr": budgets,
            "total_cost_idr": [b - 10_000_000 for b in budgets],
            "at_floor": [20, 45, 61, 100],
            "staff": [100] * 4,
            "share_at_floor": [0.2, 0.45, 0.61, 1.0],
            "expected_gain": [1.5, 3.0, 4.25, 5.0],
            "status": ["optimal"] * 4,
        }
    )


@pytest.mark.parametrize("lang", ["id", "en"])
def test_what_if_chart_is_a_png(tmp_path: Path, lang: str) -> None:
    path = what_if_chart(points(), tmp_path / "charts" / "what_if.png", lang)  # type: ignore[arg-type]
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert [p.name for p in path.parent.iterdir()] == ["what_if.png"]


def test_what_if_chart_needs_its_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="share_at_floor"):
        what_if_chart(points().drop(columns="share_at_floor"), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_a_unit_planned_only_mandatory_programmes_gets_its_sheet(plan: Plan) -> None:
    """Its expected gains are all missing (mandatory rows have none): the column width once failed on it."""
    rows = plan.assignments
    unit = rows["unit_id"].iloc[0]
    mandatory_only = rows.assign(
        expected_gain=rows["expected_gain"].where(rows["unit_id"] != unit, np.nan),
        mandatory=rows["mandatory"] | (rows["unit_id"] == unit),
    )
    book = openpyxl.load_workbook(
        io.BytesIO(plan_bytes(dataclasses.replace(plan, assignments=mandatory_only), "xlsx"))
    )
    assert book.sheetnames == SHEETS
