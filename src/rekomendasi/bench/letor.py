"""``bench letor``: :class:`~rekomendasi.ranking.LambdaRanker` with its defaults on a public
learning-to-rank file (issue #15; Yandex's, the one CatBoost's ranking benchmark uses: CatBoost 0.715,
LightGBM 0.710 NDCG@10 on its test part), and cross-validation by query on the training part, the only
tuning tool.

The layout: tab-separated, no header; column 0 the query id, column 1 the relevance in [0, 1], column 2
the document's URL (not a feature), columns 3 onward numeric features. Relevance is graded
``numpy.digitize(relevance, [0.07, 0.14, 0.41, 0.61])`` (0-4), and NDCG@10 takes gain 2^grade - 1 with a
query that has no relevant document scoring 1: the conventions of the published figures.
"""

from __future__ import annotations

import gzip
import io
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from rekomendasi.errors import DataContractError
from rekomendasi.ranking.ranker import LambdaRanker

GRADE_EDGES = (0.07, 0.14, 0.41, 0.61)
K = 10
FIRST_FEATURE = 3


@dataclass(frozen=True)
class LetorSet:
    """One learning-to-rank file, read and graded.

    Attributes:
        path: the file.
        qid: query id per row (rows of a query need not be contiguous).
        relevance: the file's relevance per row, in [0, 1].
        grade: ``relevance`` graded 0-4 (:data:`GRADE_EDGES`).
        X: the features, one row per document.
    """

    path: Path
    qid: np.ndarray
    relevance: np.ndarray
    grade: np.ndarray
    X: np.ndarray

    @property
    def queries(self) -> int:
        """int: distinct query ids."""
        return len(np.unique(self.qid))


def grade(relevance: np.ndarray) -> np.ndarray:
    """Relevance in [0, 1] as whole grades 0-4, by the published benchmark's convention."""
    return np.digitize(np.asarray(relevance, dtype=float), GRADE_EDGES).astype(np.int64)


def read_letor(path: Path) -> LetorSet:
    """Read a learning-to-rank file, gzipped or plain (told apart by its first bytes, not its name).

    Raises:
        DataContractError: the file is missing, empty, not gzip/text, or a line breaks the layout: the
            message names the file and the line (1-based).
    """
    if not path.is_file():
        raise DataContractError(f"{path}: no such file (a tab-separated learning-to-rank file, gz or plain)")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataContractError(f"{path}: not a readable gzip file ({err})") from err
    try:
        frame = pd.read_csv(
            io.BytesIO(raw), sep="\t", header=None, skip_blank_lines=False, low_memory=False, quoting=3
        )
    except pd.errors.EmptyDataError as err:
        raise DataContractError(f"{path}: the file is empty") from err
    except pd.errors.ParserError as err:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if found is None:
            raise DataContractError(f"{path}: not a tab-separated file ({err})") from err
        fields, line, saw = found.groups()
        raise DataContractError(
            f"{path}, line {line}: {saw} tab-separated fields, where the lines before have {fields}"
        ) from err
    except UnicodeDecodeError as err:
        raise DataContractError(f"{path}: not a text file ({err})") from err
    if frame.shape[1] <= FIRST_FEATURE:
        raise DataContractError(
            f"{path}, line 1: {frame.shape[1]} fields; a line needs the query id, the relevance, the URL "
            "and at least one feature, tab-separated"
        )
    numeric = frame.drop(columns=[2]).apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().to_numpy()
    if bad.any():
        row, col = np.argwhere(bad)[0]
        column = int(numeric.columns[col])
        what = (
            "empty (every line needs the same number of tab-separated fields)"
            if frame[column].isna().iloc[row]
            else f"{str(frame.iat[row, column])[:40]!r} is not a number"
        )
        name = {0: "the query id", 1: "the relevance"}.get(column, f"feature {column - FIRST_FEATURE + 1}")
        raise DataContractError(f"{path}, line {row + 1}, field {column + 1} ({name}): {what}")
    relevance = numeric[1].to_numpy(dtype=float)
    outside = np.flatnonzero((relevance < 0) | (relevance > 1))
    if len(outside):
        raise DataContractError(
            f"{path}, line {outside[0] + 1}: relevance {relevance[outside[0]]:g} is outside [0, 1]"
        )
    features = numeric.drop(columns=[0, 1]).to_numpy(dtype=float)
    infinite = np.argwhere(~np.isfinite(features))
    if len(infinite):
        row, col = infinite[0]
        raise DataContractError(
            f"{path}, line {row + 1}, field {col + FIRST_FEATURE + 1}: not a finite number"
        )
    return LetorSet(path, numeric[0].to_numpy(), relevance, grade(relevance), features)


def ndcg_per_query(grades: np.ndarray, scores: np.ndarray, qid: np.ndarray, k: int = K) -> np.ndarray:
    """NDCG@k of each query (in the order of the sorted distinct query ids): gain 2^grade - 1, discount
    1/log2(rank + 1); a query with no relevant document scores 1. Tied scores keep the rows' order (as
    LightGBM's own metric does)."""
    grades = np.asarray(grades, dtype=float)
    scores = np.asarray(scores, dtype=float)
    _, codes = np.unique(np.asarray(qid), return_inverse=True)
    codes = codes.ravel()
    if not (len(grades) == len(scores) == len(codes)):
        raise ValueError(
            f"grades, scores and qid differ in length: {len(grades)}, {len(scores)}, {len(codes)}"
        )
    if not len(codes):
        return np.zeros(0)
    queries = int(codes.max()) + 1
    gain = np.exp2(grades) - 1
    rows = np.arange(len(codes))
    starts = np.searchsorted(np.sort(codes), np.arange(queries))

    def dcg(order: np.ndarray) -> np.ndarray:
        q = codes[order]
        rank = rows - starts[q]
        discount = np.where(rank < k, 1.0 / np.log2(np.minimum(rank, k) + 2.0), 0.0)
        return np.bincount(q, weights=gain[order] * discount, minlength=queries)

    ideal = dcg(np.lexsort((rows, -gain, codes)))
    got = dcg(np.lexsort((rows, -scores, codes)))
    return np.where(ideal > 0, got / np.where(ideal > 0, ideal, 1.0), 1.0)


def ndcg(grades: np.ndarray, scores: np.ndarray, qid: np.ndarray, k: int = K) -> float:
    """Mean NDCG@k over queries (:func:`ndcg_per_query`)."""
    return float(np.mean(ndcg_per_query(grades, scores, qid, k)))


def fit_score(
    train: LetorSet,
    test: LetorSet,
    params: Mapping[str, Any] | None = None,
    train_rows: np.ndarray | None = None,
    test_rows: np.ndarray | None = None,
) -> tuple[float, float, LambdaRanker]:
    """Fit ``LambdaRanker(**params)`` on ``train`` (its ``train_rows``, default all) and score
    ``test`` (its ``test_rows``): NDCG@10, fit seconds and the ranker."""
    a = slice(None) if train_rows is None else train_rows
    b = slice(None) if test_rows is None else test_rows
    model = LambdaRanker(**dict(params or {}))
    start = time.perf_counter()
    model.fit(train.X[a], train.grade[a], train.qid[a])
    seconds = time.perf_counter() - start
    return (
        ndcg(test.grade[b], model.predict(test.X[b], num_threads=model.n_jobs), test.qid[b]),
        seconds,
        model,
    )


@dataclass(frozen=True)
class CVResult:
    """NDCG@10 of each fold of a cross-validation by query, and their mean and standard deviation."""

    folds: tuple[float, ...]

    @property
    def mean(self) -> float:
        """float: mean over folds."""
        return float(np.mean(self.folds))

    @property
    def sd(self) -> float:
        """float: sample standard deviation over folds."""
        return float(np.std(self.folds, ddof=1)) if len(self.folds) > 1 else 0.0


def cross_validate(
    path: Path | LetorSet, folds: int = 5, params: Mapping[str, Any] | None = None, seed: int = 0
) -> CVResult:
    """NDCG@10 of ``LambdaRanker(**params)`` (one thread unless ``params`` says ``n_jobs``) over
    ``folds`` folds of the file's queries (GroupKFold, shuffled by ``seed``): whole queries are
    either fitted or scored, never both.

    Raises:
        DataContractError: the file is unreadable, or has fewer queries than ``folds``.
    """
    data = path if isinstance(path, LetorSet) else read_letor(path)
    if folds < 2 or data.queries < folds:
        raise DataContractError(f"{data.path}: {data.queries} queries cannot make {folds} folds (2 or more)")
    chosen = {"n_jobs": 1, **dict(params or {})}
    splits = GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(data.X, groups=data.qid)
    return CVResult(tuple(fit_score(data, data, chosen, fit, held)[0] for fit, held in splits))


def letor_bench(
    train: Path,
    test: Path | None,
    seed: int = 0,
    folds: int = 0,
    n_jobs: int = 1,
    progress: Callable[[str], None] = print,
) -> dict[str, object]:
    """What ``bench letor`` prints: ``LambdaRanker()`` with its defaults (only ``random_state`` and
    ``n_jobs`` set) fitted on ``train`` and scored on ``test``; or, with ``folds``, only cross-validated
    on ``train``. The fields of the result line."""
    data = read_letor(train)
    params = {"random_state": seed, "n_jobs": n_jobs}
    sizes = {"train": str(train), "train_queries": data.queries, "train_rows": len(data.qid)}
    if folds:
        result = cross_validate(data, folds, params, seed)
        per_fold = ", ".join(f"{v:.4f}" for v in result.folds)
        progress(f"NDCG@10 {result.mean:.4f} ± {result.sd:.4f} over {folds} folds by query ({per_fold})")
        return {**sizes, "folds": folds, "seed": seed, "cv_ndcg@10": result.mean, "per_fold": result.folds}
    if test is None:
        raise DataContractError(
            "bench letor needs a test file, or folds to cross-validate on the training one"
        )
    held = read_letor(test)
    if held.X.shape[1] != data.X.shape[1]:
        raise DataContractError(
            f"{test}: {held.X.shape[1]} features per line, but {train} has {data.X.shape[1]}"
        )
    value, seconds, model = fit_score(data, held, params)
    progress(f"NDCG@10 {value:.4f} on {test} ({held.queries:,} queries, {len(held.qid):,} rows)")
    progress(
        f"fitted on {train} ({data.queries:,} queries, {len(data.qid):,} rows) in {seconds:.1f} s, "
        f"{model.best_iteration_} rounds"
    )
    return {
        **sizes,
        "test": str(test),
        "test_queries": held.queries,
        "test_rows": len(held.qid),
        "seed": seed,
        "ndcg@10": value,
        "fit_seconds": round(seconds, 2),
        "rounds": model.best_iteration_,
    }
