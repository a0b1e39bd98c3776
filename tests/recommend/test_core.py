"""The recommendation core: one tie-break, one filter type, rankings that are permutations of the
eligible candidates, and the same answer whatever the partition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rekomendasi.candidates import Catalogue, build_matrices, generate
from rekomendasi.contract.enums import MODALITY
from rekomendasi.explain import gap_arrays
from rekomendasi.features import Snapshot
from rekomendasi.recommend import (
    Filters,
    ScoreOptions,
    Scores,
    agency_partitions,
    rank_order,
    recommendations,
    score_employees,
    score_snapshot,
)

from .conftest import LinearRanker


def test_rank_order_breaks_ties_by_gap_coverage_then_id() -> None:
    emp = np.array([1, 0, 0, 0, 0])
    score = np.array([9.0, 0.5, 0.7, 0.5, 0.5])
    generator = np.array([0.0, 0.2, 0.1, 0.3, 0.2])
    ids = np.array(["T5", "T4", "T3", "T2", "T1"], dtype=object)
    order = rank_order(emp, score, generator, ids)
    # Employee 0 first; the best score; then the two-way tie at 0.5 and generator 0.2 by training id.
    assert ids[order].tolist() == ["T3", "T2", "T1", "T4", "T5"]


def test_scores_are_ranked_explained_and_valid(snapshot: Snapshot, ranker: LinearRanker) -> None:
    m = build_matrices(snapshot)
    scores = score_employees(m, ranker, ScoreOptions(candidates=30, top_n=8))
    Scores.validate(scores)
    assert scores.groupby("nip").size().max() == 8
    # Best first, and equal scores ordered by the generator score then the training id.
    for _, rows in scores.groupby("nip"):
        keys = list(zip(-rows["score"], -rows["generator_score"], rows["training_id"], strict=True))
        assert keys == sorted(keys)
    # Each row's three contributions are its largest terms, by size.
    first = scores.iloc[0]
    assert (
        abs(first["contribution_1_value"])
        >= abs(first["contribution_2_value"])
        >= abs(first["contribution_3_value"])
    )
    assert first["contribution_1_feature"] in {"gap_sum", "peer_share", "uncertainty_mean"}


def test_rankings_are_the_best_of_the_candidates(snapshot: Snapshot, ranker: LinearRanker) -> None:
    m = build_matrices(snapshot)
    candidates = pd.concat(generate(m, size=30), ignore_index=True)
    scores = score_employees(m, ranker, ScoreOptions(candidates=30, top_n=1000))
    # With room for every candidate, the ranking is a permutation of each employee's candidates.
    pairs = candidates.set_index(["nip", "training_id"]).index
    assert set(scores.set_index(["nip", "training_id"]).index) == set(pairs)
    assert len(scores) == len(candidates)


def test_the_answer_does_not_depend_on_the_partition(snapshot: Snapshot, ranker: LinearRanker) -> None:
    options = ScoreOptions(candidates=40, top_n=10, chunk=7)
    active = snapshot.subset(snapshot.roster.loc[snapshot.roster["active"], "nip"])
    whole = score_employees(build_matrices(active), ranker, options)
    parts = pd.concat([scores for _, scores in score_snapshot(snapshot, ranker, options)], ignore_index=True)
    parts = parts.sort_values(["nip", "rank"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(whole, parts)
    agencies = [agency for agency, _ in agency_partitions(snapshot)]
    assert agencies == sorted(set(snapshot.roster.loc[snapshot.roster["active"], "instansi_id"]))


def test_one_employee_cut_gives_that_employees_rows(snapshot: Snapshot, ranker: LinearRanker) -> None:
    options = ScoreOptions(candidates=40, top_n=10)
    everyone = score_employees(build_matrices(snapshot), ranker, options)
    nip = str(everyone["nip"].iloc[len(everyone) // 2])
    catalogue = Catalogue.from_snapshot(snapshot)
    alone = score_employees(build_matrices(snapshot.subset([nip]), catalogue), ranker, options)
    pd.testing.assert_frame_equal(alone, everyone[everyone["nip"] == nip].reset_index(drop=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    modalities=st.none() | st.lists(st.sampled_from(MODALITY), min_size=1, max_size=3, unique=True),
    max_jp=st.none() | st.integers(1, 80),
    max_cost=st.none() | st.integers(0, 5_000_000),
)
def test_filtered_rankings_hold_only_allowed_eligible_entries(
    snapshot: Snapshot, modalities: list[str] | None, max_jp: int | None, max_cost: int | None
) -> None:
    m = build_matrices(snapshot.subset(snapshot.roster["nip"].iloc[:25]))
    filters = Filters(tuple(modalities) if modalities else None, max_cost, max_jp)
    scores = score_employees(m, LinearRanker(), ScoreOptions(candidates=20, top_n=5), filters)
    allowed = filters.allowed(m.catalogue)
    index = {t: i for i, t in enumerate(m.catalogue.ids)}
    rows = {n: i for i, n in enumerate(m.nips)}
    for nip, training_id in zip(scores["nip"], scores["training_id"], strict=True):
        entry = index[training_id]
        assert m.eligible[rows[nip], entry] and (allowed is None or allowed[entry])
    assert (scores.groupby("nip")["rank"].max() == scores.groupby("nip").size()).all()


def test_gap_arrays_pinned_on_a_hand_made_pair(snapshot: Snapshot) -> None:
    m = build_matrices(snapshot)
    cat = m.catalogue
    entry = int(np.flatnonzero((cat.targets >= 0).sum(axis=1) >= 2)[0])
    comps = cat.targets[entry][cat.targets[entry] >= 0]
    emp = 0
    m.estimated[emp, comps] = [1.5, 3.2][: len(comps)] + [2.0] * (len(comps) - 2)
    m.required[emp, comps] = [3.0, 3.0][: len(comps)] + [0.0] * (len(comps) - 2)
    m.uncertainty[emp, comps] = 0.4
    gaps = gap_arrays(m, np.array([emp]), np.array([entry]))
    target = cat.target_levels[entry][: len(comps)]
    # The 1.5-level shortfall comes first, the 0.2 surplus after it.
    assert cat.competencies[gaps.competency[0, 0]] == cat.competencies[comps[0]]
    assert gaps.gap[0, 0] == pytest.approx(1.5) and gaps.gap[0, 1] == 0.0
    assert gaps.closable[0, 0] == pytest.approx(min(1.5, max(target[0] - 1.5, 0.0)))
    assert gaps.expected_gap_closed[0] == pytest.approx(gaps.closable[0, 0])


def test_recommendations_read_back_every_field(snapshot: Snapshot, ranker: LinearRanker) -> None:
    m = build_matrices(snapshot.subset(snapshot.roster["nip"].iloc[:3]))
    scores = score_employees(m, ranker, ScoreOptions(candidates=20, top_n=4))
    first = scores[scores["nip"] == scores["nip"].iloc[0]]
    recs = recommendations(first, m.catalogue.names)
    assert [r.rank for r in recs] == [1, 2, 3, 4]
    assert [r.training_id for r in recs] == first["training_id"].tolist()
    assert recs[0].score == round(float(first["score"].iloc[0]), 6)
    assert recs[0].gaps and recs[0].gaps[0].name == m.catalogue.names[recs[0].gaps[0].competency_id]
    assert recs[0].reason("id").startswith(("Menutup", "Memperkuat", "Mengembangkan", "Pengembangan"))
    assert [c.feature for c in recs[0].contributions] == [
        first[f"contribution_{i}_feature"].iloc[0] for i in (1, 2, 3)
    ]


def test_no_eligible_entry_gives_no_rows(snapshot: Snapshot, ranker: LinearRanker) -> None:
    m = build_matrices(snapshot.subset(snapshot.roster["nip"].iloc[:5]))
    scores = score_employees(m, ranker, filters=Filters(max_jp=0))
    assert scores.empty and list(scores.columns) == list(Scores.to_schema().columns)
    Scores.validate(scores)
