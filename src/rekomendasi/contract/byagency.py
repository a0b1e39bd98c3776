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

from rekomendasi.cluster import InProcess, Runner
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
from rekomendasi.errors import DataContractError

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
    runner: Runner | None = None,
) -> AgencyData:
    """Read, parse and validate every table of a data directory as
    :func:`~rekomendasi.contract.loader.load_dataset` does, writing the rows of the
    :data:`PARTITIONED` tables by agency into ``scratch`` (an empty directory the caller removes).

    The small tables are loaded here first; the partitioned ones, which refer to them, then load on
    ``runner`` (each table a task: on a cluster, several tables at once; every worker must see
    ``scratch``). A file-level problem raises the error the whole load would: the first table's, in the
    contract's order.

    Args:
        max_quarantine_share: as for ``load_dataset``.
        on_table: called with (tables done, tables in all) after each table.
        chunk_rows: rows validated at a time.
        runner: where the partitioned tables load (default: in this process, one after the other).

    Raises:
        DataContractError: a file-level problem.
        QuarantineThresholdError: too many quarantined rows in a table.
    """
    data_dir = Path(data_dir)
    files = locate_files(data_dir)
    whole: dict[str, pd.DataFrame] = {}
    loaded: dict[str, tuple[int, pd.DataFrame | None]] = {}
    refused: dict[str, DataContractError] = {}
    done = 0
    for spec in TABLES:
        if spec.name in PARTITIONED:
            continue
        path = files.get(spec.name)
        try:
            if path is None:
                whole[spec.name], loaded[spec.name] = empty_table(spec), (0, None)
            else:
                whole[spec.name], table_issues = validate_rows(spec, read_checked(spec, path), whole)
                loaded[spec.name] = (len(whole[spec.name]), table_issues)
        except DataContractError as err:
            refused[spec.name] = err
            if spec.required:  # the tables keyed by NIP need it (a later optional one may wait)
                raise
        done += 1
        if on_table is not None:
            on_table(done, len(TABLES))
    staff = whole["employees"]
    agencies = np.unique(staff[Employees.instansi_id].astype(str).to_numpy(dtype=object))
    context = (run := runner or InProcess()).share(
        _LoadContext({n: whole[n] for n in _REFERENCED}, agencies, scratch, chunk_rows)
    )
    tasks = [(name, (name, files.get(name))) for name in PARTITIONED]
    groups: dict[str, dict[int, tuple[int, ...]]] = {}
    for name, result in run.map(_load_table, tasks, context, total=len(tasks)):
        if isinstance(result, DataContractError):
            refused[name] = result
        else:
            kept, table_issues, groups[name] = result
            loaded[name] = (kept, table_issues)
        done += 1
        if on_table is not None:
            on_table(done, len(TABLES))
    first = next((spec.name for spec in TABLES if spec.name in refused), None)
    if first is not None:
        raise refused[first]
    issues: list[pd.DataFrame] = []
    reports: list[TableReport] = []
    for spec in TABLES:
        kept, found = loaded[spec.name]
        path = files.get(spec.name)
        if path is None or found is None:
            reports.append(TableReport(spec.name, None, 0, 0))
            continue
        issues.append(found)
        reports.append(table_report(spec.name, path.name, kept, found))
        logger.info("loaded %s: %d rows, %d quarantined", path.name, kept, reports[-1].rows_quarantined)
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
        _latest_of(scratch / "skp.parquet"),
    )


# The tables the partitioned ones refer to (their foreign keys), sent to every worker of the load.
_REFERENCED = tuple(
    sorted(
        {
            str(spec.column_meta(column)["fk"]).split(".")[0]
            for spec in TABLES
            if spec.name in PARTITIONED
            for column in spec.columns
            if spec.column_meta(column).get("fk")
        }
    )
)


@dataclass(frozen=True)
class _LoadContext:
    loaded: Mapping[str, pd.DataFrame]
    agencies: np.ndarray
    scratch: Path
    chunk_rows: int


def _load_table(
    task: tuple[str, Path | None], context: _LoadContext
) -> tuple[int, pd.DataFrame | None, dict[int, tuple[int, ...]]] | DataContractError:
    """One partitioned table's load (a task): its clean row count, quarantine rows and row groups, or
    the file-level problem that refuses it (returned, so that the first table's in the contract's order
    is the one raised)."""
    name, path = task
    try:
        return _write_by_agency(
            TABLES_BY_NAME[name], path, context.loaded, context.agencies, context.scratch, context.chunk_rows
        )
    except DataContractError as err:
        return err


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
