"""`rekomendasi bench reliability`: each scenario once, on the small served world, with tiny durations and
sizes, through the CLI and a real server; its line is recorded and holds the figures the issue asks for."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from tests.served import ROOT, served_settings

pytestmark = pytest.mark.slow
runner = CliRunner()

TINY = [
    "--seconds",
    "2",
    "--minutes",
    "0.05",
    "--soak-rate",
    "20",
    "--upload-mb",
    "20",
    "--kill-requests",
    "60",
    "--kill-after",
    "30",
    "--clients",
    "4",
    "--rate-limit",
    "5",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(
    scenario: str, home: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Run one scenario through the CLI; its recorded line."""
    settings = served_settings(home, data)
    for name in ("REKOMENDASI_STATE_DB_URL", "REKOMENDASI_RATE_LIMIT_ADMIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REKOMENDASI_HOME", str(home))
    monkeypatch.setenv("REKOMENDASI_FEATURES_DIR", str(ROOT / "features"))
    monkeypatch.setenv("REKOMENDASI_TRAINING_DIR", str(ROOT / "training"))
    monkeypatch.setenv("REKOMENDASI_TEXT_EMBEDDINGS", "false")
    record = tmp_path / "results.jsonl"
    args = [
        "bench",
        "reliability",
        "--snapshot",
        str(settings.snapshot_dir),
        "--scores",
        str(settings.scores_dir),
        "--mlflow-uri",
        settings.mlflow_uri,
        "--scenario",
        scenario,
        "--port",
        str(_free_port()),
        "--keep",
        str(tmp_path / "scratch"),
        "--record",
        str(record),
        *TINY,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1 and lines[0]["bench"] == "reliability" and lines[0]["scenario"] == scenario
    found: dict[str, Any] = lines[0]
    assert found["employees"] > 0
    assert found.get("server_log_errors", 0) == 0, found.get("server_log_first_errors")
    return found


@pytest.mark.parametrize("scenario", ["body", "overload", "kill9", "soak", "throughput", "ratelimit"])
def test_scenario(
    scenario: str, served_home: Path, small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = _run(scenario, served_home, small_world, tmp_path, monkeypatch)
    if scenario == "body":
        # Refused early: the server answered before the client had written the whole 20 MB. It answers
        # and hangs up while the client is still writing; the reset that follows can destroy the answer
        # before the client reads it (TCP: a socket closed with unread data is reset; seen under load in
        # CI, for the 401 and for the 413). Then the refusal shows as the upload cut short, far before
        # 20 MB.
        for upload, status in ((found["no_key"], 401), (found["valid_key"], 413)):
            if upload["status"] is None:
                assert upload["detail"].startswith("no answer: ") and upload["sender"] != "complete", upload
                assert upload["bytes_sent"] < 20e6, upload
            else:
                assert upload["status"] == status and upload["bytes_sent_at_answer"] < 20e6, upload
        valid = found["valid_key"]
        assert valid["rss_samples"] >= 2 and valid["rss_peak_mb"] >= valid["rss_before_mb"] > 0
        assert found["still_answers"] is True
    elif scenario == "overload":
        run = found["workers_1"]
        assert run["reference"]["health"]["requests"] >= 30 and run["loaded"]["ordinary"]["requests"] >= 30
        assert run["probe_errors"] == [0, 0] and run["heavy_errors"] == 0
        assert run["heavy_pages_per_s"] > 0 and run["heavy_answer_mb"] > 0
        assert all(v is not None for v in run["health_p99_ms"] + run["ordinary_p99_ms"])
        assert run["server_log_errors"] == 0, run["server_log_first_errors"]
    elif scenario == "kill9":
        assert found["answered"] >= 30 and found["answered"] + found["headers_only"] + found["failed"] == 60
        assert found["processes_killed"] >= 3 and found["processes_left"] == 0  # parent and 2 workers
        assert found["answered_without_row"] == 0, found["answered_without_row_ids"]
        assert found["audit_verify_exit"] == 0, found["audit_verify_output"]
        assert found["feedback_rows"] >= found["feedback_answered_201"]
    elif scenario == "soak":
        assert found["requests"] >= 50 and found["server_errors"] == 0 and found["errors"] == 0
        assert found["answered"] == found["requests"] and found["answered_without_row"] == 0
        assert found["audit_rows"] == found["answered"] and found["by_minute"]
        assert found["health_p99_ms"] is not None and found["rss_after_mb"] > 0
    elif scenario == "throughput":
        for workers in ("workers_2", "workers_1"):  # the bench's workers, and one
            run = found[workers]
            recs, health = run["recommendations_closed_loop"], run["health_closed_loop"]
            assert recs["requests_per_s"] > 0 and health["requests_per_s"] > 0
            assert recs["errors"] == 0 and health["errors"] == 0 and run["model_closed_loop"]["errors"] == 0
            assert run["recommendations_to_health_ratio"] > 0 and run["health_one_client_p50_ms"] > 0
    else:
        assert found["refused_429"] > 0 and found["retry_after_missing"] == 0
        assert 0 < found["accepted"] <= found["accepted_most_expected"] * 1.05
        assert found["health_errors"] == 0
