"""What every command shares: the consoles, product errors as one line and exit code 2, progress
displays, the ``--data`` and ``--as-of`` options, and the line naming the spec and config files a run
read."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from rekomendasi.cluster import PartitionFailed
from rekomendasi.errors import RekomendasiError

if TYPE_CHECKING:
    from rekomendasi.jobs.inputs import ConfigFile

console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

# The --data option every job shares.
DataDir = Annotated[Path | None, typer.Option(help="Data directory (default: REKOMENDASI_DATA_DIR).")]
# The --as-of option every job that builds a snapshot or trains shares; parse it with parse_as_of.
AsOf = Annotated[
    str | None,
    typer.Option(
        help="Use only evidence dated on or before this day (YYYY-MM-DD; default REKOMENDASI_AS_OF, "
        "else 31 December of the latest SKP year in the data, else today)."
    ),
]

# The --dask option of the batch jobs (features, score, batch); see rekomendasi.cluster.
DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask",
        help="Run the agencies on Dask: local:N (a LocalCluster of N worker processes) or tcp://HOST:PORT "
        "(a running scheduler). Default REKOMENDASI_DASK; unset: in this process.",
        show_default=False,
    ),
]


def parse_as_of(value: str | None) -> dt.date | None:
    """The ``--as-of`` option as a date (None: the jobs' default rule).

    Raises:
        typer.BadParameter: not YYYY-MM-DD (exit code 2).
    """
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise typer.BadParameter(f"--as-of must be YYYY-MM-DD, got {value!r}") from err


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show product errors as one clear message and exit code 2, never a traceback."""
    try:
        yield
    except RekomendasiError as err:
        err_console.print(f"[bold red]error:[/] {err.message}", soft_wrap=True)
        # A partition that failed on every attempt is a failure of the run, not of its input.
        raise typer.Exit(code=1 if isinstance(err, PartitionFailed) else 2) from err
    except OSError as err:
        err_console.print(f"[bold red]error:[/] {err}", soft_wrap=True)
        raise typer.Exit(code=2) from err


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal and "CI" in os.environ,
    )


class StageBar:
    """A progress bar of named stages: call it with the next stage's name; :meth:`count` shows how far
    the running stage is (e.g. agencies done of agencies in all)."""

    def __init__(self, progress: Progress, task: TaskID, description: str) -> None:
        self._progress, self._task, self._description = progress, task, description
        self._name = ""
        self._started = False

    def __call__(self, name: str) -> None:
        self._name = name
        self._progress.update(
            self._task, advance=1 if self._started else 0, description=f"{self._description}: {name}"
        )
        self._started = True

    def count(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` beside the running stage's name."""
        self._progress.update(self._task, description=f"{self._description}: {self._name} {done}/{total}")


@contextmanager
def stages(total: int, description: str) -> Iterator[StageBar]:
    """A progress bar advanced by calling the yielded :class:`StageBar` with the next stage's name."""
    with _progress() as progress:
        task = progress.add_task(description, total=total)
        yield StageBar(progress, task, description)
        progress.update(task, completed=total, description=f"{description}: done")


@contextmanager
def counted(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar moved by calling the yielded function with (done, total)."""
    with _progress() as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def print_sources(**files: ConfigFile) -> None:
    """One line per spec or config file a run read: what it is, its path and the start of its hash."""
    for name, file in files.items():
        console.print(
            f"{name.replace('_', ' ')}: {file.path} (sha256 {file.sha256[:12]})",
            soft_wrap=True,
            highlight=False,
        )
