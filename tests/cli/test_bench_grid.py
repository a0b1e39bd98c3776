"""`rekomendasi bench grid`: the named worlds of the two sets, the summary's arithmetic on hand-written
tables, the cache of simulated worlds, and the command end to end on one tiny world."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

from rekomendasi.bench import grid
from rekomendasi.bench.grid import BASELINES, CANDIDATE, ORACLE, RANKER, GridWorld, WorldRun
from rekomendasi.cli import app
from rekomendasi.errors import ConfigError
from rekomendasi.simulate.assumptions import DEFAULT

runner = CliRunner()


def test_the_held_out_set_shares_no_world_seed_or_assumptions_with_the_dev_set() -> None:
    dev, held = grid.SETS["dev"], grid.SETS["heldout"]
    assert len(dev) >= 6 and len(held) >= 6
    assert not {w.name for w in dev} & {w.name for w in held}
    assert not {w.seed for w in dev} & {w.seed for w in held}
    assert not {w.assumptions for w in dev} & {w.assumptions for w in held}
    names = {w.name for w in (*dev, *held)}
    assert {"default", "noisy-evidence", "biased-skp", "quality-dominant", "fit-dominant"} <= names
    assert {"popularity-policy", "random-policy", "sparse-evidence"} <= names
    assert sum(w.name.startswith("random-") and w.name != "random-policy" for w in held) >= 2


def test_select_names_what_it_does_not_know() -> None:
    assert [w.name for w in grid.select("dev", ["quality-dominant", "default"])] == [
        "default",
        "quality-dominant",
    ]
    with pytest.raises(ConfigError, match="unknown grid set 'test'; valid sets: dev, heldout"):
        grid.select("test")
    with pytest.raises(ConfigError, match=r"unknown world 'biased-skp' in set 'dev'; its worlds: default, "):
        grid.select("dev", ["biased-skp"])


def _run(name: str, ndcg: dict[str, float]) -> WorldRun:
    models = pd.DataFrame({"model": list(ndcg), "ndcg@10": list(ndcg.values())})
    return WorldRun(
        GridWorld(name, 7, DEFAULT, "a test"), 100, models, False, {"simulate": 1.0, "evaluate": 2.0}, {}
    )


def test_the_best_baseline_is_a_planner_baseline_never_the_candidate_score_or_the_oracle() -> None:
    base = dict.fromkeys(BASELINES, 0.1)
    runs = [
        _run("a", {RANKER: 0.6, CANDIDATE: 0.9, **base, "gap heuristic": 0.4, ORACLE: 1.0}),
        _run("b", {RANKER: 0.9, CANDIDATE: 0.2, **base, "text similarity": 0.5, ORACLE: 1.0}),
    ]
    table = grid.summary(runs)
    assert list(table["best baseline"]) == ["gap heuristic", "text similarity"]
    assert list(table["ratio"]) == pytest.approx([1.5, 1.8])
    v = grid.verdict(table)
    assert (v.mean, v.worst, v.worst_world, v.worst_ratio, v.worst_ratio_world) == pytest.approx(
        (0.75, 0.6, "a", 1.5, "a")
    )
    assert v.mean_met and v.ratio_met
    v = grid.verdict(grid.summary([*runs, _run("c", {RANKER: 0.65, CANDIDATE: 0.1, **base, "random": 0.55})]))
    assert not v.ratio_met and v.worst_ratio_world == "c" and v.mean == pytest.approx(0.7166667)


def test_a_world_is_simulated_once_per_config(tmp_path: Path) -> None:
    world = GridWorld("w", 5, DEFAULT.replace(text_noise=0.2), "a test")
    data, cached = grid.prepare_world(world, 40, tmp_path)
    assert not cached and (data / "truth" / "benefit.parquet").exists()
    key = json.loads((tmp_path / "worlds" / "w.json").read_text())
    assert key["assumptions"]["text_noise"] == 0.2 and key["employees"] == 40
    assert grid.prepare_world(world, 40, tmp_path) == (data, True)
    assert grid.prepare_world(world, 41, tmp_path) == (data, False)  # another size: simulated again
    other = GridWorld("w", 5, DEFAULT, "a test")
    assert grid.prepare_world(other, 41, tmp_path) == (data, False)
    assert "text_noise" not in (data / "truth" / "README.md").read_text()


@pytest.mark.slow
def test_grid_end_to_end_on_one_tiny_world(tmp_path: Path) -> None:
    grid_dir = tmp_path / "grid"
    args = [
        "bench",
        "grid",
        "--employees",
        "300",
        "--set",
        "dev",
        "--worlds",
        "default",
        "--out",
        str(grid_dir),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for header in ("world", "ranker", "candidate score", "popularity", "gap heuristic", "text similarity"):
        assert header in result.output
    assert "best baseline" in result.output and "ratio" in result.output
    assert "mean ranker NDCG@10" in result.output and "worst ratio to the best baseline" in result.output
    rows = pd.read_csv(grid_dir / "grid.csv")
    assert {"world", "seed", "model", "ndcg@10", "ndcg@10_low", "ndcg@10_high"} <= set(rows.columns)
    assert set(rows["model"]) >= {CANDIDATE, ORACLE, *BASELINES}
    assert rows["model"].str.startswith("ranker").sum() == 1  # the ranker, whatever its kind is called
    assert (rows["world"] == "default").all() and (rows["seed"] == 1001).all()
    assert ((rows["ndcg@10_low"] <= rows["ndcg@10"]) & (rows["ndcg@10"] <= rows["ndcg@10_high"])).all()
    assert rows.loc[rows["model"] == ORACLE, "ndcg@10"].item() == pytest.approx(1.0)
    markdown = (grid_dir / "grid.md").read_text()
    assert "| world | seed | ranker | candidate score |" in markdown and "**default** (seed 1001)" in markdown


def test_a_world_the_ranker_fails_on_is_reported_and_the_grid_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rekomendasi.jobs.models as jobs

    def evaluate(settings: object, data: Path, as_of: object, progress: object = None) -> SimpleNamespace:
        if data.name == "default":
            raise ValueError("only 37 enrolments to learn from")
        models = pd.DataFrame(
            {"model": [RANKER, CANDIDATE, *BASELINES], "ndcg@10": [0.8, 0.5, 0.4, 0.5, 0.3, 0.2]}
        )
        fit = SimpleNamespace(
            train_years=[2024], examples={"train": 9}, model=None, validation_ndcg=0.7, holdout=[1]
        )
        return SimpleNamespace(fit=fit, tables={"models": models})

    monkeypatch.setattr(grid, "prepare_world", lambda world, employees, out, fmt: (out / world.name, False))
    monkeypatch.setattr(jobs, "evaluate_job", evaluate)
    args = ["bench", "grid", "--set", "dev", "--worlds", "default,noisy-evidence", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "default: evaluation FAILED: ValueError: only 37 enrolments" in result.output
    assert "noisy-evidence" in result.output and "1.60" in result.output  # 0.8 / 0.5: it went on
    rows = pd.read_csv(tmp_path / "grid.csv")
    assert rows.loc[rows["world"] == "default", "error"].item().startswith("ValueError")
    assert "**default: evaluation failed**" in (tmp_path / "grid.md").read_text()
    v = grid.verdict(grid.summary([_run("a", {RANKER: 0.9, **dict.fromkeys(BASELINES, 0.1)})]))
    assert v.mean_met and v.ratio_met and not v.failed
