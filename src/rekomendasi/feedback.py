"""What people did with their recommendations (accepted, rejected, ... objected, resolved), and the two
rules every reader of those rows shares: which rows are in force, and which objections stand.

Not the contract's ``feedback`` table (supervisors', peers' and the public's feedback on an employee):
these rows are about recommendations. The API, the widget, the planner's page and xAPI write them to the
state database (:mod:`rekomendasi.serving.store.feedback`), append-only: a mistaken row is never changed,
a later row ``corrects`` it. The recommendation core leaves standing objections out of every list
(:class:`rekomendasi.recommend.Objections`) and training turns the rest into examples
(:mod:`rekomendasi.ranking.feedback`), both through the functions here.
"""

from __future__ import annotations

from enum import StrEnum

import pandas as pd


class FeedbackEvent(StrEnum):
    """What happened to a recommendation.

    ``objected`` is the person contesting it (UU 27/2022 art. 10): the entry leaves that person's
    recommendations until a planner or admin records ``resolved`` for the same employee and training,
    after reviewing the objection with the person (both need a reason). An objection made again later
    stands again.
    """

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    OBJECTED = "objected"
    RESOLVED = "resolved"


FEEDBACK_COLUMNS = (
    "id",
    "nip",
    "training_id",
    "event",
    "reason",
    "model_version",
    "at",
    "key_id",
    "corrects",
)
"""Columns of a feedback export (``rekomendasi feedback export``), in order."""


def rows_in_force(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows no other row ``corrects`` (the last of each chain of corrections), in their order.

    The same rows as ``FeedbackStore.export(current_only=True)``; applying it to rows already in force
    changes nothing, so an export made either way can be read.

    Args:
        rows: feedback rows with at least ``id`` and ``corrects`` (empty or NA when a row corrects none).
    """
    corrected = pd.to_numeric(rows["corrects"], errors="coerce").dropna().astype("int64")
    return rows[~rows["id"].astype("int64").isin(corrected)]


def standing_objections(rows: pd.DataFrame) -> frozenset[tuple[str, str]]:
    """(nip, training_id) pairs whose objection stands: among the pair's rows in force that are
    ``objected`` or ``resolved``, the last (by id) is ``objected``.

    Args:
        rows: feedback rows with ``id``, ``nip``, ``training_id``, ``event`` and ``corrects``.
    """
    if rows.empty:
        return frozenset()
    current = rows_in_force(rows)
    marks = current[current["event"].isin((FeedbackEvent.OBJECTED, FeedbackEvent.RESOLVED))]
    last = marks.sort_values("id", kind="stable").drop_duplicates(["nip", "training_id"], keep="last")
    standing = last[last["event"] == FeedbackEvent.OBJECTED]
    return frozenset(zip(standing["nip"].astype(str), standing["training_id"].astype(str), strict=True))


__all__ = ["FEEDBACK_COLUMNS", "FeedbackEvent", "rows_in_force", "standing_objections"]
