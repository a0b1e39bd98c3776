"""Files whose row groups (Parquet) or record batches (Arrow IPC) hold whole employees, read one
employee at a time.

The snapshot's per-employee tables and the scores store are written this way: rows sorted by nip, a row
group every ``employees_per_group`` employees, never splitting one. A reader finds an employee's row group
by binary search on each group's first nip (from the file's statistics) and decodes only that group,
keeping the most recent ones in a small cache: a server answers anyone without holding everyone. For the
hottest reads (every API answer), :func:`write_batched` writes the same rows as uncompressed Arrow IPC,
which a reader maps into memory and slices without decoding.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import ipc

NIP = "nip"


def write_grouped(table: pa.Table, path: Path, employees_per_group: int) -> Path:
    """Write ``table`` (sorted by its ``nip`` column) with each row group holding whole employees."""
    bounds = _bounds(table, employees_per_group)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Statistics of the nip column only: readers find row groups by them, and every other column's
    # statistics would only grow the footer a reader keeps in memory.
    with pq.ParquetWriter(path, table.schema, compression="zstd", write_statistics=[NIP]) as writer:
        for low, high in itertools.pairwise(bounds):
            writer.write_table(table.slice(low, high - low), row_group_size=max(high - low, 1))
    return path


def _bounds(table: pa.Table, employees_per_part: int) -> list[int]:
    """Row offsets cutting ``table`` (sorted by nip) into parts of whole employees: [0, ..., rows], or
    [0] for an empty table (no part at all)."""
    nips = table.column(NIP).to_numpy(zero_copy_only=False)
    if not len(nips):
        return [0]
    starts = np.flatnonzero(np.r_[True, nips[1:] != nips[:-1]])
    return [*starts[::employees_per_part].tolist(), len(nips)]


class NipRows:
    """Positions of NIPs in a sorted sequence of them: binary search on fixed-width bytes (fast, where
    pandas' own search on string columns is not). The one search every nip-sorted table, file and part
    of one uses.

    Args:
        nips: NIPs (ASCII digits), sorted.
    """

    def __init__(self, nips: pd.Series | np.ndarray | list[str]) -> None:
        values = np.asarray(nips, dtype=object)
        # numpy sizes the bytes to the longest NIP, so none is cut short.
        self.keys = values.astype("S") if len(values) else np.array([], dtype="S1")
        self.width = self.keys.dtype.itemsize

    def __len__(self) -> int:
        return len(self.keys)

    def span(self, nip: str) -> tuple[int, int]:
        """[low, high) positions of one nip (empty when absent)."""
        if len(nip) > self.width:
            return 0, 0
        key = nip.encode()
        return int(np.searchsorted(self.keys, key, "left")), int(np.searchsorted(self.keys, key, "right"))

    def floor(self, nip: str) -> int:
        """The position of the last NIP not after ``nip`` (-1 when all are after it): with the first
        NIPs of a file's parts, the part that would hold ``nip``."""
        return int(np.searchsorted(self.keys, nip.encode(), side="right")) - 1

    def take(self, wanted: np.ndarray) -> np.ndarray:
        """Positions of every NIP in ``wanted`` (sorted, unique), in order."""
        fits = np.fromiter((len(w) <= self.width for w in wanted), dtype=bool, count=len(wanted))
        keys = wanted[fits].astype(f"S{self.width}")
        low = np.searchsorted(self.keys, keys, side="left")
        counts = np.searchsorted(self.keys, keys, side="right") - low
        starts = np.repeat(low - np.cumsum(counts) + counts, counts)
        return starts + np.arange(int(counts.sum()))


class GroupCache:
    """Decoded row groups of any number of grouped files, least recently used dropped first.

    Args:
        max_groups: row groups kept (each holds ``employees_per_group`` employees' rows).
    """

    def __init__(self, max_groups: int) -> None:
        self.max_groups = max_groups
        self._lock = threading.Lock()
        self._groups: OrderedDict[tuple[str, int], tuple[pa.Table, NipRows]] = OrderedDict()

    def get(self, key: tuple[str, int]) -> tuple[pa.Table, NipRows] | None:
        with self._lock:
            found = self._groups.get(key)
            if found is not None:
                self._groups.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], value: tuple[pa.Table, NipRows]) -> None:
        with self._lock:
            self._groups[key] = value
            while len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)


class _Parts:
    """Rows sorted by nip in parts of whole employees, each part's first nip known: an employee's rows
    are found by two binary searches (the part, then the rows in it)."""

    _firsts: NipRows

    @property
    def schema(self) -> pa.Schema:
        raise NotImplementedError

    def _part(self, index: int) -> tuple[pa.Table, NipRows]:
        """Part ``index`` and the positions of its NIPs."""
        raise NotImplementedError

    def rows(self, nip: str) -> pa.Table:
        """The employee's rows, in file order (an empty table when there are none)."""
        part = self._firsts.floor(nip)
        if part < 0:
            return self.schema.empty_table()
        table, nips = self._part(part)
        low, high = nips.span(nip)
        return table.slice(low, high - low)


class GroupedFile(_Parts):
    """A file written by :func:`write_grouped`, opened for reading employees' rows.

    Thread-safe. The file's footer is read once; row groups are decoded on demand into ``cache``.
    """

    def __init__(self, path: Path, cache: GroupCache) -> None:
        self.path = path
        self._cache = cache
        # Plain reads, not a memory map: the pages of a mapped file would count in the worker's resident
        # memory as they are touched, where the kernel's page cache shares them unseen.
        self._handle = pq.ParquetFile(path)
        self._lock = threading.Lock()
        meta = self._handle.metadata
        column = self._handle.schema_arrow.get_field_index(NIP)
        self._firsts = NipRows(
            [meta.row_group(i).column(column).statistics.min for i in range(meta.num_row_groups)]
        )

    @property
    def schema(self) -> pa.Schema:
        """pa.Schema: the file's schema (with its pandas metadata, when it was written with it)."""
        return self._handle.schema_arrow

    def _part(self, group: int) -> tuple[pa.Table, NipRows]:
        cache_key = (str(self.path), group)
        found = self._cache.get(cache_key)
        if found is not None:
            return found
        with self._lock:  # one reader of the file at a time; decoding releases the GIL
            table = self._handle.read_row_group(group)
        decoded = (table, NipRows(table.column(NIP).to_numpy(zero_copy_only=False)))
        self._cache.put(cache_key, decoded)
        return decoded


FIRST_NIPS = b"rekomendasi.first_nips"


def write_batched(table: pa.Table, path: Path, employees_per_batch: int) -> Path:
    """Write ``table`` (sorted by nip) as an uncompressed Arrow IPC file, one record batch per
    ``employees_per_batch`` employees (never splitting one), with each batch's first nip in the schema's
    metadata: a file a reader maps into memory and answers from without decoding anything."""
    bounds = _bounds(table, employees_per_batch)
    nips = table.column(NIP)
    firsts = [str(nips[low]) for low in bounds[:-1]]
    schema = table.schema.with_metadata({**(table.schema.metadata or {}), FIRST_NIPS: json.dumps(firsts)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, schema) as writer:
        for low, high in itertools.pairwise(bounds):
            writer.write_table(table.slice(low, high - low).cast(schema), max_chunksize=max(high - low, 1))
    return path


class BatchedFile(_Parts):
    """A file written by :func:`write_batched`, memory-mapped: an employee's rows are a zero-copy slice of
    one record batch, found by binary search on the batches' first nips. Thread-safe (read-only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader = ipc.open_file(pa.memory_map(str(path)))
        metadata = self._reader.schema.metadata or {}
        self._firsts = NipRows(json.loads(metadata.get(FIRST_NIPS, b"[]")))

    @property
    def schema(self) -> pa.Schema:
        """pa.Schema: the file's schema."""
        return self._reader.schema

    def _part(self, index: int) -> tuple[pa.Table, NipRows]:
        found = self._reader.get_batch(index)  # a view of the mapped file: nothing decoded or copied
        nips = NipRows(found.column(NIP).to_numpy(zero_copy_only=False))
        return pa.Table.from_batches([found], schema=self.schema), nips
