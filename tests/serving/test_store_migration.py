"""Opening a state database made by the version before the hash chain: columns added, the chain computed
over the existing rows, existing keys recorded, triggers made, logged; then it verifies and works.
On sqlite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from rekomendasi.serving.auth import format_key, sha256_hex
from rekomendasi.serving.store import GENESIS, Database, Stores, chain_key, verify_state
from rekomendasi.serving.store.triggers import trigger_issues

from .conftest import NIP_A, NIP_B, SALT
from .test_store_support import raw

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
SECRET = "s" * 43
KEY_ID, REVOKED_ID = "a" * 16, "b" * 16

# The tables as the version before the hash chain made them (src/rekomendasi/serving/store at b16d483).
OLD = sa.MetaData()
sa.Table(
    "api_keys",
    OLD,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("agencies", sa.Text, nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
_OLD_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
sa.Table(
    "audit_log",
    OLD,
    sa.Column("id", _OLD_ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("key_id", sa.String(32), nullable=True),
    sa.Column("role", sa.String(16), nullable=True),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("nip_count", sa.Integer, nullable=False),
    sa.Column("nip_hashes", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(200), nullable=True),
    sa.Column("snapshot_id", sa.String(200), nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)
sa.Table(
    "feedback",
    OLD,
    sa.Column("id", _OLD_ID, primary_key=True, autoincrement=True),
    sa.Column("nip", sa.String(32), nullable=False, index=True),
    sa.Column("training_id", sa.String(100), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(200), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
)
OLD_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {op} is not allowed'); END"
    for op in ("UPDATE", "DELETE")
]
# Rows 2 and 3 were flushed by two processes out of time order, as the old batching writer could.
OLD_AUDIT_MINUTES = [0, 5, 4, 9, 12]


def _utc(moment: dt.datetime, dialect: str) -> dt.datetime:
    return moment.replace(tzinfo=None) if dialect == "sqlite" else moment  # the old UtcDateTime did this


@pytest.fixture()
def old_url(state_url: str) -> str:
    """A database as the previous version left it: two keys (one revoked), five audit rows, three
    feedback rows."""
    url = state_url
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
    with raw(url) as conn:
        dialect = conn.dialect.name
        OLD.create_all(conn)
        if dialect == "sqlite":
            for ddl in OLD_SQLITE_TRIGGERS:
                conn.exec_driver_sql(ddl)
        keys, audit, feedback = (OLD.tables[name] for name in ("api_keys", "audit_log", "feedback"))
        for key_id, role, agencies, revoked in (
            (KEY_ID, "planner", ["I-32"], None),
            (REVOKED_ID, "admin", [], T0),
        ):
            conn.execute(
                keys.insert(),
                {
                    "key_id": key_id,
                    "name": f"key {key_id[0]}",
                    "role": role,
                    "agencies": json.dumps(agencies),
                    "secret_sha256": sha256_hex(SECRET),
                    "created_at": _utc(T0, dialect),
                    "revoked_at": None if revoked is None else _utc(revoked, dialect),
                },
            )
        for minute in OLD_AUDIT_MINUTES:
            conn.execute(
                audit.insert(),
                {
                    "at": _utc(T0 + dt.timedelta(minutes=minute), dialect),
                    "key_id": KEY_ID,
                    "role": "planner",
                    "action": f"GET /m{minute}",
                    "nip_count": 1,
                    "nip_hashes": "abcdef0123456789",
                    "model_version": "v1",
                    "snapshot_id": None,
                    "status": 200,
                    "detail": "",
                },
            )
        for i, nip in enumerate((NIP_A, NIP_B, NIP_A)):
            conn.execute(
                feedback.insert(),
                {
                    "nip": nip,
                    "training_id": f"T-{i}",
                    "event": "accepted",
                    "reason": "",
                    "model_version": "v1",
                    "at": _utc(T0 + dt.timedelta(minutes=i), dialect),
                    "key_id": KEY_ID,
                },
            )
    return url


def test_an_old_database_is_migrated_in_place(old_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="rekomendasi.serving.store"),
        Stores.open(old_url, nip_salt=SALT) as stores,
    ):
        assert [(m.table, m.rows, m.retimed) for m in stores.migrated] == [
            ("audit_log", 5, 1),
            ("feedback", 3, 0),
        ]
        audit = stores.audit.read(limit=None)
        old = audit.iloc[:5]
        assert old["id"].tolist() == [1, 2, 3, 4, 5] and old["action"].tolist() == [
            f"GET /m{m}" for m in OLD_AUDIT_MINUTES
        ], "the old rows keep their ids and fields"
        assert (old["refused_count"] == 0).all() and (old["refused_hashes"] == "").all()
        assert old["request_id"].isna().all()
        minutes = [int((t - T0).total_seconds() // 60) for t in old["at"]]
        assert minutes == [0, 5, 5, 9, 12], "row 3 takes row 2's time: times never go back along the chain"
        assert old["prev_hash"].iloc[0] == GENESIS
        assert old["prev_hash"].iloc[1:].tolist() == old["row_hash"].iloc[:-1].tolist()
        assert audit["action"].iloc[5:].tolist() == [
            f"KEY CREATE {KEY_ID}",
            f"KEY CREATE {REVOKED_ID}",
            f"KEY REVOKE {REVOKED_ID}",
            "STATE MIGRATE",
        ], "the existing keys are put on record"
        assert json.loads(audit["detail"].iloc[-1])["audit_log"] == {
            "columns": ["request_id", "refused_count", "refused_hashes", "prev_hash", "row_hash"],
            "rows": 5,
            "retimed": 1,
        }
        feedback = stores.feedback.export()
        assert feedback["id"].tolist() == [1, 2, 3] and feedback["corrects"].isna().all()
        report = stores.verify()
        assert report.ok, report.problems
        with raw(old_url) as conn:
            assert trigger_issues(conn) == [], "every trigger made, in the same transaction"
        # and it works as a new one
        assert stores.keys.authenticate(format_key(KEY_ID, SECRET)) is not None
        assert stores.keys.authenticate(format_key(REVOKED_ID, SECRET)) is None
        stores.audit.append(None, "GET /new", [NIP_A], None, None, 200, request_id="r-1")
        fixed = stores.feedback.add(
            stores.keys.create_key("ops", "admin")[0], NIP_A, "T-0", "rejected", corrects=1
        )
        assert fixed == 4 and stores.verify().ok
    messages = [r.getMessage() for r in caplog.records]
    assert any("migrated audit_log" in m and "chained 5 rows (1 re-timed" in m for m in messages)
    assert any("migrated feedback" in m and "corrects" in m for m in messages)
    with Stores.open(old_url, nip_salt=SALT) as again:
        assert again.migrated == (), "migrated once"
        assert again.audit.read()["action"].iloc[-1] == "KEY CREATE " + again.keys.list_keys()[-1].key_id
        assert again.verify().ok


def test_an_old_database_refuses_verify_until_opened(old_url: str) -> None:
    db = Database(old_url)
    try:
        with pytest.raises(ValueError, match="has no hash chain yet"):
            verify_state(db, chain_key(SALT))
    finally:
        db.close()
