"""The ``rekomendasi`` command line. Subcommands map one to one to jobs; no business logic here."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from rekomendasi import __version__
from rekomendasi.cli_state import audit_app, feedback_app, keys_app
from rekomendasi.errors import RekomendasiError
from rekomendasi.settings import Settings, get_settings

if TYPE_CHECKING:
    from rekomendasi.contract import Dataset
    from rekomendasi.features import EvidenceSpec, Snapshot
    from rekomendasi.ranking.train import TrainConfig
    from rekomendasi.registry import MlflowRegistry
    from rekomendasi.text import TextEncoder

# The --data option every job shares.
DataDir = Annotated[Path | None, typer.Option(help="Data directory (default: REKOMENDASI_DATA_DIR).")]

app = typer.Typer(
    help="rekomendasi: training recommendations for Indonesian civil servants (ASN).", no_args_is_help=True
)
bench_app = typer.Typer(help="Benchmarks: measure time and peak memory of a job.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(feedback_app, name="feedback")
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """Show product errors as one clear message and a non-zero exit code, never a traceback."""
    try:
        yield
    except RekomendasiError as err:
        err_console.print(f"[bold red]error:[/] {err.message}", soft_wrap=True)
        raise typer.Exit(code=2) from err
    except OSError as err:
        err_console.print(f"[bold red]error:[/] {err}", soft_wrap=True)
        raise typer.Exit(code=2) from err


@contextmanager
def _stages(total: int, description: str) -> Iterator[Callable[[str], None]]:
    """A progress bar advanced by calling the yielded function with the next stage's name."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal and "CI" in os.environ,
    ) as progress:
        task = progress.add_task(description, total=total)
        started = False

        def advance(name: str) -> None:
            nonlocal started
            progress.update(task, advance=1 if started else 0, description=f"{description}: {name}")
            started = True

        yield advance
        progress.update(task, completed=total, description=f"{description}: done")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"rekomendasi {__version__}")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Data directory to write (created).")],
    employees: Annotated[int, typer.Option(min=1, help="Number of employees.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 42,
    as_of: Annotated[
        str, typer.Option(help="Last day of the simulated history (YYYY-MM-DD).")
    ] = "2025-12-31",
    years: Annotated[int, typer.Option(min=1, max=10, help="Years of evidence history.")] = 3,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Simulate an ASN world: a data directory following the data contract, plus truth/."""
    from rekomendasi.simulate import SimConfig
    from rekomendasi.simulate import simulate as run_simulation

    try:
        as_of_date = dt.date.fromisoformat(as_of)
    except ValueError as err:
        raise typer.BadParameter(f"--as-of must be YYYY-MM-DD, got {as_of!r}") from err
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"--format must be csv or parquet, got {fmt!r}")
    config = SimConfig(employees=employees, seed=seed, as_of=as_of_date, years=years, fmt=fmt)
    with _friendly_errors(), _stages(6, f"simulating {employees:,} employees") as advance:
        summary = run_simulation(config, out, progress=advance)
    table = Table(title=f"simulated world in {out}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print("seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items()))


@app.command()
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
    with _friendly_errors():
        with _stages(len(TABLES), f"validating {data_dir}") as advance:
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


def _as_of(value: str | None, default: dt.date | None = None) -> dt.date:
    if value is None:
        return default or dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise typer.BadParameter(f"--as-of must be YYYY-MM-DD, got {value!r}") from err


def _snapshot_job(
    data_dir: Path,
    as_of: dt.date,
    embeddings: bool | None,
    advance: Callable[[str], None],
    dataset: Dataset | None = None,
) -> tuple[Dataset, Snapshot, dict[str, float]]:
    """Load (unless given), then build the snapshot; returns (dataset, snapshot, seconds per stage)."""
    from rekomendasi.contract import load_dataset
    from rekomendasi.features import build_snapshot, load_spec

    settings = get_settings()
    seconds: dict[str, float] = {}
    clock = [("load data", time.perf_counter())]

    def timed(name: str) -> None:
        now = time.perf_counter()
        previous, started = clock.pop()
        seconds[previous] = round(now - started, 1)
        clock.append((name, now))
        advance(name)

    advance("load data")
    if dataset is None:
        dataset = load_dataset(data_dir, max_quarantine_share=settings.max_quarantine_share)
    spec = load_spec(settings.resolve(settings.features_dir) / "evidence.yaml")
    snapshot = build_snapshot(dataset, as_of, spec, _encoder(embeddings), progress=timed)
    timed("done")
    return dataset, snapshot, seconds


@app.command()
def features(
    data: DataDir = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Use only evidence dated on or before this day (YYYY-MM-DD; default today)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Snapshot directory to write (default: REKOMENDASI_SNAPSHOT_DIR).")
    ] = None,
    embeddings: Annotated[
        bool | None,
        typer.Option(
            "--embeddings/--no-embeddings",
            help="Use the sentence-transformers model for text (default: REKOMENDASI_TEXT_EMBEDDINGS).",
        ),
    ] = None,
) -> None:
    """Build the point-in-time snapshot: competency gaps, performance, development status, text profile."""
    from rekomendasi.features import write_snapshot

    settings = get_settings()
    data_dir = data or settings.resolve(settings.data_dir)
    out_dir = out or settings.resolve(settings.snapshot_dir)
    with _friendly_errors(), _stages(8, f"snapshot of {data_dir}") as advance:
        _, snapshot, seconds = _snapshot_job(data_dir, _as_of(as_of), embeddings, advance)
        paths = write_snapshot(snapshot, out_dir)
    table = Table(title=f"snapshot as of {snapshot.as_of} in {out_dir}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for path in paths[:-1]:
        table.add_row(path.stem, f"{len(snapshot.table(path.stem)):,}")
    console.print(table)
    validation = snapshot.manifest["text_validation"]
    console.print(
        "text model (held-out labelled text, top-1): "
        + ", ".join(
            f"{k.removeprefix('holdout_top1_')} {v:.3f}"
            for k, v in validation.items()
            if k.startswith("holdout")
        )
    )
    console.print("seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))


@app.command("evaluate-features")
def evaluate_features(
    data: Annotated[Path, typer.Option(help="A simulated data directory (it must have truth/).")],
    as_of: Annotated[
        str | None, typer.Option(help="Snapshot date (default: the latest evidence date in the data).")
    ] = None,
    embeddings: Annotated[bool | None, typer.Option("--embeddings/--no-embeddings")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the tables as markdown to this file.")
    ] = None,
) -> None:
    """Judge the snapshot against truth/: estimator vs naive levels, and text-to-competency accuracy."""
    from rekomendasi.contract import load_dataset
    from rekomendasi.features.quality import estimation_quality, text_accuracy
    from rekomendasi.features.textmap import fit_text_model

    with _friendly_errors(), _stages(8, f"snapshot of {data}") as advance:
        loaded = load_dataset(data)
        default_as_of = loaded["skp"]["period"].max() if len(loaded["skp"]) else None
        as_of_date = _as_of(as_of, dt.date(int(str(default_as_of)[:4]), 12, 31) if default_as_of else None)
        dataset, snapshot, _ = _snapshot_job(data, as_of_date, embeddings, advance, dataset=loaded)
        quality = estimation_quality(snapshot, dataset)
        from rekomendasi.features.spec import load_spec

        spec = load_spec(get_settings().resolve(get_settings().features_dir) / "evidence.yaml")
        text = text_accuracy(fit_text_model(dataset.tables, spec, _encoder(embeddings)), dataset)
    console.print(f"[bold]competency levels vs truth[/] (as of {as_of_date})")
    console.print(quality.round(4).to_string(index=False))
    console.print("[bold]text to competency, untagged generated texts vs truth[/]")
    console.print(text.round(4).to_string(index=False))
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(
            f"# Feature quality of {data} as of {as_of_date}\n\n"
            f"## Competency levels\n\n{quality.round(4).to_markdown(index=False)}\n\n"
            f"## Text to competency\n\n{text.round(4).to_markdown(index=False)}\n",
            encoding="utf-8",
        )


def _training_inputs(
    data: Path | None, as_of: str | None, advance: Callable[[str], None]
) -> tuple[Dataset, EvidenceSpec, TrainConfig, dt.date]:
    """Dataset, evidence spec, training config and as-of date shared by `train` and `evaluate`."""
    from rekomendasi.contract import load_dataset
    from rekomendasi.features import load_spec
    from rekomendasi.ranking.train import load_train_config

    settings = get_settings()
    data_dir = data or settings.resolve(settings.data_dir)
    advance("load data")
    dataset = load_dataset(data_dir, max_quarantine_share=settings.max_quarantine_share)
    spec = load_spec(settings.resolve(settings.features_dir) / "evidence.yaml")
    config = load_train_config(settings.resolve(settings.training_dir) / "train.yaml")
    latest = dataset["skp"]["period"].str[:4].astype(int).max() if len(dataset["skp"]) else None
    return dataset, spec, config, _as_of(as_of, dt.date(int(latest), 12, 31) if latest else None)


def _encoder(embeddings: bool | None) -> TextEncoder | None:
    """The sentence encoder the settings (or the option) ask for, or None for the lexical model alone."""
    from rekomendasi.text import TextEncoder

    settings = get_settings()
    use = settings.text_embeddings if embeddings is None else embeddings
    return (
        TextEncoder(settings.text_model_path, settings.resolve(settings.cache_dir) / "embeddings")
        if use
        else None
    )


@app.command()
def evaluate(
    data: DataDir = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Evaluation date (YYYY-MM-DD; default 31 December of the latest SKP year)."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Also write the report (HTML with plots, markdown, CSVs) to this folder."),
    ] = None,
) -> None:
    """Train the ranker on outcomes (time split) and compare it with the baselines on held-out employees.

    In a simulated world (with truth/) the table adds the oracle and truth-graded metrics; on real data it
    shows what needs no truth (coverage, diversity).
    """
    from rekomendasi.ranking.train import evaluate_ranker, fit_ranker

    data_dir = data or get_settings().resolve(get_settings().data_dir)
    with _friendly_errors(), _stages(7, f"training on {data_dir}") as advance:
        dataset, spec, config, as_of_date = _training_inputs(data_dir, as_of, advance)
        fit = fit_ranker(dataset, spec, config, as_of_date, progress=advance)
        advance("evaluate")
        tables = evaluate_ranker(dataset, fit, config)
    console.print(
        f"trained on enrolments of {fit.train_years}, early-stopped on {fit.validation_year} "
        f"({fit.examples['train']:,} / {fit.examples['validation']:,} examples, "
        f"{fit.model.best_iteration_} trees, "
        f"validation NDCG@{config.ranker.eval_at} {fit.validation_ndcg:.3f}); "
        f"evaluated on {len(fit.holdout):,} held-out employees as of {as_of_date}"
    )
    for name, table in tables.items():
        console.print(f"[bold]{name}[/]")
        console.print(table.round(4).to_string(index=False))
    if report is not None:
        from rekomendasi.ranking.report import write_report

        page = write_report(
            tables,
            report,
            f"Ranker evaluation of {data_dir.name} as of {as_of_date}",
            f"Trained on enrolments of {fit.train_years}, early-stopped on {fit.validation_year}; "
            f"{len(fit.holdout):,} held-out employees.",
        )
        console.print(f"report: {page} (and evaluation.md, plots, CSVs beside it)")


def _registry() -> MlflowRegistry:
    from rekomendasi.registry import registry_from_settings

    return registry_from_settings(get_settings())


@app.command()
def train(
    data: DataDir = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Training date (YYYY-MM-DD; default 31 December of the latest SKP year)."),
    ] = None,
) -> None:
    """Train on outcomes, evaluate, log to MLflow, register `rekomendasi-ranker` as `challenger`, and
    promote it to `champion` when it is not worse than the current champion (or there is none)."""
    from rekomendasi.ranking.lifecycle import train_and_register

    settings = get_settings()
    data_dir = data or settings.resolve(settings.data_dir)
    with _friendly_errors(), _stages(8, f"training on {data_dir}") as advance:
        dataset, spec, config, as_of_date = _training_inputs(data_dir, as_of, advance)
        encoder = _encoder(None)
        text_model = encoder.model_name if encoder is not None else "none (lexical only)"
        outcome = train_and_register(
            dataset, spec, config, _registry(), as_of_date, text_model, progress=advance
        )
    models = outcome.tables["models"]
    console.print(models.round(4).to_string(index=False))
    verdict = "promoted to champion" if outcome.promoted else "kept as challenger (worse than the champion)"
    console.print(
        f"registered rekomendasi-ranker version {outcome.version.version}: {verdict} ({outcome.gate})"
    )


@app.command()
def promote(version: Annotated[str, typer.Argument(help="Registered version to make champion.")]) -> None:
    """Make a registered version the `champion` (the manual path past the quality gate)."""
    with _friendly_errors():
        _registry().set_alias("champion", version)
    console.print(f"rekomendasi-ranker version {version} is now champion")


@app.command()
def models() -> None:
    """List registered rekomendasi-ranker versions with their aliases and key metrics."""
    from rekomendasi.ranking.lifecycle import GATE_METRIC, RANKER_NDCG_METRIC

    with _friendly_errors():
        versions = _registry().versions()
    table = Table(title="rekomendasi-ranker")
    for column in (
        "version",
        "aliases",
        "validation NDCG@10",
        "NDCG@10 (held-out, truth)",
        "data fingerprint",
    ):
        table.add_column(column)
    for v in versions:
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            f"{v.metrics.get(GATE_METRIC, float('nan')):.4f}",
            f"{v.metrics.get(RANKER_NDCG_METRIC, float('nan')):.4f}",
            v.tags.get("data_fingerprint", "")[:12],
        )
    console.print(table)


@app.command()
def batch(
    out: Annotated[
        Path,
        typer.Option(
            help="Output file: .csv or .parquet (data contract: nip, rank, training_id, score, reason)."
        ),
    ],
    data: DataDir = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Use only evidence dated on or before this day (YYYY-MM-DD; default today)."),
    ] = None,
    k: Annotated[int, typer.Option(min=1, max=50, help="Recommendations per employee.")] = 10,
) -> None:
    """Recommendations for every active employee from the registry's champion."""
    from rekomendasi.contract.writing import write_table
    from rekomendasi.ranking.train import load_train_config
    from rekomendasi.recommend import recommend_all

    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(f"--out must end in .csv or .parquet, got {out.name!r}")
    settings = get_settings()
    data_dir = data or settings.resolve(settings.data_dir)
    with _friendly_errors(), _stages(9, f"recommendations for {data_dir}") as advance:
        model = _registry().load("champion")
        dataset, snapshot, _ = _snapshot_job(data_dir, _as_of(as_of), None, advance)
        config = load_train_config(settings.resolve(settings.training_dir) / "train.yaml")
        advance("rank")
        recommendations = recommend_all(dataset, snapshot, model, k=k, candidates=config.candidates)
        write_table(recommendations, out)
    console.print(
        f"wrote {len(recommendations):,} recommendations for "
        f"{recommendations['nip'].nunique():,} employees to {out}"
    )


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface (default REKOMENDASI_API_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default REKOMENDASI_API_PORT, 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server processes (default REKOMENDASI_API_WORKERS, 1).")
    ] = None,
    demo_key: Annotated[
        bool, typer.Option(help="Create a planner key for the demo's first agency and print a curl example.")
    ] = False,
) -> None:
    """Serve the API (uvicorn) on the latest snapshot and the registry's champion; docs at /docs."""
    import logging

    import uvicorn

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    if demo_key:
        _print_demo_key(settings, host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "rekomendasi.serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.api_workers,
        access_log=False,  # ours hashes NIPs; uvicorn's would print them
        log_level="info",
    )


def _print_demo_key(settings: Settings, host: str, port: int) -> None:
    """A planner key for the first agency of the data, with a working curl example (demo only)."""
    from rekomendasi.contract import load_dataset
    from rekomendasi.serving.state import Role, store_from_settings

    with _friendly_errors():
        employees = load_dataset(settings.resolve(settings.data_dir), only={"positions", "employees"})[
            "employees"
        ]
        active = employees[employees["active"].fillna(False).astype(bool)].sort_values("nip")
        if active.empty:
            raise RekomendasiError("the data has no active employee to show in the demo.")
        agency = str(active["instansi_id"].iloc[0])
        nip = str(active.loc[active["instansi_id"] == agency, "nip"].iloc[0])
        with store_from_settings(settings) as store:
            _, key = store.create_key("demo planner", Role.PLANNER, [agency])
    # Plain echo, not rich: a wrapped curl line could not be pasted.
    typer.echo(f"demo API key (planner for {agency}; shown once): {key}")
    typer.echo(
        f"try: curl -s -H 'X-API-Key: {key}' "
        f"'http://{host}:{port}/v1/employees/{nip}/recommendations?k=3&lang=en'"
    )
    typer.echo(f"docs: http://{host}:{port}/docs")


def _machine() -> dict[str, object]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "cpu": cpu,
        "python": platform.python_version(),
    }


def run_measured(args: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    """Run ``rekomendasi ARGS`` in a child process; return wall seconds and the child's peak RSS."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rekomendasi", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RekomendasiError(f"benchmarked command failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(peak_kb / 1e6, 2), "stdout": proc.stdout}


@bench_app.command("simulate")
def bench_simulate(
    out: Annotated[Path, typer.Option(help="Scratch data directory.")] = Path("data/bench-100k"),
    employees: Annotated[int, typer.Option(min=1)] = 100_000,
    seed: Annotated[int, typer.Option()] = 7,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "parquet",
    record: Annotated[
        Path | None, typer.Option(help="Append the result as a JSON line to this file.")
    ] = None,
) -> None:
    """Time and peak memory of `rekomendasi simulate` at scale (target: 100k employees < 3 min, < 6 GB)."""
    with _friendly_errors():
        result = run_measured(
            [
                "simulate",
                "--out",
                str(out),
                "--employees",
                str(employees),
                "--seed",
                str(seed),
                "--format",
                fmt,
            ]
        )
    console.print(str(result["stdout"]).strip().splitlines()[-1])
    _report_bench("simulate", result, record, employees=employees, format=fmt)


@bench_app.command("validate")
def bench_validate(
    data: Annotated[Path, typer.Option(help="Data directory to validate (e.g. one made by bench simulate).")],
    record: Annotated[
        Path | None, typer.Option(help="Append the result as a JSON line to this file.")
    ] = None,
) -> None:
    """Time and peak memory of `rekomendasi validate` on a data directory."""
    with _friendly_errors():
        result = run_measured(["validate", "--data", str(data), "--quarantine", str(data / "quarantine.csv")])
    employees = (
        sum(1 for _ in (data / "employees.csv").open()) - 1 if (data / "employees.csv").exists() else None
    )
    _report_bench("validate", result, record, data=str(data), employees=employees)


@bench_app.command("features")
def bench_features(
    data: Annotated[Path, typer.Option(help="Data directory (e.g. one made by bench simulate).")],
    as_of: Annotated[str, typer.Option(help="Snapshot date.")] = "2025-12-31",
    out: Annotated[Path, typer.Option(help="Scratch snapshot directory.")] = Path("var/bench-snapshot"),
    embeddings: Annotated[bool, typer.Option("--embeddings/--no-embeddings")] = True,
    record: Annotated[
        Path | None, typer.Option(help="Append the result as a JSON line to this file.")
    ] = None,
) -> None:
    """Time and peak memory of `rekomendasi features` (target: 100k employees < 5 min, < 8 GB)."""
    args = [
        "features",
        "--data",
        str(data),
        "--as-of",
        as_of,
        "--out",
        str(out),
        "--embeddings" if embeddings else "--no-embeddings",
    ]
    with _friendly_errors():
        result = run_measured(args)
    stages = next(
        (line for line in str(result["stdout"]).splitlines() if line.startswith("seconds per stage")), ""
    )
    _report_bench(
        "features",
        result,
        record,
        data=str(data),
        embeddings=embeddings,
        stages=stages.removeprefix("seconds per stage: "),
    )


@bench_app.command("train")
def bench_train(
    data: Annotated[Path, typer.Option(help="Data directory (e.g. one made by bench simulate).")],
    as_of: Annotated[str, typer.Option(help="Training date.")] = "2025-12-31",
    mlflow_uri: Annotated[
        str, typer.Option(help="Scratch tracking store, kept apart from the real registry.")
    ] = "sqlite:///var/bench-mlflow/mlflow.db",
    record: Annotated[
        Path | None, typer.Option(help="Append the result as a JSON line to this file.")
    ] = None,
) -> None:
    """Time and peak memory of `rekomendasi train` (target: 100k employees < 15 min, < 12 GB)."""
    with _friendly_errors():
        result = run_measured(
            ["train", "--data", str(data), "--as-of", as_of], env={"REKOMENDASI_MLFLOW_URI": mlflow_uri}
        )
    verdict = next((line for line in str(result["stdout"]).splitlines() if line.startswith("registered")), "")
    _report_bench("train", result, record, data=str(data), outcome=verdict)


@bench_app.command("serve")
def bench_serve(
    data: Annotated[Path, typer.Option(help="Data directory the snapshot was built from.")],
    snapshot: Annotated[Path, typer.Option(help="Snapshot directory (from `rekomendasi features`).")],
    mlflow_uri: Annotated[
        str, typer.Option(help="Registry holding a champion trained on that data.")
    ] = "sqlite:///var/bench-mlflow/mlflow.db",
    clients: Annotated[int, typer.Option(min=1, help="Concurrent clients.")] = 32,
    seconds: Annotated[float, typer.Option(min=1, help="Measured seconds per endpoint.")] = 30.0,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 2,
    k: Annotated[int, typer.Option(min=1, max=50, help="Recommendations per request.")] = 10,
    rate: Annotated[
        float, typer.Option(min=1, help="Offered load of the open-loop phase, requests/s in all.")
    ] = 200.0,
    port: Annotated[int, typer.Option(help="Port of the server under test.")] = 8765,
    record: Annotated[
        Path | None, typer.Option(help="Append the result as a JSON line to this file.")
    ] = None,
) -> None:
    """Latency and throughput of the real server (uvicorn, `rekomendasi serve`) under a separate
    load-generating process, with the same clients throughout: explained top-k recommendations of random
    employees at a fixed offered rate (open loop: latency at that load), then as fast as the clients go
    (closed loop: the highest throughput), then /health closed loop. Target at 100k employees and 32
    clients: p99 < 50 ms at 200 requests/s, and >= 200 requests/s."""
    import random
    import tempfile

    import httpx

    from rekomendasi.contract import load_dataset
    from rekomendasi.serving.state import StateStore

    with _friendly_errors(), tempfile.TemporaryDirectory() as tmp:
        state_url = f"sqlite:///{Path(tmp) / 'state.db'}"
        with StateStore(state_url, "bench") as store:
            key = store.create_key("bench", "admin")[1]
        employees = load_dataset(data, only={"positions", "employees"})["employees"]
        nips = sorted(employees.loc[employees["active"].fillna(False).astype(bool), "nip"])
        random.Random(0).shuffle(nips)
        paths = Path(tmp) / "paths.txt"
        paths.write_text(
            "\n".join(f"/v1/employees/{n}/recommendations?k={k}" for n in nips[:20000]), encoding="utf-8"
        )
        health = Path(tmp) / "health.txt"
        health.write_text("/health\n", encoding="utf-8")
        env = {
            **os.environ,
            "REKOMENDASI_DATA_DIR": str(data.resolve()),
            "REKOMENDASI_SNAPSHOT_DIR": str(snapshot.resolve()),
            "REKOMENDASI_MLFLOW_URI": mlflow_uri,
            "REKOMENDASI_STATE_DB_URL": state_url,
            "REKOMENDASI_NIP_SALT": "bench",
        }
        started = time.perf_counter()
        server_log = Path(tmp) / "server.log"
        server = subprocess.Popen(
            [sys.executable, "-m", "rekomendasi", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log.open("w", encoding="utf-8"),
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            startup = _wait_ready(base, server, started, server_log, workers)
            rss = _tree_rss_gb(server.pid)
            results = {}
            phases: tuple[tuple[str, Path, str, list[str]], ...] = (
                ("recommendations at the target rate", paths, key, ["--rate", str(rate)]),
                ("recommendations, closed loop", paths, key, []),
                ("health, closed loop", health, "", []),
            )
            for name, file, auth, mode in phases:
                load = ["--paths", str(file), "--clients", str(clients), "--seconds", str(seconds), *mode]
                proc = subprocess.run(
                    [sys.executable, "-m", "rekomendasi.loadgen", "--base", base, "--key", auth, *load],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            ok = httpx.get(f"{base}/v1/model", headers={"X-API-Key": key}, timeout=30).json()
        finally:
            server.terminate()
            server.wait(timeout=60)
    at_rate = results["recommendations at the target rate"]
    rec, hl = results["recommendations, closed loop"], results["health, closed loop"]
    line = {
        "bench": "serve",
        "data": str(data),
        "employees": ok.get("employees"),
        "catalogue_entries": ok.get("catalogue_entries"),
        "model_version": ok.get("version"),
        "workers": workers,
        "clients": clients,
        "k": k,
        "startup_seconds": round(startup, 1),
        "server_rss_gb": round(rss, 2),
        "recommendations_at_rate": at_rate,
        "recommendations_closed_loop": rec,
        "health_closed_loop": hl,
        "health_to_recommendations_ratio": round(hl["requests_per_s"] / max(rec["requests_per_s"], 1e-9), 2),
        "meets_target": bool(
            at_rate["p99_ms"] < 50
            and at_rate["requests_per_s"] >= 0.98 * rate
            and rec["requests_per_s"] >= rate
            and at_rate["errors"] == 0
            and rec["errors"] == 0
        ),
        "machine": _machine(),
        "date": dt.date.today().isoformat(),
        "version": __version__,
    }
    console.print_json(json.dumps(line))
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        with record.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")


def _wait_ready(
    base: str, server: subprocess.Popen[str], started: float, log: Path, workers: int, timeout: float = 900
) -> float:
    """Seconds until ``/ready`` answers 200 and every worker has finished starting (each worker loads
    the engine itself; one ready worker would take all the load); fails with the server's last words
    if it dies or stalls."""
    import httpx

    while time.perf_counter() - started < timeout:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if server.poll() is not None:
            raise RekomendasiError(f"the server exited: {text[-2000:]}")
        try:
            ready = httpx.get(f"{base}/ready", timeout=5).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and text.count("Application startup complete") >= workers:
            return time.perf_counter() - started
        time.sleep(1)
    raise RekomendasiError(f"the server was not ready within {timeout:.0f} s")


def _tree_rss_gb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total / 1e9


def _report_bench(name: str, result: dict[str, object], record: Path | None, **fields: object) -> None:
    """Print one benchmark result with the machine it ran on; append it to ``record`` as a JSON line."""
    line = {
        "bench": name,
        **fields,
        "seconds": result["seconds"],
        "peak_rss_gb": result["peak_rss_gb"],
        "machine": _machine(),
        "date": dt.date.today().isoformat(),
        "version": __version__,
    }
    console.print_json(json.dumps(line))
    if record is None:
        return
    record.parent.mkdir(parents=True, exist_ok=True)
    with record.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
