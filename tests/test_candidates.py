"""Eligibility rules and candidate generation, on the small simulated world and against its truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.candidates import build_matrices, generate
from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot
from rekomendasi.ranking import oracle_top_k, recall_at_k
from rekomendasi.recommend import Filters

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def snapshot(small_dataset: Dataset, spec: EvidenceSpec) -> Snapshot:
    return build_snapshot(small_dataset, AS_OF, spec, encoder=None)


def _truth(small_world: Path) -> pd.DataFrame:
    truth = pd.read_csv(small_world / "truth" / "benefit.csv", dtype={"nip": str})
    return truth.rename(columns={"benefit": "gain"})


def test_eligibility_matches_the_rules(small_dataset: Dataset, snapshot: Snapshot, small_world: Path) -> None:
    m = build_matrices(snapshot)
    entries = m.catalogue.entries
    assert entries["mandatory_for"].isna().all() and entries["active"].all()
    truth = _truth(small_world)
    truth = truth[truth["training_id"].isin(entries["training_id"])]
    ours = pd.concat(generate(m, size=10**6))[["nip", "training_id"]].assign(ours=True)
    merged = truth.merge(ours, on=["nip", "training_id"], how="left").fillna({"ours": False})
    # The rules (jenis jabatan, not completed, not enrolled) agree with the simulator's definition exactly.
    assert (merged["ours"] == merged["eligible"]).all()


def test_filters_remove_what_they_name(snapshot: Snapshot) -> None:
    m = build_matrices(snapshot)
    filters = Filters(modalities=("e_learning",), max_cost_idr=500_000, max_jp=20)
    allowed = filters.allowed(m.catalogue)
    assert allowed is not None and 0 < allowed.sum() < len(allowed)
    chosen = pd.concat(generate(m, size=10**6, allowed=allowed))["entry"].unique()
    entries = m.catalogue.entries.iloc[np.sort(chosen)]
    assert len(entries) > 0
    assert set(entries["modality"]) == {"e_learning"}
    assert (entries["cost_idr"].fillna(0) <= 500_000).all() and (entries["jp"] <= 20).all()


@pytest.mark.parametrize("spelled", ["Jawa Barat", "  jawa barat ", "JAWA BARAT"])
def test_the_province_filter_keeps_online_and_local_classrooms(snapshot: Snapshot, spelled: str) -> None:
    m = build_matrices(snapshot)
    held = m.catalogue.entries["province"]
    allowed = Filters(province=spelled).allowed(m.catalogue)
    assert allowed is not None
    # Anywhere/online entries always stay; classroom entries stay only when held in that province.
    assert allowed[held.isna().to_numpy()].all()
    local = (held.str.casefold() == "jawa barat").fillna(False).to_numpy(dtype=bool)
    assert np.array_equal(allowed[held.notna().to_numpy()], local[held.notna().to_numpy()])
    assert Filters().allowed(m.catalogue) is None


def test_candidates_keep_the_oracle_top_10(
    small_dataset: Dataset, snapshot: Snapshot, small_world: Path
) -> None:
    m = build_matrices(snapshot)
    candidates = pd.concat(generate(m, size=100)).assign(rank=1)
    assert candidates.groupby("nip").size().max() <= 100
    truth = _truth(small_world)
    truth = truth[truth["eligible"] & truth["training_id"].isin(m.catalogue.ids)]
    assert recall_at_k(candidates, oracle_top_k(truth, 10), k=1) >= 0.95
    assert (
        not candidates["training_id"]
        .isin(small_dataset["catalog"].query("mandatory_for.notna()")["training_id"])
        .any()
    )
