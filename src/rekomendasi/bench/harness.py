"""Run a ``rekomendasi`` command in a child process and measure it; describe the machine; keep results as
JSON lines (``benchmarks/results.jsonl``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rekomendasi import __version__
from rekomendasi.errors import RekomendasiError


@dataclass(frozen=True, slots=True)
class Measured:
    """One measured run.

    Attributes:
        seconds: wall seconds, start to exit.
        peak_rss_gb: the child's own peak resident memory in GB (1e9 bytes).
        stdout: what it printed.
    """

    seconds: float
    peak_rss_gb: float
    stdout: str

    def line_starting(self, prefix: str) -> str:
        """The first line of the output that starts with ``prefix`` ("" when none does)."""
        return next((line for line in self.stdout.splitlines() if line.startswith(prefix)), "")


def run_measured(args: list[str], env: dict[str, str] | None = None, module: str = "rekomendasi") -> Measured:
    """Run ``python -m MODULE ARGS`` (default: ``rekomendasi ARGS``) in a child process; its wall seconds
    and its own peak RSS (``wait4``, so earlier children of this process do not count).

    Raises:
        RekomendasiError: the command failed (with the end of what it wrote to stderr).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, **(env or {})},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RekomendasiError(f"benchmarked command failed ({proc.returncode}): {stderr[-2000:]}")
    # ru_maxrss is in kilobytes on Linux.
    return Measured(round(seconds, 1), round(usage.ru_maxrss * 1024 / 1e9, 2), stdout)


def machine() -> dict[str, object]:
    """Cores, memory, CPU model and Python version of this machine."""
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


def bench_line(
    name: str, fields: Mapping[str, object], measured: Measured | None = None
) -> dict[str, object]:
    """One benchmark result: its name, its fields, the time and memory (when measured), the machine, the
    date and the release."""
    timing = {"seconds": measured.seconds, "peak_rss_gb": measured.peak_rss_gb} if measured else {}
    return {
        "bench": name,
        **fields,
        **timing,
        "machine": machine(),
        "date": dt.date.today().isoformat(),
        "version": __version__,
        "commit": commit(),
    }


def commit() -> str | None:
    """The git commit of the code measured (``+`` when the working tree has changes), or None outside a
    checkout: the release number alone does not tell two measured versions apart."""
    root = Path(__file__).resolve().parents[3]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            # Only the code counts: the records the benchmarks append to, or the docs, are no other version.
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "src",
                "pyproject.toml",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def append_record(line: dict[str, object], record: Path | None) -> None:
    """Append ``line`` as one JSON line to ``record`` (nothing when None)."""
    if record is None:
        return
    record.parent.mkdir(parents=True, exist_ok=True)
    with record.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
