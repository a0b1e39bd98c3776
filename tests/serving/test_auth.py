"""Roles and their scopes, the key format and NIP hashing (serving.auth): pure functions, no database."""

from __future__ import annotations

import hashlib

from rekomendasi.serving.auth import (
    KEY_PREFIX,
    Principal,
    Role,
    format_key,
    hash_nip,
    new_key_id,
    new_secret,
    parse_key,
    scrub_nips,
)

from .conftest import NIP_A, NIP_B, SALT


def test_role_scoping() -> None:
    admin = Principal("a", "ops", Role.ADMIN)
    planner = Principal("p", "bkd", Role.PLANNER, frozenset({"I-32"}))
    platform = Principal("l", "lms", Role.PLATFORM, frozenset({"I-32", "I-33"}))
    assert admin.can_see("I-32") and admin.can_see("I-99")
    assert planner.can_see("I-32") and not planner.can_see("I-33") and not planner.can_see("")
    assert platform.can_see("I-33") and not platform.can_see("I-99")
    assert admin.sees_evidence and planner.sees_evidence and not platform.sees_evidence


def test_hash_nip_is_keyed_short_and_stable() -> None:
    digest = hash_nip(NIP_A, SALT)
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert digest == hash_nip(f" {NIP_A} ", SALT)
    assert digest != hash_nip(NIP_A, "another-salt")
    assert digest != hash_nip(NIP_B, SALT)
    assert digest != hashlib.sha256(NIP_A.encode()).hexdigest()[:16], "keyed, not a plain hash"


def test_scrub_nips_hashes_a_nip_in_a_path() -> None:
    path = f"/v1/employees/{NIP_A}/recommendations"
    assert scrub_nips(path, SALT) == f"/v1/employees/nip:{hash_nip(NIP_A, SALT)}/recommendations"
    both = scrub_nips(f"{NIP_A},{NIP_B}", SALT)
    assert both == f"nip:{hash_nip(NIP_A, SALT)},nip:{hash_nip(NIP_B, SALT)}"
    assert scrub_nips("/v1/catalog/TRN-0001", SALT) == "/v1/catalog/TRN-0001"


def test_scrub_nips_leaves_longer_and_shorter_numbers_alone() -> None:
    nineteen = NIP_A + "7"
    assert len(nineteen) == 19
    for text in (f"order {nineteen} paid", f"x{nineteen}", f"id 7{NIP_A}", f"/v1/employees/{NIP_A[:17]}"):
        assert scrub_nips(text, SALT) == text, text
    assert scrub_nips(f"NIP{NIP_A}x", SALT) == f"NIPnip:{hash_nip(NIP_A, SALT)}x", "letters bound it"


def test_key_format_round_trips_and_rejects_near_misses() -> None:
    key_id, secret = new_key_id(), new_secret()
    plaintext = format_key(key_id, secret)
    assert plaintext.startswith(f"{KEY_PREFIX}_") and parse_key(plaintext) == (key_id, secret)
    assert new_key_id() != key_id and new_secret() != secret
    for bad in ("", plaintext + "x", plaintext.upper(), f"{KEY_PREFIX}_{key_id}", f"xx_{key_id}_{secret}"):
        assert parse_key(bad) is None, bad
