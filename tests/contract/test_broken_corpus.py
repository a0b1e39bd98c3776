"""The corpus of broken data directories: each case asserts its exact outcome.

File-level problems stop the run with a DataContractError naming file and column and write nothing;
row-level problems quarantine exactly the broken rows with a reason, and everything else loads.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from rekomendasi.contract import load_dataset
from rekomendasi.contract.schemas import NIP_DIGITS
from rekomendasi.errors import DataContractError, QuarantineThresholdError
from tests.conftest import edit_csv, read_text_table


def _load(data_dir: Path):  # type: ignore[no-untyped-def]
    return load_dataset(data_dir, max_quarantine_share=None)


def _issues(dataset, table: str):  # type: ignore[no-untyped-def]
    return dataset.quarantine[dataset.quarantine["table"] == table]


def test_clean_world_loads_with_no_quarantine(world_copy: Path) -> None:
    dataset = load_dataset(world_copy)
    assert dataset.quarantine.empty
    employees = read_text_table(world_copy / "employees.csv")
    assert len(dataset["employees"]) == len(employees)
    assert dataset["employees"]["nip"].str.fullmatch(NIP_DIGITS).all()


# --- file-level problems: error naming the file (and column), nothing loaded ------------------------


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: (d / "positions.csv").unlink(),
            r"positions\.csv .*missing.*required table",
            id="missing-required-table",
        ),
        pytest.param(
            lambda d: edit_csv(d, "employees", lambda f: f.drop(columns=["status"])),
            r"employees\.csv: missing required column\(s\) \['status'\]",
            id="missing-column",
        ),
        pytest.param(
            lambda d: read_text_table(d / "skp.csv").to_parquet(d / "skp.parquet"),
            r"both skp\.csv and skp\.parquet",
            id="csv-and-parquet",
        ),
        pytest.param(
            lambda d: (d / "feedback.csv").write_bytes(b""),
            r"feedback\.csv: the file is empty",
            id="empty-file",
        ),
        pytest.param(
            lambda d: (d / "feedback.csv").write_bytes(
                (d / "feedback.csv").read_bytes() + "x,2024-01-01,rekan,3,Caf\xe9 enak,\n".encode("latin-1")
            ),
            r"feedback\.csv: not valid UTF-8 \(byte 0xe9 on line \d+\)",
            id="non-utf8",
        ),
        pytest.param(
            lambda d: edit_csv(d, "employees", lambda f: pd.concat([f, f.iloc[[3]]])),
            r"employees\.csv: duplicate primary key \(nip\): 2 rows",
            id="duplicate-key",
        ),
        pytest.param(
            lambda d: edit_csv(d, "position_standards", lambda f: pd.concat([f, f.iloc[[0]]])),
            r"position_standards\.csv: duplicate primary key \(position_id, competency_id\)",
            id="duplicate-composite-key",
        ),
        pytest.param(
            lambda d: (d / "competencies.csv").write_text("competency_id,group,name,description\n"),
            r"competencies\.csv: has a header but no rows",
            id="required-table-without-rows",
        ),
    ],
)
def test_file_level_problem_stops_the_run(world_copy: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    mutate(world_copy)
    with pytest.raises(DataContractError, match=expected):
        _load(world_copy)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="no such data directory"):
        _load(tmp_path / "nowhere")


def test_optional_table_may_be_absent_or_header_only(world_copy: Path) -> None:
    (world_copy / "daily_reports.csv").unlink()
    (world_copy / "feedback.csv").write_text("nip,given_on,source,rating,text,competency_id\n")
    dataset = load_dataset(world_copy)
    assert dataset["daily_reports"].empty and list(dataset["daily_reports"].columns) == [
        "nip",
        "date",
        "activity",
        "minutes",
        "indicator_id",
        "verified",
    ]
    assert dataset["feedback"].empty
    assert "daily_reports" not in dataset.present and "feedback" in dataset.present


def test_extra_columns_are_ignored(world_copy: Path) -> None:
    edit_csv(world_copy, "employees", lambda f: f.assign(keterangan="catatan bebas", unit_lama="X"))
    dataset = load_dataset(world_copy)
    assert "keterangan" not in dataset["employees"].columns
    assert dataset.quarantine.empty


# --- row-level problems: quarantined with table, row, column, value, reason ------------------------


def _set_cell(data_dir: Path, table: str, row: int, column: str, value: str) -> None:
    """Set data row ``row`` (1-based) of ``column``."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame.index[row - 1], column] = value
        return frame

    edit_csv(data_dir, table, edit)


@pytest.mark.parametrize(
    ("table", "column", "value", "reason"),
    [
        pytest.param(
            "employees",
            "nip",
            "19850101201001100",
            "NIP must be exactly 18 digits; it has 17",
            id="nip-17-digits",
        ),
        pytest.param(
            "employees",
            "nip",
            "19850101201001100A",
            "NIP must be exactly 18 digits; it contains other characters",
            id="nip-letters",
        ),
        pytest.param(
            "employees",
            "nip",
            "1.98501E+17",
            "NIP in scientific notation (a spreadsheet made it a number); export nip as text",
            id="nip-excel",
        ),
        pytest.param(
            "employees", "status", "honorer", "not an allowed value (pns, pppk; 2 allowed)", id="bad-enum"
        ),
        pytest.param("employees", "active", "ya", "not a boolean (true/false)", id="bad-bool"),
        pytest.param("position_standards", "required_level", "6", "must be <= 5", id="level-6"),
        pytest.param("assessments", "level", "6.0", "must be <= 5.0", id="assessment-level-6"),
        pytest.param(
            "assessments", "assessed_on", "31/12/2024", "not an ISO 8601 date (YYYY-MM-DD)", id="date-dmy"
        ),
        pytest.param(
            "assessments",
            "competency_id",
            "tek_sihir",
            "unknown competency_id: not in competencies (or quarantined there)",
            id="unknown-competency",
        ),
        pytest.param(
            "employees",
            "position_id",
            "pos.tidak.ada",
            "unknown position_id: not in positions (or quarantined there)",
            id="unknown-position",
        ),
        pytest.param(
            "training_history",
            "training_id",
            "TRN-9999",
            "unknown training_id: not in catalog (or quarantined there)",
            id="unknown-training",
        ),
        pytest.param(
            "skp",
            "nip",
            "199001012020011999",
            "unknown nip: not in employees (or quarantined there)",
            id="unknown-nip",
        ),
        pytest.param("skp", "period", "2024-13", "not a period (YYYY or YYYY-MM)", id="bad-period"),
        pytest.param("daily_reports", "minutes", "0", "must be >= 1", id="minutes-zero"),
        pytest.param("daily_reports", "minutes", "dua jam", "not a whole number", id="minutes-text"),
        pytest.param(
            "catalog",
            "eligible_jenis_jabatan",
            "fungsional;guru",
            "every ';'-separated item must be a jenis_jabatan",
            id="bad-list-item",
        ),
    ],
)
def test_row_level_problem_is_quarantined(
    world_copy: Path, table: str, column: str, value: str, reason: str
) -> None:
    before = len(read_text_table(world_copy / f"{table}.csv"))
    _set_cell(world_copy, table, 2, column, value)
    dataset = _load(world_copy)
    issues = _issues(dataset, table)
    assert issues[["row", "column", "value", "reason"]].values.tolist() == [[2, column, value, reason]]
    assert len(dataset[table]) == before - 1


def test_inconsistent_predikat_is_quarantined(world_copy: Path) -> None:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame.index[4], ["hasil_kerja", "perilaku_kerja", "predikat"]] = [
            "di_atas_ekspektasi",
            "di_atas_ekspektasi",
            "baik",
        ]
        return frame

    edit_csv(world_copy, "skp", edit)
    issues = _issues(_load(world_copy), "skp")
    assert issues[["row", "column", "value", "reason"]].values.tolist() == [
        [5, "predikat", "baik", "predikat does not match the matrix for hasil_kerja x perilaku_kerja"]
    ]


def test_completed_before_enrolled_is_quarantined(world_copy: Path) -> None:
    frame = read_text_table(world_copy / "training_history.csv")
    row = int((frame["status"] == "completed").to_numpy().argmax()) + 1
    _set_cell(world_copy, "training_history", row, "completed_on", "2001-01-01")
    issues = _issues(_load(world_copy), "training_history")
    assert issues[["row", "column", "reason"]].values.tolist() == [
        [row, "completed_on", "completed_on is before enrolled_on"]
    ]


def test_quarantined_employee_takes_its_evidence_with_it(world_copy: Path) -> None:
    employees = read_text_table(world_copy / "employees.csv")
    nip = employees.loc[0, "nip"]
    skp_rows = int((read_text_table(world_copy / "skp.csv")["nip"] == nip).sum())
    _set_cell(world_copy, "employees", 1, "status", "honorer")
    dataset = _load(world_copy)
    skp_issues = _issues(dataset, "skp")
    assert len(skp_issues) == skp_rows > 0
    assert set(skp_issues["reason"]) == {"unknown nip: not in employees (or quarantined there)"}


def test_malformed_record_is_quarantined_with_exact_row_numbers(world_copy: Path) -> None:
    path = world_copy / "jp_log.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3] + ",extra,fields"  # data row 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dataset = _load(world_copy)
    issues = _issues(dataset, "jp_log")
    assert issues[["row", "column"]].values.tolist() == [[3, "*"]]
    assert issues["reason"].iloc[0] == "record has 6 fields, the header has 4"
    assert len(dataset["jp_log"]) == len(lines) - 2


def test_share_above_threshold_fails_but_reports(world_copy: Path) -> None:
    edit_csv(world_copy, "jp_log", lambda f: f.assign(jp="-1"))
    dataset = _load(world_copy)
    assert dataset.report("jp_log").share_quarantined == 1.0
    with pytest.raises(
        QuarantineThresholdError, match=r"jp_log\.csv: \d+ of \d+ rows \(100\.0%\), mostly 'jp: must be > 0"
    ):
        dataset.enforce_quarantine_share(0.05)
    with pytest.raises(QuarantineThresholdError):
        load_dataset(world_copy)


def test_parquet_tables_load_like_csv(world_copy: Path) -> None:
    for name in ("employees", "assessments", "training_history"):
        csv_path = world_copy / f"{name}.csv"
        frame = pd.read_csv(csv_path, dtype={"nip": str})
        frame.to_parquet(world_copy / f"{name}.parquet")  # typed columns, as a real export would be
        csv_path.unlink()
    dataset = load_dataset(world_copy)
    assert dataset.quarantine.empty
    assert dataset["assessments"]["assessed_on"].dtype.kind == "M"


def test_parquet_nip_stored_as_number_is_quarantined(world_copy: Path) -> None:
    frame = pd.read_csv(world_copy / "employees.csv", dtype={"nip": str})
    frame["nip"] = frame["nip"].astype("int64")  # leading digits survive, but the type is wrong
    frame.loc[0, "nip"] = 12345678901234567  # 17 digits once the leading zero is lost
    frame.to_parquet(world_copy / "employees.parquet")
    (world_copy / "employees.csv").unlink()
    issues = _issues(_load(world_copy), "employees")
    assert issues[["row", "reason"]].values.tolist() == [[1, "NIP must be exactly 18 digits; it has 17"]]


@pytest.mark.slow
def test_million_row_file_with_one_bad_row(world_copy: Path) -> None:
    """A 1,000,000-row daily_reports file where one row is bad: quarantined, not fatal."""
    nips = read_text_table(world_copy / "employees.csv")["nip"].to_numpy()
    n = 1_000_000
    table = pa.table(
        {
            "nip": pa.array([nips[i % len(nips)] for i in range(n)]),
            "date": pa.array(["2025-11-03"] * n),
            "activity": pa.array(["Menyusun laporan kegiatan harian"] * n),
            "minutes": pa.array(["60"] * (n - 1) + ["-5"]),
            "indicator_id": pa.array([None] * n, type=pa.string()),
            "verified": pa.array(["true"] * n),
        }
    )
    pacsv.write_csv(table, world_copy / "daily_reports.csv")
    dataset = load_dataset(world_copy)
    assert len(dataset["daily_reports"]) == n - 1
    assert _issues(dataset, "daily_reports")[["row", "column", "value", "reason"]].values.tolist() == [
        [n, "minutes", "-5", "must be >= 1"]
    ]
