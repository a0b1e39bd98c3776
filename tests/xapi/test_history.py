"""Statements as training_history rows, and merging them into a data directory."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rekomendasi.contract import load_dataset
from rekomendasi.contract.schemas import TrainingHistory
from rekomendasi.errors import DataContractError
from rekomendasi.xapi import HISTORY_COLUMNS, HistoryEvent, Verb, history_frame, merge_history
from tests.conftest import read_text_table

NIP = "198501012010011001"
_seq = iter(range(10_000))


def event(
    verb: Verb,
    day: str,
    training: str = "T1",
    score: float | None = None,
    success: bool | None = None,
    nip: str = NIP,
) -> HistoryEvent:
    on = dt.date.fromisoformat(day)
    return HistoryEvent(
        nip=nip,
        training_id=training,
        verb=verb,
        day=on,
        timestamp=dt.datetime.combine(on, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(seconds=next(_seq)),
        statement_id=f"s{next(_seq):05d}",
        score=score,
        success=success,
    )


def rows(*events: HistoryEvent) -> list[tuple[object, ...]]:
    """(training_id, enrolled_on, completed_on, status, score) of each row, dates as text."""
    frame = history_frame(list(events))
    out = []
    for r in frame.itertuples(index=False):
        completed = None if pd.isna(r.completed_on) else r.completed_on.date().isoformat()
        score = None if pd.isna(r.score) else r.score
        out.append((r.training_id, r.enrolled_on.date().isoformat(), completed, r.status, score))
    return out


R, A, C, P, F = Verb.REGISTERED, Verb.ATTEMPTED, Verb.COMPLETED, Verb.PASSED, Verb.FAILED


def test_registration_then_completion_is_one_completed_row() -> None:
    assert rows(event(R, "2025-01-06"), event(C, "2025-01-20", score=80.0)) == [
        ("T1", "2025-01-06", "2025-01-20", "completed", 80.0)
    ]


def test_a_completion_without_registration_is_enrolled_on_its_own_date() -> None:
    assert rows(event(P, "2025-02-01")) == [("T1", "2025-02-01", "2025-02-01", "completed", None)]


def test_an_open_enrolment_keeps_its_earliest_registration() -> None:
    assert rows(event(R, "2025-01-06"), event(A, "2025-01-08"), event(R, "2025-01-09")) == [
        ("T1", "2025-01-06", None, "enrolled", None)
    ]


def test_failure_then_retake_are_two_enrolments() -> None:
    got = rows(
        event(R, "2025-01-06"),
        event(F, "2025-01-20", score=40.0),
        event(A, "2025-03-01"),
        event(P, "2025-03-10", score=85.0),
    )
    assert got == [
        ("T1", "2025-01-06", None, "failed", 40.0),
        ("T1", "2025-03-01", "2025-03-10", "completed", 85.0),
    ]


def test_completed_then_passed_is_one_row_completed_on_the_first_date() -> None:
    assert rows(event(R, "2025-01-06"), event(C, "2025-01-20"), event(P, "2025-01-21", score=90.0)) == [
        ("T1", "2025-01-06", "2025-01-20", "completed", 90.0)
    ]


def test_a_verdict_decides_over_a_plain_completion() -> None:
    assert rows(event(R, "2025-01-06"), event(F, "2025-01-20"), event(C, "2025-01-21")) == [
        ("T1", "2025-01-06", None, "failed", None)
    ]


def test_completed_with_success_false_is_failed() -> None:
    assert rows(event(C, "2025-01-20", success=False)) == [("T1", "2025-01-20", None, "failed", None)]


def test_an_attempt_after_completion_is_a_revisit_but_a_registration_a_new_enrolment() -> None:
    assert rows(event(R, "2025-01-06"), event(C, "2025-01-20"), event(A, "2025-02-01")) == [
        ("T1", "2025-01-06", "2025-01-20", "completed", None)
    ]
    assert rows(event(R, "2024-01-06"), event(C, "2024-01-20"), event(R, "2025-01-06")) == [
        ("T1", "2024-01-06", "2024-01-20", "completed", None),
        ("T1", "2025-01-06", None, "enrolled", None),
    ]


def test_a_restart_on_the_enrolment_day_stays_in_it_so_keys_stay_unique() -> None:
    got = rows(event(R, "2025-01-06"), event(F, "2025-01-06"), event(R, "2025-01-06"), event(P, "2025-01-06"))
    assert got == [("T1", "2025-01-06", "2025-01-06", "completed", None)]


def test_rows_are_per_employee_and_entry_and_follow_the_contract() -> None:
    frame = history_frame(
        [
            event(C, "2025-01-20", training="T2", score=70.0),
            event(R, "2025-01-06", training="T1"),
            event(R, "2025-01-07", training="T1", nip="199002022015022002"),
        ]
    )
    assert list(frame.columns) == list(HISTORY_COLUMNS)
    assert list(zip(frame["nip"], frame["training_id"], strict=True)) == [
        (NIP, "T1"),
        (NIP, "T2"),
        ("199002022015022002", "T1"),
    ]
    TrainingHistory.validate(frame)  # dtypes, enums, completed_on rules
    assert not frame.duplicated(["nip", "training_id", "enrolled_on"]).any()


def test_no_events_give_an_empty_frame_with_the_columns() -> None:
    frame = history_frame([])
    assert frame.empty and list(frame.columns) == list(HISTORY_COLUMNS)


# --- merging into a data directory -----------------------------------------------------------------


def _world_ids(data: Path) -> tuple[list[str], list[str]]:
    employees = read_text_table(data / "employees.csv")
    catalog = read_text_table(data / "catalog.csv")
    return list(employees["nip"][:3]), list(catalog["training_id"][:3])


def test_merge_adds_new_rows_keeps_existing_and_loads(world_copy: Path) -> None:
    path = world_copy / "training_history.csv"
    before = read_text_table(path)
    first = before.iloc[0]
    nips, trainings = _world_ids(world_copy)
    new = history_frame(
        [
            # the same key as an existing row, with another outcome: the existing row stays
            event(F, str(first["enrolled_on"]), training=str(first["training_id"]), nip=str(first["nip"])),
            event(R, "2025-11-03", training=trainings[0], nip=nips[0]),
            event(P, "2025-11-20", training=trainings[0], nip=nips[0], score=88.5),
            event(R, "2025-11-04", training=trainings[1], nip=nips[1]),
        ]
    )
    result = merge_history(world_copy, new)
    assert (result.existing, result.added, result.kept, result.written) == (len(before), 2, 1, True)
    after = read_text_table(path)
    assert len(after) == len(before) + 2
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)  # existing rows unchanged
    added = after.iloc[len(before) :].reset_index(drop=True)
    assert added[
        ["nip", "training_id", "enrolled_on", "completed_on", "status", "score"]
    ].values.tolist() == [
        [nips[0], trainings[0], "2025-11-03", "2025-11-20", "completed", "88.5"],
        [nips[1], trainings[1], "2025-11-04", "", "enrolled", ""],
    ]
    report = load_dataset(world_copy).report("training_history")
    assert (report.rows_read, report.rows_quarantined) == (len(after), 0)  # the rows follow the contract
    assert not list(world_copy.glob(".training_history*"))  # no temporary file left


def test_merging_again_adds_nothing(world_copy: Path) -> None:
    nips, trainings = _world_ids(world_copy)
    new = history_frame([event(R, "2025-11-03", training=trainings[0], nip=nips[0])])
    merge_history(world_copy, new)
    data = (world_copy / "training_history.csv").read_bytes()
    again = merge_history(world_copy, new)
    assert (again.added, again.kept, again.written) == (0, 1, False)
    assert (world_copy / "training_history.csv").read_bytes() == data


def test_dry_run_counts_and_writes_nothing(world_copy: Path) -> None:
    nips, trainings = _world_ids(world_copy)
    data = (world_copy / "training_history.csv").read_bytes()
    result = merge_history(
        world_copy, history_frame([event(R, "2025-11-03", trainings[0], nip=nips[0])]), True
    )
    assert (result.added, result.written) == (1, False)
    assert (world_copy / "training_history.csv").read_bytes() == data


def test_merge_into_parquet_keeps_its_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "nip": pa.array([NIP], pa.string()),
            "training_id": pa.array(["T0"], pa.string()),
            "enrolled_on": pa.array([dt.date(2024, 1, 2)], pa.date32()),
            "completed_on": pa.array([dt.date(2024, 1, 9)], pa.date32()),
            "status": pa.array(["completed"], pa.string()),
            "score": pa.array([71.5], pa.float64()),
            "satisfaction": pa.array([4], pa.int64()),
            "jp_earned": pa.array([12.0], pa.float64()),
            "note": pa.array(["kept"], pa.string()),  # an extra column survives
        }
    )
    pq.write_table(table, tmp_path / "training_history.parquet")
    result = merge_history(tmp_path, history_frame([event(P, "2025-02-03", score=90.0)]))
    assert (result.added, result.created) == (1, False)
    merged = pq.read_table(tmp_path / "training_history.parquet")
    assert merged.schema == table.schema
    assert merged.to_pylist()[1] == {
        "nip": NIP,
        "training_id": "T1",
        "enrolled_on": dt.date(2025, 2, 3),
        "completed_on": dt.date(2025, 2, 3),
        "status": "completed",
        "score": 90.0,
        "satisfaction": None,
        "jp_earned": None,
        "note": None,
    }
    assert merged.to_pylist()[0] == table.to_pylist()[0]


def test_merge_creates_a_csv_when_there_is_none(tmp_path: Path) -> None:
    result = merge_history(tmp_path, history_frame([event(R, "2025-02-03")]))
    assert (result.created, result.added, result.path.name) == (True, 1, "training_history.csv")
    assert read_text_table(result.path).values.tolist() == [
        [NIP, "T1", "2025-02-03", "", "enrolled", "", "", ""]
    ]


def test_merge_refuses_ambiguous_or_keyless_files(world_copy: Path, tmp_path: Path) -> None:
    new = history_frame([event(R, "2025-02-03")])
    shutil.copy(world_copy / "training_history.csv", tmp_path / "training_history.csv")
    pq.write_table(pa.table({"nip": ["x"]}), tmp_path / "training_history.parquet")
    with pytest.raises(DataContractError, match=r"both training_history\.csv and training_history\.parquet"):
        merge_history(tmp_path, new)
    (tmp_path / "training_history.csv").unlink()
    with pytest.raises(
        DataContractError, match=r"lacks the key column\(s\) \['training_id', 'enrolled_on'\]"
    ):
        merge_history(tmp_path, new)
    with pytest.raises(DataContractError, match="no such data directory"):
        merge_history(tmp_path / "missing", new)
