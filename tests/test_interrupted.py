"""An interrupted training run is ended FAILED, and `rekomendasi models` flags what it left behind.

kill -9 (or a crash, or a power cut) leaves an MLflow run RUNNING forever and may leave a registered
version without an alias. Each training run records its owner process; `train` and `models` end FAILED the
RUNNING runs whose owner is gone. SIGTERM and Ctrl-C end the run FAILED at once.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.ranking import LambdaRanker
from rekomendasi.ranking.lifecycle import GATE_METRIC, never_evaluated
from rekomendasi.registry import (
    EXPERIMENT,
    FAILED_TAG,
    STALE_TAG,
    MlflowRegistry,
    RunOwner,
)
from rekomendasi.settings import get_settings

runner = CliRunner()


def _uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


def _env(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    for name in list(os.environ):
        if name.startswith("REKOMENDASI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REKOMENDASI_MLFLOW_URI", uri)
    monkeypatch.setenv("REKOMENDASI_TEXT_EMBEDDINGS", "false")
    get_settings.cache_clear()


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running_run(registry: MlflowRegistry, owner: RunOwner | None, age: dt.timedelta = dt.timedelta()) -> str:
    """A RUNNING run of the experiment as ``owner`` left it, started ``age`` ago."""
    start = int((time.time() - age.total_seconds()) * 1000)
    tags = owner.tags() if owner is not None else {}
    return registry.client.create_run(registry.experiment_id, start_time=start, tags=tags).info.run_id


def _run(registry: MlflowRegistry, run_id: str) -> Run:
    return registry.client.get_run(run_id)


# --- the owner of a run ------------------------------------------------------------------------------------


def test_owner_is_gone_when_its_pid_exited_or_was_reused() -> None:
    me = RunOwner.current()
    assert me.pid == os.getpid() and me.host == socket.gethostname()
    assert me.is_gone() is False
    assert RunOwner(me.host, _dead_pid(), me.started).is_gone() is True
    if me.started:  # Linux: a live process with another start time holds a reused pid
        assert RunOwner(me.host, me.pid, "another-boot:1").is_gone() is True
    assert RunOwner("another-host.example", me.pid, me.started).is_gone() is None
    assert RunOwner.from_tags(me.tags()) == me
    assert RunOwner.from_tags({}) is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are read from /proc")
def test_an_unreaped_child_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.time() + 10
        while "Z" not in Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1][:3]:
            assert time.time() < deadline, "the child did not exit"
            time.sleep(0.02)
        owner = RunOwner(socket.gethostname(), child.pid, RunOwner.current().started)
        assert owner.is_gone() is True
    finally:
        child.wait()


# --- ending runs whose owner is gone ----------------------------------------------------------------------


def test_runs_of_dead_owners_end_failed_live_and_foreign_ones_do_not(tmp_path: Path) -> None:
    registry = MlflowRegistry(_uri(tmp_path))
    here = RunOwner.current()
    dead = _running_run(registry, RunOwner(here.host, _dead_pid(), here.started))
    alive = _running_run(registry, here)
    foreign_old = _running_run(registry, RunOwner("elsewhere", 1, "b:1"), dt.timedelta(days=3))
    foreign_new = _running_run(registry, RunOwner("elsewhere", 2, "b:2"), dt.timedelta(hours=1))
    ownerless_old = _running_run(registry, None, dt.timedelta(days=5))

    found = registry.end_interrupted_runs()

    assert [(s.run_id, s.action) for s in found] == [
        (ownerless_old, "flagged"),
        (foreign_old, "flagged"),
        (dead, "failed"),
    ]
    failed = _run(registry, dead)
    assert failed.info.status == "FAILED" and failed.info.end_time is not None
    assert failed.data.tags[FAILED_TAG].startswith("interrupted: its process (pid ")
    assert "is gone; found at 20" in failed.data.tags[FAILED_TAG]
    for run_id in (alive, foreign_old, foreign_new, ownerless_old):
        assert _run(registry, run_id).info.status == "RUNNING"
    assert "cannot be checked from here" in _run(registry, foreign_old).data.tags[STALE_TAG]
    assert "names no owner" in _run(registry, ownerless_old).data.tags[STALE_TAG]
    assert STALE_TAG not in _run(registry, foreign_new).data.tags
    # Done once: the next look finds only the flagged ones again, and fails nothing more.
    assert [s.action for s in registry.end_interrupted_runs()] == ["flagged", "flagged"]


def test_models_ends_the_run_of_a_dead_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    uri = _uri(tmp_path)
    _env(monkeypatch, uri)
    registry = MlflowRegistry(uri)
    here = RunOwner.current()
    dead = _running_run(registry, RunOwner(here.host, _dead_pid(), here.started))
    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0, listing.output
    assert f"training run {dead} ended FAILED: interrupted" in " ".join(listing.output.split())
    assert _run(registry, dead).info.status == "FAILED"


# --- what an interrupted run leaves behind ---------------------------------------------------------------


def _ranker() -> tuple[LambdaRanker, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    y = np.digitize(X["a"], [-0.5, 0.5])
    return LambdaRanker(n_estimators=5, early_stopping_rounds=0).fit(X, y, np.repeat(np.arange(6), 10)), X


def test_a_version_whose_run_failed_before_the_gate_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = _uri(tmp_path)
    _env(monkeypatch, uri)
    registry = MlflowRegistry(uri, tmp_path / "mlflow" / "artifacts")
    model, X = _ranker()
    with registry.training_run():
        good = registry.log_run({}, {GATE_METRIC: 0.5}, {}, {}, model, X.head(5))
        registry.set_alias("champion", good.version)
    with pytest.raises(RuntimeError, match="gate broke"), registry.training_run() as run_id:
        left = registry.log_run({}, {GATE_METRIC: 0.6}, {}, {}, model, X.head(5))
        raise RuntimeError("gate broke")
    failed = _run(registry, run_id)
    assert failed.info.status == "FAILED"
    assert failed.data.tags[FAILED_TAG].startswith("RuntimeError: gate broke (at 20")

    versions = {v.version: v for v in registry.versions()}
    assert versions[good.version].run_status == "FINISHED"
    assert never_evaluated(versions[good.version]) is None
    assert never_evaluated(versions[left.version]) == "run FAILED"

    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0, listing.output
    rows = {line.split("│")[1].strip(): line for line in listing.output.splitlines() if line.count("│") > 5}
    assert "NEVER EVALUATED" in rows[left.version] and "failed" in rows[left.version]
    assert "NEVER EVALUATED" not in rows[good.version] and "champion" in rows[good.version]
    assert f"version(s) {left.version} have no alias and were never evaluated" in " ".join(
        listing.output.split()
    )


def test_alias_and_metric_rules_of_never_evaluated(tmp_path: Path) -> None:
    registry = MlflowRegistry(_uri(tmp_path), tmp_path / "mlflow" / "artifacts")
    model, X = _ranker()
    with registry.training_run():
        v = registry.log_run({}, {"other": 1.0}, {}, {}, model, X.head(5))
    finished = registry.versions()[0]
    assert finished.version == v.version and finished.run_status == "FINISHED"
    assert never_evaluated(finished) == f"no {GATE_METRIC}"
    registry.set_alias("champion", v.version)
    assert never_evaluated(registry.versions()[0]) is None


# --- a fresh store opened by several processes at once ---------------------------------------------------


def _open_store(uri: str, barrier: Any) -> str:
    barrier.wait(timeout=120)
    return MlflowRegistry(uri).experiment_id


def test_processes_opening_a_fresh_store_together_all_succeed(tmp_path: Path) -> None:
    """MLflow creates a new sqlite store's tables without a lock; train beside models, or two serve workers,
    failed with "table ... already exists" (CI, 30 November). Four processes open one fresh store at once."""
    uri = _uri(tmp_path)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(4)
        with context.Pool(4) as pool:
            ids = pool.starmap(_open_store, [(uri, barrier)] * 4)
    assert len(set(ids)) == 1
    names = sorted(e.name for e in MlflowClient(tracking_uri=uri).search_experiments())
    assert names == sorted(["Default", EXPERIMENT])


# --- signals -----------------------------------------------------------------------------------------------


def _wait_for_running_run(uri: str, child: subprocess.Popen[str], timeout: float = 180) -> Run:
    """Poll the tracking store until the child's training run is RUNNING."""
    client = MlflowRegistry(uri).client  # opened as the product opens it, beside the child
    deadline = time.time() + timeout
    while time.time() < deadline:
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail(f"the child exited ({child.returncode}) before its run started:\n{out}\n{err}")
        try:
            experiment = client.get_experiment_by_name(EXPERIMENT)
            if experiment is not None:
                runs = client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
                if runs:
                    return runs[0]
        except Exception:  # the child may hold the sqlite file's write lock a moment; poll again
            pass
        time.sleep(0.1)
    pytest.fail(f"no RUNNING run appeared within {timeout} s")


def _child_env(uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKOMENDASI_")}
    return env | {"REKOMENDASI_MLFLOW_URI": uri, "REKOMENDASI_TEXT_EMBEDDINGS": "false"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_end_the_run_failed(tmp_path: Path, signum: signal.Signals) -> None:
    uri = _uri(tmp_path)
    # The child first takes its signals as a terminal gives them (default, unblocked): a test process
    # inherits what its harness left, and an ignored SIGINT is one the product deliberately leaves alone
    # (in the full suite, the SIGINT case once timed out on such an inheritance).
    script = textwrap.dedent(
        f"""
        import signal
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT, signal.SIGTERM}})
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        import time
        from rekomendasi.registry import MlflowRegistry, TrainingInterrupted
        registry = MlflowRegistry({uri!r})
        try:
            with registry.training_run():
                time.sleep(120)
        except TrainingInterrupted as err:
            raise SystemExit(err.exit_code)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        env=_child_env(uri),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        run = _wait_for_running_run(uri, child)
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 128 + signum, err
    ended = MlflowClient(tracking_uri=uri).get_run(run.info.run_id)
    assert ended.info.status == "FAILED"
    assert ended.data.tags[FAILED_TAG].startswith(f"training interrupted by {signum.name} (at 20")


@pytest.mark.slow
def test_kill_9_during_train_is_failed_by_the_next_command(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real thing: `rekomendasi train` killed with SIGKILL mid-run; `models` finds it and fails it."""
    uri = _uri(tmp_path)
    script = Path(sys.executable).with_name("rekomendasi")  # the installed console script
    child = subprocess.Popen(
        [str(script), "train", "--data", str(small_world)],
        cwd=tmp_path,
        env=_child_env(uri),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        run = _wait_for_running_run(uri, child)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    owner = RunOwner.from_tags(dict(run.data.tags))
    assert owner is not None and owner.pid == child.pid and owner.host == socket.gethostname()
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(run.info.run_id).info.status == "RUNNING", "nothing ended it by itself"

    monkeypatch.chdir(tmp_path)
    _env(monkeypatch, uri)
    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0, listing.output
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FAILED"
    assert ended.data.tags[FAILED_TAG].startswith(f"interrupted: its process (pid {child.pid} on ")
    assert f"training run {run.info.run_id} ended FAILED" in " ".join(listing.output.split())
