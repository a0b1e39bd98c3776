"""Writing contract tables (CSV or Parquet) exactly as the loader reads them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _to_arrow(frame: pd.DataFrame, fmt: str) -> pa.Table:
    out = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            dates = series.dt.strftime("%Y-%m-%d") if fmt == "csv" else series.dt.date
            out[column] = pa.array(
                dates.to_numpy(dtype=object),
                type=pa.string() if fmt == "csv" else pa.date32(),
                from_pandas=True,
            )
        elif series.dtype == object or pd.api.types.is_string_dtype(series):
            out[column] = pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
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
    """Stream frames of one schema into a single file; returns the number of rows written."""
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
