"""`audit verify` against tampering by someone with write access to the database but not the chain key:
each case drops what guards it, changes the tables directly, and must be named with its row and kind.
On sqlite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from rekomendasi.serving.auth import Principal
from rekomendasi.serving.store import GENESIS, ProblemKind, Stores
from rekomendasi.serving.store.audit import AUDIT_LOG
from rekomendasi.serving.store.feedback import FEEDBACK
from rekomendasi.serving.store.keys import API_KEYS
from rekomendasi.settings import get_settings

from .conftest import NIP_A, NIP_B, SALT
from .test_store_support import (
    drop_trigger,
    forge_after,
    raw,
    rows,
    unkeyed_hash,
)

AUDIT_FIELDS = tuple(c.name for c in AUDIT_LOG.columns if c.name not in ("prev_hash", "row_hash"))
FEEDBACK_FIELDS = tuple(c.name for c in FEEDBACK.columns if c.name not in ("prev_hash", "row_hash"))


@pytest.fixture()
def stores(state_url: str) -> Iterator[Stores]:
    """Stores with history: a key (audit rows 1), six requests (rows 2-7), three feedback rows."""
    with Stores.open(state_url, nip_salt=SALT) as opened:
        principal, _ = opened.keys.create_key("BKD", "planner", ["I-32"])
        for status in range(200, 206):
            opened.audit.append(principal, "GET /x", [NIP_A], "v1", None, status)
        for training in ("T-1", "T-2", "T-3"):
            opened.feedback.add(principal, NIP_A, training, "accepted")
        yield opened


def _found(stores: Stores, table: str, **kwargs: object) -> dict[int | None, set[ProblemKind]]:
    report = stores.verify(**kwargs)  # type: ignore[arg-type]
    assert not report.ok
    return report.kinds(table)


def test_an_untouched_database_verifies(stores: Stores) -> None:
    report = stores.verify()
    assert report.ok, report.problems
    audit, feedback = report.heads
    assert (audit.table, audit.rows, audit.last_id) == ("audit_log", 7, 7)
    assert audit.row_hash == stores.audit.read()["row_hash"].iloc[-1]
    assert (feedback.table, feedback.last_id) == ("feedback", 3)
    assert stores.verify(heads=[audit.row_hash, feedback.row_hash]).ok


def test_empty_chains_verify_and_start_at_genesis(state_url: str) -> None:
    with Stores.open(state_url, nip_salt=SALT) as stores:
        report = stores.verify()
        assert report.ok and [h.row_hash for h in report.heads] == [GENESIS, GENESIS]
        stores.audit.append(None, "GET /x", [], None, None, 200)
        assert stores.audit.read()["prev_hash"].tolist() == [GENESIS]


def test_an_update_after_dropping_the_trigger_is_named_edited(stores: Stores, state_url: str) -> None:
    with raw(state_url) as conn:
        drop_trigger(conn, "audit_log_no_update")
        conn.execute(sa.text("UPDATE audit_log SET status = 403 WHERE id = 4"))
    found = _found(stores, "audit_log")
    assert found[4] == {ProblemKind.EDITED}
    assert found[None] == {ProblemKind.TRIGGER_MISSING}
    assert set(found) == {4, None}, "only the edited row is named"


def test_a_delete_after_dropping_the_trigger_is_named_deleted(stores: Stores, state_url: str) -> None:
    with raw(state_url) as conn:
        drop_trigger(conn, "audit_log_no_delete")
        conn.execute(sa.text("DELETE FROM audit_log WHERE id IN (3, 4)"))
    report = stores.verify()
    deleted = [p for p in report.problems if p.kind == ProblemKind.DELETED]
    assert [(p.table, p.row_id) for p in deleted] == [("audit_log", 5)]
    assert "rows 3-4 are missing" in deleted[0].message
    assert "audit_log row 5: deleted" in str(deleted[0])


def test_a_forged_insert_with_an_unkeyed_hash_is_named_inserted(
    stores: Stores, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with raw(state_url) as conn:
        forged = forge_after(conn, AUDIT_LOG, AUDIT_FIELDS, action="GET /forged", status=200)
    assert forged["id"] == 8
    found = _found(stores, "audit_log")
    assert found == {8: {ProblemKind.INSERTED}}, "triggers intact: an insert needs none dropped"
    with caplog.at_level(logging.ERROR, logger="rekomendasi.serving.store.chain"):
        stores.audit.append(None, "GET /after", [], None, None, 200)  # the service links past it
    assert "row 8 does not verify" in caplog.text
    assert stores.audit.read()["prev_hash"].iloc[-1] == stores.audit.read()["row_hash"].iloc[-3]
    assert _found(stores, "audit_log") == {8: {ProblemKind.INSERTED}}, "the row after it is sound"


def test_a_backdated_insert_is_named_backdated(stores: Stores, state_url: str) -> None:
    with raw(state_url) as conn:
        last = rows(conn, AUDIT_LOG)[-1]
        forge_after(conn, AUDIT_LOG, AUDIT_FIELDS, at=last["at"] - dt.timedelta(days=30))
    found = _found(stores, "audit_log")
    assert ProblemKind.BACKDATED in found[8]


def test_a_dropped_trigger_is_reported_and_its_restoration_stays_on_record(
    stores: Stores, state_url: str
) -> None:
    with raw(state_url) as conn:
        drop_trigger(conn, "feedback_no_delete")
    report = stores.verify()
    assert [(p.table, p.row_id, p.kind) for p in report.problems] == [
        ("feedback", None, ProblemKind.TRIGGER_MISSING)
    ]
    assert "feedback_no_delete" in report.problems[0].message
    with Stores.open(state_url, nip_salt=SALT) as reopened:  # the service makes it again ...
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), raw(state_url) as conn:
            conn.exec_driver_sql("DELETE FROM feedback")
        restored = reopened.audit.read()["action"].iloc[-1]
        assert restored == "STATE TRIGGER RESTORED feedback_no_delete"
        # ... and the audit row it wrote keeps the evidence
        assert reopened.verify().kinds("audit_log") == {8: {ProblemKind.TRIGGER_MISSING}}


def test_a_reactivated_key_is_a_key_state_problem(stores: Stores, state_url: str) -> None:
    principal, plaintext = stores.keys.create_key("ops", "admin")
    stores.keys.revoke_key(principal.key_id)
    revoke_row = int(stores.audit.read()["id"].iloc[-1])
    with raw(state_url) as conn:
        drop_trigger(conn, "api_keys_only_revoke")
        conn.execute(API_KEYS.update().where(API_KEYS.c.key_id == principal.key_id).values(revoked_at=None))
    assert stores.keys.authenticate(plaintext) is not None, "the tampering works ..."
    problems = [p for p in stores.verify().problems if p.kind == ProblemKind.KEY_STATE]
    assert [(p.table, p.row_id) for p in problems] == [("api_keys", revoke_row)]  # ... and is seen
    assert "reactivated" in problems[0].message and principal.key_id in problems[0].message


def test_changed_inserted_and_deleted_keys_are_key_state_problems(stores: Stores, state_url: str) -> None:
    planner = stores.keys.list_keys()[0]
    admin, _ = stores.keys.create_key("ops", "admin")
    with raw(state_url) as conn:
        drop_trigger(conn, "api_keys_only_revoke")
        drop_trigger(conn, "api_keys_no_delete")
        conn.execute(
            API_KEYS.update()
            .where(API_KEYS.c.key_id == planner.key_id)
            .values(role="admin", agencies="[]", secret_sha256="0" * 64)
        )
        conn.execute(API_KEYS.delete().where(API_KEYS.c.key_id == admin.key_id))
        conn.execute(
            API_KEYS.insert(),
            {
                "key_id": "f" * 16,
                "name": "backdoor",
                "role": "admin",
                "agencies": "[]",
                "secret_sha256": "1" * 64,
                "created_at": dt.datetime.now(dt.UTC),
            },
        )
    messages = {p.message for p in stores.verify().problems if p.kind == ProblemKind.KEY_STATE}
    assert f"key {planner.key_id}: role, agencies, secret differ from its KEY CREATE row 1" in messages
    assert any("f" * 16 in m and "no KEY CREATE row" in m for m in messages)
    assert any(admin.key_id in m and "no longer in api_keys" in m for m in messages)


def test_a_feedback_row_rewritten_then_deleted(stores: Stores, state_url: str) -> None:
    with raw(state_url) as conn:
        drop_trigger(conn, "feedback_no_update")
        conn.execute(FEEDBACK.update().where(FEEDBACK.c.id == 2).values(event="rejected", nip=NIP_B))
    assert _found(stores, "feedback") == {2: {ProblemKind.EDITED}, None: {ProblemKind.TRIGGER_MISSING}}
    with raw(state_url) as conn:
        drop_trigger(conn, "feedback_no_delete")
        conn.execute(FEEDBACK.delete().where(FEEDBACK.c.id == 2))
    found = _found(stores, "feedback")
    assert found[3] == {ProblemKind.DELETED} and 2 not in found


def test_a_rewritten_row_with_a_new_unkeyed_hash(stores: Stores, state_url: str) -> None:
    with raw(state_url) as conn:
        drop_trigger(conn, "audit_log_no_update")
        row = rows(conn, AUDIT_LOG)[2]  # id 3
        row["status"] = 500
        conn.execute(
            AUDIT_LOG.update()
            .where(AUDIT_LOG.c.id == 3)
            .values(status=500, row_hash=unkeyed_hash(row["prev_hash"], row, AUDIT_FIELDS))
        )
    found = _found(stores, "audit_log")
    assert found[3] == {ProblemKind.INSERTED} and found[4] == {ProblemKind.DELETED}, "a row replaced"


def test_a_fork_written_with_the_key_is_named(stores: Stores, state_url: str) -> None:
    chain = stores.audit.chain  # a second writer that holds the key but ignores the lock
    with raw(state_url) as conn:
        row7 = rows(conn, AUDIT_LOG)[-1]
        for row_id, action in ((8, "GET /a"), (9, "GET /b")):
            row = {**row7, "id": row_id, "action": action, "prev_hash": row7["row_hash"]}
            row["row_hash"] = chain.row_hash(row7["row_hash"], row)
            conn.execute(AUDIT_LOG.insert(), row)
    found = _found(stores, "audit_log")
    assert found == {9: {ProblemKind.INSERTED}}
    assert "the chain forks" in str(stores.verify().problems[0])


def test_a_truncated_tail_is_caught_by_the_noted_head(stores: Stores, state_url: str) -> None:
    head = stores.verify().heads[0].row_hash
    with raw(state_url) as conn:
        drop_trigger(conn, "audit_log_no_delete")
        conn.execute(sa.text("DELETE FROM audit_log WHERE id >= 6"))
    without_head = stores.verify()
    assert without_head.kinds("audit_log") == {None: {ProblemKind.TRIGGER_MISSING}}, "undetectable alone"
    with_head = stores.verify(heads=[head])
    head_problems = [p for p in with_head.problems if head in p.message]
    assert len(head_problems) == 1 and head_problems[0].kind == ProblemKind.DELETED


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_verify_prints_the_head_and_exits_1_on_tampering(cli: typer.Typer, planner_cli_db: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(cli, ["audit", "verify"])
    assert clean.exit_code == 0, clean.output
    with Stores.open(f"sqlite:///{planner_cli_db}", nip_salt=get_settings().nip_salt.get_secret_value()) as s:
        head = s.verify().heads[0]
    assert f"head id {head.last_id} row_hash {head.row_hash}" in clean.stdout and "OK" in clean.stdout
    with raw(f"sqlite:///{planner_cli_db}") as conn:
        drop_trigger(conn, "audit_log_no_update")
        conn.execute(sa.text("UPDATE audit_log SET status = 200 WHERE id = 2"))
    tampered = runner.invoke(cli, ["audit", "verify", "--head", head.row_hash])
    assert tampered.exit_code == 1, tampered.output
    assert "audit_log row 2: edited" in tampered.output
    assert "trigger audit_log_no_update on audit_log is missing" in tampered.output
    gone = runner.invoke(cli, ["audit", "verify", "--head", "ab" * 32])
    assert gone.exit_code == 1 and "no longer in either chain" in gone.output


@pytest.fixture()
def planner_cli_db(cli: typer.Typer, tmp_path: Path) -> Path:
    """The CLI's state database with a key and two audited requests."""
    settings = get_settings()
    path = tmp_path / "var" / "state.db"
    with Stores.open(f"sqlite:///{path}", nip_salt=settings.nip_salt.get_secret_value()) as stores:
        principal: Principal = stores.keys.create_key("BKD", "planner", ["I-32"])[0]
        stores.audit.append(principal, "GET /x", [NIP_A], None, None, 403)
        stores.audit.append(principal, "GET /y", [NIP_A], None, None, 200)
    return path
