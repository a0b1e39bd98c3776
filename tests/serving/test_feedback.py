"""Feedback on recommendations: stored with the raw NIP, exported (optionally pseudonymous), validated,
and the `feedback export` CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer

from rekomendasi.serving.auth import Principal, hash_nip
from rekomendasi.serving.store import (
    FEEDBACK_EXPORT_COLUMNS,
    FeedbackEvent,
    StateInputError,
    Stores,
    open_stores,
)
from rekomendasi.settings import get_settings

from .conftest import NIP_A, NIP_B, SALT, assert_clean_failure, runner


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
    assert frame["at"].dt.tz is not None and frame["at"].is_monotonic_increasing
    pseudo = stores.feedback.export(pseudonymous=True)
    assert pseudo["nip"].tolist() == [hash_nip(NIP_A, SALT), hash_nip(NIP_B, SALT)]


@pytest.mark.parametrize(
    ("nip", "training_id", "event", "reason", "message"),
    [
        (NIP_A, "T-1", "objected", "   ", "needs a reason"),
        (NIP_A, "T-1", "liked", "", "unknown feedback event 'liked'"),
        ("12345", "T-1", "accepted", "", "NIP must be exactly 18 digits"),
        (NIP_A + "0", "T-1", "accepted", "", "NIP must be exactly 18 digits, got 19 characters"),
        (NIP_A, " ", "accepted", "", "training_id is empty"),
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


def test_cli_feedback_export_refuses_other_suffixes(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "feedback.txt"
    assert_clean_failure(runner.invoke(cli, ["feedback", "export", str(out)]), "use a .csv or .parquet")
    assert not out.exists()
