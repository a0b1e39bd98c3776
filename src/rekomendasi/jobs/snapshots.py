"""Snapshot jobs: build the as-of snapshot of a data directory (``features``, and the snapshot ``score``
and ``batch`` rank), judge one against a simulated world's truth (``evaluate-features``), and read the
roster of a written one."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rekomendasi.cluster import InProcess, Progress, Runner
from rekomendasi.contract import Dataset
from rekomendasi.contract.byagency import load_by_agency
from rekomendasi.errors import ModelNotReady
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot, read_snapshot, write_snapshot
from rekomendasi.features.byagency import build_snapshot_by_agency
from rekomendasi.features.quality import estimation_quality, text_accuracy
from rekomendasi.features.schemas import Roster
from rekomendasi.features.textmap import fit_text_model
from rekomendasi.jobs.inputs import (
    ConfigFile,
    Stage,
    as_of_date,
    as_of_rule,
    data_dir,
    evidence_spec,
    load_data,
    text_encoder,
)
from rekomendasi.settings import Settings

# Calls a snapshot job makes to its progress function: loading, the six stages of build_snapshot, done.
SNAPSHOT_STAGES = 8


@dataclass(frozen=True)
class SnapshotRun:
    """A built snapshot with what it was built from.

    Attributes:
        seconds: seconds per stage, in the order they ran.
        paths: the files written (empty when the snapshot was not written).
    """

    data_dir: Path
    dataset: Dataset | None  # None when the data was loaded by agency
    snapshot: Snapshot
    spec: EvidenceSpec
    spec_file: ConfigFile
    seconds: dict[str, float]
    paths: list[Path] = field(default_factory=list)


def snapshot_job(
    settings: Settings,
    data: Path | None,
    as_of: dt.date | None,
    embeddings: bool | None = None,
    out: Path | None = None,
    progress: Stage | None = None,
    dataset: Dataset | None = None,
    runner: Runner | None = None,
    agencies: Progress | None = None,
    scratch: Path | None = None,
) -> SnapshotRun:
    """Load the data (unless ``dataset`` is given), build the snapshot of the as-of date, and write it to
    ``out`` when given. The manifest records the evidence spec's file (``spec_path``, ``spec_file_sha256``).

    With ``scratch``, the data is loaded by agency (:mod:`rekomendasi.contract.byagency`) into a
    temporary directory under it, removed at the end: the driver never holds the tables keyed by NIP
    (the national jobs, ``features``, ``score`` and ``batch``). The snapshot is the same either way.

    Args:
        data: the data directory (default ``REKOMENDASI_DATA_DIR``).
        as_of: the ``--as-of`` option, or None for the rule of :func:`~rekomendasi.jobs.inputs.as_of_date`.
        embeddings: use the sentence encoder (None: ``REKOMENDASI_TEXT_EMBEDDINGS``).
        progress: called with each stage's name (:data:`SNAPSHOT_STAGES` calls).
        runner: where the agencies' per-employee stages run (default: in this process); the snapshot is
            the same either way.
        agencies: called with (agencies done, agencies in all) as they finish (and with tables loaded
            of tables in all while loading by agency).
        scratch: where the load by agency writes the agencies' rows; on a cluster, every worker must
            see it.

    Raises:
        ConfigError: the evidence spec is missing or invalid, or a worker does not see ``scratch``.
        DataContractError: the data breaks the contract.
        PartitionFailed: an agency failed on every attempt (named in the message).
    """
    spec, spec_file = evidence_spec(settings)
    directory = data_dir(settings, data)
    seconds: dict[str, float] = {}
    clock = [("load data", time.perf_counter())]

    def timed(name: str) -> None:
        now = time.perf_counter()
        previous, started = clock.pop()
        seconds[previous] = round(now - started, 1)
        clock.append((name, now))
        if progress is not None:
            progress(name)

    if progress is not None:
        progress("load data")
    encoder = text_encoder(settings, embeddings)
    if dataset is None and scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".rekomendasi-load-", dir=scratch) as parts:
            (runner or InProcess()).visible(Path(parts))
            loaded = load_by_agency(
                directory,
                Path(parts),
                max_quarantine_share=settings.max_quarantine_share,
                on_table=agencies,
                runner=runner,
            )
            date = as_of_rule(settings, loaded.latest_skp_year, as_of)
            snapshot = build_snapshot_by_agency(loaded, date, spec, encoder, timed, runner, agencies)
    else:
        if dataset is None:
            dataset = load_data(settings, directory)
        date = as_of_date(settings, dataset, as_of)
        snapshot = build_snapshot(dataset, date, spec, encoder, timed, runner, agencies)
    timed("done")
    snapshot.manifest["spec_path"] = str(spec_file.path)
    snapshot.manifest["spec_file_sha256"] = spec_file.sha256
    paths = write_snapshot(snapshot, out) if out is not None else []
    return SnapshotRun(directory, dataset, snapshot, spec, spec_file, seconds, paths)


def scoring_snapshot(
    settings: Settings,
    data: Path | None,
    as_of: dt.date | None,
    snapshot_dir: Path,
    progress: Stage | None = None,
    runner: Runner | None = None,
    agencies: Progress | None = None,
) -> tuple[Snapshot, SnapshotRun | None]:
    """The snapshot ``score`` ranks: with ``data``, built and written to ``snapshot_dir`` first (so the
    server serves the very snapshot the scores were made from); without, the one in ``snapshot_dir``.

    Args:
        runner: where the agencies of a build run (see :func:`snapshot_job`).
        agencies: called with (agencies done, agencies in all) as they finish.

    Returns:
        The snapshot, and the run that built it (None when it was read).

    Raises:
        ModelNotReady: no ``data`` and no snapshot in ``snapshot_dir``.
    """
    if data is None:
        return read_snapshot(snapshot_dir), None
    run = snapshot_job(
        settings,
        data,
        as_of,
        out=snapshot_dir,
        progress=progress,
        runner=runner,
        agencies=agencies,
        scratch=snapshot_dir.parent,
    )
    return run.snapshot, run


def active_roster(snapshot_dir: Path) -> pd.DataFrame:
    """The active employees of a written snapshot (nip, instansi_id), sorted by nip, read from its roster
    alone (no other table is loaded).

    Raises:
        ModelNotReady: the directory holds no snapshot roster (with the command that builds one).
    """
    path = snapshot_dir / "roster.parquet"
    if not path.exists():
        raise ModelNotReady(
            f"no snapshot in {snapshot_dir}; build one with "
            f"`rekomendasi features --data DIR --out {snapshot_dir}`."
        )
    roster = pd.read_parquet(path, columns=[Roster.nip, Roster.instansi_id, Roster.active])
    active = roster[roster[Roster.active].fillna(False).astype(bool)]
    return active[[Roster.nip, Roster.instansi_id]].sort_values(Roster.nip).reset_index(drop=True)


@dataclass(frozen=True)
class FeatureQuality:
    """What ``evaluate-features`` measured.

    Attributes:
        levels: estimated and naive competency levels against truth, per measure.
        text: text-to-competency accuracy of untagged generated texts against truth.
    """

    as_of: dt.date
    spec_file: ConfigFile
    levels: pd.DataFrame
    text: pd.DataFrame


def evaluate_features_job(
    settings: Settings,
    data: Path,
    as_of: dt.date | None,
    embeddings: bool | None = None,
    progress: Stage | None = None,
) -> FeatureQuality:
    """Build the snapshot of a simulated data directory and judge it against its ``truth/``.

    Raises:
        ConfigError: the evidence spec is missing or invalid.
        DataContractError: the data breaks the contract, or has no ``truth/``.
    """
    run = snapshot_job(settings, data, as_of, embeddings, progress=progress)
    assert run.dataset is not None  # loaded whole: no scratch was given
    levels = estimation_quality(run.snapshot, run.dataset)
    text_model = fit_text_model(run.dataset.tables, run.spec, text_encoder(settings, embeddings))
    return FeatureQuality(run.snapshot.as_of, run.spec_file, levels, text_accuracy(text_model, run.dataset))
