"""Metrics of recommendation lists, in the long format and with the names of recommenders-team/recommenders.

``recs`` has one row per (nip, training_id) with ``rank`` (1 = best); ``relevance`` has one row per
(nip, training_id) with a graded ``gain`` (e.g. the true expected benefit), covering every item that
could have been recommended to that employee. Per-user values are returned by the ``*_per_user``
functions so that confidence intervals can be bootstrapped over users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

USER, ITEM, RANK, GAIN = "nip", "training_id", "rank", "gain"


def _top(recs: pd.DataFrame, k: int) -> pd.DataFrame:
    return recs.loc[recs[RANK] <= k, [USER, ITEM, RANK]]


def oracle_top_k(relevance: pd.DataFrame, k: int) -> pd.DataFrame:
    """The best ``k`` items per user by gain (ties broken by item id), ranked 1..k; zero gains excluded."""
    positive = relevance[relevance[GAIN] > 0].sort_values(
        [USER, GAIN, ITEM], ascending=[True, False, True], kind="stable"
    )
    top = positive.groupby(USER, sort=False).head(k).copy()
    top[RANK] = top.groupby(USER, sort=False).cumcount() + 1
    return top.reset_index(drop=True)


def _oracle(relevance: pd.DataFrame, k: int, oracle: pd.DataFrame | None) -> pd.DataFrame:
    """The oracle top-k: the first k ranks of a longer one the caller computed (:func:`oracle_top_k`
    ranks by one fixed order, so they are the top-k), else computed from ``relevance``."""
    return oracle_top_k(relevance, k) if oracle is None else oracle[oracle[RANK] <= k]


def ndcg_per_user(
    recs: pd.DataFrame, relevance: pd.DataFrame, k: int, oracle: pd.DataFrame | None = None
) -> pd.Series:
    """NDCG@k per user with linear gains, in [0, 1]; users whose ideal DCG is 0 are left out.

    Args:
        oracle: ``oracle_top_k(relevance, K)`` for some K >= k, when the caller scores several lists
            against the same relevance (sorting all of it is the slow part); computed here otherwise.
            With it, ``relevance`` needs only the gains of the items in ``recs``.
    """
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    hits = _top(recs, k).merge(relevance[[USER, ITEM, GAIN]], on=[USER, ITEM], how="left").fillna({GAIN: 0.0})
    dcg = (hits[GAIN].to_numpy() * discount[hits[RANK].to_numpy(dtype=int) - 1]).astype(float)
    dcg_by_user = pd.Series(dcg).groupby(hits[USER].to_numpy()).sum()
    ideal = _oracle(relevance, k, oracle)
    idcg = (
        pd.Series(ideal[GAIN].to_numpy() * discount[ideal[RANK].to_numpy() - 1])
        .groupby(ideal[USER].to_numpy())
        .sum()
    )
    users = idcg.index.intersection(pd.Index(recs[USER].unique()))
    return (dcg_by_user.reindex(users).fillna(0.0) / idcg.reindex(users)).rename("ndcg")


def ndcg_at_k(recs: pd.DataFrame, relevance: pd.DataFrame, k: int = 10) -> float:
    """float: mean NDCG@k over users with any positive gain, in [0, 1]."""
    values = ndcg_per_user(recs, relevance, k)
    return float(values.mean()) if len(values) else float("nan")


def ap_per_user(
    recs: pd.DataFrame, relevance: pd.DataFrame, k: int, oracle: pd.DataFrame | None = None
) -> pd.Series:
    """Average precision@k per user, where the relevant items are the user's oracle top-k.

    Args:
        oracle: ``oracle_top_k(relevance, K)`` for some K >= k, as in :func:`ndcg_per_user`; ``relevance``
            is not read then.
    """
    relevant = _oracle(relevance, k, oracle)[[USER, ITEM]].assign(rel=1)
    hits = (
        _top(recs, k)
        .merge(relevant, on=[USER, ITEM], how="left")
        .fillna({"rel": 0})
        .sort_values([USER, RANK], kind="stable")
    )
    hits["cum"] = hits.groupby(USER)["rel"].cumsum()
    hits["prec"] = hits["cum"] / hits[RANK] * hits["rel"]
    n_relevant = relevant.groupby(USER).size()
    users = n_relevant.index.intersection(pd.Index(recs[USER].unique()))
    return (
        hits.groupby(USER)["prec"].sum().reindex(users).fillna(0.0) / np.minimum(n_relevant.reindex(users), k)
    ).rename("ap")


def map_at_k(recs: pd.DataFrame, relevance: pd.DataFrame, k: int = 10) -> float:
    """float: mean average precision@k against each user's oracle top-k, in [0, 1]."""
    values = ap_per_user(recs, relevance, k)
    return float(values.mean()) if len(values) else float("nan")


def recall_per_user(recs: pd.DataFrame, reference: pd.DataFrame, k: int) -> pd.Series:
    """Share of each user's ``reference`` items (e.g. the oracle top-k) found in their top-k."""
    found = _top(recs, k).merge(reference[[USER, ITEM]], on=[USER, ITEM]).groupby(USER).size()
    total = reference.groupby(USER).size()
    users = total.index.intersection(pd.Index(recs[USER].unique()))
    return (found.reindex(users).fillna(0) / total.reindex(users)).rename("recall")


def recall_at_k(recs: pd.DataFrame, reference: pd.DataFrame, k: int = 10) -> float:
    """float: mean share of the reference items found in the top-k, in [0, 1]."""
    values = recall_per_user(recs, reference, k)
    return float(values.mean()) if len(values) else float("nan")


def catalog_coverage(recs: pd.DataFrame, catalog_size: int, k: int = 10) -> float:
    """float: share of the catalogue recommended to anyone in a top-k, in [0, 1]."""
    return float(_top(recs, k)[ITEM].nunique() / catalog_size) if catalog_size else float("nan")


def intra_list_diversity(recs: pd.DataFrame, item_competencies: pd.DataFrame, k: int = 10) -> float:
    """float: mean over users of the mean pairwise Jaccard distance between the competency sets of
    their top-k items, in [0, 1] (1 = no two items share a competency); users with fewer than two items
    are left out."""
    top = _top(recs, k)
    items, item_codes = np.unique(top[ITEM].to_numpy(dtype=str), return_inverse=True)
    links = item_competencies[item_competencies[ITEM].isin(items)]
    comp_codes, comps = pd.factorize(links["competency_id"])
    member = np.zeros((len(items), len(comps)), dtype=np.int64)
    member[np.searchsorted(items, links[ITEM].to_numpy(dtype=str)), comp_codes] = 1
    # Jaccard distance of every pair of listed items, once (items are few, lists many).
    shared = member @ member.T
    sizes = member.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - shared
    distance = np.where(union > 0, 1.0 - shared / np.maximum(union, 1), 0.0)
    user_codes, _ = pd.factorize(top[USER])
    slot = top.groupby(user_codes).cumcount().to_numpy()
    width = int(slot.max()) + 1 if len(slot) else 0
    lists = np.full((int(user_codes.max()) + 1 if len(slot) else 0, width), -1, dtype=np.int64)
    lists[user_codes, slot] = item_codes
    total, pairs = np.zeros(len(lists)), np.zeros(len(lists))
    for i in range(width):
        for j in range(i + 1, width):
            both = (lists[:, i] >= 0) & (lists[:, j] >= 0)
            total += np.where(both, distance[lists[:, i], lists[:, j]], 0.0)
            pairs += both
    listed = pairs > 0
    return float((total[listed] / pairs[listed]).mean()) if listed.any() else float("nan")


def bootstrap_ci(
    values: pd.Series | np.ndarray, n_resamples: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of per-user values (NaNs dropped)."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), (n_resamples, len(data)))].mean(axis=1)
    return (float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2)))
