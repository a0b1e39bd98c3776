"""`rekomendasi bench feedback`: a feedback round end to end on a tiny world (a test of the plumbing, not a
quality claim): answers dated in the last label year, nobody held out among them, both rankers
evaluated on the same held-out employees, the files written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rekomendasi.bench import feedbackround
from rekomendasi.bench.feedbackround import RoundResult
from rekomendasi.cli import app
from rekomendasi.feedback import FEEDBACK_COLUMNS

runner = CliRunner()


@pytest.mark.slow
def test_a_feedback_round_end_to_end_on_a_tiny_world(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, RoundResult] = {}
    real = feedbackround.feedback_round

    def spy(*args: Any, **kwargs: Any) -> RoundResult:  # keeps what the command printed a summary of
        seen["result"] = real(*args, **kwargs)
        return seen["result"]

    monkeypatch.setattr(feedbackround, "feedback_round", spy)
    out = tmp_path / "round"
    args = ["bench", "feedback", "--data", str(small_world), "--out", str(out), "--seed", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for line in ("NDCG@10 before feedback:", "NDCG@10 after feedback:", "paired difference:", "ranker"):
        assert line in result.output
    fields = json.loads((out / "result.json").read_text())
    feedback = pd.read_csv(out / "feedback.csv", dtype={"nip": str})
    assert tuple(feedback.columns) == FEEDBACK_COLUMNS and len(feedback) > 0
    assert set(feedback["event"]) <= {"accepted", "rejected", "completed", "objected"}
    assert fields["events"] == feedback["event"].value_counts().to_dict()
    # Answers were given during the last label year (2025), to what the 2024 snapshot recommended, and
    # nobody held out for the evaluation was shown anything.
    assert (pd.to_datetime(feedback["at"], utc=True).dt.year == 2025).all()
    assert feedback.groupby("nip")["training_id"].nunique().max() <= 10
    held_out = seen["result"].held_out
    assert len(held_out) == fields["employees"] > 0 and not np.isin(feedback["nip"], held_out).any()
    completed = feedback[feedback["event"] == "completed"][["nip", "training_id"]]
    accepted = feedback[feedback["event"] == "accepted"][["nip", "training_id"]]
    assert len(completed.merge(accepted)) == len(completed), "only what was accepted is completed"
    used = fields["used"]
    assert used["rejected"] > 0 and used["completed"] > 0 and used["accepted"] > 0
    assert used["objected"] == (feedback["event"] == "objected").sum() and used.get("held_out", 0) == 0
    models = fields["models"]
    assert next(iter(models)).startswith("ranker") and list(models) == list(seen["result"].models)
    for figures in models.values():
        for when in ("before", "after"):
            mean, low, high = figures[when]
            assert 0 < low <= mean <= high <= 1
        mean, low, high = figures["difference"]
        assert low <= mean <= high
    assert any(m["after"] != m["before"] for m in models.values()), "the fit with feedback is another"
