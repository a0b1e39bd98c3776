"""The recommendation core: one partition's arrays and a ranker in, the long-format scored table out.

Every output ranks through :func:`score_employees`: the scores store (and through it the batch file and
the API's unfiltered answers), the API's filtered answers, agency plans. So there is one candidate
selection, one tie-break (:func:`rank_order`) and one way to pick the contributions that explain a score
(:func:`main_contributions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from rekomendasi.candidates import Candidates, Catalogue, Matrices, build_matrices, generate
from rekomendasi.explain import GapArrays, gap_arrays
from rekomendasi.features import Snapshot
from rekomendasi.features.schemas import Roster
from rekomendasi.ranking.pairs import FEATURES, pair_matrix
from rekomendasi.recommend.filters import NO_FILTERS, NO_OBJECTIONS, Filters, Objections
from rekomendasi.recommend.schemas import (
    GAP_TYPE,
    SCORE_COLUMNS,
    TOP_CONTRIBUTIONS,
    Scores,
    contribution_columns,
    ranks_within,
)

GENERATOR = FEATURES.index("generator_score")


class Ranker(Protocol):
    """What the core needs of a model: scores and additive contributions of pair-feature rows."""

    def predict(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray: ...

    def contributions(self, X: np.ndarray, num_threads: int = 0, as_frame: bool = True) -> object: ...


@dataclass(frozen=True, slots=True)
class ScoreOptions:
    """How many candidates to rank and how many to keep.

    Attributes:
        candidates: candidates per employee the generator passes to the ranker (> 0).
        top_n: ranked entries kept per employee (> 0).
        explained: ranks (from the first) whose model contributions are computed; the rest keep none.
            TreeSHAP costs about a hundred times a prediction, so a national store explains what is
            shown by default (10) and deeper lists are explained when asked for.
        num_threads: LightGBM threads (0: every core; a server answering one request passes 1).
        chunk: employees scored together (bounds the memory of the pair features).
    """

    candidates: int = 100
    top_n: int = 50
    explained: int = 10
    num_threads: int = 0
    chunk: int = 5000


DEFAULT_OPTIONS = ScoreOptions()


def rank_order(emp: np.ndarray, score: np.ndarray, generator: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The one ordering of scored pairs: by employee, then score (high first); ties (a small model can
    give equal scores) go to the better gap coverage (the generator score), then the training id."""
    return np.lexsort((ids, -generator, -score, emp))


def main_contributions(model: Ranker, X: np.ndarray, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices into :data:`FEATURES` and values of each row's ``TOP_CONTRIBUTIONS`` largest contributions
    (by size; additive, so a row's contributions plus the bias sum to its score)."""
    values = np.asarray(model.contributions(X, num_threads=num_threads, as_frame=False))[:, : len(FEATURES)]
    top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :TOP_CONTRIBUTIONS]
    return top, np.take_along_axis(values, top, axis=1)


def score_employees(
    m: Matrices,
    model: Ranker,
    options: ScoreOptions = DEFAULT_OPTIONS,
    filters: Filters = NO_FILTERS,
    rows: np.ndarray | None = None,
    validate: bool = True,
    objections: Objections = NO_OBJECTIONS,
) -> pd.DataFrame:
    """Each employee's best ``top_n`` candidates, ranked and explained (:class:`Scores`, sorted by nip
    and rank). Employees without an eligible entry have no rows.

    Args:
        m: the partition's arrays.
        model: the ranker.
        options: candidate and list sizes, threads.
        filters: what the request allows.
        rows: employee rows of ``m`` to score; None for all.
        validate: check the table against :class:`Scores` (a few milliseconds: jobs do; a server
            answering one request at a time relies on the same code having been checked by them).
        objections: standing objections, dropped from the generated candidates (after the generator's
            cut, so a list ranked now equals the stored one with :meth:`Objections.drop` applied).
    """
    allowed = filters.allowed(m.catalogue)
    parts = [
        _score_chunk(m, model, chunk, options)
        for generated in generate(m, options.candidates, allowed, rows, options.chunk)
        if len(chunk := _without(generated, objections))
    ]
    if not parts:
        return empty_scores()
    out = pd.concat(parts, ignore_index=True)
    return Scores.validate(out) if validate else out


def _without(candidates: pd.DataFrame, objections: Objections) -> pd.DataFrame:
    if not objections:
        return candidates
    nips = candidates[Candidates.nip].to_numpy(dtype=object)
    objected = objections.objected(nips, candidates[Candidates.training_id].to_numpy(dtype=object))
    return candidates[~objected].reset_index(drop=True) if objected.any() else candidates


def _score_chunk(m: Matrices, model: Ranker, chunk: pd.DataFrame, options: ScoreOptions) -> pd.DataFrame:
    emp = chunk[Candidates.emp].to_numpy(dtype=np.int64)
    entry = chunk[Candidates.entry].to_numpy(dtype=np.int64)
    X = pair_matrix(m, emp, entry, chunk[Candidates.candidate_score].to_numpy())
    score = np.asarray(model.predict(X, num_threads=options.num_threads), dtype=np.float64)
    ids = m.catalogue.ids[entry]
    order = rank_order(emp, score, X[:, GENERATOR], ids)
    emp, entry, score, X = emp[order], entry[order], score[order], X[order]
    rank = ranks_within(emp)
    keep = rank <= options.top_n
    emp, entry, score, X, rank = emp[keep], entry[keep], score[keep], X[keep], rank[keep]
    explained = rank <= options.explained
    features = np.full((len(emp), TOP_CONTRIBUTIONS), -1, dtype=np.int64)
    values = np.full((len(emp), TOP_CONTRIBUTIONS), np.nan)
    if explained.any():
        features[explained], values[explained] = main_contributions(model, X[explained], options.num_threads)
    gaps = gap_arrays(m, emp, entry)
    columns: dict[str, object] = {
        Scores.instansi_id: pd.Series(m.agencies[emp], dtype="str"),
        Scores.nip: pd.Series(m.nips[emp], dtype="str"),
        Scores.rank: rank.astype(np.int16),
        Scores.training_id: pd.Series(m.catalogue.ids[entry], dtype="str"),
        Scores.score: score,
        Scores.generator_score: X[:, GENERATOR].astype(np.float32),
        Scores.expected_gap_closed: gaps.expected_gap_closed.astype(np.float32),
    }
    names = np.asarray([*FEATURES, None], dtype=object)  # index -1: not explained
    for i in range(TOP_CONTRIBUTIONS):
        feature, value = contribution_columns(i + 1)
        columns[feature] = pd.Series(names[features[:, i]], dtype="str")
        columns[value] = values[:, i].astype(np.float32)
    columns[Scores.gaps] = pd.array(gap_column(gaps, m.catalogue), dtype=pd.ArrowDtype(GAP_TYPE))
    return pd.DataFrame(columns)[list(SCORE_COLUMNS)]


def gap_column(gaps: GapArrays, catalogue: Catalogue) -> pa.ListArray:
    """The ``gaps`` column of :class:`Scores`: each row's gap records, in :class:`GapArrays` order."""
    valid = gaps.competency >= 0
    offsets = np.r_[0, np.cumsum(valid.sum(axis=1))].astype(np.int32)

    def flat(values: np.ndarray) -> pa.Array:
        kept = values[valid].astype(np.float32)
        return pa.array(kept, type=pa.float32(), mask=np.isnan(kept))

    fields = list(GAP_TYPE.value_type)
    evidence = [
        pa.array(gaps.evidence[field.name][valid], type=field.type, from_pandas=True) for field in fields[7:]
    ]
    struct = pa.StructArray.from_arrays(
        [
            pa.array(catalogue.competencies[gaps.competency[valid]].astype(str), type=pa.string()),
            flat(gaps.required_level),
            flat(gaps.estimated_level),
            flat(gaps.uncertainty),
            flat(gaps.target_level),
            flat(gaps.gap),
            flat(gaps.closable),
            *evidence,
        ],
        fields=fields,
    )
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), struct)


def empty_scores() -> pd.DataFrame:
    """A :class:`Scores` table with no rows."""
    schema = Scores.to_schema()
    return pd.DataFrame(
        {
            name: pd.Series([], dtype=column.dtype.type if name != Scores.gaps else pd.ArrowDtype(GAP_TYPE))
            for name, column in schema.columns.items()
        }
    )


def agency_partitions(snapshot: Snapshot) -> Iterator[tuple[str, Snapshot]]:
    """The snapshot cut by agency (``instansi_id``), active employees only, in agency order: each part
    is a point-in-time computation of its own (the shared tables ride along whole)."""
    roster = snapshot.roster[snapshot.roster[Roster.active]]
    for agency, people in roster.groupby(Roster.instansi_id, sort=True):
        yield str(agency), snapshot.subset(people[Roster.nip])


def score_snapshot(
    snapshot: Snapshot, model: Ranker, options: ScoreOptions = DEFAULT_OPTIONS
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Every active employee's unfiltered top ``top_n``, one agency at a time: (instansi_id, scores)."""
    catalogue = Catalogue.for_model(snapshot, model)
    for agency, part in agency_partitions(snapshot):
        yield agency, score_employees(build_matrices(part, catalogue), model, options)
