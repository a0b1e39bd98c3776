"""Who may call the API and how NIPs are kept out of logs: roles, principals, the key format, NIP hashing.

Pure functions and values, no database: the key store (:mod:`rekomendasi.serving.store.keys`) keeps the
keys, this module says what a key looks like and what its holder may see.

Personal data (UU 27/2022): logs keep only keyed hashes of NIPs (:func:`hash_nip`, :func:`scrub_nips`), so
the trail of "what was recommended to whom" can be searched by person without being a list of civil
servants.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_NIP_SALT = "rekomendasi"
"""The default of ``Settings.nip_salt``; public, so production must set its own secret."""
NIP_HASH_CHARS = 16
"""Hex characters kept of a NIP's HMAC-SHA256: 64 bits, collision-free at the scale of all ASN."""
KEY_PREFIX = "rk"
"""First part of every key's plaintext ``rk_<key_id>_<secret>``."""
_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{16}")  # secrets.token_hex(8)
_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
NIP_WRITTEN = re.compile(r"(?<!\d)\d(?:[ .-]?\d){17,18}(?!\d)")
"""A NIP as people write it inside text: 18 digits, or a mistyped 19, run together or grouped by single
spaces, dots or dashes (``19670301 198602 1 200``, the printed form), not part of a longer number."""
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class Role(StrEnum):
    """What an API key may do: ``admin`` sees every agency, the others only their own."""

    ADMIN = "admin"
    PLANNER = "planner"  # an agency's HR planner: recommendations with their evidence
    PLATFORM = "platform"  # a learning platform: recommendations and reasons, no raw evidence


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind an API key.

    Attributes:
        key_id: Public identifier of the key (not a secret; shown in lists and the audit log).
        name: Who holds the key, e.g. "BKD Provinsi Jawa Barat".
        role: What the key may do.
        agencies: instansi_id values the key may see; empty for admin, which sees all.
    """

    key_id: str
    name: str
    role: Role
    agencies: frozenset[str] = frozenset()

    def can_see(self, instansi_id: str) -> bool:
        """Return True when this caller may see employees of agency ``instansi_id``."""
        return self.role == Role.ADMIN or instansi_id in self.agencies

    @property
    def sees_evidence(self) -> bool:
        """bool: False for platforms, which get recommendations and reasons but no raw evidence."""
        return self.role != Role.PLATFORM


def hash_nip(nip: str, salt: str) -> str:
    """Return the keyed hash of a NIP (HMAC-SHA256, first :data:`NIP_HASH_CHARS` hex characters).

    Keyed, because a NIP encodes a birth date, an appointment month, sex and a short sequence: an unkeyed
    hash of so small a space is reversed by enumeration. Whoever knows ``salt`` can still do that, so it
    must be a secret of the deployment.
    """
    return hmac.new(salt.encode(), nip.strip().encode(), hashlib.sha256).hexdigest()[:NIP_HASH_CHARS]


def scrub_nips(text: str, salt: str) -> str:
    """Return ``text`` with every NIP in it replaced by ``nip:<hash_nip(digits, salt)>``.

    A NIP is found in any written form (:data:`NIP_WRITTEN`: run together, grouped by spaces, dots or
    dashes, 18 or 19 digits) and hashed on its digits alone, so each form of one NIP gives the same hash.
    Used for the audit log's free text and for the access log.
    """
    return NIP_WRITTEN.sub(lambda match: f"nip:{hash_nip(re.sub(r'[^0-9]', '', match.group(0)), salt)}", text)


def printable(text: str) -> str:
    """Return ``text`` with control characters (newlines, NUL, escape, C1 controls, Unicode line
    separators) written as ``\\xNN`` / ``\\uNNNN`` escapes, so a request cannot forge or break a log line."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group(0))
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(escape, text)


def new_key_id() -> str:
    """Return a fresh public key id: 16 hex characters."""
    return secrets.token_hex(8)


def new_secret() -> str:
    """Return a fresh key secret: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def format_key(key_id: str, secret: str) -> str:
    """Return the plaintext a key's holder sends: ``rk_<key_id>_<secret>``."""
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def parse_key(plaintext: str) -> tuple[str, str] | None:
    """Split ``rk_<key_id>_<secret>`` into (key_id, secret); None unless every part has its exact shape."""
    parts = plaintext.split("_", 2) if isinstance(plaintext, str) else []
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    if not _KEY_ID_PATTERN.fullmatch(key_id) or not _SECRET_PATTERN.fullmatch(secret):
        return None
    return key_id, secret


def sha256_hex(text: str) -> str:
    """Return the SHA-256 of ``text`` as 64 hex characters: how key secrets are stored and cached.

    A plain hash is enough for a 256-bit random secret; password stretching would only slow each request.
    """
    return hashlib.sha256(text.encode()).hexdigest()
