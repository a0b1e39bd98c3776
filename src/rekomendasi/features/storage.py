"""The snapshot on disk: one Parquet file per table plus ``manifest.json``.

Per-employee tables are written with row groups of whole employees (:mod:`rekomendasi.rowgroups`), so a
server opens a snapshot with :class:`SnapshotReader` and reads one employee's rows at a time, holding only
the roster and the shared tables (catalogue, entry outcomes, peer uptake) in memory. Jobs read it whole
with :func:`read_snapshot`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rekomendasi.errors import DataContractError, ModelNotReady
from rekomendasi.features.snapshot import PER_EMPLOYEE, SCHEMAS, TABLES, Snapshot
from rekomendasi.rowgroups import GroupCache, GroupedFile, write_grouped

EMPLOYEES_PER_GROUP = 128
MANIFEST = "manifest.json"


def write_snapshot(snapshot: Snapshot, out_dir: Path) -> list[Path]:
    """Write each table as Parquet plus ``manifest.json``; the same snapshot gives identical bytes.

    The pandas metadata is kept, so nullable integer and boolean columns read back as they were built.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TABLES:
        path = out_dir / f"{name}.parquet"
        table = pa.Table.from_pandas(snapshot.table(name), preserve_index=False)
        if name in PER_EMPLOYEE:
            write_grouped(table, path, EMPLOYEES_PER_GROUP)
        else:
            pq.write_table(table, path, compression="zstd")
        paths.append(path)
    manifest = out_dir / MANIFEST
    manifest.write_text(
        json.dumps(snapshot.manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    return [*paths, manifest]


def _check_directory(snapshot_dir: Path) -> dict[str, object]:
    """The manifest of a complete snapshot directory.

    Raises:
        ModelNotReady: no snapshot there, or one written by a release without some of today's tables.
    """
    rebuild = f"`rekomendasi features --data DIR --as-of DATE --out {snapshot_dir}`"
    manifest_path = snapshot_dir / MANIFEST
    if not manifest_path.exists():
        raise ModelNotReady(f"no snapshot in {snapshot_dir}; build one with {rebuild}.")
    missing = [name for name in TABLES if not (snapshot_dir / f"{name}.parquet").exists()]
    if missing:
        raise ModelNotReady(
            f"the snapshot in {snapshot_dir} has no {', '.join(missing)} (an older release wrote it); "
            f"rebuild it with {rebuild}."
        )
    manifest: dict[str, object] = json.loads(manifest_path.read_text(encoding="utf-8"))
    return manifest


def _read_table(path: Path) -> pd.DataFrame:
    # One chunk per column: a frame of many row groups' chunks is slow to take rows from.
    return pq.read_table(path).combine_chunks().to_pandas()


def read_snapshot(snapshot_dir: Path) -> Snapshot:
    """Read and validate a snapshot written by :func:`write_snapshot`.

    Raises:
        ModelNotReady: the directory holds no snapshot, or one written by a release without some of
            today's tables (with the command that builds one).
        DataContractError: a table breaks its schema.
    """
    manifest = _check_directory(snapshot_dir)
    frames = {name: _read_table(snapshot_dir / f"{name}.parquet") for name in TABLES}
    snapshot = Snapshot(as_of=dt.date.fromisoformat(str(manifest["as_of"])), manifest=manifest, **frames)
    return snapshot.validate()


HOT = ("mandatory", "development", "performance", "taken")
"""Per-employee tables a reader keeps in memory (small: a few rows per employee at most, about 40 MB at
100,000 employees). The large ones (competency gaps, text profile) are read from disk a row group at a
time."""


class SnapshotReader:
    """A written snapshot opened to read one employee at a time.

    Holds the roster, the shared tables and the :data:`HOT` tables; the other per-employee tables stay
    on disk and their row groups are decoded on demand into a small cache. Everything is validated when
    opened (the tables on disk by their columns).

    Args:
        snapshot_dir: a directory written by :func:`write_snapshot`.
        cache_groups: decoded row groups kept in memory, over all the tables read from disk.

    Raises:
        ModelNotReady: no snapshot there (with the command that builds one).
        DataContractError: a table breaks its schema, or a file lacks columns of its schema.
    """

    def __init__(self, snapshot_dir: Path, cache_groups: int = 64) -> None:
        manifest = _check_directory(snapshot_dir)
        self.directory = snapshot_dir
        cache = GroupCache(cache_groups)
        lazy = [name for name in PER_EMPLOYEE if name != "roster" and name not in HOT]
        self._files = {name: GroupedFile(snapshot_dir / f"{name}.parquet", cache) for name in lazy}
        for name, grouped in self._files.items():
            missing = set(SCHEMAS[name].to_schema().columns) - set(grouped.schema.names)
            if missing:
                raise DataContractError(f"{grouped.path} lacks the columns {sorted(missing)}.")
        frames = {
            name: _read_table(snapshot_dir / f"{name}.parquet")
            if name not in self._files
            else self._files[name].schema.empty_table().to_pandas()
            for name in TABLES
        }
        self.head = Snapshot(
            as_of=dt.date.fromisoformat(str(manifest["as_of"])), manifest=manifest, **frames
        ).validate()

    def rows(self, table: str, nip: str) -> pd.DataFrame:
        """One employee's rows of one per-employee table."""
        grouped = self._files.get(table)
        if grouped is not None:
            return grouped.rows(nip).to_pandas()
        low, high = self.head.span(table, nip)
        return self.head.table(table).iloc[low:high].reset_index(drop=True)

    def person(self, nip: str) -> Snapshot:
        """The snapshot cut to one employee: their rows of every per-employee table, the shared tables
        whole (the same as ``read_snapshot(...).subset([nip])``)."""
        cut = {name: grouped.rows(nip).to_pandas() for name, grouped in self._files.items()}
        return dataclasses.replace(self.head.subset([nip]), **cut)
