"""Jobs on the scores store: ``rekomendasi score`` writes it, ``rekomendasi batch`` writes the contract's
batch file from it. Both score with the registry's champion, through the recommendation core."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rekomendasi.candidates import Catalogue
from rekomendasi.errors import ModelNotReady
from rekomendasi.features import Snapshot
from rekomendasi.ranking.pairs import FEATURES
from rekomendasi.recommend import ScoreOptions, ScoresStore, StoreId, write_store
from rekomendasi.recommend.batch import batch_table
from rekomendasi.registry import ModelRegistry, ModelVersion

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Champion:
    """The champion as a scoring job uses it: the model and the exact version it was loaded from."""

    model: object
    version: ModelVersion


def champion(registry: ModelRegistry) -> Champion:
    """The registry's champion, loaded by version (an alias moved meanwhile cannot mix two versions).

    Raises:
        ModelNotReady: no champion, or one trained on other pair features than this release computes.
    """
    version = registry.alias_version("champion")
    if version is None:
        raise ModelNotReady("no champion model yet; run `rekomendasi train --data DIR` first.")
    model = registry.load_version(version.version)
    if list(getattr(model, "feature_names_in_", [])) != list(FEATURES):
        raise ModelNotReady(
            f"champion v{version.version} was trained on other pair features than this release "
            "computes; run `rekomendasi train` to train one for it."
        )
    return Champion(model, version)


def score_job(
    snapshot: Snapshot,
    registry: ModelRegistry,
    root: Path,
    options: ScoreOptions,
    progress: Progress | None = None,
) -> Path:
    """Write the scores store of ``snapshot`` and the champion under ``root``; return its directory."""
    best = champion(registry)
    store_id = StoreId(snapshot.snapshot_id, best.version.version, best.version.run_id)
    return write_store(root, snapshot, best.model, store_id, options, progress)  # type: ignore[arg-type]


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
    write: Callable[[pd.DataFrame, Path], object],
    store_root: Path | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """The contract's batch file (nip, rank, training_id, score, reason) for every active employee,
    written through the scores store: into ``store_root`` when given (kept), else a temporary one.

    Args:
        write: writes a frame to a path (CSV or Parquet by its extension).
    """
    options = dataclasses.replace(options, top_n=max(options.top_n, k))
    if store_root is None:  # nobody will read its contributions: the batch file has none
        options = dataclasses.replace(options, explained=0)
    with tempfile.TemporaryDirectory(prefix="rekomendasi-batch-") as scratch:
        root = store_root if store_root is not None else Path(scratch)
        path = score_job(snapshot, registry, root, options, progress)
        table = batch_table(ScoresStore(path), k, Catalogue.from_snapshot(snapshot).names)
        write(table, out)
    return BatchResult(
        rows=len(table), employees=int(table["nip"].nunique()), store=path if store_root is not None else None
    )
