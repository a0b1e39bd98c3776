"""`rekomendasi effectiveness`: the contract table (CSV or Parquet), the report folder, the MLflow run, and
nothing personal in any of them; a bad --out fails before any work.

One run on the small world (measured minimum 5, so some entries get a number) is shared by the module;
the short-history and bad-suffix runs are cheap (nothing is estimated).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from click.testing import Result
from mlflow import MlflowClient
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.errors import BadRequest
from rekomendasi.jobs.effectiveness import EXPERIMENT, check_out, default_report_dir
from rekomendasi.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ["training_id", "provider", "participants", "effect", "ci_low", "ci_high", "reason"]
"""data-contract.md, "Course effectiveness", in order (written out: a change of COLUMNS must fail here)."""
POOLING = ["raw_effect", "raw_low", "raw_high", "own_weight", "kind_effect"]
"""Beside an entry's pooled effect in the report's entries.csv."""
MINIMUM = 5
PLOTS = ("checks", "entries", "providers", "modalities")
runner = CliRunner()


@dataclass(frozen=True)
class Measured:
    home: Path
    uri: str
    env: dict[str, str]
    out: Path
    result: Result


def _invoke(env: dict[str, str], args: list[str]) -> Result:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            return runner.invoke(app, ["effectiveness", *args])
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def measured(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measured]:
    home = tmp_path_factory.mktemp("effectiveness")
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    env = {
        "REKOMENDASI_HOME": str(home),
        "REKOMENDASI_MLFLOW_URI": uri,
        "REKOMENDASI_FEATURES_DIR": str(ROOT / "features"),
        "REKOMENDASI_TRAINING_DIR": str(ROOT / "training"),
        "REKOMENDASI_TEXT_EMBEDDINGS": "false",
    }
    out = home / "out" / "effects.csv"
    args = ["--data", str(small_world), "--out", str(out), "--min-participants", str(MINIMUM)]
    result = _invoke(env, [*args, "--resamples", "200"])
    yield Measured(home, uri, env, out, result)


@pytest.fixture(scope="module")
def nips(small_world: Path) -> set[str]:
    """Every NIP of the world: its employees and everyone with an enrolment (the people measured)."""
    found = set(pd.read_csv(small_world / "employees.csv", dtype=str)["nip"])
    found |= set(pd.read_csv(small_world / "training_history.csv", dtype=str)["nip"])
    assert found and all(re.fullmatch(r"\d{18}", n) for n in found)
    return found


def _catalog(small_world: Path) -> pd.DataFrame:
    return pd.read_csv(small_world / "catalog.csv", dtype=str)


@pytest.mark.slow
def test_csv_has_the_contract_columns_and_one_row_per_entry(measured: Measured, small_world: Path) -> None:
    assert measured.result.exit_code == 0, measured.result.output
    table = pd.read_csv(measured.out, dtype={"training_id": str, "provider": str, "reason": str})
    assert list(table.columns) == CONTRACT
    catalog = _catalog(small_world)
    assert table["training_id"].is_unique
    assert sorted(table["training_id"]) == sorted(catalog["training_id"])
    providers = catalog.set_index("training_id")["provider"]
    assert (table["provider"] == table["training_id"].map(providers)).all()

    few = table[table["participants"] < MINIMUM]
    assert len(few) > 0
    assert few[["effect", "ci_low", "ci_high"]].isna().all().all()
    assert few["reason"].str.startswith("too few participants").all()

    numbered = table[table["effect"].notna()]
    assert len(numbered) > 0, "no entry reached the minimum: the checks below would pass on nothing"
    assert (numbered["participants"] >= MINIMUM).all()
    assert numbered["reason"].isna().all()
    assert (numbered["ci_low"] <= numbered["effect"]).all() and (
        numbered["effect"] <= numbered["ci_high"]
    ).all()
    # Every entry at the minimum has a number: none is dropped between the two groups.
    assert len(few) + len(numbered) == len(table)


@pytest.mark.slow
def test_summary_names_the_counts_and_the_checks(measured: Measured) -> None:
    text = " ".join(measured.result.stdout.split())
    table = pd.read_csv(measured.out)
    numbered = int(table["effect"].notna().sum())
    assert f"{numbered} of {len(table)} catalogue entries have an effect" in text
    assert "top 5 by effect" in text and "bottom 5" in text
    assert "effect [95% CI]" in text and "raw (own)" in text and "weight" in text and "naive" in text
    assert "pooled with what courses of its kind reached" in text
    best = table.sort_values("effect", ascending=False).iloc[0]["training_id"]
    assert best in text
    assert "placebo" in text and "participants" in text
    assert f"wrote {measured.out}" in text


@pytest.mark.slow
def test_report_folder_has_the_page_with_plots_and_the_tables(measured: Measured) -> None:
    folder = default_report_dir(measured.out)
    assert folder == measured.out.parent / "effects-report"
    page = (folder / "effectiveness.html").read_text(encoding="utf-8")
    for name in PLOTS:
        found = re.search(rf'<img alt="{name}.png" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
        assert found is not None, f"{name}.png is not embedded"
        png = base64.b64decode(found.group(1))
        assert png.startswith(b"\x89PNG") and png == (folder / f"{name}.png").read_bytes()
    for words in ("difference in differences", "placebo", "measured levels", "too few participants"):
        assert words in page.lower()
    for words in (
        "Pooling: an entry's effect",
        "own_weight",
        "kind_effect",
        "enrolled on the same competency later",
    ):
        assert words in html.unescape(page)
    assert "mean before pooling (green, with its interval)" in page  # the entries plot's third marker

    table = pd.read_csv(measured.out)
    entries = pd.read_csv(folder / "entries.csv")
    assert list(entries.columns[: len(CONTRACT)]) == CONTRACT
    assert {"title", "modality", "naive", "naive_low", "naive_high", *POOLING} <= set(entries.columns)
    pd.testing.assert_frame_equal(entries[CONTRACT], table, check_dtype=False)
    # The pooled effect: the entry's own mean pulled towards its kind's by its own weight; all missing
    # together with the effect.
    numbered = entries[entries["effect"].notna()]
    assert numbered[POOLING].notna().all().all()
    assert entries.loc[entries["effect"].isna(), POOLING].isna().all().all()
    assert numbered["own_weight"].between(0.0, 1.0).all()
    pulled = numbered["kind_effect"] + numbered["own_weight"] * (
        numbered["raw_effect"] - numbered["kind_effect"]
    )
    assert (numbered["effect"] - pulled).abs().max() < 1e-9
    assert (
        (numbered["raw_low"] <= numbered["raw_effect"]) & (numbered["raw_effect"] <= numbered["raw_high"])
    ).all()
    checks = pd.read_csv(folder / "checks.csv").set_index("check")
    assert list(checks.index) == ["participants", "placebo"]
    assert checks.loc["participants", "participants"] > checks.loc["placebo", "participants"] > 0
    for name in ("providers", "modalities"):
        frame = pd.read_csv(folder / f"{name}.csv")
        assert frame["participants"].sum() == checks.loc["participants", "participants"]


@pytest.mark.slow
def test_the_mlflow_run_has_its_params_metrics_and_artifacts(measured: Measured, small_world: Path) -> None:
    client = MlflowClient(tracking_uri=measured.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_id in measured.result.stdout and run.info.status == "FINISHED"
    params = run.data.params
    assert params["as_of"] == "2025-12-31" and params["years"] == "2024,2025"
    assert params["min_participants"] == str(MINIMUM) and params["resamples"] == "200"
    assert params["horizon_years"] == "1" and re.fullmatch(r"[0-9a-f]{64}", params["data_fingerprint"])
    metrics = run.data.metrics
    table = pd.read_csv(measured.out)
    checks = pd.read_csv(default_report_dir(measured.out) / "checks.csv").set_index("check")
    assert metrics["entries"] == len(_catalog(small_world))
    assert metrics["entries_with_effect"] == table["effect"].notna().sum()
    assert (
        metrics["participants"]
        == metrics["participants_participants"]
        == checks.loc["participants", "participants"]
    )
    for check in ("participants", "placebo"):
        for column in ("effect", "naive"):
            assert metrics[f"{check}_{column}"] == pytest.approx(checks.loc[check, column])
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert {"report/effectiveness.html", "report/entries.csv", "report/checks.csv"} <= logged
    assert [a.path for a in client.list_artifacts(run.info.run_id, "table")] == ["table/effects.csv"]


@pytest.mark.slow
def test_no_nip_in_the_output_the_report_or_mlflow(measured: Measured, nips: set[str]) -> None:
    run = MlflowClient(tracking_uri=measured.uri).search_runs(
        [MlflowClient(tracking_uri=measured.uri).get_experiment_by_name(EXPERIMENT).experiment_id]  # type: ignore[union-attr]
    )[0]
    artifacts = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, tracking_uri=measured.uri))
    texts = {"the printed summary": measured.result.output, "--out": measured.out.read_text(encoding="utf-8")}
    texts["MLflow params and tags"] = repr(run.data.params) + repr(run.data.tags)
    for folder in (default_report_dir(measured.out), artifacts):
        files = [p for p in folder.rglob("*") if p.suffix in (".html", ".csv")]
        assert len(files) >= 5
        texts |= {str(p): p.read_text(encoding="utf-8") for p in files}
    for where, text in texts.items():
        leaked = {n for n in re.findall(r"(?<!\d)\d{18}(?!\d)", text) if n in nips}
        leaked |= {n for n in nips if n in text}
        assert not leaked, f"{len(leaked)} NIPs in {where}"


@pytest.mark.slow
def test_parquet_with_too_short_a_history_lists_every_entry_with_its_reason(
    measured: Measured, small_world: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "effects.parquet", tmp_path / "report"
    args = ["--data", str(small_world), "--out", str(out), "--as-of", "2024-06-30", "--report", str(report)]
    result = _invoke(measured.env, args)
    assert result.exit_code == 0, result.output
    assert "too short" in " ".join(result.output.split())
    table = pd.read_parquet(out)
    assert list(table.columns) == CONTRACT
    assert sorted(table["training_id"]) == sorted(_catalog(small_world)["training_id"])
    assert table["effect"].isna().all() and (table["participants"] == 0).all()
    assert table["reason"].str.startswith("history too short").all()
    page = (report / "effectiveness.html").read_text(encoding="utf-8")
    assert "history is too short" in page and "data:image/png" not in page
    assert (report / "entries.csv").exists() and not (out.parent / "effects-report").exists()


def test_a_bad_out_suffix_fails_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKOMENDASI_HOME", str(tmp_path))
    get_settings.cache_clear()
    missing = tmp_path / "no-such-data"  # never read: the suffix is refused first
    try:
        result = runner.invoke(
            app, ["effectiveness", "--data", str(missing), "--out", str(tmp_path / "e.xlsx")]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "write the effectiveness table to a .csv or .parquet file, got suffix '.xlsx'" in text
    assert "no-such-data" not in text and "Traceback" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no table, report or MLflow store


def test_check_out_takes_csv_and_parquet_in_any_case() -> None:
    for name in ("a.csv", "a.CSV", "b.parquet", "b.Parquet"):
        check_out(Path(name))
    for name in ("a", "a.json", "a.csv.gz", "a.xlsx"):
        with pytest.raises(BadRequest, match=r"\.csv or \.parquet"):
            check_out(Path(name))
