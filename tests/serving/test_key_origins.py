"""The web origins of a platform key (the widget's CORS allow-list): stored, audited, changed, listed,
ended with the key, and the `keys` CLI's --origin. On sqlite and PostgreSQL."""

from __future__ import annotations

import typer

from rekomendasi.serving.auth import Role
from rekomendasi.serving.store import Stores, open_stores
from rekomendasi.settings import get_settings

from .conftest import assert_clean_failure, runner

LMS = "https://lms.example.go.id"


def test_origins_are_kept_audited_and_replaced(stores: Stores) -> None:
    principal, _ = stores.keys.create_key(
        "LMS", Role.PLATFORM, ["I-1"], origins=[LMS + "/", "HTTP://Localhost:8080"]
    )
    assert stores.keys.origins(principal.key_id) == {LMS, "http://localhost:8080"}
    assert stores.keys.all_origins() == {LMS, "http://localhost:8080"}
    audit = stores.audit.read(limit=5)
    assert f"KEY ORIGINS {principal.key_id}" in audit["action"].tolist()
    assert stores.keys.set_origins(principal.key_id, [LMS]) == [LMS]
    assert stores.keys.origins(principal.key_id) == {LMS}
    listed = next(k for k in stores.keys.list_keys() if k.key_id == principal.key_id)
    assert listed.origins == {LMS}
    assert stores.keys.set_origins(principal.key_id, []) == []
    assert stores.keys.origins(principal.key_id) == frozenset()


def test_a_revoked_keys_origins_are_no_longer_allowed(stores: Stores) -> None:
    principal, _ = stores.keys.create_key("LMS", Role.PLATFORM, ["I-1"], origins=[LMS])
    other, _ = stores.keys.create_key("LMS 2", Role.PLATFORM, ["I-1"], origins=["https://b.example"])
    stores.keys.revoke_key(principal.key_id)
    assert stores.keys.all_origins() == {"https://b.example"}
    assert stores.keys.origins(principal.key_id) == frozenset()
    assert other.key_id


def test_the_cli_sets_origins(cli: typer.Typer) -> None:
    made = runner.invoke(
        cli, ["keys", "create", "--name", "LMS", "--role", "platform", "--agency", "I-1", "--origin", LMS]
    )
    assert made.exit_code == 0, made.output
    with open_stores(get_settings()) as stores:
        (key,) = stores.keys.list_keys()
    assert key.origins == {LMS}
    listed = runner.invoke(cli, ["keys", "list"])
    assert LMS in listed.stdout
    changed = runner.invoke(cli, ["keys", "origins", key.key_id, "--origin", "https://b.example"])
    assert changed.exit_code == 0 and "https://b.example" in changed.stdout
    assert_clean_failure(
        runner.invoke(cli, ["keys", "origins", key.key_id, "--origin", "b.example"]), "origin"
    )
    assert_clean_failure(runner.invoke(cli, ["keys", "origins", "0123456789abcdef"]), "no active key")
    bad = runner.invoke(
        cli, ["keys", "create", "--name", "x", "--role", "platform", "--agency", "I-1", "--origin", "ftp://x"]
    )
    assert_clean_failure(bad, "origin")
