"""The scores store: every active employee's unfiltered top N, scored and explained, as a Parquet
dataset partitioned by agency (hive layout, ``instansi_id=<id>/part-*.parquet``), identified by the
snapshot and the model version that made it.

Layout under a root directory (``Settings.scores_dir``)::

    <root>/<as-of>_<fingerprint>_v<version>_<run>/   one store per (snapshot, model)
        _manifest.json                              what made it, and its size (the leading underscore
                                                    keeps Parquet readers from taking it for data)
        instansi_id=<agency>/part-0.parquet         ranks 1 .. explained (what an answer shows, with the
                                                    model contributions), sorted by nip and rank
        instansi_id=<agency>/part-1.parquet         ranks explained+1 .. N (plans, deep lists)
                                                    a row group holds EMPLOYEES_PER_GROUP employees of a
                                                    file and never splits one
        instansi_id=<agency>/_head.arrow            part-0's rows again as uncompressed Arrow IPC: what
                                                    a server maps into memory and answers from (Parquet
                                                    readers skip it by its leading underscore)

A store is written into a hidden sibling directory and renamed into place when complete, so a reader
never sees half a store. Readers (the API, ``batch``, plans) open the one that matches their snapshot and
champion; a server reads one agency's row group per request (no worker loads every partition).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rekomendasi import __version__
from rekomendasi.candidates import Catalogue, build_matrices
from rekomendasi.cluster import InProcess, Runner, worker_threads
from rekomendasi.errors import ModelNotReady
from rekomendasi.features import Snapshot
from rekomendasi.features.schemas import Roster
from rekomendasi.recommend.core import (
    DEFAULT_OPTIONS,
    Ranker,
    ScoreOptions,
    agency_partitions,
    empty_scores,
    score_employees,
)
from rekomendasi.recommend.schemas import SCORE_COLUMNS, Scores
from rekomendasi.rowgroups import BatchedFile, write_batched, write_grouped

STORE_FORMAT = 3
HEAD, TAIL = "part-0.parquet", "part-1.parquet"
SERVING_INDEX = "_head.arrow"
MANIFEST = "_manifest.json"
EMPLOYEES_PER_GROUP = 16
PARTITION = Scores.instansi_id
_FILE_COLUMNS = [c for c in SCORE_COLUMNS if c != PARTITION]


@dataclass(frozen=True, slots=True)
class StoreId:
    """What a store was made from: the snapshot and the registered model version."""

    snapshot_id: str
    model_version: str
    run_id: str

    @property
    def name(self) -> str:
        """str: the store's directory name (safe on every file system)."""
        raw = f"{self.snapshot_id}_v{self.model_version}_{self.run_id[:8]}"
        return re.sub(r"[^A-Za-z0-9_.-]", "_", raw.replace(":", "_"))


def partition_dir(root: Path, agency: str) -> Path:
    """The directory of one agency's partition (hive layout, the value URI-encoded as pyarrow does)."""
    return root / f"{PARTITION}={quote(agency, safe='')}"


def write_store(
    root: Path,
    snapshot: Snapshot,
    model: Ranker,
    store_id: StoreId,
    options: ScoreOptions = DEFAULT_OPTIONS,
    progress: Callable[[int, int], None] | None = None,
    runner: Runner | None = None,
) -> Path:
    """Score every active employee of ``snapshot`` and write the store under ``root``; return its path.

    Each agency is scored and written by itself (:func:`score_partition`), in this process or on a Dask
    cluster (``runner``), so memory holds one agency's pairs per worker at most. The catalogue and the
    model are sent to every worker once; each agency's partition is written by the worker that scored it
    (so ``root`` must be a directory every worker sees).

    Args:
        progress: called with (agencies done, agencies in all) after each agency.
        runner: where the agencies are scored (default: in this process, one after the other).

    Raises:
        PartitionFailed: an agency failed on every attempt (nothing is left behind).
    """
    run = runner or InProcess()
    final = root / store_id.name
    partial = root / f".{store_id.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    active = snapshot.roster[snapshot.roster[Roster.active]]
    total = int(active[Roster.instansi_id].nunique())
    rows = employees = agencies = 0
    try:
        run.visible(partial)
        shared = run.share(
            ScoringContext(snapshot.subset([]), Catalogue.for_model(snapshot, model), model, options, partial)
        )
        parts = ((agency, part.employee_tables()) for agency, part in agency_partitions(snapshot))
        for _, (part_rows, part_employees) in run.map(
            score_partition, parts, shared, total=total, progress=progress
        ):
            rows += part_rows
            employees += part_employees
            agencies += 1
        manifest = {
            "format": STORE_FORMAT,
            "snapshot_id": store_id.snapshot_id,
            "model_version": store_id.model_version,
            "run_id": store_id.run_id,
            "as_of": snapshot.as_of.isoformat(),
            "top_n": options.top_n,
            "explained": options.explained,
            "candidates": options.candidates,
            "agencies": agencies,
            "employees": employees,
            "rows": rows,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "rekomendasi_version": __version__,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


@dataclass(frozen=True)
class ScoringContext:
    """What every agency's scoring needs, sent to each worker once.

    Attributes:
        base: the snapshot without employees (its shared tables: catalogue, entry outcomes, peer uptake).
        directory: the store being written (its partitions go under it).
    """

    base: Snapshot
    catalogue: Catalogue
    model: Ranker
    options: ScoreOptions
    directory: Path


def score_partition(tables: dict[str, pd.DataFrame], context: ScoringContext) -> tuple[int, int]:
    """Score one agency (its rows of the snapshot's per-employee tables) and write its partition of the
    store; return (rows, employees) written. Safe to run again: the partition is replaced whole."""
    part = context.base.with_employees(tables)
    options = context.options
    if options.num_threads == 0:
        options = replace(options, num_threads=worker_threads())
    scores = score_employees(build_matrices(part, context.catalogue), context.model, options)
    agency = str(part.roster[Roster.instansi_id].iloc[0])
    target = partition_dir(context.directory, agency)
    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    # Not parents=True: when the job has stopped and removed its store (another agency failed), a
    # partition still running must not bring the directory back.
    scratch.mkdir()
    try:
        _write_partition(scratch, scores, options.explained)
        shutil.rmtree(target, ignore_errors=True)  # an earlier attempt's, when this one is a retry
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return len(scores), int(scores[Scores.nip].nunique())


def _write_partition(directory: Path, scores: pd.DataFrame, explained: int) -> None:
    """The agency's head (the explained ranks, what an answer shows) and tail (the deeper ranks) as
    Parquet, and the head again as the server's memory-mapped index."""
    head = scores[Scores.rank] <= explained
    for name, rows in ((HEAD, scores[head]), (TAIL, scores[~head])):
        if len(rows) or name == HEAD:
            table = _arrow(rows)
            write_grouped(table, directory / name, EMPLOYEES_PER_GROUP)
            if name == HEAD:
                write_batched(table, directory / SERVING_INDEX, EMPLOYEES_PER_GROUP)


def _arrow(scores: pd.DataFrame) -> pa.Table:
    # Without pandas' metadata: its name for the Arrow-typed gaps column cannot be read back by every
    # reader, and Arrow's own schema says everything.
    return pa.Table.from_pandas(scores[_FILE_COLUMNS], preserve_index=False).replace_schema_metadata(None)


def _replace(partial: Path, final: Path) -> None:
    """Move a complete store into place; an older store of the same name is removed after the swap."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        partial.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(final)


class ScoresStore:
    """A store opened for reading. Thread-safe.

    Args:
        path: the store's directory (``<root>/<StoreId.name>``).
    """

    def __init__(self, path: Path) -> None:
        manifest = path / MANIFEST
        if not manifest.exists():
            raise ModelNotReady(f"no scores store in {path}.")
        self.path = path
        self.manifest: dict[str, object] = json.loads(manifest.read_text(encoding="utf-8"))
        if self.manifest.get("format") != STORE_FORMAT:
            raise ModelNotReady(
                f"the scores store in {path} has format {self.manifest.get('format')}, this release reads "
                f"{STORE_FORMAT}; run `rekomendasi score` again."
            )
        self._lock = threading.Lock()
        self._files: dict[str, BatchedFile | None] = {}

    @classmethod
    def open(cls, root: Path, store_id: StoreId, command: str) -> ScoresStore:
        """The store of ``store_id`` under ``root``.

        Raises:
            ModelNotReady: there is none (the message names what exists and the ``command`` to run).
        """
        path = root / store_id.name
        if not (path / MANIFEST).exists():
            others = sorted(p.name for p in root.glob("*") if (p / MANIFEST).exists())
            found = f" (it holds {', '.join(others[-3:])})" if others else ""
            raise ModelNotReady(
                f"no scores for snapshot {store_id.snapshot_id} and model v{store_id.model_version} "
                f"in {root}{found}; run `{command}`."
            )
        return cls(path)

    @property
    def top_n(self) -> int:
        """int: ranked entries kept per employee."""
        return int(self.manifest["top_n"])  # type: ignore[call-overload]

    @property
    def explained(self) -> int:
        """int: ranks (from the first) that carry the model's contributions."""
        return min(int(self.manifest["explained"]), self.top_n)  # type: ignore[call-overload]

    def employee(self, agency: str, nip: str) -> pa.Table:
        """One employee's rows of the explained ranks (columns of :class:`Scores` but ``instansi_id``),
        best first; empty when the store has none (no eligible entry). Deeper ranks: :meth:`read`."""
        opened = self._file(agency)
        return opened.rows(nip) if opened is not None else _empty_table()

    def agencies(self) -> list[str]:
        """The agencies with a partition, sorted."""
        prefix = f"{PARTITION}="
        return sorted(unquote(p.name[len(prefix) :]) for p in self.path.glob(f"{prefix}*"))

    def read(self, agency: str, max_rank: int | None = None) -> pd.DataFrame:
        """One agency's rows as a :class:`Scores` table (with ``instansi_id``), ranks up to ``max_rank``
        (all when None), sorted by nip and rank."""
        directory = partition_dir(self.path, agency)
        files = [HEAD] if max_rank is not None and max_rank <= self.explained else [HEAD, TAIL]
        parts = [
            pq.read_table(directory / name, filters=[(Scores.rank, "<=", max_rank)] if max_rank else None)
            for name in files
            if (directory / name).exists()
        ]
        if not parts:
            return empty_scores()
        frame = pa.concat_tables(parts).to_pandas(types_mapper=_types)
        frame.insert(0, PARTITION, pd.Series([agency] * len(frame), dtype="str"))
        frame = frame.sort_values([Scores.nip, Scores.rank], kind="stable").reset_index(drop=True)
        return Scores.validate(frame)

    def _file(self, agency: str) -> BatchedFile | None:
        with self._lock:
            if agency in self._files:
                return self._files[agency]
        path = partition_dir(self.path, agency) / SERVING_INDEX
        opened = BatchedFile(path) if path.exists() else None
        with self._lock:
            return self._files.setdefault(agency, opened)


def _types(arrow_type: pa.DataType) -> object:
    """pandas dtypes of a store file's columns: strings as pandas strings, the gaps as Arrow lists."""
    if pa.types.is_list(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


def _empty_table() -> pa.Table:
    return pa.Table.from_pandas(empty_scores()[_FILE_COLUMNS], preserve_index=False)
