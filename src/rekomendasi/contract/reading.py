"""Reading one contract file into a frame of trimmed text cells (nulls for empty cells).

CSV is read with pyarrow (fast path); if a record has the wrong number of fields the file is re-read
with the standard ``csv`` module so that only the broken records go to quarantine, with exact row numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rekomendasi.errors import DataContractError

ROW = "_row"  # 1-based position of a record among the file's data rows (header excluded)


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    """A CSV record whose field count differs from the header's."""

    row: int
    text: str
    fields: int
    expected: int


@dataclass(frozen=True, slots=True)
class RawTable:
    """A file's cells as trimmed text, plus the records that could not be split into fields."""

    frame: pd.DataFrame
    malformed: tuple[MalformedRecord, ...]


def read_raw(path: Path) -> RawTable:
    """Read a ``.csv`` or ``.parquet`` file into text cells with a ``_row`` column.

    Raises:
        DataContractError: the file is empty, not UTF-8, not parseable, or has no header.
    """
    if path.suffix == ".parquet":
        frame = _read_parquet(path)
        malformed: tuple[MalformedRecord, ...] = ()
    else:
        frame, malformed = _read_csv(path)
    frame = frame.copy()
    for column in frame.columns:
        frame[column] = _trim(frame[column])
    frame.insert(
        0, ROW, pd.RangeIndex(1, len(frame) + 1) if not malformed else _rows_without(frame, malformed)
    )
    return RawTable(frame=frame, malformed=malformed)


def _rows_without(frame: pd.DataFrame, malformed: tuple[MalformedRecord, ...]) -> list[int]:
    bad = {m.row for m in malformed}
    rows: list[int] = []
    candidate = 1
    while len(rows) < len(frame):
        if candidate not in bad:
            rows.append(candidate)
        candidate += 1
    return rows


def _trim(series: pd.Series) -> pd.Series:
    text = series.astype("str")
    text = text.str.strip()
    return text.mask(text == "")


def _read_csv(path: Path) -> tuple[pd.DataFrame, tuple[MalformedRecord, ...]]:
    data = path.read_bytes()
    if not data.strip():
        raise DataContractError(
            f"{path.name}: the file is empty; expected a header row and data rows (UTF-8 CSV)."
        )
    if data.startswith(b"\xef\xbb\xbf"):  # Excel's UTF-8 byte-order mark
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataContractError(
            f"{path.name}: not valid UTF-8 (byte 0x{data[err.start]:02x} on line {line}); "
            "export the file as UTF-8 CSV (in Excel: 'CSV UTF-8')."
        ) from err
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    header = [name.strip() for name in header]
    if not header or all(not name for name in header):
        raise DataContractError(f"{path.name}: no header row; the first line must name the columns.")
    _refuse_other_delimiters(path, header)
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DataContractError(f"{path.name}: column(s) {duplicated} appear more than once in the header.")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as err:
        if "columns" not in str(err):
            raise DataContractError(f"{path.name}: cannot be parsed as CSV ({err}).") from err
        return _read_csv_slow(path, text, header)
    return table.to_pandas(), ()


_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "pipes"}


def _refuse_other_delimiters(path: Path, header: list[str]) -> None:
    """Refuse a file whose header is one column holding ``;``, tabs or ``|``: another separator.

    Spreadsheets set to an Indonesian or European locale save "CSV" with semicolons; database tools
    often export tabs or pipes. Read with commas, such a header is one long column name.
    """
    if len(header) != 1:
        return
    parts = {sep: len([p for p in header[0].split(sep) if p.strip()]) for sep in _OTHER_DELIMITERS}
    sep = max(parts, key=lambda s: parts[s])
    if parts[sep] < 2:
        return
    shown = header[0] if len(header[0]) <= 60 else header[0][:57] + "..."
    why = "; a spreadsheet set to an Indonesian locale writes semicolons" if sep == ";" else ""
    raise DataContractError(
        f"{path.name}: the columns are separated by {_OTHER_DELIMITERS[sep]} ({sep!r}), not commas: "
        f"the header reads as one column {shown!r} ({parts[sep]} names split by {sep!r}). Save the file "
        f"as CSV with comma separators (Excel: File > Save As > CSV UTF-8 (Comma delimited){why}), or "
        "export Parquet."
    )


def _read_csv_slow(
    path: Path, text: str, header: list[str]
) -> tuple[pd.DataFrame, tuple[MalformedRecord, ...]]:
    """Record-by-record reading that sets aside records with the wrong number of fields."""
    reader = csv.reader(io.StringIO(text))
    next(reader)
    records: list[list[str | None]] = []
    malformed: list[MalformedRecord] = []
    expected = len(header)
    row = 0
    for record in reader:
        if not record:  # a blank line is not a record
            continue
        row += 1
        if len(record) != expected:
            malformed.append(MalformedRecord(row, ",".join(record)[:200], len(record), expected))
            continue
        records.append([cell if cell != "" else None for cell in record])
    if not records and not malformed:
        return pd.DataFrame({name: pd.Series([], dtype="str") for name in header}), ()
    frame = pd.DataFrame(records, columns=header, dtype="str")
    return frame, tuple(malformed)


def _read_parquet(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataContractError(f"{path.name}: the file is empty; expected a Parquet file.")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise DataContractError(f"{path.name}: cannot be read as Parquet ({err}).") from err
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        columns[name] = _arrow_to_text(column)
    return pd.DataFrame(columns)


def _arrow_to_text(column: pa.ChunkedArray) -> pd.Series:
    """Render a typed Parquet column as the text a CSV of the contract would hold."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        column = pc.cast(column, pa.date32())
    elif pa.types.is_boolean(kind):
        return (
            pd.Series(column.to_pandas(), dtype="boolean").map({True: "true", False: "false"}).astype("str")
        )
    elif pa.types.is_floating(kind):
        # Each distinct value rendered once (a column of levels or scores has few).
        codes, distinct = pd.factorize(column.to_pandas())
        texts = np.array([_float_text(float(v)) for v in distinct] + [None], dtype=object)
        return pd.Series(texts[codes], dtype="str")
    return pd.Series(pc.cast(column, pa.string()).to_pandas(), dtype="str")


def _float_text(value: float) -> str:
    """A float as the contract's text: integral floats (an int column with nulls, as pandas writes it)
    read back as integers."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
