"""The audit log: hashed NIPs (answered and refused), request ids, append-only in the database, reading by
limit, time and person, concurrent writers, group commit, and the `audit show` CLI. On sqlite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import typer

from rekomendasi.serving.auth import Principal, hash_nip
from rekomendasi.serving.store import (
    AuditLog,
    AuditWriter,
    AuditWriterClosed,
    Database,
    StateInputError,
    Stores,
    open_stores,
)
from rekomendasi.settings import get_settings

from .conftest import NIP_A, NIP_B, SALT, db_bytes, runner
from .test_store_support import raw


def _requests(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of API requests (not the operator rows of key changes)."""
    return frame[frame["role"] != "operator"].reset_index(drop=True)


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_audit_rows_hold_hashes_not_nips(
    stores: Stores, planner: tuple[Principal, str], state_url: str
) -> None:
    principal, _ = planner
    stores.audit.append(
        principal,
        f"GET /employees/{NIP_A}",
        [NIP_A, NIP_B],
        "v3",
        "snap-1",
        200,
        detail=f"ok for {NIP_B}",
        refused=[NIP_B],
        request_id=f"req-{NIP_A}",
    )
    stores.audit.append(None, "POST /recommendations", [], None, None, 401, detail="no key")
    frame = _requests(stores.audit.read())
    assert len(frame) == 2
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["nip_hashes"] == f"{hash_nip(NIP_A, SALT)};{hash_nip(NIP_B, SALT)}"
    assert first["nip_count"] == 2 and first["status"] == 200
    assert (first["refused_count"], first["refused_hashes"]) == (1, hash_nip(NIP_B, SALT))
    assert first["request_id"] == f"req-nip:{hash_nip(NIP_A, SALT)}"
    assert (first["key_id"], first["role"]) == (principal.key_id, "planner")
    assert (first["model_version"], first["snapshot_id"]) == ("v3", "snap-1")
    assert first["action"] == f"GET /employees/nip:{hash_nip(NIP_A, SALT)}"
    assert (
        pd.isna(second["key_id"])
        and pd.isna(second["model_version"])
        and pd.isna(second["request_id"])
        and second["nip_hashes"] == ""
        and (second["refused_count"], second["refused_hashes"]) == (0, "")
        and second["status"] == 401
    )
    assert str(frame["at"].dtype).startswith("datetime64") and frame["at"].dt.tz is not None
    text = frame.to_csv()
    stores.close()
    data = db_bytes(Path(state_url.removeprefix("sqlite:///")))
    for nip in (NIP_A, NIP_B):
        assert nip not in text and nip.encode() not in data


def test_long_texts_are_cut_to_their_columns(stores: Stores) -> None:
    stores.audit.append(None, "GET /" + "x" * 500, [], "v" * 300, None, 200, request_id="r" * 100)
    row = stores.audit.read().iloc[-1]
    assert len(row["action"]) == 200 and len(row["model_version"]) == 200 and len(row["request_id"]) == 64


def test_audit_log_is_append_only_in_the_database(
    stores: Stores, planner: tuple[Principal, str], state_url: str
) -> None:
    stores.audit.append(planner[0], "GET /health", [NIP_A], None, None, 200)
    public = [name for cls in (AuditLog, AuditWriter) for name in dir(cls) if not name.startswith("_")]
    assert "append" in public, "looked at the right classes"
    assert not [name for name in public if name.startswith(("update", "delete", "clear", "purge"))]
    statements = ["UPDATE audit_log SET status = 500", "DELETE FROM audit_log"]
    if state_url.startswith("postgresql"):
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), raw(state_url) as conn:
            conn.exec_driver_sql(statement)
    assert _requests(stores.audit.read())["status"].tolist() == [200]


def test_triggers_survive_reopening(state_url: str) -> None:
    Stores.open(state_url, nip_salt=SALT).close()
    with Stores.open(state_url, nip_salt=SALT) as stores:
        stores.audit.append(None, "GET /health", [], None, None, 200)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), raw(state_url) as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")


def test_read_audit_limit_since_and_nip(stores: Stores) -> None:
    for status in range(200, 205):
        stores.audit.append(None, "GET /x", [NIP_A] if status % 2 else [NIP_B], None, None, status)
    stores.audit.append(None, "POST /bulk", [NIP_B], None, None, 207, refused=[NIP_A])
    assert stores.audit.read(limit=2)["status"].tolist() == [204, 207], "most recent, oldest first"
    everything = stores.audit.read(limit=None)
    assert everything["status"].tolist() == [200, 201, 202, 203, 204, 207]
    since = everything["at"].iloc[2].to_pydatetime()
    expected = everything.loc[everything["at"] >= since, "status"].tolist()
    assert stores.audit.read(since=since)["status"].tolist() == expected and 200 not in expected
    assert stores.audit.read(nip=NIP_A)["status"].tolist() == [201, 203, 207], "refused NIPs match too"
    with pytest.raises(ValueError, match="limit must be at least 1"):
        stores.audit.read(limit=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        stores.audit.read(since=dt.datetime(2025, 1, 1))  # naive on purpose


def test_empty_audit_has_the_columns(stores: Stores) -> None:
    frame = stores.audit.read()
    assert frame.empty
    assert {"nip_hashes", "status", "request_id", "refused_hashes", "prev_hash", "row_hash"} <= set(frame)


def test_times_never_go_back_along_the_chain(stores: Stores) -> None:
    late = stores.audit.audit_row(None, "GET /late", [], None, None, 200)
    early = {**stores.audit.audit_row(None, "GET /early", [], None, None, 200)}
    early["at"] = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # built long before, written after
    stores.audit.write([late, early])
    frame = stores.audit.read()
    assert frame["action"].tolist() == ["GET /late", "GET /early"]
    assert frame["at"].iloc[1] == frame["at"].iloc[0], "the later row takes its predecessor's time"
    assert stores.verify().ok


# --- the group-commit writer ------------------------------------------------------------------------


class _SlowLog(AuditLog):
    """An audit log whose writes can be held, counted and slowed, to watch the writer."""

    def __init__(self, log: AuditLog, delay: float = 0.0) -> None:
        self.__dict__.update(log.__dict__)
        self.delay = delay
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def write(self, rows: Sequence[Mapping[str, object]]) -> None:
        self.gate.wait(10)
        time.sleep(self.delay)
        super().write(rows)
        self.batches.append(len(rows))


def test_future_resolves_only_after_the_row_is_committed(stores: Stores, state_url: str) -> None:
    log = _SlowLog(stores.audit, delay=0.05)  # a writer resolving before committing would be caught
    writer = AuditWriter(log)
    other = Database(state_url)
    try:

        def one(i: int) -> int:
            writer(None, "GET /x", [], None, None, 200, request_id=f"req-{i}").result(timeout=30)
            with other.reading() as conn:  # another connection: sees only committed rows
                return conn.execute(
                    sa.text("SELECT count(*) FROM audit_log WHERE request_id = :r"), {"r": f"req-{i}"}
                ).scalar_one()

        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = list(pool.map(one, range(24)))
    finally:
        writer.close()
        other.close()
    assert seen == [1] * 24
    assert sum(log.batches) == 24 and len(log.batches) < 24, "rows queued meanwhile share a transaction"


def test_writer_takes_everything_queued_in_one_transaction(stores: Stores) -> None:
    log = _SlowLog(stores.audit)
    log.gate.clear()  # the first write waits, holding its one row
    writer = AuditWriter(log)
    first = writer(None, "GET /first", [], None, None, 200)
    time.sleep(0.1)
    queued = [writer(None, f"GET /{i}", [], None, None, 200) for i in range(50)]
    assert not first.done() and not any(f.done() for f in queued), "nothing resolves before its commit"
    log.gate.set()
    done, _ = wait([first, *queued], timeout=30)
    writer.close()
    assert len(done) == 51 and all(f.exception() is None for f in done)
    assert log.batches == [1, 50]
    assert len(_requests(stores.audit.read(limit=None))) == 51


def test_a_failed_write_fails_its_futures_and_the_writer_goes_on(stores: Stores) -> None:
    writer = AuditWriter(stores.audit)
    bad = stores.audit.audit_row(None, "GET /bad", [], None, None, 200)
    bad["at"] = dt.datetime(2025, 1, 1)  # naive: the chain refuses it
    failed = writer.submit(bad)
    with pytest.raises(StateInputError, match="timezone-aware"):
        failed.result(timeout=30)
    writer(None, "GET /good", [], None, None, 200).result(timeout=30)
    writer.close()
    assert _requests(stores.audit.read())["action"].tolist() == ["GET /good"]


def test_close_drains_and_later_rows_are_refused(stores: Stores) -> None:
    log = _SlowLog(stores.audit, delay=0.01)
    writer = AuditWriter(log)
    futures = [writer(None, f"GET /{i}", [], None, None, 200) for i in range(20)]
    futures[-1].cancel()  # a request that went away: its row is still written
    writer.close()
    assert all(f.done() for f in futures)
    assert len(_requests(stores.audit.read(limit=None))) == 20
    late: Future[None] = writer(None, "GET /late", [], None, None, 200)
    with pytest.raises(AuditWriterClosed, match="closed") as info:
        late.result(timeout=1)
    assert info.value.status_code == 503


# --- threads ------------------------------------------------------------------------------------


def _hammer(stores: Stores, principal: Principal, plaintext: str, threads: int, writes: int) -> None:
    def work(worker: int) -> None:
        for i in range(writes):
            assert stores.keys.authenticate(plaintext) == principal
            stores.audit.append(principal, f"worker-{worker}", [NIP_A], "v1", None, 200, detail=str(i))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, range(threads)))  # list() re-raises a worker's exception


def test_concurrent_audit_writes_all_land_in_one_chain(
    stores: Stores, planner: tuple[Principal, str]
) -> None:
    _hammer(stores, *planner, threads=8, writes=25)
    frame = _requests(stores.audit.read(limit=None))
    assert len(frame) == 200 and frame["id"].is_unique
    assert frame["action"].value_counts().to_dict() == {f"worker-{w}": 25 for w in range(8)}
    report = stores.verify()
    assert report.ok, report.problems


def test_in_memory_database_is_shared_between_threads() -> None:
    with Stores.open("sqlite://", nip_salt=SALT) as stores:
        principal, plaintext = stores.keys.create_key("ops", "admin")
        _hammer(stores, principal, plaintext, threads=4, writes=25)
        assert len(_requests(stores.audit.read(limit=None))) == 100
        assert stores.verify().ok


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_audit_show_has_no_raw_nip(cli: typer.Typer) -> None:
    with open_stores(get_settings()) as stores:
        principal, _ = stores.keys.create_key("LMS", "platform", ["I-32"])
        stores.audit.append(principal, "POST /recommendations", [NIP_A, NIP_B], "v7", "snap-9", 200)
        stores.audit.append(None, "GET /unauthenticated", [], None, None, 401)
    result = runner.invoke(cli, ["audit", "show", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "POST /recommendations" in result.stdout and principal.key_id in result.stdout
    assert "v7" in result.stdout and "snap-9" in result.stdout
    assert NIP_A not in result.stdout and NIP_B not in result.stdout
    assert "/unauthenticated" in result.stdout and "nan" not in result.stdout, "missing values print empty"
    assert f"KEY CREATE {principal.key_id}" in result.stdout, "key changes are audited"
    assert runner.invoke(cli, ["audit", "show", "--limit", "0"]).exit_code == 2
