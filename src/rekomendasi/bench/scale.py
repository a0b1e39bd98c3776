"""``bench batch``: the scaling curve of the batch job (load, features, scoring, the batch file) by
employees and Dask workers, with the memory of each process, and the national figure from its slope."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from rekomendasi.errors import RekomendasiError

NATIONAL = 4_800_000
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class TreeMeasured:
    """One run of a command whose work may run in child processes (Dask workers).

    Attributes:
        seconds: wall seconds, start to exit.
        driver_peak_gb: the command's own peak resident memory (GB, 1e9 bytes).
        worker_peak_gb: the largest peak of any one child process (0 when there were none).
        total_peak_gb: the largest sum over the whole process tree at one sample.
        processes: child processes seen.
    """

    seconds: float
    driver_peak_gb: float
    worker_peak_gb: float
    total_peak_gb: float
    processes: int
    stdout: str


def run_tree_measured(args: Sequence[str], env: dict[str, str] | None = None) -> TreeMeasured:
    """``python -m rekomendasi ARGS`` in a child process, its process tree's memory sampled every
    :data:`SAMPLE_SECONDS` (``psutil``; peaks shorter than that can be missed).

    Raises:
        RekomendasiError: the command failed (with the end of what it wrote to stderr).
    """
    peaks: dict[int, int] = {}
    total = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "rekomendasi", *args],
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, **(env or {})},
        )
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            now = 0
            for process in _tree(root):
                try:
                    rss = process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                peaks[process.pid] = max(peaks.get(process.pid, 0), rss)
                now += rss
            total = max(total, now)
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RekomendasiError(f"benchmarked command failed ({proc.returncode}): {stderr[-2000:]}")
    children = [rss for pid, rss in peaks.items() if pid != proc.pid]
    return TreeMeasured(
        seconds=round(seconds, 1),
        driver_peak_gb=round(peaks.get(proc.pid, 0) / 1e9, 2),
        worker_peak_gb=round(max(children, default=0) / 1e9, 2),
        total_peak_gb=round(total / 1e9, 2),
        processes=len(children),
        stdout=stdout,
    )


def _tree(root: psutil.Process) -> Iterator[psutil.Process]:
    yield root
    try:
        yield from root.children(recursive=True)
    except psutil.NoSuchProcess:
        return


@dataclass(frozen=True, slots=True)
class BatchPoint:
    """One measured batch: a world's size on a runner."""

    employees: int
    dask: str  # "none" (in process), local:N or a scheduler's address
    workers: int  # worker processes (1 in process)
    seconds: float
    driver_peak_gb: float
    worker_peak_gb: float
    total_peak_gb: float
    rows: int


def batch_point(world: Path, employees: int, dask: str, out: Path, as_of: str) -> BatchPoint:
    """Run ``rekomendasi batch`` on ``world`` with ``dask`` ("none": in process) and measure it."""
    args = ["batch", "--data", str(world), "--out", str(out), "--as-of", as_of]
    if dask != "none":
        args += ["--dask", dask]
    measured = run_tree_measured(args)
    wrote = next((line for line in measured.stdout.splitlines() if line.startswith("wrote ")), "")
    rows = int(wrote.split()[1].replace(",", "")) if wrote else 0
    workers = int(dask.split(":", 1)[1]) if dask.startswith("local:") else (1 if dask == "none" else 0)
    return BatchPoint(
        employees=employees,
        dask=dask,
        workers=workers,
        seconds=measured.seconds,
        driver_peak_gb=measured.driver_peak_gb,
        worker_peak_gb=measured.worker_peak_gb,
        total_peak_gb=measured.total_peak_gb,
        rows=rows,
    )


def slope(points: Iterable[BatchPoint]) -> tuple[float, float] | None:
    """Least-squares fit of log(seconds) = log(a) + b log(employees): (a, b), or None with fewer than
    two sizes."""
    xy = [(math.log(p.employees), math.log(p.seconds)) for p in points if p.seconds > 0]
    if len({x for x, _ in xy}) < 2:
        return None
    mx = sum(x for x, _ in xy) / len(xy)
    my = sum(y for _, y in xy) / len(xy)
    b = sum((x - mx) * (y - my) for x, y in xy) / sum((x - mx) ** 2 for x, _ in xy)
    return math.exp(my - b * mx), b


def national(points: Sequence[BatchPoint], workers: int = 16) -> dict[str, object] | None:
    """The national figure from the runner with the most workers measured at two sizes or more: the
    fitted seconds at 1 million and 4.8 million employees, and 4.8 million spread over ``workers``
    workers of the same speed (the partitions are independent agencies; the driver's share is in the
    fit, so this is an estimate, said as one)."""
    by_runner = _by_runner(points)
    fitted = [
        (max(p.workers for p in ps), d, fit) for d, ps in by_runner.items() if (fit := slope(ps)) is not None
    ]
    if not fitted:
        return None
    measured_workers, dask, (a, b) = max(fitted, key=lambda f: f[0])
    at = {n: a * n**b for n in (1_000_000, NATIONAL)}
    spread = at[NATIONAL] * max(measured_workers, 1) / workers
    return {
        "from": dask,
        "exponent": round(b, 3),
        "seconds_1m": round(at[1_000_000], 1),
        "seconds_4_8m": round(at[NATIONAL], 1),
        f"seconds_4_8m_on_{workers}_workers": round(spread, 1),
    }


def _by_runner(points: Iterable[BatchPoint]) -> dict[str, list[BatchPoint]]:
    by_runner: dict[str, list[BatchPoint]] = {}
    for point in points:
        by_runner.setdefault(point.dask, []).append(point)
    return by_runner


def plot(points: Sequence[BatchPoint], path: Path) -> Path:
    """The scaling curve: minutes against employees (log-log), one line per runner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    by_runner = _by_runner(points)
    for dask, unordered in sorted(by_runner.items()):
        runs = sorted(unordered, key=lambda p: p.employees)
        label = "in process" if dask == "none" else dask
        ax.plot([p.employees for p in runs], [p.seconds / 60 for p in runs], marker="o", label=label)
    ax.axhline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("employees")
    ax.set_ylabel("minutes, end to end")
    ax.set_title("rekomendasi batch: load, features, scoring, file (2 cores)")
    ax.legend()
    ax.grid(True, which="both", linewidth=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def read_points(record: Path) -> list[BatchPoint]:
    """Every ``batch`` line of a results file, latest per (employees, runner)."""
    latest: dict[tuple[int, str], BatchPoint] = {}
    if not record.exists():
        return []
    fields = set(BatchPoint.__dataclass_fields__)
    for line in record.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("bench") == "batch":
            point = BatchPoint(**{k: v for k, v in row.items() if k in fields})
            latest[(point.employees, point.dask)] = point
    return sorted(latest.values(), key=lambda p: (p.dask, p.employees))


def point_fields(point: BatchPoint) -> dict[str, object]:
    """A point as the fields of its results line."""
    return asdict(point)
