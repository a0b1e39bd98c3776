"""Where per-agency work runs: in this process (the default) or on a Dask cluster (``dask.distributed``).

The batch jobs (``features``, ``score``, ``batch``) cut their work by agency (``instansi_id``): each
partition is a point-in-time computation of its own. A :class:`Runner` runs one function over the
partitions and hands back each result with its agency, in agency order:

- :class:`InProcess` calls it here, one partition after the other (what every job did before #14);
- :class:`OnDask` submits it to a cluster: a ``LocalCluster`` of N worker processes (``local:N``) or an
  existing scheduler (``tcp://HOST:PORT``). What every partition needs (the catalogue, the model) is
  sent to every worker once (:meth:`Runner.share`); partitions are sent as they are submitted, at most
  a few per worker at a time, so the driver never builds all of them at once. A partition that fails is
  retried (``REKOMENDASI_DASK_RETRIES``) and, if it still fails, stops the job with its agency named;
  none is ever dropped.

Both runners call the same function on the same partition, so their outputs are the same by
construction (the tests compare them byte for byte on one world).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rekomendasi.errors import ConfigError, RekomendasiError

if TYPE_CHECKING:
    from distributed import Client

Progress = Callable[[int, int], None]
_SPEC = re.compile(r"^(?:local:(?P<workers>\d+)|(?P<address>(?:tcp|tls)://[^\s/]+:\d+))$")


class PartitionFailed(RekomendasiError):
    """A partition's work failed on every attempt; the job stopped and wrote nothing."""


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """Where to run: ``local:N`` (a LocalCluster of N worker processes) or a scheduler's address."""

    workers: int | None = None
    address: str | None = None

    @classmethod
    def parse(cls, text: str) -> ClusterSpec:
        """``local:N`` or ``tcp://HOST:PORT`` (``tls://`` too).

        Raises:
            ConfigError: anything else (the message shows both forms).
        """
        found = _SPEC.match(text.strip())
        if found is None or found["workers"] == "0":
            raise ConfigError(
                f"--dask {text!r} is neither local:N (N >= 1 worker processes on this machine) nor the "
                "address of a running scheduler, tcp://HOST:PORT."
            )
        if found["workers"] is not None:
            return cls(workers=int(found["workers"]))
        return cls(address=found["address"])

    def __str__(self) -> str:
        return f"local:{self.workers}" if self.address is None else self.address


class Runner(Protocol):
    """Runs one function over the agency partitions."""

    name: str

    def share(self, value: object) -> Any:
        """``value`` made available to every call (pass what this returns as an argument of ``map``)."""
        ...

    def map(
        self,
        function: Callable[..., Any],
        partitions: Iterable[tuple[str, Any]],
        *shared: Any,
        total: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[str, Any]]:
        """``function(partition, *shared)`` for each ``(agency, partition)``; yields ``(agency, result)``
        in the order of ``partitions``.

        Raises:
            PartitionFailed: a partition failed on every attempt (names its agency and the error).
        """
        ...

    def visible(self, path: Path) -> None:
        """Check that every worker sees ``path`` (a directory the partitions write into).

        Raises:
            ConfigError: a worker does not (names it and what to do).
        """
        ...


class InProcess:
    """Every partition in this process, one after the other."""

    name = "in this process"

    def share(self, value: object) -> Any:
        return value

    def map(
        self,
        function: Callable[..., Any],
        partitions: Iterable[tuple[str, Any]],
        *shared: Any,
        total: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[str, Any]]:
        for done, (agency, partition) in enumerate(partitions, 1):
            try:
                result = function(partition, *shared)
            except Exception as err:
                raise failure(agency, err, attempts=1) from err
            yield agency, result
            if progress is not None:
                progress(done, total or done)

    def visible(self, path: Path) -> None:
        return None


class OnDask:
    """Partitions as tasks of a Dask cluster.

    Args:
        client: a connected ``distributed.Client``.
        retries: further attempts of a partition whose task failed: it raised (not a product error such
            as a contract error, which would fail again), or the worker holding it died (the partition is
            sent again from the driver, to a live worker). When partitions fail for good, those running
            are let end (not tried again) and the first one in the partitions' order that failed for good
            is named.
        in_flight: partitions submitted per worker before the first result is awaited.
    """

    def __init__(self, client: Client, retries: int = 2, in_flight: int = 2) -> None:
        self.client = client
        self.retries = retries
        self.in_flight = in_flight
        self.name = f"on Dask at {client.scheduler_info()['address']}"

    def workers(self) -> int:
        """int: worker processes the scheduler knows now."""
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def share(self, value: object) -> Any:
        [future] = self.client.scatter([value], broadcast=True, hash=False)
        return future

    def map(
        self,
        function: Callable[..., Any],
        partitions: Iterable[tuple[str, Any]],
        *shared: Any,
        total: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[str, Any]]:
        from distributed import as_completed

        todo = iter(partitions)
        order: list[str] = []
        results: dict[str, Any] = {}
        running = as_completed(with_results=False)
        # What is in flight, kept here until it is done: a partition lives on the one worker that runs it,
        # so when that worker dies the driver sends it again (Dask cannot rerun a task whose input died).
        flying: dict[object, tuple[str, Any, int]] = {}
        window = max(1, self.workers()) * self.in_flight
        done = 0

        def send(agency: str, partition: Any, attempt: int) -> None:
            # In a list: a dict would be scattered as one future per key, named by the key, so every
            # agency's "roster" would be one and the same.
            for wait in (0.5, 1, 2, 4, None):  # a worker that just died may still be chosen: pick again
                try:
                    [data] = self.client.scatter([partition], hash=False)
                    break
                except OSError as err:  # the connection to it closed (CommClosedError)
                    if wait is None:
                        raise failure(agency, err, attempts=attempt) from err
                    time.sleep(wait)
            future = self.client.submit(function, data, *shared, pure=False, key=_key(function, agency))
            flying[future.key] = (agency, partition, attempt)
            running.add(future)

        def submit() -> bool:
            item = next(todo, None)
            if item is None:
                return False
            order.append(item[0])
            send(*item, attempt=1)
            return True

        while len(flying) < window and submit():
            pass
        nxt = 0
        failed: dict[str, tuple[Exception, int]] = {}
        try:
            for future in running:
                agency, partition, attempt = flying.pop(future.key)
                try:
                    results[agency] = future.result()
                except Exception as err:  # the task's own error, or its worker died (lost or killed)
                    # A product error (bad input) would fail again: it is final, as a last attempt is.
                    if isinstance(err, RekomendasiError) or attempt > self.retries:
                        failed[agency] = (err, attempt)
                    elif not failed:  # once the job has failed, nothing is tried again
                        send(agency, partition, attempt + 1)
                    continue
                finally:
                    future.release()
                if failed:  # the job has failed: let what is running end, send nothing new
                    continue
                done += 1
                if progress is not None:
                    progress(done, total or len(order))
                submit()
                while nxt < len(order) and order[nxt] in results:
                    yield order[nxt], results.pop(order[nxt])
                    nxt += 1
            if failed:  # the first failed agency in the partitions' order, whichever ended first
                first = next(a for a in order if a in failed)
                cause, attempts = failed[first]
                raise failure(first, cause, attempts=attempts) from cause
        finally:
            for future in list(running.futures):
                future.cancel()

    def visible(self, path: Path) -> None:
        seen = self.client.run(os.path.isdir, str(path))
        blind = sorted(worker for worker, ok in seen.items() if not ok)
        if blind:
            raise ConfigError(
                f"worker {blind[0]} cannot see {path} ({len(blind)} of {len(seen)} workers): the output "
                "must be on a file system every worker mounts at the same path (NFS, a shared volume)."
            )


def failure(agency: str, err: Exception, attempts: int) -> RekomendasiError:
    """The error that stops a job whose partition failed, naming the agency: a product error keeps its
    kind (a contract error is still the input's fault, exit code 2), anything else is
    :class:`PartitionFailed`."""
    if isinstance(err, RekomendasiError):
        return type(err)(f"agency {agency}: {err.message}")
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    return PartitionFailed(f"agency {agency} failed{tried}: {type(err).__name__}: {err}; nothing was kept.")


def worker_threads() -> int:
    """Threads the Dask worker running this call was given (``dask worker --nthreads``); 0 (every core)
    outside a worker. Numeric libraries inside a partition use this many, so workers sharing a machine
    do not oversubscribe its cores."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError):
        return 0


def _key(function: Callable[..., Any], agency: str) -> str:
    name = getattr(function, "__name__", "partition").replace("_", "-")
    return f"{name}-{agency}-{os.urandom(4).hex()}"


@contextlib.contextmanager
def runner(spec: str | None, memory_limit: str | None = None) -> Iterator[Runner]:
    """The runner of ``spec`` (None or empty: :class:`InProcess`); a LocalCluster is closed on exit, an
    existing cluster is left running.

    Raises:
        ConfigError: a malformed spec, or a scheduler that does not answer (names the address).
    """
    if not spec:
        yield InProcess()
        return
    from rekomendasi.settings import get_settings

    parsed = ClusterSpec.parse(spec)
    retries = get_settings().dask_retries
    with _client(parsed, memory_limit) as client:
        yield OnDask(client, retries=retries)


@contextlib.contextmanager
def _client(spec: ClusterSpec, memory_limit: str | None) -> Iterator[Client]:
    import dask
    from distributed import Client, LocalCluster

    # One thread per local worker: a partition's work is numpy, pandas and LightGBM, which take the
    # worker's threads themselves (worker_threads), so N workers use N cores.
    with dask.config.set({"distributed.admin.log-length": 0}):
        if spec.address is None:
            cluster = LocalCluster(
                n_workers=spec.workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory_limit or "auto",
                dashboard_address=None,
                silence_logs=40,
            )
            with cluster, Client(cluster) as client:
                yield client
            return
        try:
            client = Client(spec.address, timeout="15s")
        except OSError as err:
            raise ConfigError(
                f"no Dask scheduler answers at {spec.address} ({err}); start one with `dask scheduler` "
                "and workers with `dask worker ADDRESS`, or use --dask local:N."
            ) from err
        with client:
            yield client
