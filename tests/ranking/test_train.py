"""Training on outcomes with a time split; evaluation against baselines; truth is never needed to train."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.candidates import build_matrices, generate
from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.errors import ConfigError, DataContractError
from rekomendasi.features import EvidenceSpec, build_snapshot
from rekomendasi.ranking import map_at_k, ndcg_at_k, oracle_top_k, recall_at_k
from rekomendasi.ranking.evaluate import by_group, compare
from rekomendasi.ranking.labels import outcome_examples
from rekomendasi.ranking.report import write_report
from rekomendasi.ranking.train import (
    RANKER,
    REFERENCE,
    agency_kind,
    evaluate_ranker,
    fit_ranker,
    label_years,
    load_train_config,
    read_benefit,
)

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def config():  # type: ignore[no-untyped-def]
    return load_train_config(ROOT / "src" / "rekomendasi" / "specs" / "train.yaml")


def test_label_years_need_a_year_of_evidence_first(small_dataset: Dataset) -> None:
    assert label_years(small_dataset, AS_OF) == [2024, 2025]
    assert label_years(small_dataset, dt.date(2025, 6, 30)) == [2024]


def test_fit_uses_a_time_split_and_keeps_holdout_out(
    small_dataset: Dataset, spec: EvidenceSpec, config
) -> None:  # type: ignore[no-untyped-def]
    fit = fit_ranker(small_dataset, spec, config, AS_OF)
    assert fit.train_years == [2024] and fit.validation_year == 2025
    assert fit.examples["train"] > 0 and fit.examples["validation"] > 0
    assert 0 < len(fit.holdout) < len(fit.snapshot.performance)
    assert fit.model.n_jobs == config.gain.n_jobs
    assert fit.reference is not None and fit.reference.n_jobs == config.ranker.n_jobs
    # The served model was refitted with the penalty the time split chose among the configured ones.
    assert fit.model.best_alpha_ in config.gain.alphas
    assert set(fit.model.validation_errors_) == set(config.gain.alphas)
    # Every example of a held-out employee is left out, and only those.
    examples = outcome_examples(small_dataset, spec, [2024, 2025])
    held = set(fit.holdout)
    outside = np.array([nip not in held for nip in examples.nip])
    assert fit.examples == {
        "train": int((outside & (examples.year == 2024)).sum()),
        "validation": int((outside & (examples.year == 2025)).sum()),
    }
    tables = evaluate_ranker(small_dataset, fit, config)
    models = tables["models"].set_index("model")
    assert {
        RANKER,
        REFERENCE,
        "gap heuristic",
        "popularity (same position)",
        "text similarity",
        "random",
        "oracle (truth)",
    } <= set(models.index)
    assert models.loc["oracle (truth)", "ndcg@10"] == pytest.approx(1.0)
    assert models.loc[RANKER, "ndcg@10"] > models.loc["random", "ndcg@10"]
    assert (models["ndcg@10_low"] <= models["ndcg@10"]).all() and (
        models["ndcg@10"] <= models["ndcg@10_high"]
    ).all()
    groups = tables["groups"]
    assert set(groups["group"]) == {"gender", "status", "agency_kind", "province"}
    assert set(groups.loc[groups["group"] == "agency_kind", "value"]) == {"central", "regional"}
    assert groups["ndcg@10"].between(0, 1).all() and (groups["exposure"] > 0).all()
    candidates = tables["candidates"].iloc[0]
    assert candidates["candidates_per_employee"] <= config.candidates
    assert candidates["recall_oracle@10"] >= 0.9


def test_real_data_without_truth_trains_and_evaluates(
    small_world: Path, tmp_path: Path, spec: EvidenceSpec, config
) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "agency"
    shutil.copytree(small_world, copy, ignore=shutil.ignore_patterns("truth"))
    dataset = load_dataset(copy)
    fit = fit_ranker(dataset, spec, config, AS_OF)
    tables = evaluate_ranker(dataset, fit, config)
    models = tables["models"]
    assert "oracle (truth)" not in set(models["model"]) and "ndcg@10" not in models.columns
    assert models["coverage@10"].between(0, 1).all() and "candidates" not in tables
    assert "ndcg@10" not in tables["groups"].columns and tables["groups"]["exposure"].notna().all()


def test_too_short_history_is_a_clear_error(small_dataset: Dataset, spec: EvidenceSpec, config) -> None:  # type: ignore[no-untyped-def]
    empty = dataclasses.replace(
        small_dataset,
        tables={**small_dataset.tables, "training_history": small_dataset["training_history"].iloc[:0]},
    )
    with pytest.raises(DataContractError, match="at least two calendar years"):
        fit_ranker(empty, spec, config, AS_OF)


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(
        (ROOT / "src" / "rekomendasi" / "specs" / "train.yaml")
        .read_text()
        .replace("num_leaves: 7", "num_leaves: 1")
    )
    with pytest.raises(ConfigError, match=r"train\.yaml: invalid training config: ranker\.num_leaves"):
        load_train_config(path)


def test_ranker_threads_come_from_the_config(tmp_path: Path, config) -> None:  # type: ignore[no-untyped-def]
    assert config.ranker.n_jobs == 1  # the packaged config fits with one thread (issue #14)
    path = tmp_path / "train.yaml"
    text = (ROOT / "src" / "rekomendasi" / "specs" / "train.yaml").read_text()
    path.write_text("\n".join(line for line in text.splitlines() if "n_jobs" not in line))
    assert load_train_config(path).ranker.n_jobs == 1  # an older config without the field still loads
    path.write_text(text.replace("n_jobs: 1", "n_jobs: 0"))
    with pytest.raises(ConfigError, match=r"ranker\.n_jobs"):
        load_train_config(path)


def test_agency_kind_from_province_spread_or_pattern() -> None:
    employees = pd.DataFrame(
        {
            "nip": ["1", "2", "3", "4"],
            "instansi_id": ["kl-001", "kl-001", "pemda-001", "pemda-001"],
            "province": ["Aceh", "Bali", "Papua", "Papua"],
        }
    )
    assert list(agency_kind(employees)) == ["central", "central", "regional", "regional"]
    assert list(agency_kind(employees, "^pemda")) == ["regional", "regional", "central", "central"]


def test_report_has_plots_tables_and_no_external_assets(tmp_path: Path) -> None:
    models = pd.DataFrame(
        {
            "model": ["ranker", "random"],
            "employees": [10, 10],
            "ndcg@10": [0.6, 0.2],
            "ndcg@10_low": [0.55, 0.15],
            "ndcg@10_high": [0.65, 0.25],
        }
    )
    groups = pd.DataFrame(
        {
            "model": ["ranker", "ranker"],
            "group": ["gender", "gender"],
            "value": ["l", "p"],
            "employees": [5, 5],
            "ndcg@10": [0.58, 0.62],
            "exposure": [1.0, 1.0],
        }
    )
    importance = pd.DataFrame({"feature": ["gap_sum", "jp"], "gain": [10.0, 2.0]})
    page = write_report({"models": models, "groups": groups, "importance": importance}, tmp_path, "t")
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3 and "gap_sum" in text and "0.62" in text
    assert {p.name for p in tmp_path.glob("*.png")} == {"models.png", "groups-gender.png", "importance.png"}
    assert "![models.png](models.png)" in (tmp_path / "evaluation.md").read_text()
    assert pd.read_csv(tmp_path / "groups.csv").shape == (2, 6)


def test_candidates_of_some_rows_are_those_of_everyone_cut_to_them(
    small_dataset: Dataset, spec: EvidenceSpec
) -> None:
    # evaluate_ranker generates the held-out employees' candidates only; they must be the rows a
    # generation for everyone keeps for them.
    m = build_matrices(build_snapshot(small_dataset, AS_OF, spec, encoder=None))
    rows = np.arange(1, len(m.nips), 3)
    some = pd.concat(generate(m, 20, rows=rows, chunk=7), ignore_index=True)
    everyone = pd.concat(generate(m, 20), ignore_index=True)
    cut = everyone[everyone["nip"].isin(m.nips[rows])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, cut)


def test_read_benefit_keeps_the_eligible_pairs_of_the_given_employees(
    small_world: Path, tmp_path: Path
) -> None:
    full = read_benefit(small_world)
    assert full is not None and not full["eligible"].all()
    nips = np.sort(full["nip"].unique()[::4])
    expected = full[full["eligible"] & full["nip"].isin(nips)].reset_index(drop=True)
    (tmp_path / "truth").mkdir()
    full.to_parquet(tmp_path / "truth" / "benefit.parquet")
    for directory in (small_world, tmp_path):  # CSV, then Parquet (filtered while reading)
        cut = read_benefit(directory, nips)
        assert cut is not None
        pd.testing.assert_frame_equal(cut.reset_index(drop=True), expected, check_dtype=False)
    assert read_benefit(tmp_path / "nothing", nips) is None


def test_compare_and_by_group_equal_the_metrics_of_each_list_alone() -> None:
    # compare and by_group look truth up once for all lists; each list alone must score the same.
    rng = np.random.default_rng(7)
    nips, items = [f"{i:018d}" for i in range(60)], [f"t{j}" for j in range(25)]
    truth = pd.DataFrame(
        {
            "nip": np.repeat(nips, 25),
            "training_id": np.tile(items, 60),
            "gain": rng.random(1500) * (rng.random(1500) > 0.4),
        }
    )
    lists = {}
    for name in ("a", "b"):
        recs = truth.sample(frac=0.6, random_state=len(lists))[["nip", "training_id"]]
        recs["rank"] = recs.groupby("nip").cumcount() + 1
        lists[name] = recs[recs["rank"] <= 10].reset_index(drop=True)
    links = pd.DataFrame({"training_id": items, "competency_id": [f"c{j % 6}" for j in range(25)]})
    table = compare(lists, truth, 25, links, (5, 10), 50).set_index("model")
    groups = pd.DataFrame({"gender": ["l", "p"] * 30}, index=pd.Index(nips, name="nip"))
    grouped = by_group(lists, truth, groups, 10).set_index(["model", "value"])
    oracle = oracle_top_k(truth, 10)
    for name, recs in lists.items():
        assert table.loc[name, "ndcg@5"] == pytest.approx(ndcg_at_k(recs, truth, 5))
        assert table.loc[name, "ndcg@10"] == pytest.approx(ndcg_at_k(recs, truth, 10))
        assert table.loc[name, "map@10"] == pytest.approx(map_at_k(recs, truth, 10))
        assert table.loc[name, "recall_oracle@10"] == pytest.approx(recall_at_k(recs, oracle, 10))
        for value in ("l", "p"):
            members = groups.index[groups["gender"] == value]
            alone = recs[recs["nip"].isin(members)]
            assert grouped.loc[(name, value), "ndcg@10"] == pytest.approx(ndcg_at_k(alone, truth, 10))
