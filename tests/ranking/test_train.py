"""Training on outcomes with a time split; evaluation against baselines; truth is never needed to train."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest

from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.errors import ConfigError, DataContractError
from rekomendasi.features import EvidenceSpec
from rekomendasi.ranking.train import evaluate_ranker, fit_ranker, label_years, load_train_config

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def config():  # type: ignore[no-untyped-def]
    return load_train_config(ROOT / "training" / "train.yaml")


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
    tables = evaluate_ranker(small_dataset, fit, config)
    models = tables["models"].set_index("model")
    assert {
        "ranker (LambdaRank)",
        "gap heuristic",
        "popularity (same position)",
        "text similarity",
        "random",
        "oracle (truth)",
    } <= set(models.index)
    assert models.loc["oracle (truth)", "ndcg@10"] == pytest.approx(1.0)
    assert models.loc["ranker (LambdaRank)", "ndcg@10"] > models.loc["random", "ndcg@10"]
    assert (models["ndcg@10_low"] <= models["ndcg@10"]).all() and (
        models["ndcg@10"] <= models["ndcg@10_high"]
    ).all()
    assert set(tables["groups"]["group"]) == {"gender", "status"}


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
    assert models["coverage@10"].between(0, 1).all() and "groups" not in tables


def test_too_short_history_is_a_clear_error(small_dataset: Dataset, spec: EvidenceSpec, config) -> None:  # type: ignore[no-untyped-def]
    empty = dataclasses.replace(
        small_dataset,
        tables={**small_dataset.tables, "training_history": small_dataset["training_history"].iloc[:0]},
    )
    with pytest.raises(DataContractError, match="at least two calendar years"):
        fit_ranker(empty, spec, config, AS_OF)


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text((ROOT / "training" / "train.yaml").read_text().replace("num_leaves: 7", "num_leaves: 1"))
    with pytest.raises(ConfigError, match=r"train\.yaml: invalid training config: ranker\.num_leaves"):
        load_train_config(path)
