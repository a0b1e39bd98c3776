"""Training examples from what people did with their recommendations (the API, the widget, xAPI).

The rows in force of a feedback export (:func:`rekomendasi.feedback.rows_in_force`: a corrected row
counts as its correction) become examples for the ranker, one per (employee, entry) pair, beside the
outcome examples of :mod:`.labels` (whose weight is 1):

- ``rejected`` (the pair's latest answer among accepted, enrolled and rejected): label 0 at weight
  :data:`REJECTED_WEIGHT`, 0.5. An observed non-completion (label 0 of an outcome) is someone who chose
  the course and did not finish it; "not relevant" is a cheaper click, sometimes about timing or
  cost rather than fit, so it counts half.
- ``completed``: label :data:`COMPLETED_LABEL`, 1, at weight 1: the grade of a completion whose progress
  was not measured. When the enrolment is in ``training_history`` in a label year, the outcome example
  (graded 0-3 by measured progress) is the one used and the feedback row adds nothing.
- ``accepted`` or ``enrolled`` without a completion: no example. Accepting says the person wants the
  course, not that it helped; a positive label would teach the ranker what people click, a negative one
  would punish courses still running. Its outcome arrives later as an enrolment in the history (then
  an outcome example) or a ``completed`` row.
- a standing objection (``objected``, not ``resolved``): the pair is dropped, from training as from the
  recommendations. A resolved objection leaves the pair's other rows to decide.

Dates follow :mod:`.labels`: the pair's first answer (in force, up to the as-of date) in year Y takes
its features from the snapshot at the end of Y-1, what was known when the recommendation was answered,
and its query is ``position_id|Y``, so answers and enrolments of one position and year are ranked
together. Rows after the as-of date are left out (a label may not come from after the cut); objections
count whenever they were made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rekomendasi.candidates import Candidates, Catalogue, build_matrices
from rekomendasi.contract import Dataset
from rekomendasi.contract.schemas import TrainingHistory
from rekomendasi.errors import DataContractError
from rekomendasi.features import Snapshot
from rekomendasi.feedback import FeedbackEvent, rows_in_force, standing_objections
from rekomendasi.ranking.labels import Examples
from rekomendasi.ranking.pairs import FEATURES, pair_features

REJECTED_WEIGHT = 0.5
"""Weight of a rejection (label 0); an observed non-completion weighs 1."""
COMPLETED_LABEL = 1
"""Grade of a completion reported as feedback (outcome grades: 0 not completed, 1 completed without
measured progress, 2-3 progress above the year's median and 80th percentile)."""
COMPLETED_WEIGHT = 1.0
"""Weight of a completion reported as feedback."""

_NEEDED = ("id", "nip", "training_id", "event", "at", "corrects")
_ANSWERS = (FeedbackEvent.ACCEPTED, FeedbackEvent.ENROLLED, FeedbackEvent.REJECTED, FeedbackEvent.COMPLETED)


@dataclass(frozen=True)
class FeedbackExamples:
    """Examples made from feedback, row-aligned with a weight each.

    Attributes:
        examples: rows like the outcome examples (``improvement`` is NaN: nothing was measured).
        weight: [n] the weight of each row, in (0, 1].
        counts: pairs by what became of them: ``rejected`` and ``completed`` (examples), ``accepted``
            (no example), ``objected`` (standing objections: dropped), ``in_history`` (the outcome
            example is used), ``unmatched`` (no snapshot before the answer, or the employee or entry
            not in it), ``held_out`` (evaluation employees); and ``after_as_of`` rows left out.
    """

    examples: Examples
    weight: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.weight)

    def without(self, nips: np.ndarray) -> FeedbackExamples:
        """The examples of employees other than ``nips`` (the held-out ones: never trained on)."""
        drop = pd.Index(self.examples.nip).isin(nips)
        if not drop.any():
            return self
        keep = ~drop
        e = self.examples
        counts = dict(self.counts)
        for kind in ("rejected", "completed"):
            gone = int((drop & (e.label == (0 if kind == "rejected" else COMPLETED_LABEL))).sum())
            counts[kind] = counts.get(kind, 0) - gone
            counts["held_out"] = counts.get("held_out", 0) + gone
        kept = Examples(
            features=e.features[keep].reset_index(drop=True),
            label=e.label[keep],
            qid=e.qid[keep],
            year=e.year[keep],
            nip=e.nip[keep],
            improvement=e.improvement[keep],
            training_id=e.training_id[keep],
            progress=e.progress[keep],
        )
        return FeedbackExamples(kept, self.weight[keep], counts)


def read_feedback_file(path: Path) -> pd.DataFrame:
    """A feedback export (``rekomendasi feedback export``, CSV or Parquet) as the store exports it.

    Raises:
        DataContractError: not .csv or .parquet, or a needed column is missing.
    """
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        frame = pd.read_csv(path, dtype={"nip": str, "training_id": str, "event": str})
    else:
        raise DataContractError(f"{path}: a feedback export is .csv or .parquet")
    _check_columns(frame, str(path))
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def feedback_examples(
    dataset: Dataset,
    feedback: pd.DataFrame | None,
    snapshots: Mapping[int, Snapshot],
    as_of: dt.date,
    label_years: Sequence[int],
) -> FeedbackExamples:
    """Examples of the feedback rows (the columns of a feedback export), as the module says.

    Args:
        dataset: the data the outcome examples come from (history, positions).
        feedback: feedback rows, all of them or those in force; None or empty: no examples.
        snapshots: year -> snapshot at 31 December of it; an answer in year Y needs Y-1 (none is built).
        as_of: the training's cut: later answers are left out.
        label_years: the years whose enrolments have outcome examples.

    Raises:
        DataContractError: a needed column is missing.
    """
    if feedback is None or feedback.empty:
        return _empty()
    _check_columns(feedback, "feedback")
    rows = rows_in_force(feedback)
    objected = standing_objections(rows)
    at = pd.to_datetime(rows["at"], utc=True)
    answers = rows[rows["event"].isin(_ANSWERS)].assign(date=at.dt.date)
    late = answers["date"] > as_of
    answers = answers[~late]
    pairs = _pairs(answers)
    counts = {"after_as_of": int(late.sum())}
    key = list(zip(pairs["nip"], pairs["training_id"], strict=True))
    is_objected = np.fromiter((k in objected for k in key), dtype=bool, count=len(key))
    counts["objected"] = len(objected)  # answered or not: none becomes an example
    pairs = pairs[~is_objected]
    counts["accepted"] = int((pairs["kind"] == "accepted").sum())
    pairs = pairs[pairs["kind"] != "accepted"]
    in_history = _in_history(dataset, pairs, label_years)
    counts["in_history"] = int(in_history.sum())
    pairs = pairs[~in_history]
    parts = []
    for year in sorted({int(y) for y in pairs["year"]}):
        if year - 1 in snapshots:
            parts.append(_year_rows(dataset, pairs[pairs["year"] == year], snapshots[year - 1], year))
    frame = pd.concat(parts, ignore_index=True) if parts else None
    made = 0 if frame is None else len(frame)
    counts["unmatched"] = len(pairs) - made
    if frame is None or not made:
        return _empty(counts)
    rejected = (frame["kind"] == "rejected").to_numpy()
    counts["rejected"] = int(rejected.sum())
    counts["completed"] = int((~rejected).sum())
    examples = Examples(
        features=frame[list(FEATURES)],
        label=np.where(rejected, 0, COMPLETED_LABEL).astype(int),
        qid=frame["qid"].to_numpy(),
        year=frame["year"].to_numpy(dtype=int),
        nip=frame["nip"].to_numpy(dtype=object),
        improvement=np.full(made, np.nan),
        training_id=frame["training_id"].to_numpy(dtype=object),
        progress=np.full(made, np.nan),
    )
    return FeedbackExamples(examples, np.where(rejected, REJECTED_WEIGHT, COMPLETED_WEIGHT), counts)


def training_rows(
    examples: Examples, train: np.ndarray, extra: FeedbackExamples
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray | None]:
    """The training rows (X, y, qid, weight) of ``examples[train]`` followed by ``extra``; the weight is
    None when there is no feedback example (a fit without weights, exactly as before feedback)."""
    X, y, qid = examples.features[train], examples.label[train], examples.qid[train]
    if not len(extra):
        return X, y, qid, None
    e = extra.examples
    return (
        pd.concat([X, e.features[list(X.columns)]], ignore_index=True),
        np.concatenate([y, e.label]),
        np.concatenate([qid.astype(object), e.qid.astype(object)]),
        np.concatenate([np.ones(len(y)), extra.weight]),
    )


def _pairs(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per (nip, training_id): its kind (completed, rejected or accepted) and the year of its
    first answer."""
    if answers.empty:
        return pd.DataFrame({"nip": [], "training_id": [], "kind": [], "year": []})
    ordered = answers.sort_values("id", kind="stable")
    group = ordered.groupby(["nip", "training_id"], sort=True)
    first = group["date"].min()
    completed = group["event"].agg(lambda e: bool((e == FeedbackEvent.COMPLETED).any()))
    choices = ordered[ordered["event"] != FeedbackEvent.COMPLETED]
    last = choices.groupby(["nip", "training_id"])["event"].last().reindex(first.index)
    kind = np.where(completed, "completed", np.where(last == FeedbackEvent.REJECTED, "rejected", "accepted"))
    out = first.index.to_frame(index=False).astype({"nip": str, "training_id": str})
    out["kind"] = kind
    out["year"] = [d.year for d in first.to_numpy()]
    return out


def _in_history(dataset: Dataset, pairs: pd.DataFrame, label_years: Sequence[int]) -> np.ndarray:
    """[n] bool: the pair is an enrolment of ``training_history`` in a label year (an outcome example)."""
    history = dataset["training_history"]
    years = history[TrainingHistory.enrolled_on].dt.year
    taken = history[years.isin(list(label_years))]
    known = pd.MultiIndex.from_arrays(
        [taken[TrainingHistory.nip].astype(str), taken[TrainingHistory.training_id].astype(str)]
    )
    return np.asarray(pd.MultiIndex.from_frame(pairs[["nip", "training_id"]]).isin(known), dtype=bool)


def _year_rows(dataset: Dataset, pairs: pd.DataFrame, before: Snapshot, year: int) -> pd.DataFrame:
    """Feature rows of one year's pairs from the snapshot before it; pairs whose employee or entry it
    does not hold are left out."""
    m = build_matrices(before.subset(pairs["nip"]), Catalogue.from_snapshot(before))
    n_index = {str(n): i for i, n in enumerate(m.nips)}
    t_index = {str(t): i for i, t in enumerate(m.catalogue.ids)}
    pairs = pairs[pairs["nip"].isin(n_index) & pairs["training_id"].isin(t_index)].reset_index(drop=True)
    located = pd.DataFrame(
        {
            Candidates.emp: pairs["nip"].map(n_index).to_numpy(dtype=np.int64),
            Candidates.entry: pairs["training_id"].map(t_index).to_numpy(dtype=np.int64),
        }
    )
    out = pair_features(m, located)
    # One query per person and year: an answer says how this course compares with the others the same
    # person was shown, not with what people elsewhere in the position took.
    out["qid"] = ("answers|" + pairs["nip"].astype(str) + f"|{year}").to_numpy()
    out["year"] = year
    out["nip"] = pairs["nip"].to_numpy(dtype=object)
    out["training_id"] = pairs["training_id"].to_numpy(dtype=object)
    out["kind"] = pairs["kind"].to_numpy()
    return out


def _check_columns(frame: pd.DataFrame, where: str) -> None:
    missing = [c for c in _NEEDED if c not in frame.columns]
    if missing:
        raise DataContractError(
            f"{where}: feedback needs the columns {', '.join(_NEEDED)}; missing {', '.join(missing)} "
            "(export it with `rekomendasi feedback export`)"
        )


def _empty(counts: dict[str, int] | None = None) -> FeedbackExamples:
    examples = Examples(
        features=pd.DataFrame(columns=list(FEATURES), dtype=float),
        label=np.zeros(0, dtype=int),
        qid=np.zeros(0, dtype=object),
        year=np.zeros(0, dtype=int),
        nip=np.zeros(0, dtype=object),
        improvement=np.zeros(0),
        training_id=np.zeros(0, dtype=object),
        progress=np.zeros(0),
    )
    return FeedbackExamples(examples, np.zeros(0), {"rejected": 0, "completed": 0, **(counts or {})})
