"""The batch jobs on Dask (#14): the same scores store and batch file as in process, byte for byte; a
failing agency named, retried and never dropped; a real scheduler with two worker processes."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.cluster import ClusterSpec, InProcess, OnDask, PartitionFailed, Runner, runner
from rekomendasi.contract.writing import write_chunks
from rekomendasi.errors import ConfigError, DataContractError
from rekomendasi.features import read_snapshot
from rekomendasi.jobs.scores import batch_job, score_job
from rekomendasi.recommend import ScoreOptions, ScoresStore
from rekomendasi.recommend.batch import batch_table
from rekomendasi.registry import MlflowRegistry
from rekomendasi.settings import get_settings
from tests.served import ROOT

OPTIONS = ScoreOptions(candidates=60, top_n=20, explained=5)


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Runner]:
    with runner("local:2") as run:
        yield run


def _registry(home: Path) -> MlflowRegistry:
    return MlflowRegistry(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}", home / "mlflow" / "artifacts")


def _digest(store: Path) -> dict[str, str]:
    """sha256 of every file of a store but its manifest (which has the time it was made)."""
    return {
        f.relative_to(store).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(store.rglob("*"))
        if f.is_file() and f.name != "_manifest.json"
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local:2", ClusterSpec(workers=2)),
        ("tcp://10.0.0.5:8786", ClusterSpec(address="tcp://10.0.0.5:8786")),
    ],
)
def test_cluster_specs(text: str, expected: ClusterSpec) -> None:
    assert ClusterSpec.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["local:0", "local", "http://host:80", "tcp://host", "2"])
def test_a_malformed_spec_shows_both_forms(text: str) -> None:
    with pytest.raises(ConfigError, match=r"local:N .* tcp://HOST:PORT"):
        ClusterSpec.parse(text)


def test_score_and_batch_on_two_workers_equal_in_process(
    served_home: Path, two_workers: Runner, tmp_path: Path
) -> None:
    snapshot = read_snapshot(served_home / "snapshot")
    registry = _registry(served_home)
    here = score_job(snapshot, registry, tmp_path / "here", OPTIONS)
    there = score_job(snapshot, registry, tmp_path / "there", OPTIONS, runner=two_workers)
    assert len(ScoresStore(here).agencies()) >= 2
    assert _digest(here) == _digest(there)
    assert ScoresStore(here).manifest["rows"] == ScoresStore(there).manifest["rows"] > 0

    for suffix in (".csv", ".parquet"):  # into directories that do not exist yet
        a, b = tmp_path / "a" / f"here{suffix}", tmp_path / "b" / f"there{suffix}"
        done = batch_job(snapshot, registry, a, 5, OPTIONS, write_chunks)
        batch_job(snapshot, registry, b, 5, OPTIONS, write_chunks, runner=two_workers)
        assert a.read_bytes() == b.read_bytes()
        assert done.employees == ScoresStore(here).manifest["employees"]
        assert done.rows == len(pd.read_csv(a) if suffix == ".csv" else pd.read_parquet(a))
    # The merged file holds exactly the rows of the in-memory table, in its order.
    reference = batch_table(ScoresStore(here), 5, {}).astype({"rank": "int64"})
    merged = pd.read_parquet(tmp_path / "a" / "here.parquet")
    assert merged["nip"].is_monotonic_increasing
    pd.testing.assert_frame_equal(
        merged[["nip", "rank", "training_id", "score"]],
        reference[["nip", "rank", "training_id", "score"]],
        check_dtype=False,
    )
    assert not list(tmp_path.rglob(".rekomendasi-batch*")), "scratch directories were left behind"


def _fails_for_b(agency: str) -> str:
    if agency == "b":
        raise ZeroDivisionError("division by zero")
    return agency.upper()


def _bad_input(agency: str) -> str:
    raise DataContractError("skp.csv: predikat out of the matrix")


def _fails_once(item: tuple[str, str]) -> str:
    agency, marker = item
    flag = Path(marker) / agency
    if not flag.exists():
        flag.touch()
        raise ConnectionResetError("lost the worker's connection")
    return agency


@pytest.mark.parametrize("where", ["in process", "on two workers"])
def test_a_failing_agency_is_named_and_stops_the_job(where: str, two_workers: Runner, tmp_path: Path) -> None:
    run = InProcess() if where == "in process" else two_workers
    items = [(a, a) for a in "abc"]
    with pytest.raises(PartitionFailed, match=r"agency b failed.*ZeroDivisionError: division by zero"):
        list(run.map(_fails_for_b, items))
    # A product error keeps its kind (exit code 2: the input's fault) and gains the agency's name.
    with pytest.raises(DataContractError, match=r"^agency a: skp.csv: predikat"):
        list(run.map(_bad_input, items))


def test_a_partition_that_fails_once_is_retried_and_kept(two_workers: Runner, tmp_path: Path) -> None:
    assert isinstance(two_workers, OnDask) and two_workers.retries >= 1
    agencies = [f"agency-{i}" for i in range(6)]
    items = [(a, (a, str(tmp_path))) for a in agencies]
    got = list(two_workers.map(_fails_once, items))
    assert got == [(a, a) for a in agencies]  # every one, in order, after its second attempt
    assert sorted(p.name for p in tmp_path.iterdir()) == agencies


def _kills_its_worker(item: tuple[str, str, bool]) -> str:
    """Kill the worker process running it (once, or every time)."""
    agency, marker, always = item
    flag = Path(marker) / agency
    if agency == "agency-1" and (always or not flag.exists()):
        flag.touch()
        os._exit(1)  # no exception, no goodbye: the process is gone, as after an out-of-memory kill
    return agency


@pytest.fixture()
def fragile_workers() -> Iterator[Runner]:
    """Two workers of their own: the tests kill them (their nannies start new ones)."""
    with runner("local:2") as run:
        yield run
    get_settings.cache_clear()


def test_a_worker_that_dies_is_replaced_and_its_agency_rerun(fragile_workers: Runner, tmp_path: Path) -> None:
    agencies = [f"agency-{i}" for i in range(4)]
    items = [(a, (a, str(tmp_path), False)) for a in agencies]
    assert list(fragile_workers.map(_kills_its_worker, items)) == [(a, a) for a in agencies]
    assert (tmp_path / "agency-1").exists()  # it did kill a worker


def test_an_agency_that_keeps_killing_workers_is_named(fragile_workers: Runner, tmp_path: Path) -> None:
    items = [(a, (a, str(tmp_path), True)) for a in ("agency-0", "agency-1")]
    assert isinstance(fragile_workers, OnDask)
    attempts = fragile_workers.retries + 1
    with pytest.raises(PartitionFailed, match=rf"agency agency-1 failed after {attempts} attempts"):
        list(fragile_workers.map(_kills_its_worker, items))


def test_a_store_whose_agency_fails_leaves_nothing(served_home: Path, tmp_path: Path) -> None:
    class Broken:
        def predict(self, X: object, num_threads: int = 0) -> object:
            raise MemoryError("out of memory")

        def contributions(self, X: object, num_threads: int = 0, as_frame: bool = True) -> object:
            raise MemoryError("out of memory")

    from rekomendasi.recommend import StoreId, write_store

    snapshot = read_snapshot(served_home / "snapshot")
    with pytest.raises(PartitionFailed, match=r"agency \S+ failed: MemoryError"):
        write_store(tmp_path, snapshot, Broken(), StoreId("s", "1", "run"), OPTIONS)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def scheduler(tmp_path: Path) -> Iterator[str]:
    """A real ``dask scheduler`` and two ``dask worker`` processes on localhost."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    logs = [open(tmp_path / f"dask-{i}.log", "w") for i in range(3)]  # noqa: SIM115
    commands = [
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        *[
            [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"]
            for i in range(2)
        ],
    ]
    processes = []
    try:
        for command, log in zip(commands, logs, strict=True):
            processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
            if not processes[1:]:
                time.sleep(1.0)
        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        yield address
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def test_batch_on_a_real_scheduler_with_two_worker_processes(
    served_home: Path,
    small_world: Path,
    scheduler: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "REKOMENDASI_HOME": str(served_home),
        "REKOMENDASI_MLFLOW_URI": f"sqlite:///{served_home / 'mlflow' / 'mlflow.db'}",
        "REKOMENDASI_FEATURES_DIR": str(ROOT / "features"),
        "REKOMENDASI_TRAINING_DIR": str(ROOT / "training"),
        "REKOMENDASI_TEXT_EMBEDDINGS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()  # read once per process: an earlier test's would be used
    request.addfinalizer(get_settings.cache_clear)
    args = ["batch", "--data", str(small_world), "--as-of", "2025-12-31", "--k", "5"]
    cli = CliRunner()
    there = cli.invoke(app, [*args, "--out", str(tmp_path / "there.csv"), "--dask", scheduler])
    assert there.exit_code == 0, there.output
    assert f"agencies run on Dask at {scheduler}" in there.output
    here = cli.invoke(app, [*args, "--out", str(tmp_path / "here.csv")])
    assert here.exit_code == 0, here.output
    assert (tmp_path / "here.csv").read_bytes() == (tmp_path / "there.csv").read_bytes()
    # The scheduler's address from the setting, and one that answers nothing.
    monkeypatch.setenv("REKOMENDASI_DASK", scheduler)
    get_settings.cache_clear()
    again = cli.invoke(app, [*args, "--out", str(tmp_path / "again.csv")])
    assert (
        again.exit_code == 0 and (tmp_path / "again.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
    )
    dead = f"tcp://127.0.0.1:{_free_port()}"
    refused = cli.invoke(app, [*args, "--out", str(tmp_path / "no.csv"), "--dask", dead])
    assert refused.exit_code == 2 and f"no Dask scheduler answers at {dead}" in refused.output
    assert not (tmp_path / "no.csv").exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".rekomendasi-batch")]
