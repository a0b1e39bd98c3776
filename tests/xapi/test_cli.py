"""The ``rekomendasi xapi`` commands through Typer's runner, on a fresh state database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.serving.auth import Principal, Role
from rekomendasi.serving.store import Stores, open_stores
from rekomendasi.settings import get_settings
from rekomendasi.xapi import IncomingStatement, parse_statements
from tests.conftest import read_text_table
from tests.xapi.factory import statement

runner = CliRunner()
PLATFORM = Principal("0123456789abcdef", "LMS", Role.PLATFORM, frozenset({"I-1"}))
OTHER = Principal("fedcba9876543210", "LMS 2", Role.PLATFORM, frozenset({"I-1"}))


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("REKOMENDASI_HOME", str(tmp_path))
    monkeypatch.setenv("REKOMENDASI_STATE_DB_URL", "sqlite:///var/state.db")
    monkeypatch.setenv("REKOMENDASI_SNAPSHOT_DIR", str(tmp_path / "no-snapshot"))
    monkeypatch.setenv("REKOMENDASI_XAPI_HOME_PAGE", "https://siasn.example.go.id")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture()
def stores(home: Path) -> Iterator[Stores]:
    with open_stores(get_settings()) as opened:
        yield opened


def one_line_error(output: str, message: str) -> None:
    assert message in " ".join(output.split()), output
    assert "Traceback" not in output


def test_map_and_list_activities(stores: Stores) -> None:
    result = runner.invoke(app, ["xapi", "activities"])
    assert result.exit_code == 0 and "no activity IRIs mapped yet" in result.output
    result = runner.invoke(app, ["xapi", "map", "https://lms.example/c/1", "TRN-0001"])
    assert result.exit_code == 0, result.output
    assert "mapped https://lms.example/c/1 -> TRN-0001" in result.output
    result = runner.invoke(app, ["xapi", "map", "https://lms.example/c/1", "TRN-0002"])
    assert "(was TRN-0001)" in result.output
    assert stores.xapi.activities() == [("https://lms.example/c/1", "TRN-0002")]
    listed = runner.invoke(app, ["xapi", "activities"])
    assert (
        listed.exit_code == 0 and "https://lms.example/c/1" in listed.output and "TRN-0002" in listed.output
    )


def test_map_refuses_a_bad_iri_in_one_line(stores: Stores) -> None:
    result = runner.invoke(app, ["xapi", "map", "lms course 1", "TRN-0001"])
    assert result.exit_code == 2
    one_line_error(result.output, "activity IRI must be an absolute IRI")
    assert stores.xapi.activities() == []


def test_export_writes_the_shown_recommendations(stores: Stores, home: Path) -> None:
    nip = "198501012010011001"
    stores.xapi.record_shown(PLATFORM, nip, [("TRN-0001", 1), ("TRN-0002", 2)], "5", "api", "req-1")
    stores.xapi.record_shown(OTHER, nip, [("TRN-0003", 1)], "5", "widget", None)
    out = home / "out" / "recommended.json"
    result = runner.invoke(app, ["xapi", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 recommended statements" in result.output
    assert "naming entries by id" in result.output  # no snapshot here
    statements = json.loads(out.read_text())
    assert [s["object"]["id"] for s in statements] == [
        "urn:rekomendasi:training:TRN-0001",
        "urn:rekomendasi:training:TRN-0002",
        "urn:rekomendasi:training:TRN-0003",
    ]
    assert {s["actor"]["account"]["name"] for s in statements} == {nip}
    assert {s["actor"]["account"]["homePage"] for s in statements} == {"https://siasn.example.go.id"}
    assert {s["verb"]["id"] for s in statements} == {"https://w3id.org/xapi/tla/verbs/recommended"}
    assert len({s["id"] for s in statements}) == 3

    again = home / "again.json"
    runner.invoke(app, ["xapi", "export", "--out", str(again)])
    assert [s["id"] for s in json.loads(again.read_text())] == [s["id"] for s in statements]  # stable ids

    mine = home / "mine.json"
    result = runner.invoke(app, ["xapi", "export", "--out", str(mine), "--key", OTHER.key_id])
    assert [s["context"]["extensions"]["urn:rekomendasi:via"] for s in json.loads(mine.read_text())] == [
        "widget"
    ]

    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    later = home / "later.json"
    result = runner.invoke(app, ["xapi", "export", "--out", str(later), "--since", tomorrow])
    assert result.exit_code == 0 and json.loads(later.read_text()) == []


def test_export_refuses_bad_options_in_one_line(stores: Stores, home: Path) -> None:
    result = runner.invoke(app, ["xapi", "export", "--out", str(home / "x.csv")])
    assert result.exit_code == 2
    one_line_error(result.output, "use a .json file name")
    result = runner.invoke(app, ["xapi", "export", "--out", str(home / "x.json"), "--since", "kemarin"])
    assert result.exit_code == 2
    one_line_error(result.output, "--since 'kemarin' is neither a date")
    assert not (home / "x.json").exists()


def test_history_merges_stored_statements_into_the_data_directory(stores: Stores, world_copy: Path) -> None:
    nip = read_text_table(world_copy / "employees.csv")["nip"][0]
    training = read_text_table(world_copy / "catalog.csv")["training_id"][0]
    body = [
        statement(nip=nip, verb="registered", timestamp="2025-11-03T08:00:00+07:00"),
        statement(
            nip=nip, verb="passed", timestamp="2025-11-20T08:00:00+07:00", result={"score": {"scaled": 0.8}}
        ),
    ]
    received = dt.datetime.now(dt.UTC)
    incoming = [IncomingStatement.build(p, training, received) for p in parse_statements(json.dumps(body))]
    stores.xapi.ingest(PLATFORM, incoming)
    path = world_copy / "training_history.csv"
    before = path.read_bytes()

    dry = runner.invoke(app, ["xapi", "history", "--data", str(world_copy), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would add 1 rows" in dry.output and path.read_bytes() == before

    done = runner.invoke(app, ["xapi", "history", "--data", str(world_copy)])
    assert done.exit_code == 0, done.output
    assert "added 1 rows from xAPI statements; 0 already there" in " ".join(done.output.split())
    last = read_text_table(path).iloc[-1]
    assert [last["nip"], last["training_id"], last["enrolled_on"], last["completed_on"], last["status"]] == [
        nip,
        training,
        "2025-11-03",
        "2025-11-20",
        "completed",
    ]
    assert last["score"] == "80"

    again = runner.invoke(app, ["xapi", "history", "--data", str(world_copy)])
    assert "added 0 rows from xAPI statements; 1 already there" in " ".join(again.output.split())


def test_history_refuses_a_missing_directory_in_one_line(stores: Stores, home: Path) -> None:
    result = runner.invoke(app, ["xapi", "history", "--data", str(home / "nope")])
    assert result.exit_code == 2
    one_line_error(result.output, "no such data directory")
