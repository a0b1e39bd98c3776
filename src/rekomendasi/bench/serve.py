"""``bench serve``: start the real server (``rekomendasi serve``, uvicorn) on a snapshot, its scores
store and a registry, and drive it from a separate load-generating process (:mod:`.loadgen`) with the
same clients throughout, in three phases:

1. explained top-k recommendations of random active employees at a fixed offered rate (open loop: the
   latency at that load);
2. the same as fast as the clients go (closed loop: the highest throughput);
3. ``/health``, closed loop (what the machine and the HTTP stack give with no work behind them).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from rekomendasi.errors import RekomendasiError
from rekomendasi.features.schemas import Roster
from rekomendasi.jobs.snapshots import active_roster
from rekomendasi.serving.store import Stores

TARGET_P99_MS = 50.0
REQUEST_PATHS = 20_000  # distinct employees the load cycles through


@dataclass(frozen=True, slots=True)
class Load:
    """The load: ``clients`` concurrent clients for ``seconds`` per phase; ``rate`` requests/s in all in
    the open-loop phase; ``k`` recommendations per request."""

    clients: int = 32
    seconds: float = 30.0
    rate: float = 200.0
    k: int = 10


def serve_bench(
    snapshot: Path, scores: Path, mlflow_uri: str, load: Load, workers: int = 2, port: int = 8765
) -> dict[str, object]:
    """Run the three phases against a server of ``workers`` processes; return the measured fields.

    Args:
        snapshot: the snapshot directory the server serves (its roster gives the employees asked for).
        scores: the root of the scores stores (one for this snapshot and the champion must be there).
        mlflow_uri: the registry holding the champion.

    Raises:
        RekomendasiError: the server exited or was not ready in time (with its last words).
        ModelNotReady: there is no snapshot roster in ``snapshot``.
    """
    nips = list(active_roster(snapshot)[Roster.nip])
    random.Random(0).shuffle(nips)
    with tempfile.TemporaryDirectory(prefix="rekomendasi-bench-") as scratch:
        tmp = Path(scratch)
        state_url = f"sqlite:///{tmp / 'state.db'}"
        with Stores.open(state_url, "bench") as stores:
            key = stores.keys.create_key("bench", "admin")[1]
        paths = tmp / "paths.txt"
        paths.write_text(
            "\n".join(f"/v1/employees/{n}/recommendations?k={load.k}" for n in nips[:REQUEST_PATHS]),
            encoding="utf-8",
        )
        health = tmp / "health.txt"
        health.write_text("/health\n", encoding="utf-8")
        env = {
            **os.environ,
            "REKOMENDASI_SNAPSHOT_DIR": str(snapshot.resolve()),
            "REKOMENDASI_SCORES_DIR": str(scores.resolve()),
            "REKOMENDASI_MLFLOW_URI": mlflow_uri,
            "REKOMENDASI_STATE_DB_URL": state_url,
            "REKOMENDASI_NIP_SALT": "bench",
        }
        log = tmp / "server.log"
        started = time.perf_counter()
        with log.open("w", encoding="utf-8") as log_file:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rekomendasi",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                text=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            startup = wait_ready(base, server, started, log, workers)
            at_start = process_rss_gb(server.pid)
            phases: tuple[tuple[str, Path, str, list[str]], ...] = (
                ("recommendations_at_rate", paths, key, ["--rate", str(load.rate)]),
                ("recommendations_closed_loop", paths, key, []),
                ("health_closed_loop", health, "", []),
            )
            results = {name: drive(base, file, auth, load, mode) for name, file, auth, mode in phases}
            after_load = process_rss_gb(server.pid)
            model = httpx.get(f"{base}/v1/model", headers={"X-API-Key": key}, timeout=30).json()
        finally:
            server.terminate()
            server.wait(timeout=60)
    at_rate, closed, health_run = (
        results["recommendations_at_rate"],
        results["recommendations_closed_loop"],
        results["health_closed_loop"],
    )
    return {
        "snapshot": str(snapshot),
        "scores": str(scores),
        "employees": model.get("employees"),
        "catalogue_entries": model.get("catalogue_entries"),
        "model_version": model.get("version"),
        "workers": workers,
        "clients": load.clients,
        "k": load.k,
        "startup_seconds": round(startup, 1),
        "server_rss_gb": round(sum(at_start.values()), 2),
        "worker_rss_gb": [round(v, 2) for v in _workers(at_start)],
        "worker_rss_max_gb": round(max(_workers(at_start)), 2),
        "server_rss_after_load_gb": round(sum(after_load.values()), 2),
        "worker_rss_after_load_gb": [round(v, 2) for v in _workers(after_load)],
        **results,
        "health_to_recommendations_ratio": round(
            float(health_run["requests_per_s"]) / max(float(closed["requests_per_s"]), 1e-9), 2
        ),
        "meets_target": bool(
            at_rate["p99_ms"] < TARGET_P99_MS
            and at_rate["requests_per_s"] >= 0.98 * load.rate
            and closed["requests_per_s"] >= load.rate
            and at_rate["errors"] == 0
            and closed["errors"] == 0
        ),
    }


def drive(base: str, paths: Path, key: str, load: Load, mode: list[str]) -> dict[str, float]:
    """One phase: the load generator in its own process; its JSON summary."""
    args = ["--paths", str(paths), "--clients", str(load.clients), "--seconds", str(load.seconds), *mode]
    proc = subprocess.run(
        [sys.executable, "-m", "rekomendasi.bench.loadgen", "--base", base, "--key", key, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    summary: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return summary


def wait_ready(
    base: str, server: subprocess.Popen[str], started: float, log: Path, workers: int, timeout: float = 900
) -> float:
    """Seconds until ``/ready`` answers 200 and every worker has finished starting (each worker loads
    the engine itself; one ready worker would take all the load); fails with the server's last words
    if it dies or stalls."""
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


def process_rss_gb(pid: int) -> dict[int, float]:
    """Resident memory in GB of a process and of each of its worker children, by pid (from /proc).

    The process comes first. Helper children of ``multiprocessing`` (its resource tracker) are left out.
    """
    found = {pid: _rss_gb(pid)}
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            found[child] = _rss_gb(child)
    return found


def _workers(rss: dict[int, float]) -> list[float]:
    """The workers' resident memory: the children's, or the process's own when it serves alone."""
    values = list(rss.values())
    return values[1:] or values


def _rss_gb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return 0.0
