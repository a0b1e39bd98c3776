"""Feedback on recommendations: what happened to each (accepted, enrolled, objected, ...).

Feedback is append-only and hash-chained like the audit log (:mod:`.chain`): a mistaken row is never
changed, a new row ``corrects`` it, and :meth:`FeedbackStore.export` can give only the rows in force.

Feedback keeps the raw NIP: it is training data, access-controlled, not a log; exports for data science
can replace it by its keyed hash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from rekomendasi.contract.schemas import NIP_DIGITS
from rekomendasi.feedback import FEEDBACK_COLUMNS, FeedbackEvent, standing_objections
from rekomendasi.serving.auth import Principal, hash_nip
from rekomendasi.serving.store.chain import HashChain
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

FEEDBACK = sa.Table(
    "feedback",
    METADATA,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=False),  # the chain sets it
    sa.Column("nip", sa.String(32), nullable=False, index=True),
    sa.Column("training_id", sa.String(100), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(200), nullable=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("corrects", ROW_ID, nullable=True, index=True),  # id of the earlier row this one replaces
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),
)

FEEDBACK_EXPORT_COLUMNS = FEEDBACK_COLUMNS
"""Columns of :meth:`FeedbackStore.export`, in order."""


class FeedbackStore:
    """Feedback rows in the state database.

    Open it through :class:`~rekomendasi.serving.store.Stores`, which creates (or migrates) its table.

    Args:
        db: The state database.
        nip_salt: Secret key of :func:`~rekomendasi.serving.auth.hash_nip`, for pseudonymous exports.
        key: The hash chain's key (:func:`~rekomendasi.serving.store.chain.chain_key`).

    Raises:
        StateInputError: ``nip_salt`` is empty.
    """

    def __init__(self, db: Database, nip_salt: str, key: bytes) -> None:
        self._nip_salt = require_salt(nip_salt)
        self._db = db
        self.chain = HashChain(FEEDBACK, key)

    def add(
        self,
        principal: Principal,
        nip: str,
        training_id: str,
        event: FeedbackEvent | str,
        reason: str = "",
        model_version: str | None = None,
        corrects: int | None = None,
    ) -> int:
        """Record what happened to a recommendation and return the new row's id.

        The caller must already have checked ``principal.can_see`` for the employee's agency: the store
        does not know agencies.

        Args:
            principal: Who reports it.
            nip: The employee (18 digits).
            training_id: The recommended training.
            event: What happened.
            reason: Why (required for ``objected``, and for ``resolved``: how the objection was reviewed).
            model_version: Model that made the recommendation, if known.
            corrects: Id of an earlier row, for the same ``nip`` and ``training_id``, that this row
                replaces (a row is never changed); None for new feedback. A row is corrected at most once:
                to correct it again, correct its correction.

        Raises:
            StateInputError: NIP not 18 digits, empty training_id, unknown event, an objection without a
                reason (an objection must say why, so a person can review it), a resolution without a
                reason or without a standing objection of that employee to that training to resolve, or
                a ``corrects`` that is no row, is about another employee or training, or was already
                corrected; a training_id or model_version longer than its column (100 and 200
                characters).
        """
        parsed = parse_choice(FeedbackEvent, event, "feedback event")
        row: dict[str, object] = {
            "nip": _clean_nip(nip),
            "training_id": _bounded(required(training_id, "training_id"), "training_id"),
            "event": parsed.value,
            "reason": reason.strip(),
            "model_version": None if model_version is None else _bounded(model_version, "model_version"),
            "at": utc_now(),
            "key_id": principal.key_id,
            "corrects": corrects,
        }
        if parsed == FeedbackEvent.OBJECTED and not row["reason"]:
            raise StateInputError("an 'objected' feedback needs a reason: why the person contests it")
        if parsed == FeedbackEvent.RESOLVED and not row["reason"]:
            raise StateInputError("a 'resolved' feedback needs a reason: how the objection was reviewed")
        with self._db.writing(self.chain.lock) as conn:
            if corrects is not None:
                self._check_correction(conn, corrects, str(row["nip"]), str(row["training_id"]))
            if parsed == FeedbackEvent.RESOLVED:
                self._check_standing(conn, str(row["nip"]), str(row["training_id"]), corrects)
            (stored,) = self.chain.append(conn, [row])
        return int(str(stored["id"]))

    def export(self, pseudonymous: bool = False, current_only: bool = False) -> pd.DataFrame:
        """Return feedback, oldest first, with columns :data:`FEEDBACK_EXPORT_COLUMNS`.

        Args:
            pseudonymous: Replace each NIP by its ``hash_nip`` value, for data-science exports.
            current_only: Only the rows in force: the last row of each chain of corrections (rows no
                other row ``corrects``).
        """
        stmt = sa.select(*(FEEDBACK.c[name] for name in FEEDBACK_EXPORT_COLUMNS)).order_by(FEEDBACK.c.id)
        if current_only:
            later = FEEDBACK.alias("later")
            stmt = stmt.where(~sa.exists().where(later.c.corrects == FEEDBACK.c.id))
        frame = self._db.frame(stmt, list(FEEDBACK_EXPORT_COLUMNS))
        frame["id"] = frame["id"].astype("int64")
        frame["corrects"] = frame["corrects"].astype("Int64")  # nullable: most rows correct nothing
        if pseudonymous:
            frame["nip"] = [hash_nip(nip, self._nip_salt) for nip in frame["nip"]]
        return frame

    def standing_objections(self, nips: Sequence[str] | None = None) -> frozenset[tuple[str, str]]:
        """(nip, training_id) pairs whose objection stands now
        (:func:`rekomendasi.feedback.standing_objections`), for ``nips`` only (one indexed query; every
        answer asks) or for everyone when None."""
        if nips is not None and not len(nips):
            return frozenset()
        stmt = self._marks().where(~self._corrected())
        if nips is not None:
            stmt = stmt.where(FEEDBACK.c.nip.in_(sorted(set(nips))))
        with self._db.reading() as conn:
            rows = conn.execute(stmt).all()
        return standing_objections(pd.DataFrame([tuple(r) for r in rows], columns=list(_MARK_COLUMNS)))

    @staticmethod
    def _marks() -> sa.Select[Any]:
        """The objected and resolved rows (which decide whether an objection stands)."""
        return sa.select(*(FEEDBACK.c[name] for name in _MARK_COLUMNS)).where(
            FEEDBACK.c.event.in_((FeedbackEvent.OBJECTED.value, FeedbackEvent.RESOLVED.value))
        )

    @staticmethod
    def _corrected() -> sa.Exists:
        later = FEEDBACK.alias("later")
        return sa.exists().where(later.c.corrects == FEEDBACK.c.id)

    def _check_standing(self, conn: sa.Connection, nip: str, training_id: str, corrects: int | None) -> None:
        """A resolution needs an objection to resolve: one standing for the pair, leaving aside the row
        the resolution corrects (a resolution corrected by a resolution still resolves it)."""
        stmt = self._marks().where(
            FEEDBACK.c.nip == nip, FEEDBACK.c.training_id == training_id, ~self._corrected()
        )
        rows = pd.DataFrame([tuple(r) for r in conn.execute(stmt).all()], columns=list(_MARK_COLUMNS))
        if corrects is not None:
            rows = rows[rows["id"] != corrects]
        if (nip, training_id) not in standing_objections(rows):
            raise StateInputError(
                f"no standing objection of this employee to training {training_id!r} to resolve; "
                "'resolved' closes an 'objected' row that was not resolved or corrected yet"
            )

    @staticmethod
    def _check_correction(conn: sa.Connection, corrects: int, nip: str, training_id: str) -> None:
        earlier = conn.execute(
            sa.select(FEEDBACK.c.nip, FEEDBACK.c.training_id).where(FEEDBACK.c.id == corrects)
        ).first()
        if earlier is None:
            raise StateInputError(
                f"corrects={corrects}: there is no feedback row {corrects}; give the id of the row to replace"
            )
        if (earlier.nip, earlier.training_id) != (nip, training_id):
            # The message names neither the other NIP nor its training: the caller may not see them.
            raise StateInputError(
                f"corrects={corrects}: feedback row {corrects} is about another employee or training; "
                "a correction must have the same nip and training_id as the row it replaces"
            )
        later = conn.execute(sa.select(FEEDBACK.c.id).where(FEEDBACK.c.corrects == corrects)).first()
        if later is not None:
            raise StateInputError(
                f"corrects={corrects}: feedback row {corrects} was already corrected by row {later.id}; "
                f"correct row {later.id} instead"
            )


_MARK_COLUMNS = ("id", "nip", "training_id", "event", "corrects")


def _clean_nip(nip: str) -> str:
    cleaned = nip.strip()
    if not re.fullmatch(NIP_DIGITS, cleaned):
        raise StateInputError(f"NIP must be exactly 18 digits, got {len(cleaned)} characters")
    return cleaned


def _bounded(text: str, column: str) -> str:
    length = FEEDBACK.c[column].type.length  # type: ignore[attr-defined]
    if len(text) > length:
        raise StateInputError(f"{column} has {len(text)} characters; at most {length} are allowed")
    return text
