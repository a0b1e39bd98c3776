"""``score`` writes the scores store, ``batch`` the contract's batch file, ``serve`` runs the API."""

from __future__ import annotations

import contextlib
import copy
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rekomendasi.cli.common import (
    AsOf,
    DaskOption,
    DataDir,
    console,
    counted,
    friendly_errors,
    parse_as_of,
    print_sources,
    stages,
)
from rekomendasi.cluster import runner
from rekomendasi.settings import Settings, get_settings

if TYPE_CHECKING:
    import uvicorn


def score(
    data: Annotated[
        Path | None,
        typer.Option(help="Build the snapshot of this data directory first (default: read --snapshot)."),
    ] = None,
    as_of: AsOf = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            help="Snapshot directory: written from --data, else read (default REKOMENDASI_SNAPSHOT_DIR)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Root of the scores stores (default: REKOMENDASI_SCORES_DIR).")
    ] = None,
    top_n: Annotated[
        int | None,
        typer.Option(min=1, max=500, help="Entries kept per employee (default: REKOMENDASI_SCORES_TOP_N)."),
    ] = None,
    dask: DaskOption = None,
) -> None:
    """Score every active employee of the snapshot with the champion and write the scores store the API,
    batch files and plans read (one per snapshot and model)."""
    from rekomendasi.jobs.outputs import require_champion, score_options
    from rekomendasi.jobs.scores import score_job
    from rekomendasi.jobs.snapshots import SNAPSHOT_STAGES, scoring_snapshot
    from rekomendasi.recommend import ScoresStore
    from rekomendasi.registry import registry_from_settings

    if as_of is not None and data is None:
        raise typer.BadParameter("--as-of needs --data: a written snapshot keeps the date it was built for")
    settings = get_settings()
    date = parse_as_of(as_of)
    snapshot_dir = snapshot or settings.resolve(settings.snapshot_dir)
    root = out or settings.resolve(settings.scores_dir)
    with friendly_errors():
        registry = registry_from_settings(settings)
        require_champion(registry)
        options, config_file = score_options(settings, top_n)
        with runner(dask or settings.dask) as where:
            console.print(f"agencies run {where.name}", highlight=False)
            if data is None:
                built, run = scoring_snapshot(settings, None, None, snapshot_dir)
            else:
                with stages(SNAPSHOT_STAGES, f"snapshot of {data}") as advance:
                    built, run = scoring_snapshot(
                        settings, data, date, snapshot_dir, advance, where, advance.count
                    )
            started = time.perf_counter()
            with counted(f"scoring {built.snapshot_id} by agency") as progress:
                path = score_job(built, registry, root, options, progress, where)
            seconds = time.perf_counter() - started
        manifest = ScoresStore(path).manifest
    if run is not None:
        print_sources(evidence_spec=run.spec_file)
        console.print(f"snapshot as of {built.as_of} written to {snapshot_dir}", soft_wrap=True)
    print_sources(train_config=config_file)
    console.print(f"scores store: {path}", soft_wrap=True, highlight=False)
    console.print(
        f"{manifest['agencies']:,} agencies, {manifest['employees']:,} employees, {manifest['rows']:,} rows "
        f"(top {manifest['top_n']} of {manifest['candidates']} candidates, model "
        f"v{manifest['model_version']}) in {seconds:.1f} s"
    )


def batch(
    out: Annotated[
        Path,
        typer.Option(
            help="Output file: .csv or .parquet (data contract: nip, rank, training_id, score, reason)."
        ),
    ],
    data: DataDir = None,
    as_of: AsOf = None,
    k: Annotated[int, typer.Option(min=1, max=50, help="Recommendations per employee.")] = 10,
    store: Annotated[
        Path | None,
        typer.Option(
            help="Keep the scores store written on the way under this root (default: a temporary one)."
        ),
    ] = None,
    dask: DaskOption = None,
) -> None:
    """Recommendations for every active employee from the registry's champion, without the entries of
    standing objections in the state database (REKOMENDASI_STATE_DB_URL)."""
    from rekomendasi.contract.writing import write_chunks
    from rekomendasi.jobs.outputs import require_champion, score_options
    from rekomendasi.jobs.scores import batch_job
    from rekomendasi.jobs.snapshots import SNAPSHOT_STAGES, snapshot_job
    from rekomendasi.recommend import Objections
    from rekomendasi.registry import registry_from_settings
    from rekomendasi.serving.store import read_feedback

    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(f"--out must end in .csv or .parquet, got {out.name!r}")
    settings = get_settings()
    date = parse_as_of(as_of)
    data_dir = data or settings.resolve(settings.data_dir)
    with friendly_errors():
        registry = registry_from_settings(settings)
        require_champion(registry)
        objections = Objections.from_feedback(read_feedback(settings))
        # A kept store holds what the API serves (REKOMENDASI_SCORES_TOP_N); a temporary one only the k.
        options, config_file = score_options(settings, None if store is not None else k)
        with runner(dask or settings.dask) as where:
            console.print(f"agencies run {where.name}", highlight=False)
            with stages(SNAPSHOT_STAGES, f"recommendations for {data_dir}") as advance:
                run = snapshot_job(
                    settings,
                    data_dir,
                    date,
                    progress=advance,
                    runner=where,
                    agencies=advance.count,
                    scratch=out.parent,
                )
            with counted("ranking by agency") as progress:
                result = batch_job(
                    run.snapshot, registry, out, k, options, write_chunks, store, progress, where, objections
                )
    print_sources(evidence_spec=run.spec_file, train_config=config_file)
    console.print(f"wrote {result.rows:,} recommendations for {result.employees:,} employees to {out}")
    if result.store is not None:
        console.print(f"scores store: {result.store}", soft_wrap=True, highlight=False)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface (default REKOMENDASI_API_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default REKOMENDASI_API_PORT, 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server processes (default REKOMENDASI_API_WORKERS, 1).")
    ] = None,
    demo_key: Annotated[
        bool,
        typer.Option(
            help="Create a planner key for the snapshot's first agency; print a curl example and the web "
            "page's address."
        ),
    ] = False,
) -> None:
    """Serve the API (uvicorn) on the latest snapshot and the registry's champion; docs at /docs, the
    planner's web page at /ui/."""

    import uvicorn

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    if demo_key:
        _print_demo_key(settings, host, port)
    config = uvicorn.Config(
        "rekomendasi.serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.api_workers,
        access_log=False,  # ours hashes NIPs; uvicorn's would print them
        log_level="info",
        log_config=log_config(),  # applied in every worker process, not only in the supervisor
    )
    if config.workers == 1:
        from rekomendasi.plans.highs import quiet_banner

        quiet_banner()  # the solver's banner, printed at a process's first plan, kept out of the log
        uvicorn.Server(config).run()
        return
    from uvicorn.supervisors import Multiprocess

    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[tcp_listener(config)]).run()


def log_config() -> dict[str, object]:
    """uvicorn's logging configuration plus the product's loggers (``rekomendasi.*``: the access log with
    NIPs hashed, warnings), with time and level. uvicorn applies it in each worker process; set up only
    in the supervisor, the workers of a multi-worker server wrote no access log at all."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["product"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    config["handlers"]["product"] = {
        "class": "logging.StreamHandler",
        "formatter": "product",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["rekomendasi"] = {"handlers": ["product"], "level": "INFO", "propagate": False}
    return config


def tcp_listener(config: uvicorn.Config) -> socket.socket:
    """The listening socket the workers share, with Nagle's algorithm off for every connection.

    uvicorn binds it as ``socket(family)``, whose protocol number reads 0, so asyncio does not set
    TCP_NODELAY on the connections it accepts (it checks for IPPROTO_TCP): a keep-alive answer written in
    two parts then waits for the client's delayed ACK, 40 ms on Linux (measured: /health at 44 ms a
    request with two workers, 0.4 ms with one). The socket is rebuilt with its protocol named, and
    TCP_NODELAY is set on it too (Linux passes it on to accepted connections).
    """
    bound = config.bind_socket()
    if bound.family not in (socket.AF_INET, socket.AF_INET6):
        return bound
    listener = socket.socket(bound.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=bound.detach())
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.set_inheritable(True)
    return listener


def _print_demo_key(settings: Settings, host: str, port: int) -> None:
    """A planner key for the first agency of the snapshot, with a working curl example and the web page's
    address (demo only)."""
    from rekomendasi.jobs.demo import demo_key

    with friendly_errors():
        demo = demo_key(settings)
    # Plain echo, not rich: a wrapped curl line could not be pasted.
    typer.echo(f"demo API key (planner for {demo.agency}; shown once): {demo.key}")
    typer.echo(
        f"try: curl -s -H 'X-API-Key: {demo.key}' "
        f"'http://{host}:{port}/v1/employees/{demo.nip}/recommendations?k=3&lang=en'"
    )
    typer.echo(f"planner's web page: http://{host}:{port}/ui/ (sign in with the demo key above)")
    typer.echo(f"docs: http://{host}:{port}/docs")
