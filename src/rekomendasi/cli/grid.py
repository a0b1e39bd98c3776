"""``bench grid``: the ranker against the baselines on a grid of simulated worlds (issue #15).

Registered on the ``bench`` group by importing this module (see the last line of :mod:`.bench`); the
grid itself lives in :mod:`rekomendasi.bench.grid`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rekomendasi.cli.bench import app
from rekomendasi.cli.common import console, friendly_errors, stages
from rekomendasi.settings import get_settings

_COLUMNS = (
    ("world", "world"),
    ("seed", "seed"),
    ("ranker", "ranker"),
    ("candidate score", "candidate score"),
    ("popularity (same position)", "popularity"),
    ("gap heuristic", "gap heuristic"),
    ("text similarity", "text similarity"),
    ("random", "random"),
    ("best baseline", "best baseline"),
    ("ratio", "ratio"),
    ("simulate s", "simulate s"),
    ("evaluate s", "evaluate s"),
)


@app.command("grid")
def bench_grid(
    out: Annotated[
        Path, typer.Option(help="Folder for the simulated worlds (a cache) and grid.csv, grid.md.")
    ],
    set_name: Annotated[
        str, typer.Option("--set", help="dev (tune on these) or heldout (never tune on these).")
    ] = "dev",
    worlds: Annotated[
        str | None, typer.Option(help="Only these worlds of the set, comma-separated (default: all).")
    ] = None,
    employees: Annotated[int, typer.Option(min=1, help="Employees per world.")] = 4000,
    fmt: Annotated[
        str, typer.Option("--format", help="csv or parquet, for the simulated worlds.")
    ] = "parquet",
) -> None:
    """NDCG@10 of the ranker, the candidate score and every baseline on each world of a grid of
    simulated worlds with different assumptions (evidence noise and bias, outcomes, past policy,
    missingness), as `rekomendasi evaluate` measures it; then mean and worst ranker NDCG@10 and the worst
    ratio to the best baseline (popularity, gap heuristic, text similarity or random)."""
    from rekomendasi.bench.grid import (
        TARGET_MEAN,
        TARGET_RATIO,
        WorldRun,
        cell,
        ranker_name,
        run_grid,
        select,
        summary,
        verdict,
    )
    from rekomendasi.jobs.models import EVALUATE_STAGES

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"--format must be csv or parquet, got {fmt!r}")
    names = [n.strip() for n in worlds.split(",") if n.strip()] if worlds else None
    with friendly_errors():
        chosen = select(set_name, names)
    settings = get_settings()

    def finished(run: WorldRun) -> None:
        if run.error:
            console.print(f"{run.world.name}: evaluation FAILED: {run.error}", highlight=False)
            return
        simulated = "cached" if run.cached else f"simulate {run.seconds['simulate']:.1f} s"
        ndcg = run.models.set_index("model")["ndcg@10"]
        console.print(
            f"{run.world.name}: {simulated}, evaluate {run.seconds['evaluate']:.1f} s; "
            f"{ranker_name(run.models)} NDCG@10 {ndcg.get(ranker_name(run.models), float('nan')):.4f}",
            highlight=False,
        )

    total = len(chosen) * (1 + EVALUATE_STAGES)
    with friendly_errors(), stages(total, f"grid {set_name} ({len(chosen)} worlds)") as advance:
        runs = run_grid(chosen, employees, out, settings, fmt, stage=advance, done=finished)
    table = summary(runs)
    shown = Table(title=f"ranker NDCG@10 on the {set_name} grid ({employees:,} employees per world)")
    for column, header in _COLUMNS:
        left = header in ("world", "best baseline")
        widest = max([len(header), *(len(cell(column, v)) for v in table[column])])
        shown.add_column(
            header, justify="left" if left else "right", no_wrap=left, min_width=widest if left else None
        )
    for _, row in table.iterrows():
        shown.add_row(*(cell(column, row[column]) for column, _ in _COLUMNS))
    console.print(shown)
    v = verdict(table)
    mean_met, ratio_met = ("met" if ok else "NOT met" for ok in (v.mean_met, v.ratio_met))
    console.print(
        f"mean ranker NDCG@10 {v.mean:.4f} (target >= {TARGET_MEAN}: {mean_met}); "
        f"worst {v.worst:.4f} ({v.worst_world}); worst ratio to the best baseline {v.worst_ratio:.2f} "
        f"({v.worst_ratio_world}; target >= {TARGET_RATIO} on every world: {ratio_met})",
        highlight=False,
    )
    console.print(f"wrote {out / 'grid.csv'} and {out / 'grid.md'}", highlight=False)
    if v.failed:
        console.print(f"evaluation failed on {', '.join(v.failed)}: see above", highlight=False)
        raise typer.Exit(code=1)
