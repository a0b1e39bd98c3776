"""The load by agency (#14) says what the whole load says: the same quarantine rows in the same order,
the same reports, fingerprint and latest SKP year, and every clean row once, in its agency's part."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

from rekomendasi.contract import load_dataset
from rekomendasi.contract.byagency import PARTITIONED, AgencyData, latest_skp_year, load_by_agency
from rekomendasi.contract.reading import ROW
from rekomendasi.errors import DataContractError, QuarantineThresholdError
from rekomendasi.features.snapshot import data_fingerprint
from tests.conftest import edit_csv, read_text_table

# (table, data row, column, value): row-level problems spread over the files, so that with a few rows
# per chunk they land in different chunks, at the first and last rows of some.
_BROKEN = (
    ("employees", 2, "status", "honorer"),  # takes its evidence with it
    ("employees", 5, "nip", "1.98501E+17"),
    ("assessments", 1, "level", "6.0"),
    ("assessments", 7, "assessed_on", "31/12/2024"),
    ("skp", 3, "period", "2024-13"),
    ("skp", 14, "nip", "199001012020011999"),
    ("indicators", 8, "competency_id", "tek_sihir"),
    ("daily_reports", 7, "minutes", "dua jam"),
    ("daily_reports", 70, "minutes", "0"),
    ("training_history", 5, "training_id", "TRN-9999"),
    ("training_history", 6, "completed_on", "2001-01-01"),
)


@pytest.fixture()
def messy(world_copy: Path) -> Path:
    for table, row, column, value in _BROKEN:

        def edit(
            frame: pd.DataFrame, row: int = row, column: str = column, value: str = value
        ) -> pd.DataFrame:
            frame.loc[frame.index[row - 1], column] = value
            return frame

        edit_csv(world_copy, table, edit)
    path = world_copy / "jp_log.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in (3, 7, len(lines) - 1):  # data rows 3, 7 and the last: records with extra fields
        lines[line] += ",extra,fields"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return world_copy


def _parts_in_file_order(data: AgencyData, table: str) -> pd.DataFrame:
    parts = [data.parts.read(table, code) for code in range(len(data.agencies))]
    for part in parts:
        assert part[ROW].is_monotonic_increasing
    frame = pd.concat(parts, ignore_index=True).sort_values(ROW, kind="stable")
    return frame.drop(columns=[ROW]).reset_index(drop=True)


@pytest.mark.parametrize("chunk_rows", [7, 1_000_000])
def test_load_by_agency_says_what_the_whole_load_says(messy: Path, tmp_path: Path, chunk_rows: int) -> None:
    whole = load_dataset(messy, max_quarantine_share=None)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    tables: list[tuple[int, int]] = []
    data = load_by_agency(
        messy,
        scratch,
        max_quarantine_share=None,
        chunk_rows=chunk_rows,
        on_table=lambda done, total: tables.append((done, total)),
    )
    assert len(whole.quarantine) > 30  # the broken rows, the evidence of the quarantined employee, ...
    assert {"jp_log", "daily_reports", "training_history", "skp"} <= set(whole.quarantine["table"])
    pdt.assert_frame_equal(data.quarantine, whole.quarantine)
    assert data.reports == whole.reports
    assert data.present == whole.present
    assert data.fingerprint() == data_fingerprint(whole)
    assert data.latest_skp_year == latest_skp_year(whole["skp"]) is not None
    assert tables[-1] == (15, 15) and len(tables) == 15
    for name in PARTITIONED:
        pdt.assert_frame_equal(_parts_in_file_order(data, name), whole[name], obj=name)
    for name, frame in data.whole.items():
        pdt.assert_frame_equal(frame, whole[name], obj=name)
    # Each agency's part holds its own employees' rows only.
    for code, agency, staff in data.employees_by_agency():
        assert set(data.parts.read("skp", code)["nip"]) <= set(staff["nip"])
        assert (staff["instansi_id"] == agency).all()


def test_an_absent_or_empty_table_reads_as_empty_parts(world_copy: Path, tmp_path: Path) -> None:
    (world_copy / "feedback.csv").unlink()
    path = world_copy / "jp_log.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    whole = load_dataset(world_copy)
    data = load_by_agency(world_copy, tmp_path, max_quarantine_share=0.05)
    assert data.reports == whole.reports and data.fingerprint() == data_fingerprint(whole)
    for name in ("feedback", "jp_log"):
        part = data.parts.read(name, 0)
        assert part.empty and list(part.columns) == [ROW, *whole[name].columns]
        pdt.assert_frame_equal(part.drop(columns=[ROW]), whole[name], obj=name)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: edit_csv(d, "skp", lambda f: pd.concat([f, f.head(1)], ignore_index=True)),
            r"skp\.csv: duplicate primary key",
            id="duplicate-key",
        ),
        pytest.param(
            lambda d: edit_csv(d, "daily_reports", lambda f: f.drop(columns=["minutes"])),
            r"daily_reports\.csv: missing required column\(s\) \['minutes'\]",
            id="missing-column",
        ),
        pytest.param(
            lambda d: (
                edit_csv(d, "public_feedback", lambda f: f.drop(columns=["score"])),
                edit_csv(d, "assessments", lambda f: f.drop(columns=["level"])),
            ),
            r"assessments\.csv: missing required column",
            id="two-broken-files-the-first-in-order",
        ),
    ],
)
def test_file_level_problems_stop_the_load_by_agency_as_the_whole_load(
    world_copy: Path,
    tmp_path: Path,
    mutate,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    mutate(world_copy)
    with pytest.raises(DataContractError, match=expected) as whole:
        load_dataset(world_copy)
    with pytest.raises(DataContractError, match=expected) as by_agency:
        load_by_agency(world_copy, tmp_path, max_quarantine_share=0.05)
    assert str(by_agency.value) == str(whole.value)


def test_too_many_quarantined_rows_stop_the_load_by_agency(world_copy: Path, tmp_path: Path) -> None:
    edit_csv(world_copy, "jp_log", lambda f: f.assign(jp="-1"))
    with pytest.raises(QuarantineThresholdError, match=r"jp_log\.csv: \d+ of \d+ rows \(100\.0%\)"):
        load_by_agency(world_copy, tmp_path, max_quarantine_share=0.05)
    assert len(read_text_table(world_copy / "jp_log.csv")) > 0
