"""Who runs a training run, and what stops it: the owner recorded on each MLflow run (host, pid, process
start), how a run whose owner is gone is recognised, and signals turned into :class:`TrainingInterrupted`.

Pure process bookkeeping, no MLflow: :mod:`rekomendasi.registry` uses it to tag runs and to end those
left RUNNING by a killed process.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal

OWNER_HOST_TAG = "rekomendasi.owner.host"
OWNER_PID_TAG = "rekomendasi.owner.pid"
OWNER_START_TAG = "rekomendasi.owner.process_start"
FAILED_TAG = "rekomendasi.failed"
STALE_TAG = "rekomendasi.stale"
FOREIGN_RUN_TIMEOUT = dt.timedelta(hours=48)
"""A RUNNING run of another host (whose process cannot be checked from here) older than this is flagged."""


class TrainingInterrupted(KeyboardInterrupt):
    """A signal (SIGTERM, SIGINT, SIGHUP) stopped a training run, which was ended FAILED.

    A :class:`KeyboardInterrupt`, so no ``except Exception`` on the way (ours or a library's) swallows it.
    """

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"training interrupted by {self.signal}")


@dataclass(frozen=True, slots=True)
class RunOwner:
    """The process that runs a training run: host name, pid and a start marker that tells a live process
    from a later one reusing its pid (Linux: boot id and start time in clock ticks since boot).

    Attributes:
        started: ``"<boot id>:<start ticks>"``, or ``""`` where the system does not tell.
    """

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> RunOwner:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()) or "")

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> RunOwner | None:
        """The owner recorded on a run, or None for a run logged without one."""
        host, pid = tags.get(OWNER_HOST_TAG), tags.get(OWNER_PID_TAG, "")
        if not host or not pid.isdigit():
            return None
        return cls(host, int(pid), tags.get(OWNER_START_TAG, ""))

    def tags(self) -> dict[str, str]:
        return {OWNER_HOST_TAG: self.host, OWNER_PID_TAG: str(self.pid), OWNER_START_TAG: self.started}

    def is_gone(self) -> bool | None:
        """Whether the owner has exited: None when it runs on another host (it cannot be checked here).

        Gone means: no process has the pid, or it is a zombie, or the process holding the pid now started
        at another time or in another boot (the pid was reused).
        """
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # another user's live process
        now = process_start(self.pid)
        reused = bool(self.started) and now is not None and now != self.started
        return reused or _is_zombie(self.pid)

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


@dataclass(frozen=True, slots=True)
class StaleRun:
    """A training run found RUNNING whose process is gone (``failed``: ended FAILED) or cannot be checked
    from here and is older than the timeout (``flagged``: tagged, left RUNNING)."""

    run_id: str
    action: Literal["failed", "flagged"]
    reason: str


def process_start(pid: int) -> str | None:
    """``"<boot id>:<start ticks>"`` of process ``pid`` (Linux), or None where /proc does not tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may hold spaces and parentheses, so count from
    # the last ")": the fields after it start at field 3.
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{boot}:{fields[19]}"


def _is_zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but not been reaped yet (Linux; False where /proc does not tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] in ("Z", "X")


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM, SIGHUP and SIGINT into :class:`TrainingInterrupted` while the block runs.

    Only in the main thread (Python delivers signals there) and only for signals left at their default
    handling: a signal somebody ignores (``nohup`` ignores SIGHUP) or handles stays theirs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise TrainingInterrupted(signum)

    previous: dict[signal.Signals, Any] = {}
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue  # SIGHUP does not exist on Windows
        current = signal.getsignal(signum)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            previous[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
