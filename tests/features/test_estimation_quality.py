"""On the simulator, the estimator tracks true levels better than the naive planner's estimate."""

from __future__ import annotations

import datetime as dt

from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, build_snapshot
from rekomendasi.features.quality import estimation_quality


def test_estimator_beats_latest_assessment_else_requirement(
    small_dataset: Dataset, spec: EvidenceSpec
) -> None:
    snapshot = build_snapshot(small_dataset, dt.date(2025, 12, 31), spec, encoder=None)
    quality = estimation_quality(snapshot, small_dataset).set_index(["subset", "estimator"])
    ours, naive = quality.loc[("all", "estimator")], quality.loc[("all", "naive")]
    assert ours["mae_level"] < 0.8 * naive["mae_level"]
    assert ours["spearman_gap"] > naive["spearman_gap"] + 0.2
    assert quality.loc[("never assessed", "estimator"), "spearman_gap"] > 0.5
    assert 0.85 < ours["coverage_95"] <= 1.0
