"""``effectiveness``: every catalogue entry's measured effect (data contract, "Course effectiveness"), a
report, and an MLflow run; the summary names entries, providers and the checks, never a person."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import pandas as pd
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
)
from rekomendasi.cli.common import stages as stage_bar
from rekomendasi.effectiveness import EffectConfig
from rekomendasi.settings import get_settings

_DEFAULTS = EffectConfig()
SHOWN = 5
"""Entries shown at each end of the summary."""


def effectiveness(
    out: Annotated[
        Path,
        typer.Option(help="Write the table here: one row per catalogue entry (.csv or .parquet by suffix)."),
    ],
    data: DataDir = None,
    as_of: AsOf = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Report folder (HTML with plots, CSVs; default: <out stem>-report beside --out)."),
    ] = None,
    min_participants: Annotated[
        int,
        typer.Option(min=1, help="Measured participants an entry, provider or modality needs for a number."),
    ] = _DEFAULTS.min_participants,
    resamples: Annotated[int, typer.Option(min=1, help="Bootstrap resamples of each interval.")] = (
        _DEFAULTS.resamples
    ),
) -> None:
    """Measure each catalogue entry's effect: the gain in measured competency level of its participants
    beyond comparable people (a difference in differences against people who enrolled on the same
    competency later, or matched other staff in the last year), pooled with what courses of its kind
    reached, with a bootstrap interval; entries with too few participants get a reason instead. Also
    writes a report and logs an MLflow run (experiment `rekomendasi-effectiveness`)."""
    from rekomendasi.jobs.effectiveness import (
        EFFECTIVENESS_STAGES,
        EXPERIMENT,
        check_out,
        effectiveness_job,
    )

    settings = get_settings()
    date = parse_as_of(as_of)
    data_dir = data or settings.resolve(settings.data_dir)
    config = EffectConfig(min_participants=min_participants, resamples=resamples)
    with friendly_errors():
        check_out(out)  # before the progress bar and any work
        with stage_bar(EFFECTIVENESS_STAGES, f"effectiveness on {data_dir}") as advance:
            result = effectiveness_job(settings, data_dir, date, out, report, config, progress=advance)
    measured = result.effectiveness
    print_sources(evidence_spec=result.spec_file)
    years = measured.years
    console.print(
        f"as of {measured.as_of}: {result.participants:,} completed enrolments measured "
        f"(enrolment years {', '.join(map(str, years)) or 'none'}); "
        f"{result.measured:,} of {result.entries:,} catalogue entries have an effect "
        f"(at least {config.min_participants} measured participants each)",
        highlight=False,
    )
    if result.note:
        err_console.print(f"[bold yellow]note:[/] {result.note}", soft_wrap=True)
    _print_entries(measured.entries, f"effect [{measured.config.confidence:.0%} CI]")
    _print_checks(measured.checks)
    console.print(f"wrote {result.out} ({result.entries:,} rows)", highlight=False, soft_wrap=True)
    console.print(f"report: {result.report} (plots and CSVs beside it)", highlight=False, soft_wrap=True)
    console.print(f"MLflow run {result.run_id} in experiment {EXPERIMENT}", highlight=False)


def _interval(row: pd.Series, mid: str, low: str, high: str) -> str:
    value = row.get(mid)
    if value is None or not math.isfinite(float(value)):
        return ""
    return f"{float(value):+.3f} [{float(row[low]):+.3f}, {float(row[high]):+.3f}]"


def _value(row: pd.Series, column: str, form: str = "+.3f") -> str:
    """One number of ``row``, blank when missing (or a column estimates made before pooling lack)."""
    value = row.get(column)
    if value is None or not math.isfinite(float(value)):
        return ""
    return format(float(value), form)


def _print_entries(entries: pd.DataFrame, effect_heading: str) -> None:
    ranked = entries[entries["effect"].notna()].sort_values("effect", ascending=False)
    if ranked.empty:
        return
    if len(ranked) <= 2 * SHOWN:
        parts = [("entries with an effect", ranked)]
    else:
        parts = [(f"top {SHOWN} by effect", ranked.head(SHOWN)), (f"bottom {SHOWN}", ranked.tail(SHOWN))]
    for title, part in parts:
        table = Table(title=title, title_justify="left")
        table.add_column("training_id")
        table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=40)
        table.add_column("provider")
        table.add_column("modality")
        table.add_column("participants", justify="right")
        table.add_column(effect_heading, justify="right")
        table.add_column("raw (own)", justify="right")
        table.add_column("weight", justify="right")
        table.add_column("naive", justify="right")
        for _, row in part.iterrows():
            table.add_row(
                str(row["training_id"]),
                str(row["title"]),
                str(row["provider"]),
                str(row["modality"]),
                f"{int(row['participants']):,}",
                _interval(row, "effect", "ci_low", "ci_high"),
                _value(row, "raw_effect"),
                _value(row, "own_weight", ".2f"),
                _value(row, "naive"),
            )
        console.print(table)
    if "own_weight" in ranked:
        console.print(
            "effect: the entry's own participants' mean (raw) pooled with what courses of its kind reached; "
            "weight: the share of raw in it (0: the data cannot tell it apart from its kind).",
            highlight=False,
            soft_wrap=True,
        )


def _print_checks(checks: pd.DataFrame) -> None:
    if checks.empty:
        return
    table = Table(title="checks (the placebo's effect should hold 0)", title_justify="left")
    for column in ("check", "participants", "effect [CI]", "naive change", "reason"):
        table.add_column(column, justify="left" if column in ("check", "reason") else "right")
    for _, row in checks.iterrows():
        table.add_row(
            str(row["check"]),
            f"{int(row['participants']):,}",
            _interval(row, "effect", "ci_low", "ci_high"),
            _interval(row, "naive", "naive_low", "naive_high"),
            str(row["reason"]) if isinstance(row["reason"], str) else "",
        )
    console.print(table)
