"""A data directory loaded by agency: the load of the national jobs (``features``, ``score``, ``batch``),
bounded in memory (#14).

:func:`~rekomendasi.contract.loader.load_dataset` keeps every validated table in memory: 13.5 GB for a
world of a million employees. :func:`load_by_agency` checks the same files and rows the same way, but
validates the tables keyed by NIP chunk by chunk and writes their clean rows to Parquet files in a
scratch directory, one row group per (chunk, agency), each row with its ``_row``. Only the small tables
(the ones every agency shares, the employees and the public feedback) stay in memory. A job then reads
one agency's rows (:meth:`AgencyTables.read`), in this process or on a Dask worker that sees the
scratch directory.

What it returns says the same as a :class:`~rekomendasi.contract.loader.Dataset` of the directory: the
same quarantine rows in the same order, the same reports, the same fingerprint (:meth:`fingerprint`),
the same latest SKP year. Tests hold it to that.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rekomendasi.contract.loader import (
    QUARANTINE_COLUMNS,
    TableReport,
    empty_table,
    enforce_quarantine_share,
    locate_files,
    read_checked,
    table_report,
    validate_rows,
)
from rekomendasi.contract.reading import ROW, RawTable
from rekomendasi.contract.schemas import TABLES, TABLES_BY_NAME, Employees, Skp, TableSpec

logger = logging.getLogger(__name__)

PARTITIONED = tuple(
    spec.name
    for spec in TABLES
    if any(spec.column_meta(column).get("fk") == "employees.nip" for column in spec.columns)
)
"""The tables cut by agency: every table whose rows belong to an employee (``nip`` references
``employees``). Every other table stays whole, in memory."""
CHUNK_ROWS = 1_000_000


def row_hashes(frame: pd.DataFrame) -> bytes:
    """The bytes a data fingerprint takes from a validated table (or from consecutive slices of it: the
    hash of a row depends on that row alone)."""
    return bytes(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())


def latest_skp_year(skp: pd.DataFrame) -> int | None:
    """The latest year of the SKP periods of ``skp`` (None without any)."""
    periods = skp[Skp.period].dropna()
    return int(periods.str[:4].astype(int).max()) if len(periods) else None


@dataclass(frozen=True)
class AgencyTables:
    """Where each agency's rows of the :data:`PARTITIONED` tables are (small: sent to every worker).

    Attributes:
        root: the scratch directory, with one ``<table>.parquet`` per table.
        groups: per table, the row groups of each agency (by its position in ``agencies``).
    """

    root: Path
    groups: Mapping[str, Mapping[int, tuple[int, ...]]]

    def read(self, table: str, agency: int) -> pd.DataFrame:
        """One agency's clean rows of ``table``, in file order, ``_row`` first, contract dtypes."""
        spec = TABLES_BY_NAME[table]
        ids = self.groups.get(table, {}).get(agency, ())
        if not ids:
            empty = empty_table(spec)
            empty.insert(0, ROW, pd.Series([], dtype="int64"))
            return empty
        path = self.root / f"{table}.parquet"
        stat = path.stat()
        frame = _opened(path, stat.st_size, stat.st_mtime_ns).read_row_groups(list(ids)).to_pandas()
        return frame.reset_index(drop=True)


@functools.lru_cache(maxsize=len(PARTITIONED))
def _opened(path: Path, size: int, mtime_ns: int) -> pq.ParquetFile:
    """A part file with its footer read once per process (a table of a million employees has thousands
    of row groups: every agency of a pass would parse them again); size and time key a rewritten file."""
    return pq.ParquetFile(path)


@dataclass(frozen=True)
class AgencyData:
    """A data directory loaded by agency (:func:`load_by_agency`).

    Attributes:
        whole: every table not in :data:`PARTITIONED`, validated, in memory.
        agencies: the agencies (``instansi_id`` of the employees table), sorted.
        parts: where each agency's rows of the other tables are.
        latest_skp_year: what :func:`latest_skp_year` gives on the whole SKP table.
    """

    data_dir: Path
    whole: Mapping[str, pd.DataFrame]
    agencies: np.ndarray
    parts: AgencyTables
    quarantine: pd.DataFrame
    reports: tuple[TableReport, ...]
    present: frozenset[str]
    latest_skp_year: int | None

    def report(self, name: str) -> TableReport:
        """The load report of table ``name``."""
        return next(r for r in self.reports if r.table == name)

    def employees_by_agency(self) -> Iterator[tuple[int, str, pd.DataFrame]]:
        """(position in ``agencies``, agency, its rows of the employees table in file order)."""
        staff = self.whole["employees"]
        codes = agency_codes(staff, self.agencies)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(self.agencies) + 1))
        for i, agency in enumerate(self.agencies):
            yield i, str(agency), staff.take(order[bounds[i] : bounds[i + 1]]).reset_index(drop=True)

    def fingerprint(self) -> str:
        """The data fingerprint of :func:`~rekomendasi.features.snapshot.data_fingerprint` on the
        :class:`~rekomendasi.contract.loader.Dataset` of the same directory."""
        digest = hashlib.sha256()
        for name in sorted(TABLES_BY_NAME):
            digest.update(name.encode())
            digest.update(str(TABLES_BY_NAME[name].columns).encode())
            if name in self.whole:
                digest.update(row_hashes(self.whole[name]))
                continue
            with (self.parts.root / f"{name}.hashes").open("rb") as hashes:
                while block := hashes.read(1 << 24):
                    digest.update(block)
        return digest.hexdigest()


def agency_codes(staff: pd.DataFrame, agencies: np.ndarray) -> np.ndarray:
    """Each employee's position in the sorted ``agencies``."""
    return np.searchsorted(agencies, staff[Employees.instansi_id].astype(str).to_numpy(dtype=object))


def load_by_agency(
    data_dir: Path | str,
    scratch: Path,
    *,
    max_quarantine_share: float | None,
    on_table: Callable[[int, int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> AgencyData:
    """Read, parse and validate every table of a data directory as
    :func:`~rekomendasi.contract.loader.load_dataset` does, writing the rows of the
    :data:`PARTITIONED` tables by agency into ``scratch`` (an empty directory the caller removes).

    Args:
        max_quarantine_share: as for ``load_dataset``.
        on_table: called with (tables done, tables in all) after each table.
        chunk_rows: rows validated at a time.

    Raises:
        DataContractError: a file-level problem.
        QuarantineThresholdError: too many quarantined rows in a table.
    """
    data_dir = Path(data_dir)
    files = locate_files(data_dir)
    whole: dict[str, pd.DataFrame] = {}
    groups: dict[str, dict[int, tuple[int, ...]]] = {}
    issues: list[pd.DataFrame] = []
    reports: list[TableReport] = []
    agencies = np.array([], dtype=object)
    latest: int | None = None
    for done, spec in enumerate(TABLES, 1):
        path = files.get(spec.name)
        if spec.name in PARTITIONED:
            kept, table_issues, groups[spec.name] = _write_by_agency(
                spec, path, whole, agencies, scratch, chunk_rows
            )
            if spec.name == "skp" and path is not None:
                latest = _latest_of(scratch / "skp.parquet")
        elif path is None:
            whole[spec.name], kept, table_issues = empty_table(spec), 0, None
        else:
            whole[spec.name], table_issues = validate_rows(spec, read_checked(spec, path), whole)
            kept = len(whole[spec.name])
        if spec.name == "employees":
            agencies = np.unique(whole["employees"][Employees.instansi_id].astype(str).to_numpy(dtype=object))
        if path is None or table_issues is None:
            reports.append(TableReport(spec.name, None, 0, 0))
        else:
            issues.append(table_issues)
            reports.append(table_report(spec.name, path.name, kept, table_issues))
            logger.info("loaded %s: %d rows, %d quarantined", path.name, kept, reports[-1].rows_quarantined)
        if on_table is not None:
            on_table(done, len(TABLES))
    quarantine = pd.concat(issues, ignore_index=True) if issues else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if max_quarantine_share is not None:
        enforce_quarantine_share(tuple(reports), max_quarantine_share)
    return AgencyData(
        data_dir,
        whole,
        agencies,
        AgencyTables(scratch, groups),
        quarantine[QUARANTINE_COLUMNS],
        tuple(reports),
        frozenset(files),
        latest,
    )


def _write_by_agency(
    spec: TableSpec,
    path: Path | None,
    loaded: Mapping[str, pd.DataFrame],
    agencies: np.ndarray,
    scratch: Path,
    chunk_rows: int,
) -> tuple[int, pd.DataFrame | None, dict[int, tuple[int, ...]]]:
    """Validate one table chunk by chunk; write its clean rows by agency, and their hashes.

    Returns:
        (clean rows, quarantine rows or None for an absent file, row groups of each agency).
    """
    hashes = (scratch / f"{spec.name}.hashes").open("wb")
    groups: dict[int, list[int]] = {}
    if path is None:
        hashes.close()
        return 0, None, {}
    raw = read_checked(spec, path)
    codes_of = pd.Index(loaded["employees"][Employees.nip])
    staff_codes = agency_codes(loaded["employees"], agencies)
    kept = 0
    found: list[pd.DataFrame] = []
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    written = 0
    try:
        for part in _chunks(raw, chunk_rows):
            clean, part_issues = validate_rows(spec, part, loaded, keep_row=True)
            found.append(part_issues)
            kept += len(clean)
            hashes.write(row_hashes(clean[spec.columns]))
            # Every clean row's NIP is an employee's: the contract quarantines the others.
            codes = staff_codes[codes_of.get_indexer(clean[Employees.nip])]
            order = np.argsort(codes, kind="stable")
            table = pa.Table.from_pandas(clean.take(order), schema=schema, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(scratch / f"{spec.name}.parquet", schema)
            sorted_codes = codes[order]
            bounds = np.searchsorted(sorted_codes, np.arange(len(agencies) + 1))
            for agency in np.unique(sorted_codes):
                low, high = int(bounds[agency]), int(bounds[agency + 1])
                writer.write_table(table.slice(low, high - low), row_group_size=high - low)
                groups.setdefault(int(agency), []).append(written)
                written += 1  # one row group per call: the row group size is the slice's length
    finally:
        hashes.close()
        if writer is not None:
            writer.close()
    table_issues = pd.concat(found, ignore_index=True)
    return kept, table_issues, {agency: tuple(ids) for agency, ids in groups.items()}


def _chunks(raw: RawTable, rows: int) -> Iterator[RawTable]:
    """Consecutive slices of a file's rows; each malformed record goes with the slice whose rows it falls
    among (the last one after the last row), so that quarantine rows stay in row order."""
    frame = raw.frame
    if len(frame) == 0:
        yield raw
        return
    last_rows = frame[ROW].to_numpy()[np.minimum(np.arange(rows, len(frame) + rows, rows), len(frame)) - 1]
    starts = range(0, len(frame), rows)
    for i, start in enumerate(starts):
        low = last_rows[i - 1] if i else 0
        high = last_rows[i] if i < len(starts) - 1 else np.inf
        malformed = tuple(m for m in raw.malformed if low < m.row <= high)
        yield RawTable(frame.iloc[start : start + rows], malformed)


def _latest_of(path: Path) -> int | None:
    if not path.exists():
        return None
    periods = pq.read_table(path, columns=[Skp.period]).to_pandas()
    return latest_skp_year(periods)
