"""The rig of ``bench reliability`` (:mod:`.reliability`): a real server on a fresh state database, the load
drivers (:mod:`.hostile`, :mod:`.loadgen`) in processes of their own, the server's memory sampled in a
thread, and what the state database holds afterwards (audit rows by request id, the audit chain's check)."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import sqlalchemy as sa

from rekomendasi.bench.hostile import descendants, kill_all
from rekomendasi.bench.serve import process_rss_gb, wait_ready
from rekomendasi.errors import RekomendasiError
from rekomendasi.features.schemas import Roster
from rekomendasi.jobs.snapshots import active_roster
from rekomendasi.serving.store import Stores

SALT = "bench"


@dataclass(frozen=True, slots=True)
class World:
    """What the server serves: a snapshot directory, the root of its scores stores and the registry."""

    snapshot: Path
    scores: Path
    mlflow_uri: str


@dataclass
class Rig:
    """One bench run: the world, a scratch directory (a folder per server), the port of the servers, the
    active roster (nip, instansi_id), the catalogue's training ids and a seeded random source."""

    world: World
    scratch: Path
    port: int
    roster: pd.DataFrame
    trainings: list[str]
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    _runs: int = 0

    def nips(self) -> list[str]:
        """The active employees' NIPs, in NIP order."""
        return list(self.roster[Roster.nip])

    def server(
        self, name: str, workers: int, settings: dict[str, str] | None = None
    ) -> AbstractContextManager[Running]:
        """A fresh server with a fresh state database in a folder of its own (:func:`running_server`)."""
        self._runs += 1
        folder = self.scratch / f"{self._runs:02d}-{name}"
        folder.mkdir(parents=True)
        return running_server(self.world, folder, self.port, workers, settings)

    def mixed(self, count: int, weights: dict[str, float]) -> list[dict[str, Any]]:
        """``count`` requests of the kinds weighted by ``weights`` (:func:`mixed`)."""
        return mixed(self.roster, self.trainings, self.rng, count, weights)


@contextmanager
def opened_rig(world: World, port: int, keep: Path | None = None) -> Iterator[Rig]:
    """A :class:`Rig` on ``world``; its scratch directory is made under ``keep`` and kept, or is a
    temporary one removed at the end.

    Raises:
        ModelNotReady: there is no snapshot roster in ``world.snapshot``.
    """
    roster = active_roster(world.snapshot)
    catalog = pd.read_parquet(world.snapshot / "catalog.parquet", columns=["training_id"])
    trainings = sorted(catalog["training_id"].astype(str))
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield Rig(world, Path(tempfile.mkdtemp(prefix="reliability-", dir=keep)), port, roster, trainings)
        return
    with tempfile.TemporaryDirectory(prefix="rekomendasi-reliability-") as tmp:
        yield Rig(world, Path(tmp), port, roster, trainings)


@dataclass
class Running:
    """A server under test: its address, an admin key, its pid and environment, its state database."""

    base: str
    key: str
    pid: int
    env: dict[str, str]
    state_url: str
    log: Path
    startup_seconds: float
    scratch: Path
    proc: subprocess.Popen[str]

    def problems(self, limit: int = 5) -> dict[str, Any]:
        """Tracebacks and ERROR lines of the server's log so far (their count and the first few)."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        lines = [ln for ln in text.splitlines() if "Traceback" in ln or " ERROR " in ln or "CRITICAL" in ln]
        return {"server_log_errors": len(lines), "server_log_first_errors": lines[:limit]}


@contextmanager
def running_server(
    world: World, scratch: Path, port: int, workers: int, settings: dict[str, str] | None = None
) -> Iterator[Running]:
    """A server of ``workers`` processes on ``world`` at ``port``, with no rate limits unless ``settings``
    set them, and a fresh state database in ``scratch`` holding one admin key; stopped at the end (if
    still alive).

    Raises:
        RekomendasiError: the server exited or was not ready in time (with its last words).
    """
    _require_free(port)
    name = scratch.name
    state_url = f"sqlite:///{scratch / 'state.db'}"
    with Stores.open(state_url, SALT) as stores:
        key = stores.keys.create_key(f"bench reliability {name}", "admin")[1]
    env = {
        **os.environ,
        "REKOMENDASI_SNAPSHOT_DIR": str(world.snapshot.resolve()),
        "REKOMENDASI_SCORES_DIR": str(world.scores.resolve()),
        "REKOMENDASI_MLFLOW_URI": world.mlflow_uri,
        "REKOMENDASI_STATE_DB_URL": state_url,
        "REKOMENDASI_NIP_SALT": SALT,
        "REKOMENDASI_RATE_LIMIT_ADMIN": "0",
        "REKOMENDASI_RATE_LIMIT_PLANNER": "0",
        "REKOMENDASI_RATE_LIMIT_PLATFORM": "0",
        **(settings or {}),
    }
    log = scratch / "server.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rekomendasi", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        startup = wait_ready(base, proc, started, log, workers, timeout=600)
        yield Running(base, key, proc.pid, env, state_url, log, startup, scratch, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill_all(proc.pid)
                proc.wait(timeout=10)


def _require_free(port: int) -> None:
    """Fail when something already listens on ``port``: its answers would pass for the new server's."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise RekomendasiError(f"port {port} is already in use; stop what listens there or pass --port.")


# --- requests ---


def single(nip: str, k: int = 10) -> dict[str, Any]:
    """A request (as the drivers take it) for the top ``k`` recommendations of ``nip``."""
    return {"kind": "single", "path": f"/v1/employees/{nip}/recommendations?k={k}"}


def mixed(
    roster: pd.DataFrame, trainings: list[str], rng: random.Random, count: int, weights: dict[str, float]
) -> list[dict[str, Any]]:
    """``count`` requests for the drivers, drawn with ``weights`` among the kinds ``single``
    (recommendations, k=10), ``bulk`` (5 NIPs), ``gaps`` (a gap profile), ``feedback`` (a post) and
    ``agency`` (k=10, a random page of 50 employees of an agency drawn by size), of random employees of
    ``roster`` (the active roster: nip, instansi_id) and entries of ``trainings``."""
    nips = list(roster[Roster.nip])
    sizes = roster[Roster.instansi_id].value_counts()
    agencies, people = [str(a) for a in sizes.index], [int(n) for n in sizes.to_numpy()]
    kinds = list(weights)
    out: list[dict[str, Any]] = []
    for kind in rng.choices(kinds, weights=[weights[k] for k in kinds], k=count):
        if kind == "single":
            out.append(single(rng.choice(nips)))
        elif kind == "bulk":
            body = {"nips": rng.sample(nips, min(5, len(nips))), "k": 10}
            out.append({"kind": kind, "method": "POST", "path": "/v1/recommendations/bulk", "body": body})
        elif kind == "gaps":
            out.append({"kind": kind, "path": f"/v1/employees/{rng.choice(nips)}/gaps"})
        elif kind == "feedback":
            event = rng.choice(["accepted", "rejected", "enrolled"])
            body = {"nip": rng.choice(nips), "training_id": rng.choice(trainings), "event": event}
            out.append({"kind": kind, "method": "POST", "path": "/v1/feedback", "body": body})
        else:
            i = rng.choices(range(len(agencies)), weights=people)[0]
            offset = 50 * rng.randrange(max(int(people[i]) // 50, 1))
            path = f"/v1/agencies/{agencies[i]}/recommendations?k=10&limit=50&offset={offset}"
            out.append({"kind": "agency", "path": path})
    return out


# --- drivers and memory --------------------------------------------------------------------------------


def start(mode: str, plan: dict[str, Any], scratch: Path) -> tuple[subprocess.Popen[str], Path]:
    """Start a :mod:`.hostile` driver on ``plan`` in its own process."""
    path = scratch / f"{mode}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rekomendasi.bench.hostile", mode, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, path


def finish(started: tuple[subprocess.Popen[str], Path]) -> dict[str, Any]:
    """Wait for a driver started by :func:`start`; the JSON line it printed.

    Raises:
        RekomendasiError: the driver failed (with the end of its stderr).
    """
    proc, path = started
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RekomendasiError(f"the load driver {path.name} failed ({proc.returncode}): {err[-2000:]}")
    found: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return found


def drive(mode: str, plan: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run a :mod:`.hostile` driver on ``plan`` to its end; the JSON line it printed."""
    return finish(start(mode, plan, scratch))


class RssSampler:
    """Samples the resident memory of a server (its process and its workers) every ``interval`` s in a
    thread, between ``with`` and its end; the sums in MB (1e6 bytes)."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB of all processes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.started = 0.0

    def __enter__(self) -> RssSampler:
        self.started = time.perf_counter()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        total = sum(process_rss_gb(self.pid).values()) * 1e3
        self.samples.append((time.perf_counter() - self.started, total))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def fields(self) -> dict[str, float]:
        """Before, peak and after in MB, and the growth of the peak and of the end over the start."""
        values = [mb for _, mb in self.samples]
        before, peak, after = values[0], max(values), values[-1]
        return {
            "rss_before_mb": round(before, 1),
            "rss_peak_mb": round(peak, 1),
            "rss_after_mb": round(after, 1),
            "rss_growth_peak_mb": round(peak - before, 1),
            "rss_growth_after_mb": round(after - before, 1),
            "rss_samples": len(values),
        }


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) used so far by ``pid`` and its descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime and stime, the 14th and 15th fields
    return total / tick


def answers(base: str, key: str) -> bool:
    """Whether the server still answers a health check."""
    try:
        return httpx.get(f"{base}/health", headers={"X-API-Key": key}, timeout=10).status_code == 200
    except httpx.TransportError:
        return False


@dataclass(frozen=True, slots=True)
class StateRows:
    """What the state database holds after a run: the request ids of its audit rows that start with the
    run's prefix, its feedback rows, and why it could not be read ("" when it could)."""

    audit_ids: frozenset[str]
    feedback_rows: int
    error: str = ""


def state_rows(state_url: str, prefix: str) -> StateRows:
    """Read the audit rows of ``prefix`` and count the feedback rows. A database that cannot be read is
    a finding of the run (kept in ``error``), not a reason to lose its other figures."""
    engine = sa.create_engine(state_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT request_id FROM audit_log WHERE request_id LIKE :p"), {"p": prefix + "%"}
            )
            ids = frozenset(str(r[0]) for r in found)
            feedback = int(conn.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one())
        return StateRows(ids, feedback)
    except sa.exc.SQLAlchemyError as err:
        return StateRows(frozenset(), 0, f"{type(err).__name__}: {str(err).splitlines()[0]}")
    finally:
        engine.dispose()


def read_outcomes(path: Path) -> list[dict[str, Any]]:
    """The outcomes a driver wrote, one dict per request (id, kind, state, status, at, seconds)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def verify_audit(running: Running) -> dict[str, object]:
    """``rekomendasi audit verify`` on the server's state database: its exit code and last words."""
    done = subprocess.run(
        [sys.executable, "-m", "rekomendasi", "audit", "verify"],
        env=running.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    words = (done.stdout + done.stderr).strip().splitlines()
    return {"audit_verify_exit": done.returncode, "audit_verify_output": " | ".join(words[-3:])[:500]}


def loadgen(base: str, paths: Path, key: str, clients: int, seconds: float) -> dict[str, Any]:
    """A closed-loop phase of the load generator (as ``bench serve`` runs it); its JSON summary."""
    from rekomendasi.bench import serve

    return dict(serve.drive(base, paths, key, serve.Load(clients=clients, seconds=seconds), []))


def earlier_serve(record: Path | None, snapshot: Path) -> dict[str, object] | None:
    """The closed-loop figures of the last ``bench serve`` line of ``record`` on ``snapshot``."""
    if record is None or not record.exists():
        return None
    lines = [json.loads(ln) for ln in record.read_text(encoding="utf-8").splitlines() if ln.strip()]
    same = [
        ln
        for ln in lines
        if ln.get("bench") == "serve" and Path(str(ln.get("snapshot", ""))).resolve() == snapshot.resolve()
    ]
    if not same:
        return None
    last = same[-1]
    recs, health = last["recommendations_closed_loop"], last["health_closed_loop"]
    return {
        "commit": last.get("commit"),
        "date": last.get("date"),
        "recommendations_per_s": recs["requests_per_s"],
        "health_per_s": health["requests_per_s"],
        "recommendations_to_health_ratio": round(
            recs["requests_per_s"] / max(health["requests_per_s"], 1e-9), 3
        ),
    }
