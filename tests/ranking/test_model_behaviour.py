"""Behaviour of a trained ranker: it follows gaps, ignores names, and finds the obvious course."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.candidates import build_matrices, generate
from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot
from rekomendasi.ranking.pairs import FEATURES, pair_features
from rekomendasi.ranking.train import FitResult, fit_ranker, load_train_config

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def fitted(small_dataset: Dataset, spec: EvidenceSpec) -> FitResult:
    return fit_ranker(
        small_dataset, spec, load_train_config(ROOT / "src" / "rekomendasi" / "specs" / "train.yaml"), AS_OF
    )


def _scores(
    dataset: Dataset, snapshot: Snapshot, fit: FitResult, nips: list[str] | None = None
) -> pd.DataFrame:
    m = build_matrices(snapshot)
    candidates = pd.concat(generate(m, size=10**6), ignore_index=True)
    if nips is not None:
        candidates = candidates[candidates["nip"].isin(nips)].reset_index(drop=True)
    features = pair_features(m, candidates)
    return candidates[["nip", "training_id"]].assign(score=fit.model.predict(features[list(FEATURES)]))


def _targets(dataset: Dataset, competency: str) -> set[str]:
    links = dataset["catalog_competencies"]
    return set(links.loc[links["competency_id"] == competency, "training_id"])


def test_wider_gap_raises_entries_for_that_competency(small_dataset: Dataset, fitted: FitResult) -> None:
    snapshot = fitted.snapshot
    gaps = snapshot.competency_gaps
    row = gaps[(gaps["required_level"] >= 3) & gaps["competency_id"].str.startswith("tek_")].iloc[0]
    nip, competency = row["nip"], row["competency_id"]
    wider = gaps.copy()
    at = (wider["nip"] == nip) & (wider["competency_id"] == competency)
    wider.loc[at, "estimated_level"] = max(1.0, row["required_level"] - 1.5)
    wider.loc[at, "gap"] = wider.loc[at, "required_level"] - wider.loc[at, "estimated_level"]
    before = _scores(small_dataset, snapshot, fitted, [nip])
    after = _scores(small_dataset, dataclasses.replace(snapshot, competency_gaps=wider), fitted, [nip])
    for frame in (before, after):
        frame["rank"] = frame["score"].rank(ascending=False, method="first")
    aimed = _targets(small_dataset, competency)
    mine_before = before[before["training_id"].isin(aimed)]
    mine_after = after[after["training_id"].isin(aimed)]
    assert len(mine_before) > 0
    assert mine_after["rank"].mean() < mine_before["rank"].mean()
    assert mine_after["score"].mean() > mine_before["score"].mean()


def test_renaming_employees_changes_nothing(
    small_dataset: Dataset, spec: EvidenceSpec, fitted: FitResult
) -> None:
    nips = small_dataset["employees"]["nip"]
    rename = dict(zip(nips, [f"{900000000000000000 + i}" for i in range(len(nips))], strict=True))
    tables = {
        name: (frame.assign(nip=frame["nip"].map(rename)) if "nip" in frame.columns else frame)
        for name, frame in small_dataset.tables.items()
    }
    renamed = dataclasses.replace(small_dataset, tables=tables)
    original = _scores(small_dataset, fitted.snapshot, fitted, list(nips[:25]))
    moved = _scores(
        renamed, build_snapshot(renamed, AS_OF, spec, encoder=None), fitted, [rename[n] for n in nips[:25]]
    )
    moved["nip"] = moved["nip"].map({v: k for k, v in rename.items()})
    merged = original.merge(moved, on=["nip", "training_id"], suffixes=("", "_renamed"))
    assert len(merged) == len(original) == len(moved)
    assert np.allclose(merged["score"], merged["score_renamed"])


def test_obvious_single_gap_gets_its_course_in_the_top_3(small_dataset: Dataset, fitted: FitResult) -> None:
    snapshot = fitted.snapshot
    gaps = snapshot.competency_gaps.copy()
    nip = gaps.loc[gaps["competency_id"].str.startswith("tek_") & (gaps["required_level"] == 3), "nip"].iloc[
        0
    ]
    mine = gaps["nip"] == nip
    gaps.loc[mine, "estimated_level"] = gaps.loc[mine, "required_level"] + 0.3  # everything met ...
    competency = gaps.loc[
        mine & gaps["competency_id"].str.startswith("tek_") & (gaps["required_level"] == 3), "competency_id"
    ].iloc[0]
    one = mine & (gaps["competency_id"] == competency)
    gaps.loc[one, "estimated_level"] = 2.0  # ... but one technical competency, a level below
    gaps.loc[mine, "gap"] = gaps.loc[mine, "required_level"] - gaps.loc[mine, "estimated_level"]
    scores = _scores(small_dataset, dataclasses.replace(snapshot, competency_gaps=gaps), fitted, [nip])
    top3 = scores.nlargest(3, "score")["training_id"]
    assert top3.isin(_targets(small_dataset, competency)).any(), f"{competency} not served by {list(top3)}"
