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
    printable,
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


def test_scrub_nips_hashes_every_written_form_of_a_nip() -> None:
    """Printed with spaces (the usual form on documents), with dashes or dots, or mistyped to 19 digits:
    each is hashed, on its digits, so the forms of one NIP share a hash."""
    spaced = f"{NIP_A[:8]} {NIP_A[8:14]} {NIP_A[14]} {NIP_A[15:]}"
    dashed = spaced.replace(" ", "-")
    dotted = spaced.replace(" ", ".")
    hashed = f"nip:{hash_nip(NIP_A, SALT)}"
    for written in (spaced, dashed, dotted):
        assert scrub_nips(f"NIP {written}, bagian umum", SALT) == f"NIP {hashed}, bagian umum", written
    nineteen = NIP_A + "7"
    assert scrub_nips(f"order {nineteen} paid", SALT) == f"order nip:{hash_nip(nineteen, SALT)} paid"


def test_scrub_nips_leaves_longer_and_shorter_numbers_alone() -> None:
    twenty = NIP_A + "77"
    for text in (f"order {twenty} paid", f"x{twenty}", f"id 77{NIP_A}", f"/v1/employees/{NIP_A[:17]}"):
        assert scrub_nips(text, SALT) == text, text
    assert scrub_nips("tanggal 2025-12-31 pukul 10.30", SALT) == "tanggal 2025-12-31 pukul 10.30"
    assert scrub_nips(f"NIP{NIP_A}x", SALT) == f"NIPnip:{hash_nip(NIP_A, SALT)}x", "letters bound it"


def test_printable_escapes_control_characters() -> None:
    assert printable("GET /v1/x\nGET /forged 200\x00\u2028") == "GET /v1/x\\x0aGET /forged 200\\x00\\u2028"
    assert printable("biasa saja / ü") == "biasa saja / ü"


def test_key_format_round_trips_and_rejects_near_misses() -> None:
    key_id, secret = new_key_id(), new_secret()
    plaintext = format_key(key_id, secret)
    assert plaintext.startswith(f"{KEY_PREFIX}_") and parse_key(plaintext) == (key_id, secret)
    assert new_key_id() != key_id and new_secret() != secret
    for bad in ("", plaintext + "x", plaintext.upper(), f"{KEY_PREFIX}_{key_id}", f"xx_{key_id}_{secret}"):
        assert parse_key(bad) is None, bad
