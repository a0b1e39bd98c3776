"""Model jobs: ``evaluate`` (fit the ranker, compare it with the baselines) and ``train`` (the same, then
log, register and gate it in the registry)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rekomendasi.jobs.inputs import (
    ConfigFile,
    Stage,
    TrainingInputs,
    text_encoder,
    text_model_name,
    training_inputs,
)
from rekomendasi.jobs.text import TextTuning, tune_and_log
from rekomendasi.ranking.lifecycle import TrainOutcome, never_evaluated, train_and_register
from rekomendasi.ranking.report import write_report
from rekomendasi.ranking.train import FitResult, evaluate_ranker, fit_ranker
from rekomendasi.registry import ModelRegistry, ModelVersion, StaleRun
from rekomendasi.serving.store import read_feedback
from rekomendasi.settings import Settings

# Calls each job makes to its progress function.
EVALUATE_STAGES = 11
TRAIN_STAGES = 12


def source_tags(spec_file: ConfigFile, config_file: ConfigFile) -> dict[str, str]:
    """Run tags naming the evidence spec and training config files a run read, with their hashes."""
    return {
        "evidence_spec_path": str(spec_file.path),
        "evidence_spec_file_sha256": spec_file.sha256,
        "train_config_path": str(config_file.path),
        "train_config_file_sha256": config_file.sha256,
    }


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate`` fitted and measured.

    Attributes:
        tables: the comparison tables by name (models, per k, by group ...).
        report: the HTML page written, when a report folder was asked for.
    """

    inputs: TrainingInputs
    fit: FitResult
    tables: dict[str, pd.DataFrame]
    report: Path | None


def evaluate_job(
    settings: Settings,
    data: Path | None,
    as_of: dt.date | None,
    report: Path | None = None,
    progress: Stage | None = None,
) -> Evaluation:
    """Fit the ranker on outcomes (time split) and on the feedback in the state database, and compare it
    with the baselines on held-out employees; with ``report``, also write the report (HTML with plots,
    markdown, CSVs) to that folder.

    Raises:
        ConfigError: the evidence spec or the training config is missing or invalid.
        DataContractError: the data breaks the contract or has too little history.
    """
    inputs = training_inputs(settings, data, as_of, progress)
    feedback = read_feedback(settings)
    fit = fit_ranker(
        inputs.dataset, inputs.spec, inputs.config, inputs.as_of, progress=progress, feedback=feedback
    )
    if progress is not None:
        progress("evaluate")
    tables = evaluate_ranker(inputs.dataset, fit, inputs.config)
    page = None
    if report is not None:
        page = write_report(
            tables,
            report,
            f"Ranker evaluation of {inputs.data_dir.name} as of {inputs.as_of}",
            f"Fitted on enrolments of {fit.train_years}, validated on {fit.validation_year}, "
            "refitted on both; "
            f"{len(fit.holdout):,} held-out employees.",
        )
    return Evaluation(inputs, fit, tables, page)


@dataclass(frozen=True)
class Training:
    """What ``train`` registered and decided.

    Attributes:
        stale_runs: earlier training runs found RUNNING before this one started, whose process is gone
            (ended FAILED) or cannot be checked from here (flagged).
    """

    inputs: TrainingInputs
    outcome: TrainOutcome
    stale_runs: tuple[StaleRun, ...] = ()
    text: TextTuning | None = None


def train_job(
    settings: Settings,
    registry: ModelRegistry,
    data: Path | None,
    as_of: dt.date | None,
    progress: Stage | None = None,
) -> Training:
    """Train on outcomes and on the feedback in the state database (none when its table is empty or
    absent), evaluate, log the run (tagged with the spec and config files it read, and with the feedback
    pairs used of each kind) to the registry, alias the new version ``challenger``, and make it
    ``champion`` when it is not worse than the current one on the same validation set.

    First, earlier runs left RUNNING by a process that is gone (killed, crashed) are ended FAILED.

    Raises:
        ConfigError: the evidence spec or the training config is missing or invalid.
        DataContractError: the data breaks the contract or has too little history.
    """
    stale = registry.end_interrupted_runs()
    inputs = training_inputs(settings, data, as_of, progress)
    outcome = train_and_register(
        inputs.dataset,
        inputs.spec,
        inputs.config,
        registry,
        inputs.as_of,
        text_model_name(text_encoder(settings)),
        progress=progress,
        extra_tags=source_tags(inputs.spec_file, inputs.config_file),
        feedback=read_feedback(settings),
    )
    # Optional (REKOMENDASI_TEXT_TUNE): the sentence model tuned on the labelled text, into the same run.
    text = tune_and_log(settings, registry, inputs, outcome.version.run_id)
    return Training(inputs, outcome, tuple(stale), text)


@dataclass(frozen=True)
class Listing:
    """What ``models`` shows.

    Attributes:
        versions: every registered version, newest first.
        never_evaluated: version -> why it looks left behind by an interrupted run (no alias, its run did
            not finish the quality gate); see :func:`rekomendasi.ranking.lifecycle.never_evaluated`.
        stale_runs: training runs found RUNNING whose process is gone (ended FAILED now) or cannot be
            checked from here (flagged).
    """

    versions: list[ModelVersion]
    never_evaluated: dict[str, str]
    stale_runs: tuple[StaleRun, ...]


def models_job(registry: ModelRegistry) -> Listing:
    """End FAILED the training runs whose process is gone, then list the registered versions and flag
    those never evaluated."""
    stale = registry.end_interrupted_runs()
    versions = registry.versions()
    flags = {v.version: reason for v in versions if (reason := never_evaluated(v)) is not None}
    return Listing(versions, flags, tuple(stale))
