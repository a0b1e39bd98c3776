"""Two server processes writing one state database at once (each with threads and a group-commit writer)
make one valid chain per table: no id twice, no fork, nothing lost. A server killed with SIGKILL loses no
row of a request it answered. On sqlite and PostgreSQL."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
from pathlib import Path

from rekomendasi.serving.store import Stores

from .conftest import SALT
from .test_store_support import (
    AUDIT_ROWS,
    FEEDBACK_ROWS,
    THREADS,
    acknowledging_worker,
    concurrent_worker,
)

PROCESSES = 2


def test_two_processes_make_one_valid_chain(state_url: str) -> None:
    Stores.open(state_url, nip_salt=SALT).close()  # made once, so the workers race on rows, not DDL
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(PROCESSES)
    workers = [
        spawn.Process(target=concurrent_worker, args=(state_url, f"p{n}", start)) for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    with Stores.open(state_url, nip_salt=SALT) as stores:
        audit = stores.audit.read(limit=None)
        feedback = stores.feedback.export()
        report = stores.verify()
    requests = audit[audit["role"] != "operator"]
    assert len(requests) == PROCESSES * THREADS * AUDIT_ROWS and requests["action"].is_unique
    assert audit["id"].tolist() == list(range(1, len(audit) + 1)), "one id each, no gap"
    assert len(feedback) == PROCESSES * FEEDBACK_ROWS
    assert report.ok, report.problems[:5]
    assert {p.rows for p in report.heads} == {len(audit), len(feedback)}
    writers = requests["action"].str.split("-").str[0].tolist()
    switches = sum(a != b for a, b in itertools.pairwise(writers))
    assert switches > 1, "the two processes really wrote at the same time"


def test_no_answered_request_loses_its_row_when_the_server_is_killed(state_url: str, tmp_path: Path) -> None:
    Stores.open(state_url, nip_salt=SALT).close()
    acks = tmp_path / "answered.txt"
    acks.touch()
    server = multiprocessing.get_context("spawn").Process(
        target=acknowledging_worker, args=(state_url, str(acks))
    )
    server.start()
    deadline = time.monotonic() + 60
    while len(acks.read_text().splitlines()) < 200 and time.monotonic() < deadline and server.is_alive():
        time.sleep(0.05)
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)  # mid-stream: rows queued, a transaction likely open
    server.join(30)
    assert server.exitcode == -signal.SIGKILL
    answered = acks.read_text().split("\n")[:-1]  # whole lines only: the last may be cut by the kill
    assert len(answered) >= 200, "the server answered requests before it was killed"
    with Stores.open(state_url, nip_salt=SALT) as stores:
        stored = set(stores.audit.read(limit=None)["request_id"].dropna())
        report = stores.verify()
    assert set(answered) <= stored, f"{len(set(answered) - stored)} answered requests have no audit row"
    assert report.ok, report.problems[:5]
