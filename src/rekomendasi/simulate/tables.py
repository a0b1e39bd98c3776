"""Compact simulated tables and their bounded writing.

Generators hold string columns as categoricals (codes into a small list of names, or into every NIP),
so a million-employee world fits in memory; a table is sorted as a permutation of its rows and written
in slices of :data:`ROWS_PER_WRITE`, decoded to strings one slice at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rekomendasi.contract.writing import write_chunks

ROWS_PER_WRITE = 1 << 20  # pyarrow's default Parquet row group, so a sliced file has write_table's groups


def categorical(codes: np.ndarray, names: Sequence[str]) -> pd.Categorical[str]:
    """A string column reading ``names[codes[i]]`` in row i, missing where ``codes[i]`` is -1."""
    return pd.Categorical.from_codes(np.asarray(codes), categories=pd.Index(list(names), dtype=str))


def stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate row blocks (same keys) column by column, emptying ``parts`` on the way so that no
    column is held twice."""
    out = {key: np.concatenate([part.pop(key) for part in parts]) for key in list(parts[0])}
    parts.clear()
    return out


def _sort_key(column: pd.Series) -> np.ndarray:
    """Integers (or dates, numbers) that order like the column's values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        codes = column.cat.codes.to_numpy()
        if categories.is_monotonic_increasing:
            return codes
        return np.argsort(np.argsort(categories.to_numpy(dtype=object), kind="stable"))[codes]
    if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
        return pd.factorize(column, sort=True)[0]
    return column.to_numpy()


def sort_order(frame: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """Row positions of ``frame`` sorted by ``keys``: the order ``frame.sort_values(keys,
    kind="stable")`` gives (ties keep their row order), without a sorted copy of the table."""
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    return np.lexsort([_sort_key(frame[key]) for key in reversed(keys)])


def _slices(frame: pd.DataFrame, order: np.ndarray | None, rows: int) -> Iterator[pd.DataFrame]:
    n = len(frame)
    for start in range(0, max(n, 1), rows):
        stop = min(start + rows, n)
        take = np.arange(start, stop) if order is None else order[start:stop]
        yield frame.iloc[take]


def write_frame(
    frame: pd.DataFrame, path: Path, columns: Sequence[str] | None = None, order: np.ndarray | None = None
) -> int:
    """Write ``frame[columns]`` with its rows in ``order`` (default: as they are), :data:`ROWS_PER_WRITE`
    at a time.

    The file holds what :func:`rekomendasi.contract.writing.write_table` of the sorted frame would
    (byte for byte: the slices are pyarrow's default row groups); returns the number of rows written.
    """
    selected = frame if columns is None else frame[list(columns)]
    return write_chunks(_slices(selected, order, ROWS_PER_WRITE), path)
