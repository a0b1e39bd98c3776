"""The web page's sign-in sessions, on sqlite and PostgreSQL: exchanged for a key, expiring, ended by
sign-out or by revoking the key, and kept only as hashes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from rekomendasi.serving.auth import Principal, sha256_hex
from rekomendasi.serving.store import StateInputError, Stores
from rekomendasi.serving.store.sessions import UI_SESSIONS


def test_a_key_becomes_a_session_and_back_to_its_principal(
    stores: Stores, planner: tuple[Principal, str]
) -> None:
    principal, key = planner
    started = stores.sessions.start(key, hours=8)
    assert started is not None
    token, session = started
    assert session.principal == principal and len(session.csrf) >= 32
    found = stores.sessions.resolve(token)
    assert found is not None and found.principal == principal and found.csrf == session.csrf
    assert dt.timedelta(hours=7.9) < found.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=8)


def test_only_hashes_of_tokens_are_stored(stores: Stores, planner: tuple[Principal, str]) -> None:
    started = stores.sessions.start(planner[1], hours=1)
    assert started is not None
    token = started[0]
    with stores.db.reading() as conn:
        rows = conn.execute(sa.select(UI_SESSIONS)).mappings().all()
    assert [r["token_sha256"] for r in rows] == [sha256_hex(token)]
    assert token not in str([dict(r) for r in rows])


def test_unknown_keys_and_tokens_give_nothing(stores: Stores, planner: tuple[Principal, str]) -> None:
    assert stores.sessions.start("rk_0123456789abcdef_" + "a" * 43, hours=1) is None
    assert stores.sessions.resolve(None) is None
    assert stores.sessions.resolve("short") is None
    assert stores.sessions.resolve("b" * 43) is None
    with pytest.raises(StateInputError):
        stores.sessions.start(planner[1], hours=0)


def test_signing_out_ends_the_session(stores: Stores, planner: tuple[Principal, str]) -> None:
    started = stores.sessions.start(planner[1], hours=1)
    assert started is not None
    token = started[0]
    assert stores.sessions.end(token) is True
    assert stores.sessions.resolve(token) is None
    assert stores.sessions.end(token) is False, "ended once"


def test_an_expired_session_is_refused(stores: Stores, planner: tuple[Principal, str]) -> None:
    started = stores.sessions.start(planner[1], hours=1)
    assert started is not None
    token = started[0]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with stores.db.writing() as conn:
        conn.execute(UI_SESSIONS.update().values(expires_at=past))
    assert stores.sessions.resolve(token) is None


def test_revoking_the_key_ends_its_sessions(stores: Stores, planner: tuple[Principal, str]) -> None:
    principal, key = planner
    started = stores.sessions.start(key, hours=1)
    assert started is not None
    stores.keys.revoke_key(principal.key_id)
    assert stores.sessions.resolve(started[0]) is None
