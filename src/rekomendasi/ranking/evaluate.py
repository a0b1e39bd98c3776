"""Compare rankings of the same held-out employees: the ranker, the baselines a planner would use today,
random, and (in simulated worlds only) the oracle from truth/."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rekomendasi.candidates import Candidates
from rekomendasi.ranking.metrics import (
    GAIN,
    ITEM,
    RANK,
    USER,
    ap_per_user,
    bootstrap_ci,
    catalog_coverage,
    intra_list_diversity,
    ndcg_per_user,
    oracle_top_k,
    recall_per_user,
)


def baseline_scores(features: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Scores of the baselines for candidate rows with pair features.

    - popularity: what colleagues in the same position completed (then overall uptake);
    - gap heuristic: the sum of the employee's gaps on the competencies the entry targets;
    - text similarity: how much of the employee's own text is about those competencies;
    - random.
    """
    rng = np.random.default_rng(seed)
    return {
        "popularity (same position)": features["peer_share"].to_numpy()
        + 1e-6 * features["entry_takers"].to_numpy(),
        "gap heuristic": features["gap_sum"].to_numpy() + 1e-6 * features["target_level_mean"].to_numpy(),
        "text similarity": features["text_share_sum"].to_numpy(),
        "random": rng.random(len(features)),
    }


def rank_lists(candidates: pd.DataFrame, score: np.ndarray, k: int) -> pd.DataFrame:
    """Top-k per employee by ``score``: (nip, training_id, score, rank)."""
    frame = candidates[[Candidates.nip, Candidates.training_id]].assign(score=score)
    frame[RANK] = frame.groupby(Candidates.nip)["score"].rank(ascending=False, method="first").astype(int)
    return frame[frame[RANK] <= k].sort_values([Candidates.nip, RANK], kind="stable").reset_index(drop=True)


def _graded(
    lists: Mapping[str, pd.DataFrame], truth: pd.DataFrame, k: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What every list's metrics read of ``truth``, computed once for all lists: its oracle top-k (ideal
    DCG, AP, recall) and the gains of the listed items (each NDCG merges with these few rows rather
    than with all of truth: millions of rows for the 20,000 held-out employees of a 100,000 world)."""
    listed = pd.concat([recs[[USER, ITEM]] for recs in lists.values()]).drop_duplicates()
    return oracle_top_k(truth, k), listed.merge(truth[[USER, ITEM, GAIN]], on=[USER, ITEM])


def compare(
    lists: Mapping[str, pd.DataFrame],
    truth: pd.DataFrame | None,
    catalog_size: int,
    item_competencies: pd.DataFrame,
    ks: tuple[int, ...] = (5, 10),
    resamples: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per model: NDCG@k (with 95% bootstrap CI), MAP@10, recall of the oracle top 10,
    catalogue coverage and intra-list diversity. Truth-based columns are NaN without truth."""
    rows = []
    oracle, listed = _graded(lists, truth, max(*ks, 10)) if truth is not None else (None, None)
    for name, recs in lists.items():
        row: dict[str, object] = {"model": name, "employees": recs[USER].nunique()}
        if oracle is not None and listed is not None:
            for k in ks:
                per_user = ndcg_per_user(recs, listed, k, oracle)
                low, high = bootstrap_ci(per_user, resamples, seed=seed)
                row[f"ndcg@{k}"], row[f"ndcg@{k}_low"], row[f"ndcg@{k}_high"] = (
                    float(per_user.mean()),
                    low,
                    high,
                )
            row["map@10"] = float(ap_per_user(recs, listed, 10, oracle).mean())
            row["recall_oracle@10"] = float(recall_per_user(recs, oracle[oracle[RANK] <= 10], 10).mean())
        row["coverage@10"] = catalog_coverage(recs, catalog_size, 10)
        row["diversity@10"] = intra_list_diversity(recs, item_competencies, 10)
        rows.append(row)
    return pd.DataFrame(rows)


def by_group(
    lists: Mapping[str, pd.DataFrame], truth: pd.DataFrame | None, groups: pd.DataFrame, k: int = 10
) -> pd.DataFrame:
    """NDCG@k (with truth only), oracle recall and exposure per group value (e.g. gender, status), per model.

    ``groups`` has one row per nip with one column per grouping. Exposure is the group's share of all
    recommendation slots divided by its share of the evaluated employees (1 = proportional: nobody is
    left with shorter lists). NDCG gaps between groups show whose needs the model serves less well.
    """
    rows = []
    oracle, listed = _graded(lists, truth, k) if truth is not None else (None, None)
    for name, recs in lists.items():
        ndcg = ndcg_per_user(recs, listed, k, oracle) if listed is not None else None
        recall = recall_per_user(recs, oracle, k) if oracle is not None else None
        evaluated = groups.reindex(recs[USER].unique())
        for column in groups.columns:
            slots = recs.groupby(recs[USER].map(groups[column])).size()
            people = evaluated[column].value_counts()
            for value, count in people.items():
                row: dict[str, object] = {"model": name, "group": column, "value": value, "employees": count}
                if ndcg is not None and recall is not None:
                    members = groups.index[groups[column] == value]
                    row[f"ndcg@{k}"] = float(ndcg.reindex(members).mean())
                    row[f"recall_oracle@{k}"] = float(recall.reindex(members).mean())
                row["exposure"] = float((slots.get(value, 0) / slots.sum()) / (count / people.sum()))
                rows.append(row)
    return pd.DataFrame(rows)
