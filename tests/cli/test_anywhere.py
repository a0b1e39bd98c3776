"""The installed CLI from any directory: `train` with the packaged spec and config, spec overrides, one
as-of rule, `score` writing the store the server reads, and `batch --store` keeping its store."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import rekomendasi
from rekomendasi.cli import app
from rekomendasi.features import read_snapshot
from rekomendasi.recommend import ScoresStore, StoreId
from rekomendasi.recommend.store import MANIFEST
from rekomendasi.registry import MlflowRegistry, ModelVersion
from rekomendasi.settings import get_settings

PACKAGED = Path(rekomendasi.__file__).resolve().parent / "specs"
runner = CliRunner()

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Trained:
    """A champion trained by `rekomendasi train` run in an empty directory."""

    home: Path
    uri: str
    stdout: str
    champion: ModelVersion


@pytest.fixture(scope="module")
def trained(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Trained once per test run: xdist workers share it (their simulated worlds are byte-identical)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    home = shared / "trained-anywhere"
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    with (shared / "trained-anywhere.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker trains; the others wait, then reuse
        if not (home / "stdout.txt").exists():
            home.mkdir(exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("REKOMENDASI_")}
            env |= {"REKOMENDASI_MLFLOW_URI": uri, "REKOMENDASI_TEXT_EMBEDDINGS": "false"}
            script = Path(sys.executable).with_name("rekomendasi")  # the installed console script
            done = subprocess.run(
                [str(script), "train", "--data", str(small_world)],
                cwd=home,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            (home / "stdout.txt").write_text(done.stdout, encoding="utf-8")
    champion = MlflowRegistry(uri).alias_version("champion")
    assert champion is not None
    return Trained(home, uri, (home / "stdout.txt").read_text(encoding="utf-8"), champion)


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trained: Trained) -> Iterator[Path]:
    """A fresh working directory, the registry of ``trained``, no other REKOMENDASI_ setting."""
    for name in [k for k in os.environ if k.startswith("REKOMENDASI_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REKOMENDASI_MLFLOW_URI", trained.uri)
    monkeypatch.setenv("REKOMENDASI_TEXT_EMBEDDINGS", "false")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_train_from_an_empty_directory_uses_and_records_the_packaged_files(trained: Trained) -> None:
    tags = trained.champion.tags
    assert tags["evidence_spec_path"] == str(PACKAGED / "evidence.yaml")
    assert tags["train_config_path"] == str(PACKAGED / "train.yaml")
    assert len(tags["evidence_spec_file_sha256"]) == 64 and len(tags["train_config_file_sha256"]) == 64
    assert f"evidence spec: {PACKAGED / 'evidence.yaml'}" in trained.stdout
    assert "promoted to champion" in trained.stdout
    assert not (trained.home / "features").exists() and not (trained.home / "training").exists()


def test_an_invalid_override_fails_naming_its_file(
    here: Path, small_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    override = here / "features" / "evidence.yaml"
    override.parent.mkdir()
    override.write_text((PACKAGED / "evidence.yaml").read_text().replace("sd: 0.9", "sd: -1"))
    result = runner.invoke(app, ["features", "--data", str(small_world), "--out", str(here / "snap")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    # The path as the settings name it (relative to REKOMENDASI_HOME, here the working directory).
    assert "features/evidence.yaml: invalid evidence spec: prior.sd" in " ".join(result.output.split())
    assert not (here / "snap").exists()
    elsewhere = here / "mine.yaml"
    elsewhere.write_text("version: [\n")
    monkeypatch.setenv("REKOMENDASI_EVIDENCE_SPEC", str(elsewhere))
    get_settings.cache_clear()
    result = runner.invoke(app, ["train", "--data", str(small_world)])
    assert result.exit_code == 2 and f"{elsewhere}: not valid YAML" in " ".join(result.output.split())


def test_score_builds_the_snapshot_with_the_override_then_writes_its_store(
    here: Path, small_world: Path, small_dataset, trained: Trained
) -> None:  # type: ignore[no-untyped-def]
    override = here / "features" / "evidence.yaml"
    override.parent.mkdir()
    override.write_text("# reviewed here\n" + (PACKAGED / "evidence.yaml").read_text())
    snap, scores = here / "snap", here / "scores"
    args = ["score", "--data", str(small_world), "--snapshot", str(snap), "--out", str(scores)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    snapshot = read_snapshot(snap)
    latest = int(small_dataset["skp"]["period"].str[:4].astype(int).max())
    assert snapshot.as_of == dt.date(latest, 12, 31), "the default as-of rule"
    assert snapshot.manifest["spec_path"] == str(override) and f"evidence spec: {override}" in result.output
    store_id = StoreId(snapshot.snapshot_id, trained.champion.version, trained.champion.run_id)
    store = ScoresStore.open(scores, store_id, "rekomendasi score")
    active = snapshot.roster[snapshot.roster["active"]]
    assert store.manifest["snapshot_id"] == snapshot.snapshot_id and store.top_n == 50
    assert 0 < int(store.manifest["employees"]) <= len(active)  # type: ignore[call-overload]
    assert f"scores store: {store.path}" in result.output
    # Without --data the snapshot already written is scored: the same snapshot id.
    again = runner.invoke(app, ["score", "--snapshot", str(snap), "--out", str(here / "s2"), "--top-n", "5"])
    assert again.exit_code == 0, again.output
    assert ScoresStore.open(here / "s2", store_id, "rekomendasi score").top_n == 5
    refused = runner.invoke(app, ["score", "--snapshot", str(snap), "--as-of", "2025-06-30"])
    assert refused.exit_code == 2 and "--as-of needs --data" in refused.output


def test_batch_keeps_its_store_when_asked_and_follows_the_as_of_setting(
    here: Path, small_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REKOMENDASI_AS_OF", "2025-06-30")
    get_settings.cache_clear()
    out, kept = here / "r.csv", here / "kept"
    args = ["batch", "--data", str(small_world), "--out", str(out), "--k", "3", "--store", str(kept)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype={"nip": str})
    assert list(recs.columns) == ["nip", "rank", "training_id", "score", "reason"]
    assert recs.groupby("nip").size().max() == 3
    assert f"wrote {len(recs):,} recommendations for {recs['nip'].nunique():,} employees" in result.output
    (store,) = [p for p in kept.iterdir() if (p / MANIFEST).exists()]
    manifest = ScoresStore(store).manifest
    assert manifest["as_of"] == "2025-06-30" and manifest["employees"] == recs["nip"].nunique()
    assert f"scores store: {store}" in result.output
