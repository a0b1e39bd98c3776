"""``simulate`` writes a simulated data directory; ``validate`` checks one against the data contract."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rekomendasi.cli.common import DataDir, console, friendly_errors, stages
from rekomendasi.settings import get_settings


def simulate(
    out: Annotated[Path, typer.Option(help="Data directory to write (created).")],
    employees: Annotated[int, typer.Option(min=1, help="Number of employees.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 42,
    as_of: Annotated[
        str, typer.Option(help="Last day of the simulated history (YYYY-MM-DD).")
    ] = "2025-12-31",
    years: Annotated[int, typer.Option(min=1, max=10, help="Years of evidence history.")] = 3,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    assumptions: Annotated[
        Path | None,
        typer.Option(
            help="YAML mapping of simulator assumptions (any subset of the knobs of "
            "rekomendasi.simulate.assumptions: evidence noise and bias, outcomes, past policy, missingness).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Simulate an ASN world: a data directory following the data contract, plus truth/."""
    from rekomendasi.simulate import SimConfig
    from rekomendasi.simulate import simulate as run_simulation
    from rekomendasi.simulate.assumptions import DEFAULT, load_assumptions

    try:
        as_of_date = dt.date.fromisoformat(as_of)
    except ValueError as err:
        raise typer.BadParameter(f"--as-of must be YYYY-MM-DD, got {as_of!r}") from err
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"--format must be csv or parquet, got {fmt!r}")
    with friendly_errors():
        knobs = DEFAULT if assumptions is None else load_assumptions(assumptions)
    config = SimConfig(
        employees=employees, seed=seed, as_of=as_of_date, years=years, fmt=fmt, assumptions=knobs
    )
    with friendly_errors(), stages(6, f"simulating {employees:,} employees") as advance:
        summary = run_simulation(config, out, progress=advance)
    table = Table(title=f"simulated world in {out}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print("seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items()))


def validate(
    data: DataDir = None,
    quarantine: Annotated[
        Path | None, typer.Option(help="Where to write the quarantine report (default: DATA/quarantine.csv).")
    ] = None,
    max_quarantine_share: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Fail when a table quarantines more than this share (default 0.05)."
        ),
    ] = None,
) -> None:
    """Load and check a data directory; print a summary and write quarantine.csv."""
    from rekomendasi.contract import TABLES, load_dataset, write_quarantine

    settings = get_settings()
    data_dir = data or settings.resolve(settings.data_dir)
    share = settings.max_quarantine_share if max_quarantine_share is None else max_quarantine_share
    with friendly_errors():
        with stages(len(TABLES), f"validating {data_dir}") as advance:
            dataset = load_dataset(data_dir, max_quarantine_share=None, on_table=advance)
        report_path = write_quarantine(dataset, quarantine or data_dir / "quarantine.csv")
        table = Table(
            title=f"data contract check of {data_dir}",
            caption="top reason per table; every issue is in the quarantine report",
        )
        for column, justify in (
            ("table", "left"),
            ("file", "left"),
            ("rows", "right"),
            ("loaded", "right"),
            ("quarantined", "right"),
            ("share", "right"),
            ("top reasons", "left"),
        ):
            table.add_column(column, justify=justify, no_wrap=column != "top reasons")  # type: ignore[arg-type]
        for r in dataset.reports:
            style = "red" if r.share_quarantined > share else ("yellow" if r.rows_quarantined else "")
            table.add_row(
                r.table,
                r.file or "[dim]absent (optional)[/]",
                f"{r.rows_read:,}",
                f"{r.rows_loaded:,}",
                f"{r.rows_quarantined:,}",
                f"{r.share_quarantined:.2%}",
                (f"{r.top_reasons[0][0]} ({r.top_reasons[0][1]:,})" if r.top_reasons else ""),
                style=style,
            )
        console.print(table)
        console.print(f"quarantine report: {report_path} ({len(dataset.quarantine):,} issues)")
        dataset.enforce_quarantine_share(share)
    console.print("[green]the data directory follows the contract[/]")
