"""``evaluate`` and ``train`` the ranker; ``promote`` a version and list the registered ``models``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rekomendasi.cli.common import (
    AsOf,
    DataDir,
    console,
    err_console,
    friendly_errors,
    parse_as_of,
    print_sources,
    stages,
)
from rekomendasi.settings import get_settings

if TYPE_CHECKING:
    from rekomendasi.registry import StaleRun


def evaluate(
    data: DataDir = None,
    as_of: AsOf = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Also write the report (HTML with plots, markdown, CSVs) to this folder."),
    ] = None,
) -> None:
    """Train the ranker on outcomes (time split) and compare it with the baselines on held-out employees.

    In a simulated world (with truth/) the table adds the oracle and truth-graded metrics; on real data it
    shows what needs no truth (coverage, diversity).
    """
    from rekomendasi.jobs.models import EVALUATE_STAGES, evaluate_job

    settings = get_settings()
    date = parse_as_of(as_of)
    data_dir = data or settings.resolve(settings.data_dir)
    with friendly_errors(), stages(EVALUATE_STAGES, f"training on {data_dir}") as advance:
        result = evaluate_job(settings, data_dir, date, report, progress=advance)
    fit, config = result.fit, result.inputs.config
    print_sources(evidence_spec=result.inputs.spec_file, train_config=result.inputs.config_file)
    console.print(
        f"fitted on enrolments of {fit.train_years}, validated on {fit.validation_year} "
        f"({fit.examples['train']:,} / {fit.examples['validation']:,} examples; "
        f"effect penalty {fit.model.best_alpha_:g} chosen, "
        f"validation NDCG@{config.ranker.eval_at} {fit.validation_ndcg:.3f}), then refitted on both; "
        f"evaluated on {len(fit.holdout):,} held-out employees as of {result.inputs.as_of}"
    )
    for name, table in result.tables.items():
        console.print(f"[bold]{name}[/]")
        console.print(table.round(4).to_string(index=False))
    if result.report is not None:
        console.print(f"report: {result.report} (and evaluation.md, plots, CSVs beside it)")


def train(data: DataDir = None, as_of: AsOf = None) -> None:
    """Train on outcomes, evaluate, log to MLflow, register `rekomendasi-ranker` as `challenger`, and
    promote it to `champion` when it is not worse than the current champion (or there is none).

    Earlier training runs left RUNNING by a process that is gone (killed, crashed) are ended FAILED
    first. SIGTERM or Ctrl-C end this run FAILED (exit code 128 + the signal's number).
    """
    from rekomendasi.jobs.models import TRAIN_STAGES, train_job
    from rekomendasi.registry import TrainingInterrupted, registry_from_settings

    settings = get_settings()
    date = parse_as_of(as_of)
    data_dir = data or settings.resolve(settings.data_dir)
    try:
        with friendly_errors(), stages(TRAIN_STAGES, f"training on {data_dir}") as advance:
            result = train_job(settings, registry_from_settings(settings), data_dir, date, progress=advance)
    except TrainingInterrupted as err:
        err_console.print(f"[bold red]error:[/] {err}; its MLflow run was ended FAILED", soft_wrap=True)
        raise typer.Exit(code=err.exit_code) from err
    _print_stale_runs(result.stale_runs)
    outcome = result.outcome
    print_sources(evidence_spec=result.inputs.spec_file, train_config=result.inputs.config_file)
    console.print(outcome.tables["models"].round(4).to_string(index=False))
    verdict = "promoted to champion" if outcome.promoted else "kept as challenger (worse than the champion)"
    console.print(
        f"registered rekomendasi-ranker version {outcome.version.version}: {verdict} ({outcome.gate})"
    )
    if result.text is not None:  # REKOMENDASI_TEXT_TUNE: the tuned sentence model, logged to the same run
        console.print(result.text.comparison.held_out.round(4).to_string(index=False))
        console.print(f"tuned sentence model logged as {result.text.model}", highlight=False)


def promote(version: Annotated[str, typer.Argument(help="Registered version to make champion.")]) -> None:
    """Make a registered version the `champion` (the manual path past the quality gate)."""
    from rekomendasi.registry import registry_from_settings

    with friendly_errors():
        registry_from_settings(get_settings()).set_alias("champion", version)
    console.print(f"rekomendasi-ranker version {version} is now champion")


def models() -> None:
    """List registered rekomendasi-ranker versions with their aliases and key metrics.

    Training runs left RUNNING by a process that is gone are ended FAILED first, and versions with no
    alias that were never evaluated (their run did not finish the quality gate) are flagged.
    """
    from rekomendasi.jobs.models import models_job
    from rekomendasi.ranking.lifecycle import GATE_METRIC, RANKER_NDCG_METRIC
    from rekomendasi.registry import registry_from_settings

    with friendly_errors():
        listing = models_job(registry_from_settings(get_settings()))
    _print_stale_runs(listing.stale_runs)
    table = Table(title="rekomendasi-ranker")
    for column in (
        "version",
        "aliases",
        "validation NDCG@10",
        "NDCG@10 (held-out, truth)",
        "data fingerprint",
        "run",
        "flag",
    ):
        table.add_column(column)
    for v in listing.versions:
        reason = listing.never_evaluated.get(v.version)
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            f"{v.metrics.get(GATE_METRIC, float('nan')):.4f}",
            f"{v.metrics.get(RANKER_NDCG_METRIC, float('nan')):.4f}",
            v.tags.get("data_fingerprint", "")[:12],
            v.run_status.lower() or "deleted",
            f"[bold yellow]NEVER EVALUATED[/] ({reason})" if reason else "",
        )
    console.print(table)
    if listing.never_evaluated:
        flagged = ", ".join(listing.never_evaluated)
        console.print(
            f"[bold yellow]warning:[/] version(s) {flagged} have no alias and were never evaluated: their "
            "training run did not get through the quality gate (left by an interrupted or failed "
            "`rekomendasi train`? a RUNNING one may still be training). Nothing serves them; run "
            "`rekomendasi train` again, or `rekomendasi promote VERSION` to serve one unevaluated.",
            soft_wrap=True,
        )


def _print_stale_runs(runs: Sequence[StaleRun]) -> None:
    for run in runs:
        verb = "ended FAILED" if run.action == "failed" else "flagged"
        err_console.print(
            f"[bold yellow]warning:[/] training run {run.run_id} {verb}: {run.reason}", soft_wrap=True
        )
