"""``features`` builds and writes the as-of snapshot; ``evaluate-features`` judges one against truth/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rekomendasi.cli.common import (
    AsOf,
    DaskOption,
    DataDir,
    console,
    friendly_errors,
    parse_as_of,
    print_sources,
    stages,
)
from rekomendasi.settings import get_settings

Embeddings = Annotated[
    bool | None,
    typer.Option(
        "--embeddings/--no-embeddings",
        help="Use the sentence-transformers model for text (default: REKOMENDASI_TEXT_EMBEDDINGS).",
    ),
]


def features(
    data: DataDir = None,
    as_of: AsOf = None,
    out: Annotated[
        Path | None, typer.Option(help="Snapshot directory to write (default: REKOMENDASI_SNAPSHOT_DIR).")
    ] = None,
    embeddings: Embeddings = None,
    dask: DaskOption = None,
) -> None:
    """Build the point-in-time snapshot: competency gaps, performance, development status, text profile."""
    from rekomendasi.cluster import runner
    from rekomendasi.jobs.snapshots import SNAPSHOT_STAGES, snapshot_job

    settings = get_settings()
    date = parse_as_of(as_of)
    data_dir = data or settings.resolve(settings.data_dir)
    out_dir = out or settings.resolve(settings.snapshot_dir)
    with friendly_errors(), runner(dask or settings.dask) as where:
        console.print(f"agencies run {where.name}", highlight=False)
        with stages(SNAPSHOT_STAGES, f"snapshot of {data_dir}") as advance:
            run = snapshot_job(
                settings,
                data_dir,
                date,
                embeddings,
                out=out_dir,
                progress=advance,
                runner=where,
                agencies=advance.count,
                scratch=out_dir.parent,
            )
    snapshot = run.snapshot
    table = Table(title=f"snapshot as of {snapshot.as_of} in {out_dir}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for path in run.paths[:-1]:
        table.add_row(path.stem, f"{len(snapshot.table(path.stem)):,}")
    console.print(table)
    print_sources(evidence_spec=run.spec_file)
    validation = snapshot.manifest["text_validation"]
    console.print(
        "text model (held-out labelled text, top-1): "
        + ", ".join(
            f"{k.removeprefix('holdout_top1_')} {v:.3f}"
            for k, v in validation.items()
            if k.startswith("holdout")
        )
    )
    console.print("seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in run.seconds.items()))


def evaluate_features(
    data: Annotated[Path, typer.Option(help="A simulated data directory (it must have truth/).")],
    as_of: AsOf = None,
    embeddings: Embeddings = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the tables as markdown to this file.")
    ] = None,
) -> None:
    """Judge the snapshot against truth/: estimator vs naive levels, and text-to-competency accuracy."""
    from rekomendasi.jobs.snapshots import SNAPSHOT_STAGES, evaluate_features_job

    settings = get_settings()
    date = parse_as_of(as_of)
    with friendly_errors(), stages(SNAPSHOT_STAGES, f"snapshot of {data}") as advance:
        quality = evaluate_features_job(settings, data, date, embeddings, progress=advance)
    print_sources(evidence_spec=quality.spec_file)
    console.print(f"[bold]competency levels vs truth[/] (as of {quality.as_of})")
    console.print(quality.levels.round(4).to_string(index=False))
    console.print("[bold]text to competency, untagged generated texts vs truth[/]")
    console.print(quality.text.round(4).to_string(index=False))
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(
            f"# Feature quality of {data} as of {quality.as_of}\n\n"
            f"## Competency levels\n\n{quality.levels.round(4).to_markdown(index=False)}\n\n"
            f"## Text to competency\n\n{quality.text.round(4).to_markdown(index=False)}\n",
            encoding="utf-8",
        )
