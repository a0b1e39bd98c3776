"""Jobs on the scores store: ``rekomendasi score`` writes it, ``rekomendasi batch`` writes the contract's
batch file from it. Both score with the registry's champion, through the recommendation core."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rekomendasi.candidates import Catalogue
from rekomendasi.cluster import Runner
from rekomendasi.features import Snapshot
from rekomendasi.recommend import NO_OBJECTIONS, Objections, ScoreOptions, ScoresStore, StoreId, write_store
from rekomendasi.recommend.batch import write_batch
from rekomendasi.recommend.champion import load_champion
from rekomendasi.registry import ModelRegistry

Progress = Callable[[int, int], None]


def score_job(
    snapshot: Snapshot,
    registry: ModelRegistry,
    root: Path,
    options: ScoreOptions,
    progress: Progress | None = None,
    runner: Runner | None = None,
) -> Path:
    """Write the scores store of ``snapshot`` and the champion under ``root``; return its directory.

    Args:
        runner: where the agencies are scored (default: in this process).
    """
    best = load_champion(registry)
    store_id = StoreId(snapshot.snapshot_id, best.version.version, best.version.run_id)
    return write_store(root, snapshot, best.model, store_id, options, progress, runner)


@dataclass(frozen=True)
class BatchResult:
    """What ``batch`` wrote."""

    rows: int
    employees: int
    store: Path | None  # the store it wrote on the way, when it was asked to keep one


def batch_job(
    snapshot: Snapshot,
    registry: ModelRegistry,
    out: Path,
    k: int,
    options: ScoreOptions,
    write_chunks: Callable[[Iterator[pd.DataFrame], Path], int],
    store_root: Path | None = None,
    progress: Progress | None = None,
    runner: Runner | None = None,
    objections: Objections = NO_OBJECTIONS,
) -> BatchResult:
    """The contract's batch file (nip, rank, training_id, score, reason) for every active employee,
    written through the scores store: into ``store_root`` when given (kept), else a temporary one.

    Args:
        write_chunks: streams frames into a file (CSV or Parquet by its extension).
        runner: where the agencies are scored and their batch rows made (default: in this process).
        objections: standing objections (UU 27/2022 art. 10), left out of the file.
    """
    options = dataclasses.replace(options, top_n=max(options.top_n, k + objections.depth))
    if store_root is None:  # nobody will read its contributions: the batch file has none
        options = dataclasses.replace(options, explained=0)
    # Next to the output, not in /tmp: on a cluster the workers write the store, and they see the
    # output's file system (they may not see this machine's /tmp).
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rekomendasi-batch-", dir=out.parent) as scratch:
        root = store_root if store_root is not None else Path(scratch)
        path = score_job(snapshot, registry, root, options, progress, runner)
        names = Catalogue.from_snapshot(snapshot).names
        written = write_batch(
            ScoresStore(path),
            k,
            names,
            out,
            write_chunks,
            runner=runner,
            progress=progress,
            objections=objections,
        )
    return BatchResult(written.rows, written.employees, store=path if store_root is not None else None)
