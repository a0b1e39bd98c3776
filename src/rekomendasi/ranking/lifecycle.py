"""Train, log, register, and promote through the quality gate."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rekomendasi import __version__
from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec
from rekomendasi.ranking.pairs import FEATURES
from rekomendasi.ranking.report import write_report
from rekomendasi.ranking.train import RANKER, TrainConfig, evaluate_ranker, fit_ranker, validation_ndcg
from rekomendasi.registry import NATIVE_ARTIFACT, ModelRegistry, ModelVersion

GATE_METRIC = "validation_ndcg_at_10"


@dataclass(frozen=True)
class TrainOutcome:
    """What a training job produced and decided."""

    version: ModelVersion
    promoted: bool
    gate: str
    tables: dict[str, pd.DataFrame]


def _metric_name(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


RANKER_NDCG_METRIC = f"{_metric_name(RANKER)}.ndcg_10"  # held-out NDCG@10 graded by truth


def train_and_register(
    dataset: Dataset,
    spec: EvidenceSpec,
    config: TrainConfig,
    registry: ModelRegistry,
    as_of: dt.date,
    text_model: str,
    progress: Callable[[str], None] | None = None,
    extra_tags: dict[str, str] | None = None,
    feedback: pd.DataFrame | None = None,
) -> TrainOutcome:
    """Fit, evaluate, log everything to the registry, alias the new version ``challenger``, and make it
    ``champion`` if it is not worse than the current champion on the same time-split validation set.

    Everything happens inside one registry run (``registry.training_run``), which ends FINISHED only
    after the gate decided: a run killed on the way stays RUNNING until ``end_interrupted_runs`` ends it
    FAILED, and a version it registered has no alias and a run that never finished (see
    :func:`never_evaluated`).

    Args:
        extra_tags: more run tags from the caller (e.g. the paths and hashes of the spec and config files).
        feedback: feedback rows on recommendations (:func:`~rekomendasi.ranking.train.fit_ranker`); the
            run logs how many pairs of each kind were used (``feedback.*`` parameters).
    """
    with registry.training_run():
        fit = fit_ranker(dataset, spec, config, as_of, progress=progress, feedback=feedback)
        if progress is not None:
            progress("evaluate")
        tables = evaluate_ranker(dataset, fit, config)
        challenger_score = validation_ndcg(fit.model, fit)
        metrics = {
            GATE_METRIC: challenger_score,
            "validation_ndcg_nested": fit.validation_ndcg,
            "effect_alpha": float(fit.model.best_alpha_),
            "effect_uses_measured": float(getattr(fit.model, "uses_measured_", False)),
        }
        if fit.calibration is not None:
            tables["calibration"] = fit.calibration
            metrics["gain_calibration.ece"] = float(fit.calibration.attrs["ece"])
            metrics["gain_calibration.spearman"] = float(fit.calibration.attrs["spearman"])
        for _, row in tables["models"].iterrows():
            prefix = _metric_name(str(row["model"]))
            for column, value in row.items():
                if column not in ("model", "employees") and isinstance(value, float):
                    metrics[f"{prefix}.{_metric_name(str(column))}"] = value
        params = {
            **{f"gain.{k}": v for k, v in config.gain.model_dump().items()},
            **{f"ranker.{k}": v for k, v in config.ranker.model_dump().items()},
            "candidates": config.candidates,
            "holdout_employee_share": config.holdout_employee_share,
            "seed": config.seed,
            "as_of": as_of.isoformat(),
            "train_years": ",".join(map(str, fit.train_years)),
            "validation_year": fit.validation_year,
            "examples_train": fit.examples["train"],
            "examples_validation": fit.examples["validation"],
            **{f"feedback.{kind}": n for kind, n in sorted(fit.feedback.items())},
        }
        tags = {
            "data_fingerprint": str(fit.snapshot.manifest["data_fingerprint"]),  # of the same dataset
            "as_of": as_of.isoformat(),
            "embedding_model": text_model,
            "evidence_spec_version": str(spec.version),
            "rekomendasi_version": __version__,
            "features": ",".join(FEATURES),
            **(extra_tags or {}),
        }
        if progress is not None:
            progress("log to MLflow")
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as native:
            folder = Path(tmp)
            write_report(
                tables,
                folder,
                f"Ranker evaluation as of {as_of}",
                f"Fitted on enrolments of {fit.train_years}, validated on {fit.validation_year}, "
                "refitted on both; "
                f"time-split validation NDCG@10 {challenger_score:.4f}.",
            )
            (folder / "run.json").write_text(
                json.dumps({"params": params, "tags": tags}, indent=2, default=str), encoding="utf-8"
            )
            # The ranker in LightGBM's own format too: jobs and servers load that (see registry.load_version).
            artifacts = {"evaluation": folder, NATIVE_ARTIFACT: fit.model.save(Path(native))}
            example = fit.validation[0][list(FEATURES)].head(50) if fit.validation is not None else None
            version = registry.log_run(
                params,
                metrics,
                tags,
                artifacts,
                fit.model,
                example if example is not None else pd.DataFrame(columns=list(FEATURES)),
            )
        registry.set_alias("challenger", version.version)
        champion = registry.alias_version("champion")
        if champion is None:
            promoted, gate = True, "no champion yet"
        else:
            champion_score = validation_ndcg(registry.load("champion"), fit)
            promoted = challenger_score >= champion_score
            gate = (
                f"challenger {challenger_score:.4f} vs champion v{champion.version} {champion_score:.4f} "
                "on the same validation set"
            )
        if promoted:
            registry.set_alias("champion", version.version)
    # Read after the run ended, so the version shows its run FINISHED.
    return TrainOutcome(
        version=registry.alias_version("challenger") or version, promoted=promoted, gate=gate, tables=tables
    )


def never_evaluated(version: ModelVersion) -> str | None:
    """Why ``version`` looks left behind by an interrupted or failed training run, or None.

    A version is evaluated when its run logged the gate metric and finished: the run ends FINISHED only
    after the quality gate compared the version with the champion and aliased it (``challenger``, maybe
    ``champion``). One with an alias is in use whatever its run says.

    Returns:
        str: a short reason (run status, missing metric) for a version with no alias that was never
        evaluated; None otherwise.
    """
    if version.aliases:
        return None
    problems = []
    if version.run_status != "FINISHED":
        problems.append(f"run {version.run_status}" if version.run_status else "run deleted")
    if GATE_METRIC not in version.metrics:
        problems.append(f"no {GATE_METRIC}")
    return ", ".join(problems) or None
