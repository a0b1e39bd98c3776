"""`audit archive`: old audit rows moved to a fsynced Parquet file, deleted under a suspended trigger,
recorded by an AUDIT ARCHIVE row; `audit verify` checks the chain across archive files and database and
names a changed, missing or unrecorded file. On sqlite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from rekomendasi.serving.store import ProblemKind, StateInputError, Stores, open_stores
from rekomendasi.serving.store.audit import AUDIT_LOG
from rekomendasi.settings import get_settings

from .conftest import NIP_A, SALT
from .test_store_support import raw

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@pytest.fixture()
def stores(state_url: str) -> Iterator[Stores]:
    """Ten requests on ten days from T0 (rows 1-10), then one now (row 11)."""
    with Stores.open(state_url, nip_salt=SALT) as opened:
        for day in range(10):
            row = opened.audit.audit_row(None, f"GET /day-{day}", [NIP_A], "v1", None, 200)
            opened.audit.write([{**row, "at": T0 + dt.timedelta(days=day)}])
        opened.audit.append(None, "GET /today", [], None, None, 200)
        yield opened


def test_archive_moves_old_rows_and_the_chain_still_verifies(stores: Stores, tmp_path: Path) -> None:
    out = tmp_path / "archive"
    before_rows = stores.audit.read(limit=None)
    result = stores.archive(T0 + dt.timedelta(days=4), out)
    assert (result.first_id, result.last_id, result.rows) == (1, 4, 4)
    assert result.path == out / "audit_log_000000000001-000000000004.parquet" and result.path.is_file()
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    archived = pq.read_table(result.path).to_pandas()
    assert archived.columns.tolist() == [c.name for c in AUDIT_LOG.columns], "every column, chain included"
    assert archived["row_hash"].tolist() == before_rows["row_hash"].iloc[:4].tolist()
    left = stores.audit.read(limit=None)
    assert left["id"].tolist() == [*range(5, 12), 12]
    record = left.iloc[-1]
    assert record["action"] == "AUDIT ARCHIVE 1-4" and record["role"] == "operator"
    assert json.loads(record["detail"]) == {
        "file": result.path.name,
        "first_id": 1,
        "last_id": 4,
        "rows": 4,
        "sha256": result.sha256,
    }
    report = stores.verify(archive_dirs=[out])
    assert report.ok, report.problems
    assert report.heads[0].rows == 12 and report.archives == (result.path.resolve(),)
    without = stores.verify()
    assert without.kinds("audit_log") == {5: {ProblemKind.DELETED}, 12: {ProblemKind.ARCHIVE}}
    start = next(p for p in without.problems if p.row_id == 5)
    assert "give the archive directory" in start.message


def test_a_second_archive_continues_the_first(stores: Stores, tmp_path: Path) -> None:
    out = tmp_path / "archive"
    stores.archive(T0 + dt.timedelta(days=3), out)
    second = stores.archive(T0 + dt.timedelta(days=8), out)
    assert (second.first_id, second.last_id) == (4, 8)
    assert stores.verify(archive_dirs=[out]).ok
    assert stores.archive(T0, out).rows == 0, "nothing before the first row"


def test_the_delete_trigger_is_back_after_archiving(stores: Stores, tmp_path: Path, state_url: str) -> None:
    stores.archive(T0 + dt.timedelta(days=2), tmp_path / "archive")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), raw(state_url) as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")


def test_a_changed_archive_file_fails_verify_naming_it(stores: Stores, tmp_path: Path) -> None:
    out = tmp_path / "archive"
    path = stores.archive(T0 + dt.timedelta(days=5), out).path
    assert path is not None
    table = pq.read_table(path)
    statuses = table.column("status").to_pylist()
    statuses[2] = 404
    pq.write_table(
        table.set_column(table.schema.get_field_index("status"), "status", pa.array(statuses)), path
    )
    report = stores.verify(archive_dirs=[out])
    assert not report.ok
    by_kind = {(p.kind, p.row_id): p for p in report.problems}
    changed = by_kind[(ProblemKind.ARCHIVE, 12)]
    assert str(path.resolve()) in changed.message and "was changed after it was written" in changed.message
    edited = by_kind[(ProblemKind.EDITED, 3)]
    assert edited.source == str(path.resolve()), "the row is named with the file it is in"


def test_an_unreadable_archive_file_fails_verify_naming_it(stores: Stores, tmp_path: Path) -> None:
    out = tmp_path / "archive"
    path = stores.archive(T0 + dt.timedelta(days=3), out).path
    assert path is not None
    path.write_bytes(b"not parquet any more")
    report = stores.verify(archive_dirs=[out])
    found = {(p.kind, p.row_id) for p in report.problems}
    assert found == {(ProblemKind.ARCHIVE, 12), (ProblemKind.DELETED, 4)}
    assert any(str(path.resolve()) in p.message and "cannot be read" in p.message for p in report.problems)


def test_a_missing_or_unrecorded_archive_file_fails_verify(stores: Stores, tmp_path: Path) -> None:
    out = tmp_path / "archive"
    path = stores.archive(T0 + dt.timedelta(days=3), out).path
    assert path is not None
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    path.rename(moved / path.name)
    missing = stores.verify(archive_dirs=[out])
    assert {(p.kind, p.row_id) for p in missing.problems} == {
        (ProblemKind.ARCHIVE, 12),
        (ProblemKind.DELETED, 4),
    }
    assert stores.verify(archive_dirs=[out, moved]).ok, "found in the other directory"
    forged = out / "audit_log_000000000100-000000000101.parquet"
    pq.write_table(pq.read_table(moved / path.name), forged)
    unrecorded = stores.verify(archive_dirs=[out, moved])
    assert [(p.kind, p.source) for p in unrecorded.problems] == [(ProblemKind.ARCHIVE, str(forged.resolve()))]


def test_archive_refuses_a_naive_time_and_an_existing_file(stores: Stores, tmp_path: Path) -> None:
    with pytest.raises(StateInputError, match="timezone-aware"):
        stores.archive(dt.datetime(2025, 1, 3), tmp_path)
    out = tmp_path / "archive"
    out.mkdir()
    (out / "audit_log_000000000001-000000000002.parquet").write_bytes(b"x")
    with pytest.raises(StateInputError, match="exists already"):
        stores.archive(T0 + dt.timedelta(days=2), out)
    assert len(stores.audit.read(limit=None)) == 11, "nothing was deleted"


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_archive_then_verify(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    with open_stores(get_settings()) as stores:
        for day in range(3):
            row = stores.audit.audit_row(None, f"GET /{day}", [], None, None, 200)
            stores.audit.write([{**row, "at": T0 + dt.timedelta(days=day)}])
    archived = runner.invoke(cli, ["audit", "archive", "--before", "2025-01-02"])
    assert archived.exit_code == 0, archived.output
    assert "archived 1 audit rows (ids 1-1)" in archived.stdout
    default_dir = tmp_path / "var" / "audit-archive"
    assert (default_dir / "audit_log_000000000001-000000000001.parquet").is_file(), "audit_archive_dir"
    verified = runner.invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "archive files read: 1" in verified.stdout
    other = tmp_path / "other"
    moved = runner.invoke(
        cli, ["audit", "archive", "--before", "2025-01-03T00:00:00+00:00", "--out", str(other)]
    )
    assert moved.exit_code == 0, moved.output
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 1, "the second file is elsewhere"
    assert runner.invoke(cli, ["audit", "verify", "--archive", str(other)]).exit_code == 0
    bad = runner.invoke(cli, ["audit", "archive", "--before", "yesterday"])
    assert bad.exit_code == 2 and "neither a date" in bad.output
