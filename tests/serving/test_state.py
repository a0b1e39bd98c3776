"""Service state: API keys, role scoping, the append-only audit log, feedback, threads and the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from rekomendasi.cli_state import audit_app, feedback_app, keys_app
from rekomendasi.errors import ConfigError, RekomendasiError
from rekomendasi.serving.state import (
    FEEDBACK_EXPORT_COLUMNS,
    FeedbackEvent,
    KeyInfo,
    Principal,
    Role,
    StateInputError,
    StateStore,
    hash_nip,
    resolve_state_url,
    store_from_settings,
)
from rekomendasi.settings import Settings, get_settings

SALT = "test-salt"
NIP_A = "198501012010011001"
NIP_B = "199002022015022002"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "state.db"


@pytest.fixture()
def store(db_path: Path) -> Iterator[StateStore]:
    with StateStore(f"sqlite:///{db_path}", nip_salt=SALT) as state:
        yield state


@pytest.fixture()
def planner(store: StateStore) -> tuple[Principal, str]:
    return store.create_key("BKD Jawa Barat", Role.PLANNER, ["I-32", "I-33"])


def _secret(plaintext: str) -> str:
    return plaintext.split("_", 2)[2]


def _db_bytes(db_path: Path) -> bytes:
    """Everything sqlite wrote: the database file plus any write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted(db_path.parent.glob(db_path.name + "*")))


# --- keys ---------------------------------------------------------------------------------------


def test_created_key_authenticates_to_its_principal(
    store: StateStore, planner: tuple[Principal, str]
) -> None:
    principal, plaintext = planner
    prefix, key_id, secret = plaintext.split("_", 2)
    assert (prefix, key_id) == ("rk", principal.key_id)
    assert len(secret) == 43  # secrets.token_urlsafe(32)
    assert principal == Principal(
        principal.key_id, "BKD Jawa Barat", Role.PLANNER, frozenset({"I-32", "I-33"})
    )
    assert store.authenticate(plaintext) == principal


def test_keys_are_unique(store: StateStore) -> None:
    made = [store.create_key(f"platform {i}", "platform", ["I-1"]) for i in range(20)]
    assert len({p.key_id for p, _ in made}) == 20
    assert len({plain for _, plain in made}) == 20


def test_malformed_and_forged_keys_are_rejected(store: StateStore, planner: tuple[Principal, str]) -> None:
    _, plaintext = planner
    other_principal, other = store.create_key("LMS", "platform", ["I-32"])
    secret = _secret(plaintext)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    forged = [
        "",
        "rk_",
        "rk_abc",
        plaintext + "x",
        plaintext[:-1],
        "xx" + plaintext[2:],
        plaintext.replace("rk_", "RK_", 1),
        f"rk_{planner[0].key_id}_{flipped}",
        f"rk_{other_principal.key_id}_{secret}",  # a real key id with another key's secret
        f"rk_{'0' * 16}_{secret}",  # unknown key id
        "rk_" + "a" * 10_000,
    ]
    for candidate in forged:
        assert store.authenticate(candidate) is None, candidate
    assert store.authenticate(other) == other_principal


def test_revoked_key_is_rejected_at_once_even_when_cached(
    store: StateStore, planner: tuple[Principal, str]
) -> None:
    principal, plaintext = planner
    assert store.authenticate(plaintext) == principal  # now cached
    assert store.revoke_key(principal.key_id) is True
    assert store.authenticate(plaintext) is None
    assert store.revoke_key(principal.key_id) is False, "already revoked"
    assert store.revoke_key("0" * 16) is False, "unknown"


def test_revocation_by_another_process_takes_effect_within_the_ttl(db_path: Path) -> None:
    clock = FakeClock()
    api = StateStore(f"sqlite:///{db_path}", nip_salt=SALT, cache_ttl=30.0, clock=clock)
    admin = StateStore(f"sqlite:///{db_path}", nip_salt=SALT)
    principal, plaintext = admin.create_key("ops", "admin")
    assert api.authenticate(plaintext) == principal
    assert admin.revoke_key(principal.key_id)
    clock.now += 29.0
    assert api.authenticate(plaintext) == principal, "served from the cache inside the TTL"
    clock.now += 1.5
    assert api.authenticate(plaintext) is None, "the TTL is a bound on revocation delay"
    api.close()
    admin.close()


def test_only_hashes_are_stored(db_path: Path) -> None:
    with StateStore(f"sqlite:///{db_path}", nip_salt=SALT) as store:
        _, plaintext = store.create_key("ops", "admin")
    data = _db_bytes(db_path)
    secret = _secret(plaintext)
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in data, "looked at the right file"
    assert secret.encode() not in data
    assert plaintext.encode() not in data


@pytest.mark.parametrize(
    ("name", "role", "agencies", "message"),
    [
        ("ops", "admin", ["I-1"], "admin key sees every agency"),
        ("bkd", "planner", [], "planner key needs at least one agency"),
        ("lms", "platform", [], "platform key needs at least one agency"),
        ("bkd", "boss", ["I-1"], "unknown role 'boss'"),
        ("  ", "planner", ["I-1"], "name is empty"),
        ("bkd", "planner", ["I-1", " "], r"agency \(instansi_id\) is empty"),
    ],
)
def test_invalid_keys_are_refused_with_a_clear_message(
    store: StateStore, name: str, role: str, agencies: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        store.create_key(name, role, agencies)
    assert isinstance(info.value, RekomendasiError) and info.value.status_code == 422
    assert store.list_keys() == []


def test_list_keys_shows_status_but_no_secret(store: StateStore, planner: tuple[Principal, str]) -> None:
    principal, plaintext = planner
    admin, _ = store.create_key("ops", "admin")
    store.revoke_key(admin.key_id)
    keys = {k.key_id: k for k in store.list_keys()}
    assert {f.name for f in dataclasses.fields(KeyInfo)} == {
        "key_id",
        "name",
        "role",
        "agencies",
        "created_at",
        "revoked_at",
    }
    assert keys[principal.key_id].active and keys[principal.key_id].agencies == {"I-32", "I-33"}
    assert not keys[admin.key_id].active and keys[admin.key_id].revoked_at is not None
    assert keys[admin.key_id].created_at.tzinfo is not None
    assert _secret(plaintext) not in repr(keys)


# --- roles --------------------------------------------------------------------------------------


def test_role_scoping() -> None:
    admin = Principal("a", "ops", Role.ADMIN)
    planner = Principal("p", "bkd", Role.PLANNER, frozenset({"I-32"}))
    platform = Principal("l", "lms", Role.PLATFORM, frozenset({"I-32", "I-33"}))
    assert admin.can_see("I-32") and admin.can_see("I-99")
    assert planner.can_see("I-32") and not planner.can_see("I-33") and not planner.can_see("")
    assert platform.can_see("I-33") and not platform.can_see("I-99")
    assert admin.sees_evidence and planner.sees_evidence and not platform.sees_evidence


def test_hash_nip_is_keyed_short_and_stable() -> None:
    digest = hash_nip(NIP_A, SALT)
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert digest == hash_nip(f" {NIP_A} ", SALT)
    assert digest != hash_nip(NIP_A, "another-salt")
    assert digest != hash_nip(NIP_B, SALT)
    assert digest != hashlib.sha256(NIP_A.encode()).hexdigest()[:16], "keyed, not a plain hash"


def test_empty_salt_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError, match="nip_salt is empty"):
        StateStore(f"sqlite:///{db_path}", nip_salt="")


# --- audit --------------------------------------------------------------------------------------


def test_audit_rows_hold_hashes_not_nips(
    store: StateStore, planner: tuple[Principal, str], db_path: Path
) -> None:
    principal, _ = planner
    store.audit(
        principal, f"GET /employees/{NIP_A}", [NIP_A, NIP_B], "v3", "snap-1", 200, detail=f"ok for {NIP_B}"
    )
    store.audit(None, "POST /recommendations", [], None, None, 401, detail="no key")
    frame = store.read_audit()
    assert len(frame) == 2
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["nip_hashes"] == f"{hash_nip(NIP_A, SALT)};{hash_nip(NIP_B, SALT)}"
    assert first["nip_count"] == 2 and first["status"] == 200
    assert (first["key_id"], first["role"]) == (principal.key_id, "planner")
    assert (first["model_version"], first["snapshot_id"]) == ("v3", "snap-1")
    assert first["action"] == f"GET /employees/nip:{hash_nip(NIP_A, SALT)}"
    assert (
        pd.isna(second["key_id"])
        and pd.isna(second["model_version"])
        and second["nip_hashes"] == ""
        and second["status"] == 401
    )
    assert str(frame["at"].dtype).startswith("datetime64") and frame["at"].dt.tz is not None
    text = frame.to_csv()
    store.close()
    data = _db_bytes(db_path)
    for nip in (NIP_A, NIP_B):
        assert nip not in text and nip.encode() not in data


def test_audit_log_is_append_only_in_sqlite(
    store: StateStore, planner: tuple[Principal, str], db_path: Path
) -> None:
    store.audit(planner[0], "GET /health", [NIP_A], None, None, 200)
    public = [name for name in dir(StateStore) if not name.startswith("_")]
    assert not [name for name in public if name.startswith(("update", "delete", "clear", "purge"))]
    with sqlite3.connect(db_path) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit_log SET status = 500")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit_log")
    frame = store.read_audit()
    assert frame["status"].tolist() == [200]


def test_triggers_survive_reopening(db_path: Path) -> None:
    StateStore(f"sqlite:///{db_path}", nip_salt=SALT).close()
    with StateStore(f"sqlite:///{db_path}", nip_salt=SALT) as store:
        store.audit(None, "GET /health", [], None, None, 200)
    with sqlite3.connect(db_path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")


def test_read_audit_limit_since_and_nip(store: StateStore) -> None:
    for status in range(200, 205):
        store.audit(None, "GET /x", [NIP_A] if status % 2 else [NIP_B], None, None, status)
    assert store.read_audit(limit=2)["status"].tolist() == [203, 204], "most recent, oldest first"
    everything = store.read_audit(limit=None)
    assert everything["status"].tolist() == [200, 201, 202, 203, 204]
    since = everything["at"].iloc[2].to_pydatetime()
    expected = everything.loc[everything["at"] >= since, "status"].tolist()
    assert store.read_audit(since=since)["status"].tolist() == expected and 200 not in expected
    assert store.read_audit(nip=NIP_A)["status"].tolist() == [201, 203]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        store.read_audit(limit=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.read_audit(since=dt.datetime(2025, 1, 1))  # naive on purpose


def test_empty_audit_has_the_columns(store: StateStore) -> None:
    frame = store.read_audit()
    assert frame.empty and "nip_hashes" in frame.columns and "status" in frame.columns


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_round_trip(store: StateStore, planner: tuple[Principal, str]) -> None:
    principal, _ = planner
    first = store.add_feedback(principal, NIP_A, "T-001", FeedbackEvent.ACCEPTED, "", "v3")
    second = store.add_feedback(
        principal, NIP_B, "T-002", "objected", "  saya sudah ikut pelatihan ini ", "v3"
    )
    assert second > first
    frame = store.export_feedback()
    assert tuple(frame.columns) == FEEDBACK_EXPORT_COLUMNS
    assert frame["nip"].tolist() == [NIP_A, NIP_B], "feedback keeps the raw NIP (training data)"
    assert frame["event"].tolist() == ["accepted", "objected"]
    assert frame["reason"].tolist() == ["", "saya sudah ikut pelatihan ini"]
    assert frame["training_id"].tolist() == ["T-001", "T-002"]
    assert frame["key_id"].tolist() == [principal.key_id] * 2
    assert frame["at"].dt.tz is not None and frame["at"].is_monotonic_increasing
    pseudo = store.export_feedback(pseudonymous=True)
    assert pseudo["nip"].tolist() == [hash_nip(NIP_A, SALT), hash_nip(NIP_B, SALT)]


@pytest.mark.parametrize(
    ("nip", "training_id", "event", "reason", "message"),
    [
        (NIP_A, "T-1", "objected", "   ", "needs a reason"),
        (NIP_A, "T-1", "liked", "", "unknown feedback event 'liked'"),
        ("12345", "T-1", "accepted", "", "NIP must be exactly 18 digits"),
        (NIP_A, " ", "accepted", "", "training_id is empty"),
    ],
)
def test_invalid_feedback_is_refused(
    store: StateStore,
    planner: tuple[Principal, str],
    nip: str,
    training_id: str,
    event: str,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(StateInputError, match=message):
        store.add_feedback(planner[0], nip, training_id, event, reason, None)
    assert store.export_feedback().empty


# --- threads, URLs ------------------------------------------------------------------------------


def _hammer(store: StateStore, principal: Principal, plaintext: str, threads: int, writes: int) -> None:
    def work(worker: int) -> None:
        for i in range(writes):
            assert store.authenticate(plaintext) == principal
            store.audit(principal, f"worker-{worker}", [NIP_A], "v1", None, 200, detail=str(i))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, range(threads)))  # list() re-raises a worker's exception


def test_concurrent_audit_writes_all_land(store: StateStore, planner: tuple[Principal, str]) -> None:
    _hammer(store, *planner, threads=8, writes=50)
    frame = store.read_audit(limit=None)
    assert len(frame) == 400 and frame["id"].is_unique
    assert frame["action"].value_counts().to_dict() == {f"worker-{w}": 50 for w in range(8)}


def test_in_memory_database_is_shared_between_threads() -> None:
    with StateStore("sqlite://", nip_salt=SALT) as store:
        principal, plaintext = store.create_key("ops", "admin")
        _hammer(store, principal, plaintext, threads=4, writes=25)
        assert len(store.read_audit(limit=None)) == 100


def test_relative_sqlite_path_resolves_against_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, state_db_url="sqlite:///var/state.db")
    assert resolve_state_url(settings) == f"sqlite:///{tmp_path}/var/state.db"
    store_from_settings(settings).close()
    assert (tmp_path / "var" / "state.db").is_file()
    absolute = Settings(home=tmp_path, state_db_url=f"sqlite:///{tmp_path}/abs.db")
    assert resolve_state_url(absolute) == f"sqlite:///{tmp_path}/abs.db"
    postgres = Settings(home=tmp_path, state_db_url="postgresql://u:p@db/state")
    assert resolve_state_url(postgres) == "postgresql://u:p@db/state"


def test_invalid_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        StateStore("not a url", nip_salt=SALT)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ConfigError, match="cannot open the state database"):
        StateStore(f"sqlite:///{tmp_path}/dir.db", nip_salt=SALT)


# --- CLI ----------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """The sub-apps wired as the main CLI will wire them, on a fresh sqlite file under a tmp home."""
    monkeypatch.setenv("REKOMENDASI_HOME", str(tmp_path))
    monkeypatch.setenv("REKOMENDASI_STATE_DB_URL", "sqlite:///var/state.db")
    get_settings.cache_clear()
    root = typer.Typer()
    root.add_typer(keys_app, name="keys")
    root.add_typer(audit_app, name="audit")
    root.add_typer(feedback_app, name="feedback")
    yield root
    get_settings.cache_clear()


def _created_key(cli: typer.Typer, *args: str) -> str:
    result = runner.invoke(cli, ["keys", "create", *args])
    assert result.exit_code == 0, result.output
    keys = [line for line in result.stdout.splitlines() if line.startswith("rk_")]
    assert len(keys) == 1, result.stdout
    assert "not shown again" in result.stderr
    return keys[0]


def _assert_clean_failure(result: object, message: str) -> None:
    assert getattr(result, "exit_code") == 2  # noqa: B009 - Result is not imported
    output = getattr(result, "output")  # noqa: B009
    assert message in " ".join(output.split()), output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1
    assert isinstance(getattr(result, "exception"), SystemExit)  # noqa: B009


def test_cli_create_list_revoke(cli: typer.Typer, tmp_path: Path) -> None:
    plaintext = _created_key(
        cli, "--name", "BKD Jabar", "--role", "planner", "--agency", "I-32", "--agency", "I-33"
    )
    assert (tmp_path / "var" / "state.db").is_file(), "relative URL resolved against REKOMENDASI_HOME"
    with store_from_settings(get_settings()) as store:
        principal = store.authenticate(plaintext)
    assert principal is not None and principal.agencies == {"I-32", "I-33"}

    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert principal.key_id in listed.stdout and "BKD Jabar" in listed.stdout and "active" in listed.stdout
    assert _secret(plaintext) not in listed.stdout

    revoked = runner.invoke(cli, ["keys", "revoke", principal.key_id])
    assert revoked.exit_code == 0, revoked.output
    with store_from_settings(get_settings()) as store:
        assert store.authenticate(plaintext) is None
    assert "revoked" in runner.invoke(cli, ["keys", "list"]).stdout
    _assert_clean_failure(runner.invoke(cli, ["keys", "revoke", principal.key_id]), "no active key")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "ops", "--role", "admin", "--agency", "I-1"], "admin key sees every agency"),
        (["--name", "bkd", "--role", "planner"], "planner key needs at least one agency"),
        (["--name", "bkd", "--role", "boss", "--agency", "I-1"], "unknown role 'boss'"),
    ],
)
def test_cli_bad_key_input_exits_2_with_one_line(cli: typer.Typer, args: list[str], message: str) -> None:
    _assert_clean_failure(runner.invoke(cli, ["keys", "create", *args]), message)


def test_cli_audit_show_has_no_raw_nip(cli: typer.Typer) -> None:
    with store_from_settings(get_settings()) as store:
        principal, _ = store.create_key("LMS", "platform", ["I-32"])
        store.audit(principal, "POST /recommendations", [NIP_A, NIP_B], "v7", "snap-9", 200)
        store.audit(None, "GET /unauthenticated", [], None, None, 401)
    result = runner.invoke(cli, ["audit", "show", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "POST /recommendations" in result.stdout and principal.key_id in result.stdout
    assert "v7" in result.stdout and "snap-9" in result.stdout
    assert NIP_A not in result.stdout and NIP_B not in result.stdout
    assert "/unauthenticated" in result.stdout and "nan" not in result.stdout, "missing values print empty"
    assert runner.invoke(cli, ["audit", "show", "--limit", "0"]).exit_code == 2


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_feedback_export(cli: typer.Typer, tmp_path: Path, suffix: str) -> None:
    with store_from_settings(get_settings()) as store:
        principal, _ = store.create_key("BKD", "planner", ["I-32"])
        store.add_feedback(principal, NIP_A, "T-9", "objected", "tidak relevan", "v7")
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
    _assert_clean_failure(runner.invoke(cli, ["feedback", "export", str(out)]), "use a .csv or .parquet")
    assert not out.exists()
