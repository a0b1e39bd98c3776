"""Feedback on recommendations: what happened to each (accepted, enrolled, objected, ...).

Feedback keeps the raw NIP: it is training data, access-controlled, not a log; exports for data science
can replace it by its keyed hash.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pandas as pd
import sqlalchemy as sa

from rekomendasi.contract.schemas import NIP_DIGITS
from rekomendasi.serving.auth import Principal, hash_nip
from rekomendasi.serving.store.db import (
    METADATA,
    ROW_ID,
    Database,
    StateInputError,
    UtcDateTime,
    parse_choice,
    require_salt,
    required,
    utc_now,
)


class FeedbackEvent(StrEnum):
    """What happened to a recommendation. ``objected`` is the person contesting it (UU 27/2022 art. 10)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    OBJECTED = "objected"


FEEDBACK = sa.Table(
    "feedback",
    METADATA,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("nip", sa.String(32), nullable=False, index=True),
    sa.Column("training_id", sa.String(100), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(200), nullable=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
)

FEEDBACK_EXPORT_COLUMNS = ("nip", "training_id", "event", "reason", "model_version", "at", "key_id")
"""Columns of :meth:`FeedbackStore.export`, in order."""


class FeedbackStore:
    """Feedback rows in the state database.

    Args:
        db: The state database; the ``feedback`` table is created if missing.
        nip_salt: Secret key of :func:`~rekomendasi.serving.auth.hash_nip`, for pseudonymous exports.

    Raises:
        StateInputError: ``nip_salt`` is empty.
        ConfigError: The database cannot be opened.
    """

    def __init__(self, db: Database, nip_salt: str) -> None:
        self._nip_salt = require_salt(nip_salt)
        self._db = db
        db.create([FEEDBACK])

    def add(
        self,
        principal: Principal,
        nip: str,
        training_id: str,
        event: FeedbackEvent | str,
        reason: str = "",
        model_version: str | None = None,
    ) -> int:
        """Record what happened to a recommendation and return the new row's id.

        The caller must already have checked ``principal.can_see`` for the employee's agency: the store
        does not know agencies.

        Raises:
            StateInputError: NIP not 18 digits, empty training_id, unknown event, or an objection
                without a reason (an objection must say why, so a person can review it).
        """
        parsed = parse_choice(FeedbackEvent, event, "feedback event")
        row = {
            "nip": _clean_nip(nip),
            "training_id": required(training_id, "training_id"),
            "event": parsed.value,
            "reason": reason.strip(),
            "model_version": model_version,
            "at": utc_now(),
            "key_id": principal.key_id,
        }
        if parsed == FeedbackEvent.OBJECTED and not row["reason"]:
            raise StateInputError("an 'objected' feedback needs a reason: why the person contests it")
        with self._db.writing() as conn:
            new_id = conn.execute(FEEDBACK.insert(), row).inserted_primary_key
        assert new_id is not None  # an insert of one row always has a primary key
        return int(new_id[0])

    def export(self, pseudonymous: bool = False) -> pd.DataFrame:
        """Return all feedback, oldest first, with columns :data:`FEEDBACK_EXPORT_COLUMNS`.

        Args:
            pseudonymous: Replace each NIP by its ``hash_nip`` value, for data-science exports.
        """
        stmt = sa.select(*(FEEDBACK.c[name] for name in FEEDBACK_EXPORT_COLUMNS)).order_by(FEEDBACK.c.id)
        frame = self._db.frame(stmt, list(FEEDBACK_EXPORT_COLUMNS))
        if pseudonymous:
            frame["nip"] = [hash_nip(nip, self._nip_salt) for nip in frame["nip"]]
        return frame


def _clean_nip(nip: str) -> str:
    cleaned = nip.strip()
    if not re.fullmatch(NIP_DIGITS, cleaned):
        raise StateInputError(f"NIP must be exactly 18 digits, got {len(cleaned)} characters")
    return cleaned
