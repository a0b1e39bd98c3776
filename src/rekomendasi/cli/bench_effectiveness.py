"""``bench effectiveness``: the effectiveness estimates against the simulator's truth (issue #16).

Registered on the ``bench`` group by importing this module (see :mod:`.bench`); the bench lives in
:mod:`rekomendasi.bench.effectiveness`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rekomendasi.cli.bench import app
from rekomendasi.cli.common import console, friendly_errors

_SHOWN = (
    ("world", "world"),
    ("entries_ranked", "entries ≥30"),
    ("spearman", "spearman"),
    ("spearman_raw", "raw"),
    ("spearman_kind", "kind only"),
    ("spearman_naive", "naive"),
    ("spearman_att", "vs true gains"),
    ("measured_share", "measured share"),
    ("participants_effect", "effect"),
    ("participants_naive", "naive mean"),
    ("placebo_effect", "placebo"),
    ("placebo_naive", "placebo naive"),
)


@app.command("effectiveness")
def bench_effectiveness(
    out: Annotated[Path, typer.Option(help="Folder for the simulated worlds (a cache) and the tables.")],
    worlds: Annotated[
        str | None, typer.Option(help="Only these worlds, comma-separated (default: all).")
    ] = None,
) -> None:
    """The course-effectiveness estimates on simulated worlds against their truth: rank correlation
    with each entry's true effectiveness over entries with at least 30 measured participants (beside the
    naive before/after change), and the placebo and null-world checks."""
    from rekomendasi.bench.effectiveness import MIN_RANKED, TARGET_SPEARMAN, run_bench, select

    names = [n.strip() for n in worlds.split(",") if n.strip()] if worlds else None
    with friendly_errors():
        try:
            chosen = select(names)
        except ValueError as err:
            raise typer.BadParameter(str(err)) from err

    def stage(world: str, step: str) -> None:
        console.print(f"{world}: {step}", highlight=False)

    with friendly_errors():
        table = run_bench(chosen, out, stage)
    shown = Table(
        title=f"effectiveness estimates against the truth (spearman over entries with ≥{MIN_RANKED})"
    )
    for _, label in _SHOWN:
        shown.add_column(label)
    for row in table.to_dict(orient="records"):
        shown.add_row(*(_cell(row.get(key)) for key, _ in _SHOWN))
    console.print(shown)
    held_out = table[~table["dev"].astype(bool)]["spearman"].dropna()
    if len(held_out):
        console.print(
            f"held-out worlds: spearman min {held_out.min():.3f}, mean {held_out.mean():.3f} "
            f"(target ≥ {TARGET_SPEARMAN}); tables in {out}",
            highlight=False,
        )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)
