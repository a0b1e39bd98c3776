"""Pair features and outcome labels: shapes, consistency with the snapshot, and no future leakage."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from rekomendasi.candidates import build_matrices, generate
from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, build_snapshot
from rekomendasi.ranking.labels import outcome_examples
from rekomendasi.ranking.pairs import FEATURES, pair_features


def test_pair_features_follow_the_snapshot(small_dataset: Dataset, spec: EvidenceSpec) -> None:
    snapshot = build_snapshot(small_dataset, dt.date(2025, 12, 31), spec, encoder=None)
    m = build_matrices(snapshot)
    candidates = pd.concat(generate(m, size=20)).reset_index(drop=True)
    features = pair_features(m, candidates)
    assert list(features.columns) == list(FEATURES) and len(features) == len(candidates)
    row = candidates.iloc[0]
    gaps = snapshot.competency_gaps.set_index(["nip", "competency_id"])
    links = small_dataset["catalog_competencies"]
    targets = links[links["training_id"] == row["training_id"]]["competency_id"]
    expected = sum(
        max(gaps.loc[(row["nip"], c), "gap"], 0.0) for c in targets if (row["nip"], c) in gaps.index
    )
    assert (
        features.loc[0, "gap_sum"] == np.float32(expected)
        or abs(features.loc[0, "gap_sum"] - expected) < 1e-3
    )
    assert features["n_targets"].between(1, 3).all()
    assert np.isfinite(features[["gap_sum", "level_diff_mean", "peer_share"]].to_numpy()).all()


def test_outcome_labels_are_graded_and_ignore_later_years(small_dataset: Dataset, spec: EvidenceSpec) -> None:
    examples = outcome_examples(small_dataset, spec, [2024])
    assert set(np.unique(examples.label)) <= {0, 1, 2, 3} and (examples.year == 2024).all()
    assert len(examples.label) == len(examples.features) == len(examples.qid)
    # Removing everything dated after 2024 changes no example of 2024: labels only look one year ahead.
    cut = pd.Timestamp(2024, 12, 31)
    tables = dict(small_dataset.tables)
    for name, column in (
        ("assessments", "assessed_on"),
        ("feedback", "given_on"),
        ("daily_reports", "date"),
        ("jp_log", "date"),
        ("training_history", "enrolled_on"),
    ):
        tables[name] = tables[name][tables[name][column] <= cut]
    for name in ("skp", "behaviour", "indicators", "public_feedback"):
        tables[name] = tables[name][tables[name]["period"].str[:4].astype(int) <= 2024]
    history = tables["training_history"].copy()
    later = history["completed_on"] > cut
    history.loc[later, "completed_on"] = pd.NaT
    history.loc[later, "status"] = "enrolled"
    tables["training_history"] = history
    trimmed = outcome_examples(dataclasses.replace(small_dataset, tables=tables), spec, [2024])
    pd.testing.assert_frame_equal(examples.features, trimmed.features)
    assert np.array_equal(examples.label, trimmed.label)
