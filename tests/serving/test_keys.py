"""API keys: creation, authentication with its cache, revocation (audited, guarded by triggers), listing,
and the `keys` CLI. On sqlite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer

from rekomendasi.errors import RekomendasiError
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.store import KeyInfo, Stores, open_stores
from rekomendasi.settings import Settings, get_settings

from .conftest import SALT, FakeClock, assert_clean_failure, db_bytes, runner, secret_of
from .test_store_support import raw


def test_created_key_authenticates_to_its_principal(stores: Stores, planner: tuple[Principal, str]) -> None:
    principal, plaintext = planner
    prefix, key_id, secret = plaintext.split("_", 2)
    assert (prefix, key_id) == ("rk", principal.key_id)
    assert len(secret) == 43  # secrets.token_urlsafe(32)
    assert principal == Principal(
        principal.key_id, "BKD Jawa Barat", Role.PLANNER, frozenset({"I-32", "I-33"})
    )
    assert stores.keys.authenticate(plaintext) == principal


def test_keys_are_unique(stores: Stores) -> None:
    made = [stores.keys.create_key(f"platform {i}", "platform", ["I-1"]) for i in range(20)]
    assert len({p.key_id for p, _ in made}) == 20
    assert len({plain for _, plain in made}) == 20


def test_malformed_and_forged_keys_are_rejected(stores: Stores, planner: tuple[Principal, str]) -> None:
    _, plaintext = planner
    other_principal, other = stores.keys.create_key("LMS", "platform", ["I-32"])
    secret = secret_of(plaintext)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    forged = [
        "",
        "rk_",
        "rk_abc",
        plaintext + "x",
        plaintext[:-1],
        "xx" + plaintext[2:],
        plaintext.replace("rk_", "RK_", 1),
        f"rk_{planner[0].key_id}_{flipped}",
        f"rk_{other_principal.key_id}_{secret}",  # a real key id with another key's secret
        f"rk_{'0' * 16}_{secret}",  # unknown key id
        "rk_" + "a" * 10_000,
    ]
    for candidate in forged:
        assert stores.keys.authenticate(candidate) is None, candidate
    assert stores.keys.authenticate(other) == other_principal


def test_revoked_key_is_rejected_at_once_even_when_cached(
    stores: Stores, planner: tuple[Principal, str]
) -> None:
    principal, plaintext = planner
    assert stores.keys.authenticate(plaintext) == principal  # now cached
    assert stores.keys.revoke_key(principal.key_id) is True
    assert stores.keys.authenticate(plaintext) is None
    assert stores.keys.revoke_key(principal.key_id) is False, "already revoked"
    assert stores.keys.revoke_key("0" * 16) is False, "unknown"


def test_revocation_by_another_process_takes_effect_within_the_ttl(state_url: str) -> None:
    clock = FakeClock()
    with (
        Stores.open(state_url, nip_salt=SALT, cache_ttl=4.0, clock=clock) as api_side,
        Stores.open(state_url, nip_salt=SALT) as admin_side,
    ):
        api, admin = api_side.keys, admin_side.keys
        principal, plaintext = admin.create_key("ops", "admin")
        assert api.authenticate(plaintext) == principal
        assert admin.revoke_key(principal.key_id)
        clock.now += 3.9
        assert api.authenticate(plaintext) == principal, "served from the cache inside the TTL"
        clock.now += 0.2
        assert api.authenticate(plaintext) is None, "the TTL is a bound on revocation delay"


def test_the_cache_time_comes_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, state_db_url="sqlite:///state.db", nip_salt=SALT)
    assert settings.key_cache_seconds == 4.0
    with open_stores(settings) as stores:
        assert stores.keys.cache_ttl == 4.0
    with open_stores(settings.model_copy(update={"key_cache_seconds": 0.5})) as stores:
        assert stores.keys.cache_ttl == 0.5
    with pytest.raises(ValueError, match="cache_ttl must be >= 0"):
        Stores.open(f"sqlite:///{tmp_path}/other.db", nip_salt=SALT, cache_ttl=-1)


def test_creation_and_revocation_are_audited_in_their_transaction(stores: Stores) -> None:
    principal, _ = stores.keys.create_key("BKD Jabar", "planner", ["I-33", "I-32"])
    assert stores.keys.revoke_key(principal.key_id)
    assert not stores.keys.revoke_key(principal.key_id), "a second revocation writes nothing"
    frame = stores.audit.read()
    assert frame["action"].tolist() == [f"KEY CREATE {principal.key_id}", f"KEY REVOKE {principal.key_id}"]
    assert frame["role"].tolist() == ["operator", "operator"] and frame["key_id"].isna().all()
    created = json.loads(frame["detail"].iloc[0])
    assert (created["role"], created["agencies"]) == ("planner", ["I-32", "I-33"])
    assert len(created["secret"]) == 32, "a keyed fingerprint of the secret's hash, not the hash"
    assert stores.verify().ok


def test_api_keys_refuse_delete_and_every_update_but_revocation(stores: Stores, state_url: str) -> None:
    principal, plaintext = stores.keys.create_key("ops", "admin")
    refused = [
        "DELETE FROM api_keys",
        "UPDATE api_keys SET role = 'planner'",
        "UPDATE api_keys SET secret_sha256 = 'x'",
        "UPDATE api_keys SET name = 'other', revoked_at = created_at",
    ]
    for statement in refused:
        with pytest.raises(sa.exc.DatabaseError, match="api_keys"), raw(state_url) as conn:
            conn.exec_driver_sql(statement)
    assert stores.keys.authenticate(plaintext) == principal
    assert stores.keys.revoke_key(principal.key_id), "revoking is the one update allowed"
    with pytest.raises(sa.exc.DatabaseError, match="api_keys"), raw(state_url) as conn:
        conn.exec_driver_sql("UPDATE api_keys SET revoked_at = NULL")
    assert not stores.keys.list_keys()[0].active


def test_only_hashes_are_stored(db_path: Path) -> None:
    with Stores.open(f"sqlite:///{db_path}", nip_salt=SALT) as stores:
        _, plaintext = stores.keys.create_key("ops", "admin")
    data = db_bytes(db_path)
    secret = secret_of(plaintext)
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in data, "looked at the right file"
    assert secret.encode() not in data
    assert plaintext.encode() not in data


@pytest.mark.parametrize(
    ("name", "role", "agencies", "message"),
    [
        ("ops", "admin", ["I-1"], "admin key sees every agency"),
        ("bkd", "planner", [], "planner key needs at least one agency"),
        ("lms", "platform", [], "platform key needs at least one agency"),
        ("bkd", "boss", ["I-1"], "unknown role 'boss'"),
        ("  ", "planner", ["I-1"], "name is empty"),
        ("bkd", "planner", ["I-1", " "], r"agency \(instansi_id\) is empty"),
    ],
)
def test_invalid_keys_are_refused_with_a_clear_message(
    stores: Stores, name: str, role: str, agencies: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        stores.keys.create_key(name, role, agencies)
    assert isinstance(info.value, RekomendasiError) and info.value.status_code == 422
    assert stores.keys.list_keys() == []


def test_list_keys_shows_status_but_no_secret(stores: Stores, planner: tuple[Principal, str]) -> None:
    principal, plaintext = planner
    admin, _ = stores.keys.create_key("ops", "admin")
    stores.keys.revoke_key(admin.key_id)
    keys = {k.key_id: k for k in stores.keys.list_keys()}
    assert {f.name for f in dataclasses.fields(KeyInfo)} == {
        "key_id",
        "name",
        "role",
        "agencies",
        "created_at",
        "revoked_at",
        "origins",
    }
    assert keys[principal.key_id].active and keys[principal.key_id].agencies == {"I-32", "I-33"}
    assert not keys[admin.key_id].active and keys[admin.key_id].revoked_at is not None
    assert keys[admin.key_id].created_at.tzinfo is not None
    assert secret_of(plaintext) not in repr(keys)


# --- CLI ----------------------------------------------------------------------------------------


def _created_key(cli: typer.Typer, *args: str) -> str:
    result = runner.invoke(cli, ["keys", "create", *args])
    assert result.exit_code == 0, result.output
    keys = [line for line in result.stdout.splitlines() if line.startswith("rk_")]
    assert len(keys) == 1, result.stdout
    assert "not shown again" in result.stderr
    return keys[0]


def test_cli_create_list_revoke(cli: typer.Typer, tmp_path: Path) -> None:
    plaintext = _created_key(
        cli, "--name", "BKD Jabar", "--role", "planner", "--agency", "I-32", "--agency", "I-33"
    )
    assert (tmp_path / "var" / "state.db").is_file(), "relative URL resolved against REKOMENDASI_HOME"
    with open_stores(get_settings()) as stores:
        principal = stores.keys.authenticate(plaintext)
    assert principal is not None and principal.agencies == {"I-32", "I-33"}

    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert principal.key_id in listed.stdout and "BKD Jabar" in listed.stdout and "active" in listed.stdout
    assert secret_of(plaintext) not in listed.stdout

    revoked = runner.invoke(cli, ["keys", "revoke", principal.key_id])
    assert revoked.exit_code == 0, revoked.output
    assert "reject it within 4 s" in revoked.stdout, "the cache time of the settings"
    with open_stores(get_settings()) as stores:
        assert stores.keys.authenticate(plaintext) is None
    assert "revoked" in runner.invoke(cli, ["keys", "list"]).stdout
    assert_clean_failure(runner.invoke(cli, ["keys", "revoke", principal.key_id]), "no active key")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "ops", "--role", "admin", "--agency", "I-1"], "admin key sees every agency"),
        (["--name", "bkd", "--role", "planner"], "planner key needs at least one agency"),
        (["--name", "bkd", "--role", "boss", "--agency", "I-1"], "unknown role 'boss'"),
    ],
)
def test_cli_bad_key_input_exits_2_with_one_line(cli: typer.Typer, args: list[str], message: str) -> None:
    assert_clean_failure(runner.invoke(cli, ["keys", "create", *args]), message)
