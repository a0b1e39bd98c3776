"""File-level checks of a table's text cells that stop a run before any row is parsed: two rows with
one primary key, and NIPs a spreadsheet turned into numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rekomendasi.contract.reading import ROW
from rekomendasi.contract.schemas import TableSpec
from rekomendasi.errors import DataContractError


def _duplicated_keys(spec: TableSpec, frame: pd.DataFrame) -> pd.Series:
    """True for each row whose primary key (without nulls) another row shares; all False without a key."""
    if not spec.primary_key:
        return pd.Series(False, index=frame.index)
    keys = frame[list(spec.primary_key)].dropna()
    return keys.duplicated(keep=False).reindex(frame.index, fill_value=False)


def refuse_duplicate_keys(spec: TableSpec, path: Path, frame: pd.DataFrame) -> None:
    """Refuse a file in which two rows share a primary key.

    Raises:
        DataContractError: naming the file, the key and example rows.
    """
    dup = _duplicated_keys(spec, frame)
    if dup.any():
        rows = frame.loc[dup, ROW].head(6).tolist()
        raise DataContractError(
            f"{path.name}: duplicate primary key ({', '.join(spec.primary_key)}): {int(dup.sum())} rows "
            f"share a key with another row (e.g. data rows {rows}); each key must appear once."
        )


# A number as a spreadsheet or float64 writes it: 1.98503152010011e+17, 1,98503E+17, 198503152010011001.0
_NUMBER_FORM = r"\d+([.,]\d*)?[eE][+-]?\d+|\d+[.,]\d*"


def refuse_numeric_nips(spec: TableSpec, path: Path, frame: pd.DataFrame) -> None:
    """Refuse a NIP column exported as numbers (scientific notation or a decimal part).

    A float keeps about 15 significant digits, so the 18-digit NIPs lost their last digits: many now
    share a value. When most of a column looks like that, or any such value is part of a duplicate key,
    the file is refused with the cause; a few stray ones are quarantined row by row.

    Raises:
        DataContractError: naming the file, the column, an example and what to do.
    """
    duplicated = _duplicated_keys(spec, frame)
    for column in spec.columns:
        if spec.column_meta(column)["kind"] != "nip":
            continue
        values = frame[column].dropna()
        numeric = values.str.fullmatch(_NUMBER_FORM).fillna(False).astype(bool)
        if not numeric.any():
            continue
        numbers = values[numeric]
        if numeric.sum() * 2 <= len(values) and not duplicated.loc[numbers.index].any():
            continue
        notation = " in scientific notation" if numbers.str.contains("[eE]").any() else ""
        example = numbers[numbers.str.contains("[eE]")] if notation else numbers
        rows = frame.loc[numbers.index, ROW].head(6).tolist()
        how = (
            "write it as a string column, never through a float"
            if path.suffix == ".parquet"
            else "in Excel, format the column as Text before the NIPs go in (formatting it afterwards "
            "does not bring the digits back), or export from the source system straight to CSV"
        )
        raise DataContractError(
            f"{path.name}: column {column}: NIPs were exported as numbers{notation} (e.g. "
            f"{example.iloc[0]}): the last digits are lost; re-export the column as text "
            f"({len(numbers):,} of {len(values):,} values, e.g. data rows {rows}): {how}."
        )
