"""Bad exports get a message naming the cause and the fix, not a misleading symptom.

Two common ones: a "CSV" saved with semicolons (a spreadsheet in an Indonesian locale), tabs or pipes,
which used to fail as "missing required column(s) ... (found ['nip;instansi_id;...'])"; and NIPs that a
spreadsheet turned into numbers (1.98503E+17, 198503152010011001.0), which used to fail as "duplicate
primary key (nip)" because the lost digits make NIPs collide.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.contract import load_dataset
from rekomendasi.contract.filechecks import _NUMBER_FORM
from rekomendasi.errors import DataContractError
from tests.conftest import edit_csv, read_text_table

runner = CliRunner()
EXPORTED = (
    "NIPs were exported as numbers in scientific notation (e.g. {example}): the last digits are lost; "
    "re-export the column as text"
)


def _load(data_dir: Path):  # type: ignore[no-untyped-def]
    return load_dataset(data_dir, max_quarantine_share=None)


def _excel_number(nip: str) -> str:
    """How Excel's General format shows an 18-digit number: 6 significant digits, e.g. 1.98503E+17."""
    mantissa, exponent = f"{float(nip):.5E}".split("E")
    return f"{mantissa.rstrip('0').rstrip('.')}E+{int(exponent)}"


# --- other delimiters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sep", "named"),
    [
        pytest.param(";", "semicolons (';')", id="semicolon"),
        pytest.param("\t", "tabs ('\\t')", id="tab"),
        pytest.param("|", "pipes ('|')", id="pipe"),
    ],
)
def test_another_delimiter_is_named_with_the_fix(world_copy: Path, sep: str, named: str) -> None:
    path = world_copy / "employees.csv"
    read_text_table(path).to_csv(path, sep=sep, index=False)
    with pytest.raises(DataContractError) as caught:
        _load(world_copy)
    message = str(caught.value)
    assert message.startswith(f"employees.csv: the columns are separated by {named}, not commas")
    assert "Save the file as CSV with comma separators" in message
    assert "(Excel: File > Save As > CSV UTF-8 (Comma delimited)" in message
    assert "missing required column" not in message


def test_an_optional_table_with_semicolons_is_refused_too(world_copy: Path) -> None:
    path = world_copy / "skp.csv"
    read_text_table(path).to_csv(path, sep=";", index=False)
    with pytest.raises(DataContractError, match=r"^skp\.csv: the columns are separated by semicolons"):
        _load(world_copy)


def test_a_plain_missing_column_keeps_its_message(world_copy: Path) -> None:
    """A one-column header without any separator in it is not mistaken for another delimiter."""
    (world_copy / "competencies.csv").write_text("competency_id\nintegritas\n", encoding="utf-8")
    with pytest.raises(DataContractError, match=r"competencies\.csv: missing required column\(s\)"):
        _load(world_copy)


def test_commas_inside_quoted_cells_of_a_comma_file_still_load(world_copy: Path) -> None:
    """Semicolons in cells (the catalogue's ';'-separated lists) are no sign of another delimiter."""
    catalog = read_text_table(world_copy / "catalog.csv")
    assert catalog["eligible_jenis_jabatan"].str.contains(";").any()
    assert _load(world_copy).report("catalog").rows_quarantined == 0


def test_validate_explains_a_semicolon_file(world_copy: Path) -> None:
    path = world_copy / "positions.csv"
    read_text_table(path).to_csv(path, sep=";", index=False)
    result = runner.invoke(app, ["validate", "--data", str(world_copy)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "positions.csv: the columns are separated by semicolons (';'), not commas" in text
    assert "CSV UTF-8 (Comma delimited)" in text


# --- NIPs exported as numbers ------------------------------------------------------------------------------


def test_nips_in_excel_scientific_notation_are_named_before_the_duplicate_key(world_copy: Path) -> None:
    """Excel shows 6 significant digits: most NIPs collide, which used to read "duplicate primary key"."""
    first = read_text_table(world_copy / "employees.csv")["nip"].iloc[0]
    edit_csv(world_copy, "employees", lambda f: f.assign(nip=f["nip"].map(_excel_number)))
    with pytest.raises(DataContractError) as caught:
        _load(world_copy)
    message = str(caught.value)
    assert message.startswith(f"employees.csv: column nip: {EXPORTED.format(example=_excel_number(first))}")
    assert "duplicate primary key" not in message
    assert "data rows [1, 2, 3, 4, 5, 6]" in message


def test_nips_written_as_float64_are_named(world_copy: Path) -> None:
    """pandas (or any tool) writing the column as float64: 1.985...e+17, every NIP rounded."""
    edit_csv(world_copy, "employees", lambda f: f.assign(nip=f["nip"].astype("float64").map(repr)))
    example = repr(float(read_text_table(world_copy / "employees.csv")["nip"].iloc[0]))
    assert re.fullmatch(r"1\.\d+e\+17", example)
    with pytest.raises(DataContractError, match=re.escape(f"column nip: {EXPORTED.format(example=example)}")):
        _load(world_copy)


def test_nips_with_a_decimal_part_are_named(world_copy: Path) -> None:
    edit_csv(world_copy, "employees", lambda f: f.assign(nip=f["nip"] + ".0"))
    with pytest.raises(
        DataContractError,
        match=r"employees\.csv: column nip: NIPs were exported as numbers \(e\.g\. \d{18}\.0\): the last "
        r"digits are lost; re-export the column as text",
    ):
        _load(world_copy)


def test_a_foreign_key_nip_column_is_checked_too(world_copy: Path) -> None:
    """skp.nip is a NIP the contract types as one (not the employees' key): refused with the cause, not
    quarantined row by row as unknown employees."""
    edit_csv(world_copy, "skp", lambda f: f.assign(nip=f["nip"].map(_excel_number)))
    with pytest.raises(DataContractError, match=r"^skp\.csv: column nip: NIPs were exported as numbers in"):
        _load(world_copy)


def test_two_stray_numbers_that_collide_are_named_not_called_duplicates(world_copy: Path) -> None:
    """A minority of numbers is quarantined row by row, unless they make a duplicate key."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[[3, 4], "nip"] = "1.98501E+17"
        return frame

    edit_csv(world_copy, "employees", edit)
    with pytest.raises(DataContractError, match=r"scientific notation \(e\.g\. 1\.98501E\+17\).*2 of \d+"):
        _load(world_copy)


def test_one_stray_number_is_still_quarantined_row_by_row(world_copy: Path) -> None:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[3, "nip"] = frame.loc[3, "nip"] + ".0"
        return frame

    edit_csv(world_copy, "employees", edit)
    issues = _load(world_copy).quarantine
    employees = issues[issues["table"] == "employees"]
    assert employees[["row", "column", "reason"]].values.tolist() == [
        [4, "nip", "NIP with a decimal part (a spreadsheet made it a number); export nip as text"]
    ]


def test_parquet_nips_stored_as_floats_are_named(world_copy: Path) -> None:
    frame = pd.read_csv(world_copy / "employees.csv", dtype={"nip": str})
    frame["nip"] = frame["nip"].astype("float64")
    frame.to_parquet(world_copy / "employees.parquet")
    (world_copy / "employees.csv").unlink()
    with pytest.raises(DataContractError) as caught:
        _load(world_copy)
    message = str(caught.value)
    assert message.startswith("employees.parquet: column nip: NIPs were exported as numbers in scientific")
    assert "write it as a string column" in message


def test_parquet_nips_as_scientific_text_are_named(world_copy: Path) -> None:
    frame = read_text_table(world_copy / "employees.csv")
    frame["nip"] = frame["nip"].map(_excel_number)
    frame.to_parquet(world_copy / "employees.parquet")
    (world_copy / "employees.csv").unlink()
    with pytest.raises(DataContractError, match=r"^employees\.parquet: column nip: NIPs were exported"):
        _load(world_copy)


@given(st.from_regex(r"(19[5-9]\d|200\d)(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])\d{6}[12]\d{3}", fullmatch=True))
def test_every_nip_that_went_through_a_float_looks_like_a_number(nip: str) -> None:
    """Whatever a tool prints for a NIP held as a float, the check recognises it (and no real NIP)."""
    value = float(nip)
    for shown in (repr(value), str(value), f"{value:.1f}", _excel_number(nip), f"{value:E}"):
        assert re.fullmatch(_NUMBER_FORM, shown), shown
    assert not re.fullmatch(_NUMBER_FORM, nip)
