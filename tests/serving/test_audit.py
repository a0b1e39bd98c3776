"""The audit log: hashed NIPs, append-only in sqlite, reading by limit, time and person, concurrent writers,
and the `audit` CLI."""

from __future__ import annotations

import datetime as dt
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import typer

from rekomendasi.serving.auth import Principal, hash_nip
from rekomendasi.serving.store import AuditLog, AuditWriter, Stores, open_stores
from rekomendasi.settings import get_settings

from .conftest import NIP_A, NIP_B, SALT, db_bytes, runner


def test_audit_rows_hold_hashes_not_nips(
    stores: Stores, planner: tuple[Principal, str], db_path: Path
) -> None:
    principal, _ = planner
    stores.audit.append(
        principal, f"GET /employees/{NIP_A}", [NIP_A, NIP_B], "v3", "snap-1", 200, detail=f"ok for {NIP_B}"
    )
    stores.audit.append(None, "POST /recommendations", [], None, None, 401, detail="no key")
    frame = stores.audit.read()
    assert len(frame) == 2
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["nip_hashes"] == f"{hash_nip(NIP_A, SALT)};{hash_nip(NIP_B, SALT)}"
    assert first["nip_count"] == 2 and first["status"] == 200
    assert (first["key_id"], first["role"]) == (principal.key_id, "planner")
    assert (first["model_version"], first["snapshot_id"]) == ("v3", "snap-1")
    assert first["action"] == f"GET /employees/nip:{hash_nip(NIP_A, SALT)}"
    assert (
        pd.isna(second["key_id"])
        and pd.isna(second["model_version"])
        and second["nip_hashes"] == ""
        and second["status"] == 401
    )
    assert str(frame["at"].dtype).startswith("datetime64") and frame["at"].dt.tz is not None
    text = frame.to_csv()
    stores.close()
    data = db_bytes(db_path)
    for nip in (NIP_A, NIP_B):
        assert nip not in text and nip.encode() not in data


def test_audit_log_is_append_only_in_sqlite(
    stores: Stores, planner: tuple[Principal, str], db_path: Path
) -> None:
    stores.audit.append(planner[0], "GET /health", [NIP_A], None, None, 200)
    public = [name for cls in (AuditLog, AuditWriter) for name in dir(cls) if not name.startswith("_")]
    assert "append" in public, "looked at the right classes"
    assert not [name for name in public if name.startswith(("update", "delete", "clear", "purge"))]
    with sqlite3.connect(db_path) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit_log SET status = 500")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit_log")
    frame = stores.audit.read()
    assert frame["status"].tolist() == [200]


def test_triggers_survive_reopening(db_path: Path) -> None:
    Stores.open(f"sqlite:///{db_path}", nip_salt=SALT).close()
    with Stores.open(f"sqlite:///{db_path}", nip_salt=SALT) as stores:
        stores.audit.append(None, "GET /health", [], None, None, 200)
    with sqlite3.connect(db_path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")


def test_read_audit_limit_since_and_nip(stores: Stores) -> None:
    for status in range(200, 205):
        stores.audit.append(None, "GET /x", [NIP_A] if status % 2 else [NIP_B], None, None, status)
    assert stores.audit.read(limit=2)["status"].tolist() == [203, 204], "most recent, oldest first"
    everything = stores.audit.read(limit=None)
    assert everything["status"].tolist() == [200, 201, 202, 203, 204]
    since = everything["at"].iloc[2].to_pydatetime()
    expected = everything.loc[everything["at"] >= since, "status"].tolist()
    assert stores.audit.read(since=since)["status"].tolist() == expected and 200 not in expected
    assert stores.audit.read(nip=NIP_A)["status"].tolist() == [201, 203]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        stores.audit.read(limit=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        stores.audit.read(since=dt.datetime(2025, 1, 1))  # naive on purpose


def test_empty_audit_has_the_columns(stores: Stores) -> None:
    frame = stores.audit.read()
    assert frame.empty and "nip_hashes" in frame.columns and "status" in frame.columns


def test_writer_without_delay_writes_before_returning(stores: Stores) -> None:
    writer = AuditWriter(stores.audit, flush_seconds=0)
    writer(None, f"GET /v1/employees/{NIP_A}/gaps", [NIP_A], None, None, 403)
    rows = stores.audit.read()
    assert rows["status"].tolist() == [403] and NIP_A not in rows.to_csv()
    writer.close()
    assert len(stores.audit.read()) == 1, "closing wrote nothing twice"


# --- threads ------------------------------------------------------------------------------------


def _hammer(stores: Stores, principal: Principal, plaintext: str, threads: int, writes: int) -> None:
    def work(worker: int) -> None:
        for i in range(writes):
            assert stores.keys.authenticate(plaintext) == principal
            stores.audit.append(principal, f"worker-{worker}", [NIP_A], "v1", None, 200, detail=str(i))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, range(threads)))  # list() re-raises a worker's exception


def test_concurrent_audit_writes_all_land(stores: Stores, planner: tuple[Principal, str]) -> None:
    _hammer(stores, *planner, threads=8, writes=50)
    frame = stores.audit.read(limit=None)
    assert len(frame) == 400 and frame["id"].is_unique
    assert frame["action"].value_counts().to_dict() == {f"worker-{w}": 50 for w in range(8)}


def test_in_memory_database_is_shared_between_threads() -> None:
    with Stores.open("sqlite://", nip_salt=SALT) as stores:
        principal, plaintext = stores.keys.create_key("ops", "admin")
        _hammer(stores, principal, plaintext, threads=4, writes=25)
        assert len(stores.audit.read(limit=None)) == 100


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
    assert runner.invoke(cli, ["audit", "show", "--limit", "0"]).exit_code == 2
