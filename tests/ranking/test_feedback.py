"""Feedback rows on recommendations -> training examples: labels, weights, dates (features from the
snapshot before the answer), objections and corrections, the outcome label winning, held-out employees,
and the training rows they join."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.candidates import Candidates, build_matrices
from rekomendasi.contract import Dataset
from rekomendasi.errors import DataContractError
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot
from rekomendasi.feedback import FEEDBACK_COLUMNS, rows_in_force, standing_objections
from rekomendasi.ranking.feedback import (
    COMPLETED_LABEL,
    REJECTED_WEIGHT,
    feedback_examples,
    read_feedback_file,
    training_rows,
)
from rekomendasi.ranking.labels import Examples
from rekomendasi.ranking.pairs import FEATURES, pair_features

AS_OF = dt.date(2025, 12, 31)
YEARS = [2024, 2025]


@pytest.fixture(scope="module")
def snapshots(small_dataset: Dataset, spec: EvidenceSpec) -> dict[int, Snapshot]:
    return {y: build_snapshot(small_dataset, dt.date(y, 12, 31), spec, encoder=None) for y in (2023, 2024)}


class Rows:
    """Feedback rows written the way the store exports them (ids in order, times in UTC)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def add(self, nip: str, training_id: str, event: str, on: str, corrects: int | None = None) -> int:
        row_id = len(self.rows) + 1
        reason = "alasan" if event in ("objected", "resolved") else ""
        self.rows.append(
            {
                "id": row_id,
                "nip": nip,
                "training_id": training_id,
                "event": event,
                "reason": reason,
                "model_version": "3",
                "at": pd.Timestamp(on, tz="UTC"),
                "key_id": "k",
                "corrects": corrects,
            }
        )
        return row_id

    def frame(self) -> pd.DataFrame:
        out = pd.DataFrame(self.rows, columns=list(FEEDBACK_COLUMNS))
        out["corrects"] = out["corrects"].astype("Int64")
        return out


def _cast(
    small_dataset: Dataset, snapshots: dict[int, Snapshot]
) -> tuple[list[str], list[str], tuple[str, str]]:
    """Employees and entries known to the 2023 and 2024 snapshots and never enrolled by them in 2024-25,
    and one enrolment of 2025 from the history."""
    history = small_dataset["training_history"]
    recent = history[history["enrolled_on"].dt.year.isin(YEARS)]
    ids = [
        t
        for t in build_matrices(snapshots[2024]).catalogue.ids
        if t in set(build_matrices(snapshots[2023]).catalogue.ids) and t not in set(recent["training_id"])
    ]
    both = set(snapshots[2023].roster["nip"]) & set(snapshots[2024].roster["nip"])
    nips = sorted(n for n in both if n not in set(recent["nip"]))
    taken = recent[recent["enrolled_on"].dt.year == 2025].iloc[0]
    assert len(ids) >= 3 and len(nips) >= 9
    return nips, ids, (str(taken["nip"]), str(taken["training_id"]))


def test_rows_become_labelled_weighted_examples_with_features_from_before_the_answer(
    small_dataset: Dataset, snapshots: dict[int, Snapshot]
) -> None:
    nips, ids, enrolled = _cast(small_dataset, snapshots)
    t = ids[0]
    rows = Rows()
    rows.add(nips[0], t, "accepted", "2025-02-03")
    rows.add(nips[0], t, "completed", "2025-05-20")  # completed: label 1, weight 1, features of 2024
    rows.add(nips[1], t, "rejected", "2025-03-01")  # rejected: label 0, weight 0.5
    rows.add(nips[2], t, "accepted", "2025-03-01")  # accepted only: no example
    rows.add(nips[3], t, "rejected", "2025-03-01")
    rows.add(nips[3], t, "objected", "2025-03-02")  # a standing objection: dropped
    rows.add(nips[4], t, "rejected", "2025-03-01")
    rows.add(nips[4], t, "objected", "2025-03-02")
    rows.add(nips[4], t, "resolved", "2025-04-02")  # resolved: the rejection counts again
    wrong = rows.add(nips[5], t, "rejected", "2025-03-01")
    rows.add(nips[5], t, "accepted", "2025-03-01", corrects=wrong)  # corrected into accepted: no example
    rows.add(enrolled[0], enrolled[1], "completed", "2025-06-01")  # in the history: the outcome wins
    rows.add(nips[6], t, "rejected", "2026-01-05")  # after the as-of date: left out
    rows.add(nips[7], t, "accepted", "2024-11-20")
    rows.add(nips[7], t, "completed", "2025-02-10")  # first answered in 2024: features of 2023
    rows.add("199901012020121001", t, "rejected", "2025-03-01")  # nobody in the snapshot
    out = feedback_examples(small_dataset, rows.frame(), snapshots, AS_OF, YEARS)

    e = out.examples
    got = {
        (str(n), int(y)): (int(label), float(w))
        for n, y, label, w in zip(e.nip, e.year, e.label, out.weight, strict=True)
    }
    assert got == {
        (nips[0], 2025): (COMPLETED_LABEL, 1.0),
        (nips[1], 2025): (0, REJECTED_WEIGHT),
        (nips[4], 2025): (0, REJECTED_WEIGHT),
        (nips[7], 2024): (COMPLETED_LABEL, 1.0),
    }
    assert out.counts == {
        "after_as_of": 1,
        "objected": 1,
        "accepted": 2,
        "in_history": 1,
        "unmatched": 1,
        "rejected": 2,
        "completed": 2,
    }
    assert list(e.features.columns) == list(FEATURES) and np.isnan(e.improvement).all()
    assert set(e.training_id) == {t}
    # One query per person and year: answers rank the courses that person was shown, apart from the
    # outcome examples' position queries.
    assert list(e.qid) == [f"answers|{n}|{y}" for n, y in zip(e.nip, e.year, strict=True)]
    assert np.isnan(e.progress).all()
    for year in (2024, 2025):
        m = build_matrices(snapshots[year - 1])
        row = int(np.flatnonzero(e.year == year)[0])
        pair = pd.DataFrame(
            {
                Candidates.emp: [list(m.nips).index(e.nip[row])],
                Candidates.entry: [list(m.catalogue.ids).index(t)],
            }
        )
        expected = pair_features(m, pair).iloc[0]
        np.testing.assert_allclose(e.features.iloc[row].to_numpy(), expected.to_numpy())


def test_answers_need_the_snapshot_before_them(
    small_dataset: Dataset, snapshots: dict[int, Snapshot]
) -> None:
    nips, ids, _ = _cast(small_dataset, snapshots)
    rows = Rows()
    rows.add(nips[0], ids[0], "rejected", "2023-06-01")  # would need the snapshot of 2022: none was given
    out = feedback_examples(small_dataset, rows.frame(), snapshots, AS_OF, YEARS)
    assert len(out) == 0 and out.counts["unmatched"] == 1


def test_held_out_employees_are_left_out(small_dataset: Dataset, snapshots: dict[int, Snapshot]) -> None:
    nips, ids, _ = _cast(small_dataset, snapshots)
    rows = Rows()
    rows.add(nips[0], ids[0], "rejected", "2025-03-01")
    rows.add(nips[1], ids[0], "completed", "2025-03-01")
    out = feedback_examples(small_dataset, rows.frame(), snapshots, AS_OF, YEARS).without(np.array([nips[1]]))
    assert list(out.examples.nip) == [nips[0]] and list(out.weight) == [REJECTED_WEIGHT]
    assert out.counts["completed"] == 0 and out.counts["held_out"] == 1 and out.counts["rejected"] == 1


def test_no_feedback_gives_no_rows_and_no_weights(
    small_dataset: Dataset, snapshots: dict[int, Snapshot]
) -> None:
    none = feedback_examples(small_dataset, None, snapshots, AS_OF, YEARS)
    empty = feedback_examples(small_dataset, Rows().frame(), snapshots, AS_OF, YEARS)
    assert len(none) == len(empty) == 0
    outcome = Examples(
        features=pd.DataFrame(np.ones((3, len(FEATURES))), columns=list(FEATURES)),
        label=np.array([0, 1, 2]),
        qid=np.array(["p|2024"] * 3, dtype=object),
        year=np.array([2024] * 3),
        nip=np.array(["a", "b", "c"], dtype=object),
        improvement=np.zeros(3),
        training_id=np.array(["T1", "T2", "T3"], dtype=object),
        progress=np.zeros(3),
    )
    train = np.array([True, True, False])
    X, y, _qid, weight = training_rows(outcome, train, none)
    assert weight is None and len(X) == 2 and list(y) == [0, 1]  # a fit exactly as before feedback


def test_training_rows_append_feedback_with_its_weights(
    small_dataset: Dataset, snapshots: dict[int, Snapshot]
) -> None:
    nips, ids, _ = _cast(small_dataset, snapshots)
    rows = Rows()
    rows.add(nips[0], ids[0], "rejected", "2025-03-01")
    rows.add(nips[1], ids[1], "completed", "2025-03-01")
    extra = feedback_examples(small_dataset, rows.frame(), snapshots, AS_OF, YEARS)
    outcome = Examples(
        features=extra.examples.features.iloc[[0, 0]].reset_index(drop=True),
        label=np.array([3, 0]),
        qid=np.array(["p|2024", "p|2024"], dtype=object),
        year=np.array([2024, 2024]),
        nip=np.array(["a", "b"], dtype=object),
        improvement=np.zeros(2),
        training_id=np.array(["T1", "T2"], dtype=object),
        progress=np.zeros(2),
    )
    X, y, qid, weight = training_rows(outcome, np.array([True, True]), extra)
    assert len(X) == 4 and list(X.columns) == list(FEATURES)
    assert weight is not None and list(weight) == [1.0, 1.0, *extra.weight]
    assert list(y) == [3, 0, *extra.examples.label] and list(qid[2:]) == list(extra.examples.qid)


def test_corrections_and_resolutions_decide_which_objections_stand() -> None:
    rows = Rows()
    rows.add("1" * 18, "T1", "objected", "2025-01-01")  # stands
    first = rows.add("2" * 18, "T1", "objected", "2025-01-01")
    rows.add("2" * 18, "T1", "accepted", "2025-01-01", corrects=first)  # a mistaken objection, corrected
    rows.add("3" * 18, "T1", "objected", "2025-01-01")
    rows.add("3" * 18, "T1", "resolved", "2025-02-01")  # resolved
    rows.add("4" * 18, "T1", "objected", "2025-01-01")
    rows.add("4" * 18, "T1", "resolved", "2025-02-01")
    rows.add("4" * 18, "T1", "objected", "2025-03-01")  # objected again: stands
    rows.add("5" * 18, "T1", "objected", "2025-01-01")
    wrong = rows.add("5" * 18, "T1", "resolved", "2025-02-01")
    rows.add("5" * 18, "T1", "objected", "2025-02-01", corrects=wrong)  # the resolution was a mistake
    frame = rows.frame()
    assert standing_objections(frame) == {("1" * 18, "T1"), ("4" * 18, "T1"), ("5" * 18, "T1")}
    assert standing_objections(rows_in_force(frame)) == standing_objections(frame)


def test_a_feedback_export_file_reads_back(tmp_path: Path) -> None:
    rows = Rows()
    first = rows.add("1" * 18, "T1", "rejected", "2025-01-01")
    rows.add("1" * 18, "T1", "accepted", "2025-01-02", corrects=first)
    for name in ("feedback.csv", "feedback.parquet"):
        path = tmp_path / name
        frame = rows.frame()
        frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path)
        back = read_feedback_file(path)
        assert back["nip"].tolist() == ["1" * 18] * 2 and str(back["at"].dt.tz) == "UTC"
        assert rows_in_force(back)["event"].tolist() == ["accepted"]
    (tmp_path / "bad.csv").write_text("nip,training_id\n" + "1" * 18 + ",T1\n")
    with pytest.raises(DataContractError, match="missing id, event, at, corrects"):
        read_feedback_file(tmp_path / "bad.csv")


def test_feedback_adds_a_correction_and_the_calibration_follows_its_scores(
    small_dataset: Dataset, snapshots: dict[int, Snapshot], spec: EvidenceSpec
) -> None:
    from rekomendasi.ranking.calibration import GainCalibration
    from rekomendasi.ranking.train import fit_ranker, load_train_config

    config = load_train_config(Path(__file__).resolve().parents[2] / "src/rekomendasi/specs/train.yaml")
    nips, ids, _ = _cast(small_dataset, snapshots)
    rows = Rows()
    for i, nip in enumerate(nips):
        rows.add(nip, ids[i % len(ids)], "rejected", "2025-03-01")
        rows.add(nip, ids[(i + 1) % len(ids)], "completed", "2025-06-01")
    plain = fit_ranker(small_dataset, spec, config, AS_OF)
    fit = fit_ranker(small_dataset, spec, config, AS_OF, feedback=rows.frame())
    assert getattr(plain.model, "correction_", None) is None
    assert fit.model.correction_ is not None and fit.feedback["rejected"] > 0
    assert fit.validation is not None
    scores = fit.model.predict(fit.validation[0][list(FEATURES)])
    # Calibrated on the corrected model's scores of the validation enrolments, not the plain gain's.
    knots = GainCalibration.from_dict(fit.model.gain_calibration_).knots
    assert knots.min() == pytest.approx(scores.min()) and knots.max() == pytest.approx(scores.max())
