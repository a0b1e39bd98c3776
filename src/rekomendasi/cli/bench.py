"""``bench ...``: time and peak memory of a job in a child process, and the real server under load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rekomendasi.cli.common import console, friendly_errors

app = typer.Typer(help="Benchmarks: measure time and peak memory of a job.", no_args_is_help=True)
from rekomendasi.cli import bench_effectiveness as _effectiveness  # noqa: E402, F401  (`bench effectiveness`)
from rekomendasi.cli import grid as _grid  # noqa: E402, F401  (registers `bench grid` on app)

Record = Annotated[Path | None, typer.Option(help="Append the result as a JSON line to this file.")]
BenchRegistry = Annotated[
    str, typer.Option(help="Scratch tracking store, kept apart from the real registry.")
]
BENCH_MLFLOW = "sqlite:///var/bench-mlflow/mlflow.db"


def _report(line: dict[str, object], record: Path | None) -> None:
    from rekomendasi.bench.harness import append_record

    console.print_json(json.dumps(line))
    append_record(line, record)


@app.command("simulate")
def bench_simulate(
    out: Annotated[Path, typer.Option(help="Scratch data directory.")] = Path("data/bench-100k"),
    employees: Annotated[int, typer.Option(min=1)] = 100_000,
    seed: Annotated[int, typer.Option()] = 7,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "parquet",
    record: Record = None,
) -> None:
    """Time and peak memory of `rekomendasi simulate` at scale (target: 100k employees < 3 min, < 6 GB)."""
    from rekomendasi.bench.harness import bench_line, run_measured

    args = ["simulate", "--out", str(out), "--employees", str(employees), "--seed", str(seed)]
    with friendly_errors():
        result = run_measured([*args, "--format", fmt])
    console.print(result.stdout.strip().splitlines()[-1])
    _report(bench_line("simulate", {"employees": employees, "format": fmt}, result), record)


@app.command("validate")
def bench_validate(
    data: Annotated[Path, typer.Option(help="Data directory to validate (e.g. one made by bench simulate).")],
    record: Record = None,
) -> None:
    """Time and peak memory of `rekomendasi validate` on a data directory."""
    from rekomendasi.bench.harness import bench_line, run_measured

    with friendly_errors():
        result = run_measured(["validate", "--data", str(data), "--quarantine", str(data / "quarantine.csv")])
    employees = (
        sum(1 for _ in (data / "employees.csv").open()) - 1 if (data / "employees.csv").exists() else None
    )
    _report(bench_line("validate", {"data": str(data), "employees": employees}, result), record)


@app.command("features")
def bench_features(
    data: Annotated[Path, typer.Option(help="Data directory (e.g. one made by bench simulate).")],
    as_of: Annotated[str, typer.Option(help="Snapshot date.")] = "2025-12-31",
    out: Annotated[Path, typer.Option(help="Scratch snapshot directory.")] = Path("var/bench-snapshot"),
    embeddings: Annotated[bool, typer.Option("--embeddings/--no-embeddings")] = True,
    record: Record = None,
) -> None:
    """Time and peak memory of `rekomendasi features` (target: 100k employees < 5 min, < 8 GB)."""
    from rekomendasi.bench.harness import bench_line, run_measured

    args = ["features", "--data", str(data), "--as-of", as_of, "--out", str(out)]
    with friendly_errors():
        result = run_measured([*args, "--embeddings" if embeddings else "--no-embeddings"])
    stages = result.line_starting("seconds per stage").removeprefix("seconds per stage: ")
    _report(
        bench_line("features", {"data": str(data), "embeddings": embeddings, "stages": stages}, result),
        record,
    )


@app.command("train")
def bench_train(
    data: Annotated[Path, typer.Option(help="Data directory (e.g. one made by bench simulate).")],
    as_of: Annotated[str, typer.Option(help="Training date.")] = "2025-12-31",
    mlflow_uri: BenchRegistry = BENCH_MLFLOW,
    record: Record = None,
) -> None:
    """Time and peak memory of `rekomendasi train` (target: 100k employees < 5 min, < 8 GB)."""
    from rekomendasi.bench.harness import bench_line, run_measured

    with friendly_errors():
        result = run_measured(
            ["train", "--data", str(data), "--as-of", as_of], env={"REKOMENDASI_MLFLOW_URI": mlflow_uri}
        )
    outcome = result.line_starting("registered")
    _report(bench_line("train", {"data": str(data), "outcome": outcome}, result), record)


@app.command("score")
def bench_score(
    snapshot: Annotated[Path, typer.Option(help="Snapshot directory (from `rekomendasi features`).")],
    out: Annotated[Path, typer.Option(help="Root of the scratch scores stores.")] = Path("var/bench-scores"),
    mlflow_uri: Annotated[
        str, typer.Option(help="Registry holding a champion trained on that data.")
    ] = BENCH_MLFLOW,
    record: Record = None,
) -> None:
    """Time and peak memory of `rekomendasi score` on a written snapshot."""
    from rekomendasi.bench.harness import bench_line, run_measured
    from rekomendasi.recommend import ScoresStore

    with friendly_errors():
        result = run_measured(
            ["score", "--snapshot", str(snapshot), "--out", str(out)],
            env={"REKOMENDASI_MLFLOW_URI": mlflow_uri},
        )
        store = Path(result.line_starting("scores store: ").removeprefix("scores store: ").strip())
        manifest = ScoresStore(store).manifest
    sizes = {name: manifest.get(name) for name in ("agencies", "employees", "rows", "top_n", "candidates")}
    fields = {
        "snapshot": str(snapshot),
        "store": str(store),
        **sizes,
        "model_version": manifest.get("model_version"),
    }
    _report(bench_line("score", fields, result), record)


@app.command("serve")
def bench_serve(
    snapshot: Annotated[Path, typer.Option(help="Snapshot directory (from `rekomendasi features`).")],
    scores: Annotated[
        Path, typer.Option(help="Root of the scores stores, with one for that snapshot and the champion.")
    ] = Path("var/bench-scores"),
    mlflow_uri: Annotated[
        str, typer.Option(help="Registry holding a champion trained on that data.")
    ] = BENCH_MLFLOW,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent clients.")] = 32,
    seconds: Annotated[float, typer.Option(min=1, help="Measured seconds per endpoint.")] = 30.0,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 2,
    k: Annotated[int, typer.Option(min=1, max=50, help="Recommendations per request.")] = 10,
    rate: Annotated[
        float, typer.Option(min=1, help="Offered load of the open-loop phase, requests/s in all.")
    ] = 200.0,
    port: Annotated[int, typer.Option(help="Port of the server under test.")] = 8765,
    record: Record = None,
) -> None:
    """Latency and throughput of the real server (uvicorn, `rekomendasi serve`) under a separate
    load-generating process, with the same clients throughout: explained top-k recommendations of random
    employees at a fixed offered rate (open loop: latency at that load), then as fast as the clients go
    (closed loop: the highest throughput), then /health closed loop. Target at 100k employees and 32
    clients: p99 < 50 ms at 200 requests/s, and >= 200 requests/s."""
    from rekomendasi.bench.harness import bench_line
    from rekomendasi.bench.serve import Load, serve_bench

    load = Load(clients=clients, seconds=seconds, rate=rate, k=k)
    with friendly_errors():
        fields = serve_bench(snapshot, scores, mlflow_uri, load, workers=workers, port=port)
    _report(bench_line("serve", fields), record)


@app.command("reliability")
def bench_reliability(
    snapshot: Annotated[Path, typer.Option(help="Snapshot directory (from `rekomendasi features`).")],
    scores: Annotated[
        Path, typer.Option(help="Root of the scores stores, with one for that snapshot and the champion.")
    ] = Path("var/bench-scores"),
    mlflow_uri: Annotated[
        str, typer.Option(help="Registry holding a champion trained on that data.")
    ] = BENCH_MLFLOW,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="body, overload, kill9, soak, throughput or ratelimit; repeat for several (default: all)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (all but the overload).")] = 2,
    overload_workers: Annotated[
        list[int] | None, typer.Option(min=1, help="Server processes of the overload; repeat (default 1).")
    ] = None,
    seconds: Annotated[
        float, typer.Option(min=1, help="Measured seconds per phase (overload, throughput, ratelimit).")
    ] = 30.0,
    minutes: Annotated[float, typer.Option(min=0.02, help="Minutes of the soak.")] = 10.0,
    soak_rate: Annotated[float, typer.Option(min=1, help="Offered load of the soak, requests/s.")] = 100.0,
    upload_mb: Annotated[float, typer.Option(min=1, help="Size of the hostile upload, MB.")] = 500.0,
    kill_requests: Annotated[int, typer.Option(min=2, help="Concurrent requests of the kill9.")] = 500,
    kill_after: Annotated[
        int, typer.Option(min=1, help="Answered requests before every server process is killed.")
    ] = 250,
    clients: Annotated[int, typer.Option(min=1, help="Clients of the throughput scenario.")] = 32,
    rate_limit: Annotated[
        float, typer.Option(min=1, help="Admin rate limit (requests/s per worker) of the ratelimit scenario.")
    ] = 20.0,
    port: Annotated[int, typer.Option(help="Port of the servers under test.")] = 8766,
    keep: Annotated[
        Path | None,
        typer.Option(
            help="Keep the scratch files (state databases, server logs, outcomes) under this folder."
        ),
    ] = None,
    record: Record = None,
) -> None:
    """Reliability of the real server (issue #10), each scenario on a fresh server and state database:
    a 500 MB upload without a key and with one (401 and 413 early, memory growth < 50 MB); probers of
    /health and of ordinary recommendations beside heavy agency pages (p99 < 50 and < 100 ms); kill -9 of
    every server process amid 500 requests (no answered request without its audit row; the audit chain
    verifies); a soak at 100 requests/s; the closed-loop throughput with the durable audit; a key over its
    rate limit (429 with Retry-After). One line per scenario."""
    from rekomendasi.bench.harness import bench_line
    from rekomendasi.bench.reliability import SCENARIOS, Plan, World, reliability_bench

    chosen = tuple(scenario or SCENARIOS)
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        raise typer.BadParameter(
            f"unknown scenario(s) {', '.join(unknown)}; choose among {', '.join(SCENARIOS)}."
        )
    if kill_after >= kill_requests:
        raise typer.BadParameter(f"--kill-after {kill_after} must be below --kill-requests {kill_requests}.")
    plan = Plan(
        workers=workers,
        overload_workers=tuple(overload_workers or (1,)),
        seconds=seconds,
        minutes=minutes,
        soak_rate=soak_rate,
        upload_mb=upload_mb,
        kill_requests=kill_requests,
        kill_after=kill_after,
        clients=clients,
        rate_limit=rate_limit,
        port=port,
        record=record,
    )
    with friendly_errors():
        for name, fields in reliability_bench(World(snapshot, scores, mlflow_uri), plan, chosen, keep):
            _report(bench_line("reliability", {"scenario": name, **fields}), record)


PlanHome = Annotated[
    Path,
    typer.Option(
        help="A project home with data, a champion and its scores store (REKOMENDASI_HOME of "
        "`simulate`, `train` and `score`); made there first when it has no data."
    ),
]


def _prepared(home: Path, employees: int, seed: int) -> bool:
    """Simulate, train and score in ``home`` unless already done (each in a child process); whether the
    world was simulated here (else ``seed`` and ``employees`` say nothing of it)."""
    from rekomendasi.bench.harness import run_measured

    env = {"REKOMENDASI_HOME": str(home.resolve())}
    data = home / "data"
    simulated = not (data / "truth").exists()
    if simulated:
        console.print(f"simulating {employees:,} employees (seed {seed}) in {data}")
        run_measured(
            [
                "simulate",
                "--out",
                str(data),
                "--employees",
                str(employees),
                "--seed",
                str(seed),
                "--format",
                "parquet",
            ],
            env,
        )
    if not (home / "var" / "scores").exists():
        console.print(f"training and scoring in {home}")
        run_measured(["train", "--data", str(data)], env)
        run_measured(["score", "--data", str(data)], env)
    return simulated


@app.command("plan")
def bench_plan(
    home: PlanHome = Path("var/bench-plan"),
    staff: Annotated[
        int, typer.Option(min=1, help="Staff of the agency planned (largest agencies pooled).")
    ] = 10_000,
    budget_per_person_idr: Annotated[
        int, typer.Option(min=1, help="Budget per staff member, in rupiah.")
    ] = 350_000,
    time_limit: Annotated[float, typer.Option(help="The plan's solver time limit, seconds.")] = 60.0,
    employees: Annotated[int, typer.Option(help="World size when the home has no data yet.")] = 25_000,
    seed: Annotated[int, typer.Option(help="Simulator seed when the home has no data yet.")] = 8,
    record: Record = None,
) -> None:
    """Time and peak memory of one agency's plan at ``--staff`` (target: 10,000 staff < 60 s, < 2 GB), in
    a child process, beside the largest single agency of the same world as the reference. The simulator
    makes agencies of about 2,500 staff, so the large one pools the largest agencies into one."""
    from rekomendasi.bench.harness import bench_line, run_measured

    with friendly_errors():
        _prepared(home, employees, seed)
        for label, size in (("reference", 1), ("target", staff)):
            result = run_measured(
                ["speed", str(home.resolve()), str(size), str(budget_per_person_idr), str(time_limit)],
                module="rekomendasi.bench.plans",
            )
            fields = json.loads(result.line_starting("result ").removeprefix("result "))
            _report(bench_line("plan", {"run": label, **fields}, result), record)


@app.command("plan-quality")
def bench_plan_quality(
    home: PlanHome = Path("var/bench-plan-quality"),
    employees: Annotated[int, typer.Option(help="World size when the home has no data yet.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Simulator seed when the home has no data yet.")] = 11,
    time_limit: Annotated[float, typer.Option(help="Solver time limit per plan, seconds.")] = 60.0,
    out: Annotated[Path | None, typer.Option(help="Write every plan's row (CSV) here.")] = None,
    record: Record = None,
) -> None:
    """True gap closure and JP coverage of the optimised plan against the spreadsheet habit and greedy by
    ranker score, on a simulated world's truth: every agency at a third, two thirds and all of the least
    cost that brings everyone to the floor (target: >= 20% more true gain than the spreadsheet habit, JP
    coverage no lower)."""
    from rekomendasi.bench.harness import bench_line
    from rekomendasi.bench.plans import plan_quality, quality_table

    with friendly_errors():
        simulated = _prepared(home, employees, seed)
        rows = plan_quality(home, home / "data" / "truth", time_limit_s=time_limit, progress=console.print)
    if out is not None:
        rows.to_csv(out, index=False)
    table = quality_table(rows)
    console.print(table.to_string(index=False))
    fields = {
        "home": str(home),
        "seed": seed if simulated else "(world simulated before)",
        "agencies": int(rows["agency"].nunique()),
    }
    _report(bench_line("plan-quality", {**fields, "table": table.round(4).to_dict("records")}), record)


@app.command("batch")
def bench_batch(
    employees: Annotated[str, typer.Option(help="World sizes, comma-separated.")] = "100000,300000,1000000",
    dask: Annotated[
        str,
        typer.Option("--dask", help="Runners, comma-separated: none (in process), local:N, tcp://HOST:PORT."),
    ] = "local:1,local:2",
    worlds: Annotated[
        Path, typer.Option(help="Worlds live in WORLDS/data-<employees>; missing ones are simulated.")
    ] = Path("var/bench-worlds"),
    seed: Annotated[int, typer.Option(help="Seed of the worlds this simulates.")] = 7,
    as_of: Annotated[str, typer.Option(help="As-of date of the batch.")] = "2025-12-31",
    mlflow_uri: Annotated[
        str, typer.Option(help="Registry with the champion (trained on the smallest world when it has none).")
    ] = BENCH_MLFLOW,
    record: Record = Path("benchmarks/results.jsonl"),
    plot: Annotated[
        Path | None, typer.Option(help="Draw the scaling curve of every batch line of --record here.")
    ] = Path("benchmarks/scaling.png"),
) -> None:
    """The scaling curve of `rekomendasi batch` end to end (load, features, scoring, the file): wall time
    and peak memory of the driver and of each worker per size and runner, and the national figure from
    the measured slope."""
    import os
    import tempfile

    from rekomendasi.bench.harness import bench_line, run_measured
    from rekomendasi.bench.scale import batch_point, national, point_fields, read_points
    from rekomendasi.bench.scale import plot as draw
    from rekomendasi.registry import MlflowRegistry

    try:
        sizes = sorted({int(n) for n in employees.split(",")})
    except ValueError as err:
        raise typer.BadParameter(f"--employees takes whole numbers separated by commas: {err}") from err
    runners = [d.strip() for d in dask.split(",") if d.strip()]
    os.environ["REKOMENDASI_MLFLOW_URI"] = mlflow_uri
    with friendly_errors():
        for n in sizes:
            world = worlds / f"data-{n}"
            if not (world / "employees.parquet").exists() and not (world / "employees.csv").exists():
                console.print(f"simulating {n:,} employees into {world}")
                run_measured(
                    [
                        "simulate",
                        "--out",
                        str(world),
                        "--employees",
                        str(n),
                        "--seed",
                        str(seed),
                        "--format",
                        "parquet",
                    ]
                )
        if MlflowRegistry(mlflow_uri).alias_version("champion") is None:
            console.print(f"training a champion on {worlds / f'data-{sizes[0]}'} (not measured)")
            run_measured(["train", "--data", str(worlds / f"data-{sizes[0]}"), "--as-of", as_of])
        with tempfile.TemporaryDirectory(prefix="bench-batch-", dir=worlds) as scratch:
            for n in sizes:
                for where in runners:
                    point = batch_point(
                        worlds / f"data-{n}", n, where, Path(scratch) / "batch.parquet", as_of
                    )
                    console.print(
                        f"{n:>9,} employees {where:>10}: {point.seconds:7.1f} s, driver "
                        f"{point.driver_peak_gb:.2f} GB, largest worker {point.worker_peak_gb:.2f} GB"
                    )
                    _report(bench_line("batch", point_fields(point)), record)
    if record is not None:
        points = read_points(record)
        figure = national(points)
        if figure is not None:
            console.print_json(json.dumps({"national_estimate": figure}))
        if plot is not None:
            console.print(f"scaling curve: {draw(points, plot)}")


@app.command("letor")
def bench_letor(
    train: Annotated[Path, typer.Option(help="Training file: tsv (gz or plain): query, relevance, URL, ...")],
    test: Annotated[Path | None, typer.Option(help="File of the same layout to score.")] = None,
    seed: Annotated[int, typer.Option(help="The ranker's random_state (and the folds').")] = 0,
    cv: Annotated[int, typer.Option(min=0, help="Only cross-validate on --train, K folds by query.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="LightGBM threads (the same trees for any).")] = 1,
    record: Record = None,
) -> None:
    """NDCG@10 of LambdaRanker() with its defaults fitted on --train and scored on --test (issue #15: Yandex's
    test part, >= 0.715), or --cv K by query on --train alone. Grades 0-4 at relevance 0.07, 0.14, 0.41,
    0.61; gain 2^grade - 1; a query without relevant documents scores 1."""
    from rekomendasi.bench.harness import bench_line
    from rekomendasi.bench.letor import letor_bench

    if (test is None) == (cv == 0):
        raise typer.BadParameter("give --test FILE to score it, or --cv K to cross-validate on --train.")
    with friendly_errors():
        fields = letor_bench(train, test, seed=seed, folds=cv, n_jobs=threads, progress=console.print)
    _report(bench_line("letor", fields), record)


from rekomendasi.cli import feedbackround as _feedbackround  # noqa: E402, F401  (registers `bench feedback`)
