"""Writing contract tables (CSV or Parquet) exactly as the loader reads them.

Strings are written as plain strings whatever their pandas dtype (object, ``str``, or a categorical of
strings: written as its values, so a large table can be held as small integer codes and decoded chunk
by chunk on its way to disk); dates as ISO 8601 strings in CSV and ``date32`` in Parquet; nulls as
empty cells.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _dates(series: pd.Series, fmt: str) -> pa.Array:
    if series.dtype.kind == "M":  # tz-naive: whole days straight from the int64 values (midnight-floored)
        days = pa.array(series.to_numpy().astype("datetime64[D]"), type=pa.date32(), from_pandas=True)
        return days.cast(pa.string()) if fmt == "csv" else days
    dates = series.dt.strftime("%Y-%m-%d") if fmt == "csv" else series.dt.date
    return pa.array(
        dates.to_numpy(dtype=object), type=pa.string() if fmt == "csv" else pa.date32(), from_pandas=True
    )


def _strings(series: pd.Series) -> pa.Array:
    if isinstance(series.dtype, pd.CategoricalDtype):  # decoded in Arrow: no Python string per row
        return pa.array(series, from_pandas=True).dictionary_decode().cast(pa.string())
    if isinstance(series.dtype, pd.StringDtype):  # already Arrow (or Arrow-convertible) strings
        return pa.array(series, from_pandas=True).cast(pa.string())
    return pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)


def _to_arrow(frame: pd.DataFrame, fmt: str) -> pa.Table:
    out = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[column] = _dates(series, fmt)
        elif series.dtype == object or pd.api.types.is_string_dtype(series):
            out[column] = _strings(series)
        else:
            out[column] = pa.Array.from_pandas(series)
    return pa.table(out)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` (.csv or .parquet by suffix); dates as ISO 8601, nulls as empty cells."""
    fmt = "parquet" if path.suffix == ".parquet" else "csv"
    table = _to_arrow(frame, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return path


def write_chunks(chunks: Iterable[pd.DataFrame], path: Path) -> int:
    """Stream frames of one schema into a single file; returns the number of rows written.

    The file holds the same table as :func:`write_table` of the frames' concatenation (a CSV file is
    byte-identical; a Parquet file has a row group per chunk or more), while only one chunk is held as
    Arrow data at a time.
    """
    fmt = "parquet" if path.suffix == ".parquet" else "csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    rows = 0
    try:
        for chunk in chunks:
            table = _to_arrow(chunk, fmt)
            if writer is None:
                writer = (
                    pq.ParquetWriter(path, table.schema)
                    if fmt == "parquet"
                    else pacsv.CSVWriter(
                        path, table.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
                    )
                )
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows
