"""The ``effectiveness`` job: every catalogue entry's measured effect (data contract, "Course
effectiveness"), its report, and an MLflow run of both in the experiment ``rekomendasi-effectiveness``.

What is written and logged is aggregate only: the measured enrolments behind the estimates name people
and stay in memory.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rekomendasi.contract.writing import write_table
from rekomendasi.effectiveness import (
    EffectConfig,
    Effectiveness,
    estimate_effectiveness,
    level_snapshots,
    measured_years,
)
from rekomendasi.effectiveness.report import write_report
from rekomendasi.errors import BadRequest
from rekomendasi.features.snapshot import data_fingerprint
from rekomendasi.jobs.inputs import ConfigFile, Stage, training_inputs
from rekomendasi.settings import Settings

EXPERIMENT = "rekomendasi-effectiveness"
EFFECTIVENESS_STAGES = 6
"""Calls the job makes to its progress function."""
FORMATS = (".csv", ".parquet")
"""The suffixes ``out`` may have (any case): the format of the contract table."""


@dataclass(frozen=True)
class EffectivenessRun:
    """What ``effectiveness`` wrote and logged.

    Attributes:
        out: the contract table (one row per catalogue entry).
        report: the report's HTML page (its CSVs and plots beside it).
        run_id: the MLflow run in :data:`EXPERIMENT`.
        entries: catalogue entries written.
        measured: entries with an effect (enough measured participants).
        participants: completed enrolments measured.
        note: why nothing could be measured, or None.
        effectiveness: the estimates (its ``enrolments`` name people: never print or write them).
        spec_file: the evidence spec the levels were estimated with.
    """

    out: Path
    report: Path
    run_id: str
    entries: int
    measured: int
    participants: int
    note: str | None
    effectiveness: Effectiveness
    spec_file: ConfigFile


def check_out(out: Path) -> None:
    """Refuse an ``out`` the contract table cannot be written to, before any work.

    Raises:
        BadRequest: the suffix is neither .csv nor .parquet.
    """
    if out.suffix.lower() not in FORMATS:
        raise BadRequest(
            f"--out {out}: write the effectiveness table to a .csv or .parquet file, "
            f"got suffix {out.suffix or '(none)'!r}"
        )


def default_report_dir(out: Path) -> Path:
    """``<out stem>-report`` beside ``out``."""
    return out.with_name(f"{out.stem}-report")


def effectiveness_job(
    settings: Settings,
    data_dir: Path | None,
    as_of: dt.date | None,
    out: Path,
    report_dir: Path | None = None,
    config: EffectConfig | None = None,
    progress: Stage | None = None,
) -> EffectivenessRun:
    """Estimate every catalogue entry's effect as of ``as_of``, write the contract table to ``out`` and
    the report to ``report_dir`` (default :func:`default_report_dir`), and log both to MLflow.

    A history too short to measure anything still gives every entry, each with its reason, and a note.

    Raises:
        BadRequest: ``out`` is not a .csv or .parquet file.
        ConfigError: the evidence spec or the training config is missing or invalid.
        DataContractError: the data breaks the contract.
    """
    from rekomendasi.registry import log_analysis_run  # the MLflow import, only when it is needed

    check_out(out)
    config = config or EffectConfig()
    report_dir = report_dir if report_dir is not None else default_report_dir(out)
    inputs = training_inputs(settings, data_dir, as_of, progress)
    years = measured_years(inputs.dataset, inputs.as_of)
    if progress is not None:
        progress(f"levels at 31 December of {years[0] - 1}-{years[-1]}" if years else "levels (none)")
    snapshots = level_snapshots(inputs.dataset, inputs.spec, years) if years else {}
    measured = estimate_effectiveness(
        inputs.dataset, inputs.spec, inputs.as_of, config, progress=progress, snapshots=snapshots
    )
    note = _note(measured)
    if progress is not None:
        progress("write the table and the report")
    _write_atomic_table(measured, out)
    title = f"Course effectiveness of {inputs.data_dir.name} as of {inputs.as_of}"
    page = write_report(measured, report_dir, title, (note,) if note else ())
    if progress is not None:
        progress("log to MLflow")
    run_id = log_analysis_run(
        settings,
        EXPERIMENT,
        _params(measured, data_fingerprint(inputs.dataset)),
        _metrics(measured),
        {
            "data_dir": str(inputs.data_dir.resolve()),
            "evidence_spec_path": str(inputs.spec_file.path),
            "evidence_spec_file_sha256": inputs.spec_file.sha256,
        },
        {"report": report_dir, "table": out},
        run_name=f"effectiveness {inputs.data_dir.name} {inputs.as_of}",
    )
    return EffectivenessRun(
        out=out,
        report=page,
        run_id=run_id,
        entries=len(measured.entries),
        measured=int(measured.entries["effect"].notna().sum()),
        participants=len(measured.enrolments),
        note=note,
        effectiveness=measured,
        spec_file=inputs.spec_file,
    )


def _note(measured: Effectiveness) -> str | None:
    """Why nothing has a number, when nothing has."""
    config = measured.config
    if not measured.years:
        return (
            f"The history is too short to measure any enrolment as of {measured.as_of}: an enrolment year "
            "needs a year of evidence before it and must be complete by the as-of date. Every catalogue "
            "entry is written with the reason and no effect."
        )
    if measured.entries["effect"].notna().any():
        return None
    most = int(measured.entries["participants"].max()) if len(measured.entries) else 0
    return (
        f"No catalogue entry has {config.min_participants} measured participants (the most is {most}); "
        "every entry is written with the reason and no effect. A lower --min-participants gives numbers "
        "with wider intervals."
    )


def _write_atomic_table(measured: Effectiveness, out: Path) -> None:
    """The contract table to ``out``: written beside it, then renamed over it, so a reader never sees
    half a file (and a failed run leaves the previous one)."""
    suffix = out.suffix.lower()
    temporary = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:12]}.tmp{suffix}")
    try:
        write_table(measured.table(), temporary)
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _params(measured: Effectiveness, fingerprint: str) -> dict[str, object]:
    config = measured.config
    return {
        "as_of": measured.as_of.isoformat(),
        "years": ",".join(str(y) for y in measured.years) or "none",
        "min_participants": config.min_participants,
        "resamples": config.resamples,
        "confidence": config.confidence,
        "horizon_years": config.horizon_years,
        "seed": config.seed,
        "data_fingerprint": fingerprint,
    }


def _metrics(measured: Effectiveness) -> dict[str, float]:
    entries = measured.entries
    metrics = {
        "entries": float(len(entries)),
        "entries_with_effect": float(entries["effect"].notna().sum()),
        "providers_with_effect": float(measured.providers["effect"].notna().sum()),
        "modalities_with_effect": float(measured.modalities["effect"].notna().sum()),
        "participants": float(len(measured.enrolments)),
    }
    for _, row in measured.checks.iterrows():
        name = str(row["check"])
        metrics[f"{name}_participants"] = float(row["participants"])
        for column in ("effect", "ci_low", "ci_high", "naive", "naive_low", "naive_high"):
            metrics[f"{name}_{column}"] = float(row[column]) if pd.notna(row[column]) else float("nan")
    return metrics
