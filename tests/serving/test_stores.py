"""Opening the stores: one database for all three, the NIP salt and the chain key, URLs resolved against
the home, the supported databases, and clear configuration errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rekomendasi.errors import ConfigError
from rekomendasi.serving.auth import DEFAULT_NIP_SALT
from rekomendasi.serving.store import (
    AuditLog,
    Database,
    FeedbackStore,
    ProblemKind,
    Stores,
    chain_key,
    open_stores,
    resolve_state_url,
    settings_chain_key,
    verify_state,
)
from rekomendasi.settings import Settings

from .conftest import NIP_A, SALT


def test_the_stores_share_one_database(stores: Stores, state_url: str) -> None:
    principal, _ = stores.keys.create_key("ops", "admin")
    stores.audit.append(principal, "GET /x", [NIP_A], None, None, 200)
    stores.feedback.add(principal, NIP_A, "T-1", "accepted")
    assert stores.url == state_url
    with Stores.open(state_url, nip_salt=SALT) as again:
        assert [k.key_id for k in again.keys.list_keys()] == [principal.key_id]
        assert len(again.audit.read()) == 2 and len(again.feedback.export()) == 1  # KEY CREATE + GET /x


def test_empty_salt_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError, match="nip_salt is empty"):
        Stores.open(f"sqlite:///{db_path}", nip_salt="")
    assert not db_path.parent.exists(), "refused before touching the database"
    db = Database("sqlite://")
    for store in (AuditLog, FeedbackStore):
        with pytest.raises(ValueError, match="nip_salt is empty"):
            store(db, "", b"key")
    db.close()
    with pytest.raises(ValueError, match="audit_key is empty"):
        Stores.open(f"sqlite:///{db_path}", nip_salt=SALT, audit_key="")


def test_the_chain_key_is_the_audit_key_or_derived_from_the_salt(tmp_path: Path) -> None:
    derived = chain_key(SALT)
    assert derived == chain_key(SALT, None) != chain_key("other-salt")
    assert chain_key(SALT, "audit-secret") == b"audit-secret"
    settings = Settings(home=tmp_path, state_db_url="sqlite:///s.db", nip_salt=SALT)
    assert settings_chain_key(settings) == derived
    keyed = Settings(home=tmp_path, state_db_url="sqlite:///s.db", nip_salt=SALT, audit_key="audit-secret")
    assert settings_chain_key(keyed) == b"audit-secret"
    with open_stores(keyed) as stores:
        stores.audit.append(None, "GET /x", [], None, None, 200)
        stores.audit.append(None, "GET /y", [], None, None, 200)
        assert stores.verify().ok
        wrong = verify_state(stores.db, derived)  # the key derived from the salt is not the audit key
    assert wrong.kinds("audit_log") == {1: {ProblemKind.EDITED}, 2: {ProblemKind.INSERTED}}


def test_only_sqlite_and_postgresql_are_supported() -> None:
    with pytest.raises(ConfigError, match="use sqlite or postgresql"):
        Stores.open("mysql://u:p@db/state", nip_salt=SALT)


def test_relative_sqlite_path_resolves_against_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, state_db_url="sqlite:///var/state.db")
    assert resolve_state_url(settings) == f"sqlite:///{tmp_path}/var/state.db"
    open_stores(settings).close()
    assert (tmp_path / "var" / "state.db").is_file()
    absolute = Settings(home=tmp_path, state_db_url=f"sqlite:///{tmp_path}/abs.db")
    assert resolve_state_url(absolute) == f"sqlite:///{tmp_path}/abs.db"
    postgres = Settings(home=tmp_path, state_db_url="postgresql://u:p@db/state")
    assert resolve_state_url(postgres) == "postgresql://u:p@db/state"


def test_the_public_default_salt_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rekomendasi.serving.store"):
        open_stores(Settings(home=tmp_path, state_db_url="sqlite://", nip_salt=SALT)).close()
        assert not caplog.records
        open_stores(Settings(home=tmp_path, state_db_url="sqlite://", nip_salt=DEFAULT_NIP_SALT)).close()
    assert ["nip_salt is the public default" in r.getMessage() for r in caplog.records] == [True]


def test_invalid_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        Stores.open("not a url", nip_salt=SALT)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ConfigError, match="cannot open the state database"):
        Stores.open(f"sqlite:///{tmp_path}/dir.db", nip_salt=SALT)
