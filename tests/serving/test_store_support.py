"""Helpers of the state-store tests (no tests here): a database URL per dialect, raw access that bypasses
the stores (as someone with database write access would), and what a tamperer can compute without the
chain key."""

from __future__ import annotations

import hashlib
import multiprocessing.synchronize
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rekomendasi.serving.store import AuditWriter, Stores
from rekomendasi.serving.store.chain import canonical

"""Parameters of the ``state_url`` fixtures: every store test runs on both."""
SALT = "test-salt"  # as tests/serving/conftest.py
NIP = "198501012010011001"
THREADS, AUDIT_ROWS, FEEDBACK_ROWS = 4, 40, 15


@contextmanager
def raw(url: str) -> Iterator[Connection]:
    """A plain SQLAlchemy connection in a transaction: no stores, no locks, no chain."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def drop_trigger(conn: Connection, name: str) -> None:
    """Drop trigger ``name`` (``<table>_no_...`` or ``api_keys_...``) as a tamperer would."""
    table = "api_keys" if name.startswith("api_keys") else name.rsplit("_no_", 1)[0]
    suffix = f" ON {table}" if conn.dialect.name == "postgresql" else ""
    conn.exec_driver_sql(f"DROP TRIGGER {name}{suffix}")


def rows(conn: Connection, table: sa.Table) -> list[dict[str, Any]]:
    """Every row of ``table`` in key order, as dicts (timestamps as aware UTC datetimes)."""
    stmt = sa.select(table).order_by(*table.primary_key.columns)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def unkeyed_hash(prev_hash: str, row: dict[str, Any], fields: tuple[str, ...]) -> str:
    """What a tamperer without the key computes: the plain SHA-256 of the same canonical text."""
    return hashlib.sha256(f"{prev_hash}\n{canonical(row, fields)}".encode()).hexdigest()


def forge_after(conn: Connection, table: sa.Table, fields: tuple[str, ...], **changes: Any) -> dict[str, Any]:
    """INSERT a copy of the last row of ``table`` with ``changes``, the next id, linked to the last row and
    an unkeyed hash: the best a tamperer without the key can do. Returns the forged row."""
    last = rows(conn, table)[-1]
    forged = {**last, **changes, "id": last["id"] + 1, "prev_hash": last["row_hash"]}
    forged["row_hash"] = unkeyed_hash(last["row_hash"], forged, fields)
    conn.execute(table.insert(), forged)
    return forged


def concurrent_worker(url: str, name: str, start: multiprocessing.synchronize.Barrier) -> None:
    """One server process of test_store_concurrency: THREADS request threads through a group-commit writer,
    plus feedback. Here, not in the test module, so a spawned process need not import the test
    conftest (the whole served world)."""
    with Stores.open(url, nip_salt=SALT) as stores:
        principal, _ = stores.keys.create_key(name, "planner", ["I-32"])
        writer = AuditWriter(stores.audit)
        start.wait(60)  # both processes ready: they write at the same time

        def requests(thread: int) -> None:
            for i in range(AUDIT_ROWS):
                action = f"{name}-{thread}-{i}"
                writer(principal, action, [NIP], "v1", None, 200).result(timeout=60)

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(requests, range(THREADS)))
            for i in range(FEEDBACK_ROWS):
                stores.feedback.add(principal, NIP, f"{name}-T{i}", "accepted")
        writer.close()


def acknowledging_worker(url: str, acks: str) -> None:
    """A server process that answers requests as fast as it can: each answer (a line in ``acks``) is
    written only after its audit row's future resolved, as the HTTP layer does. Runs until killed."""
    with Stores.open(url, nip_salt=SALT) as stores, open(acks, "a", buffering=1) as out:
        writer = AuditWriter(stores.audit)
        lock = threading.Lock()

        def requests(thread: int) -> None:
            for i in range(1_000_000):
                request_id = f"{thread}-{i}"
                writer(None, "GET /x", [NIP], "v1", None, 200, request_id=request_id).result(timeout=60)
                with lock:
                    out.write(request_id + "\n")

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(requests, range(THREADS)))
