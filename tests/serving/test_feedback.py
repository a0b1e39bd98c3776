"""Feedback on recommendations: stored with the raw NIP, exported (optionally pseudonymous), validated,
append-only and chained, corrected by new rows, and the `feedback export` CLI. On sqlite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import typer

from rekomendasi.serving.auth import Principal, Role, hash_nip
from rekomendasi.serving.store import (
    FEEDBACK_EXPORT_COLUMNS,
    FeedbackEvent,
    StateInputError,
    Stores,
    open_stores,
    read_feedback,
)
from rekomendasi.settings import Settings, get_settings

from .conftest import NIP_A, NIP_B, SALT, assert_clean_failure, runner
from .test_store_support import raw


def test_feedback_round_trip(stores: Stores, planner: tuple[Principal, str]) -> None:
    principal, _ = planner
    first = stores.feedback.add(principal, NIP_A, "T-001", FeedbackEvent.ACCEPTED, "", "v3")
    second = stores.feedback.add(
        principal, NIP_B, "T-002", "objected", "  saya sudah ikut pelatihan ini ", "v3"
    )
    assert second > first
    frame = stores.feedback.export()
    assert tuple(frame.columns) == FEEDBACK_EXPORT_COLUMNS
    assert frame["nip"].tolist() == [NIP_A, NIP_B], "feedback keeps the raw NIP (training data)"
    assert frame["event"].tolist() == ["accepted", "objected"]
    assert frame["reason"].tolist() == ["", "saya sudah ikut pelatihan ini"]
    assert frame["training_id"].tolist() == ["T-001", "T-002"]
    assert frame["key_id"].tolist() == [principal.key_id] * 2
    assert frame["id"].tolist() == [first, second] and frame["corrects"].isna().all()
    assert frame["at"].dt.tz is not None and frame["at"].is_monotonic_increasing
    pseudo = stores.feedback.export(pseudonymous=True)
    assert pseudo["nip"].tolist() == [hash_nip(NIP_A, SALT), hash_nip(NIP_B, SALT)]


def test_feedback_is_append_only_in_the_database(
    stores: Stores, planner: tuple[Principal, str], state_url: str
) -> None:
    stores.feedback.add(planner[0], NIP_A, "T-001", "accepted")
    for statement in ("UPDATE feedback SET event = 'rejected'", "DELETE FROM feedback"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), raw(state_url) as conn:
            conn.exec_driver_sql(statement)
    assert stores.feedback.export()["event"].tolist() == ["accepted"]


def test_a_correction_is_a_new_row_and_current_only_keeps_the_last(
    stores: Stores, planner: tuple[Principal, str]
) -> None:
    principal, _ = planner
    first = stores.feedback.add(principal, NIP_A, "T-001", "accepted", model_version="v3")
    other = stores.feedback.add(principal, NIP_B, "T-002", "enrolled")
    second = stores.feedback.add(principal, NIP_A, "T-001", "rejected", "salah klik", "v3", corrects=first)
    third = stores.feedback.add(principal, NIP_A, "T-001", "enrolled", corrects=second)
    everything = stores.feedback.export()
    assert everything["id"].tolist() == [first, other, second, third], "nothing was changed or removed"
    assert everything["corrects"].tolist() == [pd.NA, pd.NA, first, second]
    current = stores.feedback.export(current_only=True)
    assert current["id"].tolist() == [other, third]
    assert current["event"].tolist() == ["enrolled", "enrolled"]
    assert stores.verify().ok


@pytest.mark.parametrize(
    ("nip", "training_id", "message"),
    [
        (NIP_A, "T-001", "there is no feedback row 99"),
        (NIP_B, "T-001", "is about another employee or training"),
        (NIP_A, "T-002", "is about another employee or training"),
    ],
)
def test_a_correction_of_another_row_is_refused(
    stores: Stores, planner: tuple[Principal, str], nip: str, training_id: str, message: str
) -> None:
    principal, _ = planner
    first = stores.feedback.add(principal, NIP_A, "T-001", "accepted")
    target = 99 if "no feedback row" in message else first
    with pytest.raises(StateInputError, match=message) as info:
        stores.feedback.add(principal, nip, training_id, "rejected", corrects=target)
    assert info.value.status_code == 422
    assert NIP_A not in str(info.value), "the message does not reveal the other row's NIP"
    assert stores.feedback.export()["id"].tolist() == [first]


def test_a_row_is_corrected_once(stores: Stores, planner: tuple[Principal, str]) -> None:
    principal, _ = planner
    first = stores.feedback.add(principal, NIP_A, "T-001", "accepted")
    second = stores.feedback.add(principal, NIP_A, "T-001", "rejected", corrects=first)
    with pytest.raises(StateInputError, match=f"already corrected by row {second}; correct row {second}"):
        stores.feedback.add(principal, NIP_A, "T-001", "enrolled", corrects=first)
    assert len(stores.feedback.export()) == 2


@pytest.mark.parametrize(
    ("nip", "training_id", "event", "reason", "message"),
    [
        (NIP_A, "T-1", "objected", "   ", "needs a reason"),
        (NIP_A, "T-1", "liked", "", "unknown feedback event 'liked'"),
        ("12345", "T-1", "accepted", "", "NIP must be exactly 18 digits"),
        (NIP_A + "0", "T-1", "accepted", "", "NIP must be exactly 18 digits, got 19 characters"),
        (NIP_A, " ", "accepted", "", "training_id is empty"),
        (NIP_A, "T" * 101, "accepted", "", "training_id has 101 characters; at most 100"),
    ],
)
def test_invalid_feedback_is_refused(
    stores: Stores,
    planner: tuple[Principal, str],
    nip: str,
    training_id: str,
    event: str,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(StateInputError, match=message):
        stores.feedback.add(planner[0], nip, training_id, event, reason, None)
    assert stores.feedback.export().empty


def test_a_resolution_closes_a_standing_objection(stores: Stores, planner: tuple[Principal, str]) -> None:
    principal, _ = planner
    with pytest.raises(StateInputError, match="no standing objection"):
        stores.feedback.add(principal, NIP_A, "T-1", "resolved", "ditinjau")
    objection = stores.feedback.add(principal, NIP_A, "T-1", "objected", "sudah pernah ikut")
    stores.feedback.add(principal, NIP_B, "T-2", "objected", "tidak sesuai jabatan")
    assert stores.feedback.standing_objections() == {(NIP_A, "T-1"), (NIP_B, "T-2")}
    assert stores.feedback.standing_objections([NIP_A]) == {(NIP_A, "T-1")}
    assert stores.feedback.standing_objections([]) == frozenset()
    with pytest.raises(StateInputError, match="'resolved' feedback needs a reason"):
        stores.feedback.add(principal, NIP_A, "T-1", "resolved", "  ")
    with pytest.raises(StateInputError, match="no standing objection"):
        stores.feedback.add(principal, NIP_A, "T-2", "resolved", "ditinjau")  # another training
    resolution = stores.feedback.add(principal, NIP_A, "T-1", "resolved", "ditinjau bersama pegawai")
    assert stores.feedback.standing_objections([NIP_A]) == frozenset()
    with pytest.raises(StateInputError, match="no standing objection"):
        stores.feedback.add(principal, NIP_A, "T-1", "resolved", "sekali lagi")
    # A resolution's reason corrected by another resolution still resolves it; a mistaken resolution
    # corrected into an objection makes the objection stand again.
    fixed = stores.feedback.add(principal, NIP_A, "T-1", "resolved", "alasan yang benar", corrects=resolution)
    assert stores.feedback.standing_objections([NIP_A]) == frozenset()
    stores.feedback.add(principal, NIP_A, "T-1", "objected", "belum ditinjau", corrects=fixed)
    assert stores.feedback.standing_objections([NIP_A]) == {(NIP_A, "T-1")}
    # An objection corrected into something else no longer stands, and cannot be resolved.
    stores.feedback.add(principal, NIP_B, "T-3", "objected", "salah klik")
    last = stores.feedback.export()["id"].iloc[-1]
    stores.feedback.add(principal, NIP_B, "T-3", "accepted", corrects=int(last))
    assert (NIP_B, "T-3") not in stores.feedback.standing_objections([NIP_B])
    assert objection < resolution and stores.verify().ok


def test_jobs_read_feedback_without_creating_the_database(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, state_db_url="sqlite:///var/state.db", nip_salt=SALT)  # type: ignore[call-arg]
    assert read_feedback(settings) is None and not (tmp_path / "var" / "state.db").exists()
    with Stores.open(f"sqlite:///{tmp_path / 'var' / 'state.db'}", nip_salt=SALT) as stores:
        assert read_feedback(settings) is not None and read_feedback(settings).empty  # type: ignore[union-attr]
        principal, _ = stores.keys.create_key("BKD", Role.PLANNER, ["I-32"])
        first = stores.feedback.add(principal, NIP_A, "T-1", "rejected")
        stores.feedback.add(principal, NIP_A, "T-1", "accepted", corrects=first)
    rows = read_feedback(settings)
    assert rows is not None and rows["event"].tolist() == ["accepted"], "the rows in force"
    other = tmp_path / "other.db"
    sa.create_engine(f"sqlite:///{other}").connect().close()  # a database without the table
    assert other.exists()
    assert read_feedback(Settings(home=tmp_path, state_db_url=f"sqlite:///{other}", nip_salt=SALT)) is None  # type: ignore[call-arg]


# --- CLI ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_feedback_export(cli: typer.Typer, tmp_path: Path, suffix: str) -> None:
    with open_stores(get_settings()) as stores:
        principal, _ = stores.keys.create_key("BKD", "planner", ["I-32"])
        stores.feedback.add(principal, NIP_A, "T-9", "objected", "tidak relevan", "v7")
    out = tmp_path / "exports" / f"feedback{suffix}"
    result = runner.invoke(cli, ["feedback", "export", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"nip": str}) if suffix == ".csv" else pd.read_parquet(out)
    assert tuple(frame.columns) == FEEDBACK_EXPORT_COLUMNS
    assert frame[["nip", "training_id", "event", "reason"]].values.tolist() == [
        [NIP_A, "T-9", "objected", "tidak relevan"]
    ]


def test_cli_feedback_export_current_only(cli: typer.Typer, tmp_path: Path) -> None:
    with open_stores(get_settings()) as stores:
        principal, _ = stores.keys.create_key("BKD", "planner", ["I-32"])
        first = stores.feedback.add(principal, NIP_A, "T-9", "accepted")
        stores.feedback.add(principal, NIP_A, "T-9", "rejected", corrects=first)
    out = tmp_path / "current.parquet"
    result = runner.invoke(cli, ["feedback", "export", "--current-only", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert frame[["event", "corrects"]].values.tolist() == [["rejected", first]]


def test_cli_feedback_export_refuses_other_suffixes(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "feedback.txt"
    assert_clean_failure(runner.invoke(cli, ["feedback", "export", str(out)]), "use a .csv or .parquet")
    assert not out.exists()
