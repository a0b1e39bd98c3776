"""What the API serves, held in memory: the snapshot, the catalogue, the candidate matrices and the
champion ranker. Built once when the server starts; answering one employee is array work only
(candidate generation, pair features and scoring of about a hundred rows), so results always follow
the request's filters exactly and agree with the batch job's.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.candidates import (
    Matrices,
    build_matrices,
    entry_filter,
    generate,
    generation_score,
    top_candidates,
)
from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.errors import EmployeeNotFound, ModelNotReady
from rekomendasi.explain import GapAddressed, Lang, competency_names, gaps_addressed, reason
from rekomendasi.features import Snapshot, read_snapshot
from rekomendasi.ranking.pairs import FEATURES, PairContext, pair_context, pair_matrix
from rekomendasi.registry import ModelRegistry, ModelVersion

log = logging.getLogger(__name__)

# Tables the server needs from the data directory (evidence lives in the snapshot).
SERVING_TABLES = frozenset(
    {"competencies", "positions", "catalog", "catalog_competencies", "employees", "training_history"}
)
EVIDENCE_COLUMNS = (
    "n_assessment",
    "n_indicators",
    "n_behaviour",
    "n_skp",
    "n_feedback",
    "n_training",
    "prior_only",
    "latest_evidence_on",
)


@dataclass(frozen=True, slots=True)
class Filters:
    """A request's filters; None means no limit."""

    modalities: tuple[str, ...] | None = None
    max_cost_idr: int | None = None
    max_jp: int | None = None
    province: str | None = None  # classroom entries held elsewhere are left out; online ones stay


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's share of a score (TreeSHAP)."""

    feature: str
    value: float


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One ranked entry for one employee, with everything its explanation needs."""

    rank: int
    training_id: str
    score: float
    gaps: tuple[GapAddressed, ...]
    expected_gap_closed: float
    contributions: tuple[Contribution, ...]

    def reason(self, lang: Lang) -> str:
        """One sentence in ``lang``."""
        return reason(self.gaps, lang)


@dataclass(frozen=True, slots=True)
class JpStatus:
    """The year's 20 JP obligation."""

    year: int
    earned: float
    target: float
    remaining: float
    met: bool


@dataclass(frozen=True, slots=True)
class Employee:
    """Who an employee is, as far as access control and filters need."""

    nip: str
    row: int
    instansi_id: str
    unit_id: str
    position_id: str
    province: str | None


@dataclass
class Engine:
    """The loaded state. Build it with :meth:`load`; it is read-only afterwards (safe across threads)."""

    dataset: Dataset
    snapshot: Snapshot
    model: Any
    model_version: ModelVersion
    matrices: Matrices
    context: PairContext
    candidates: int
    employees: dict[str, Employee]
    competency_names: dict[str, str]
    loaded_at: dt.datetime
    load_seconds: float
    _gap_rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    _gaps: dict[str, np.ndarray] = field(default_factory=dict)  # columns, by nip then largest gap
    _mandatory: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # due ones only
    _jp: dict[str, JpStatus] = field(default_factory=dict)
    entry_info: dict[str, dict[str, object]] = field(default_factory=dict)  # every catalogue row, by id
    _entry_index: dict[str, int] = field(default_factory=dict)
    _ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    ranked: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))  # [n, MAX_K], -1 pad
    ranked_scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float64))
    # The main model contributions of each employee's first EXPLAINED entries: feature index and value.
    explained_features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=np.int8))
    explained_values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=np.float64))

    @classmethod
    def load(
        cls,
        data_dir: Path,
        snapshot_dir: Path,
        registry: ModelRegistry,
        candidates: int = 100,
        cache_dir: Path | None = None,
    ) -> Engine:
        """Read the snapshot, the serving tables and the champion.

        Raises:
            ModelNotReady: no snapshot, no data, or no champion (the message says what to run).
        """
        started = time.perf_counter()
        snapshot = read_snapshot(snapshot_dir)
        version = registry.alias_version("champion")
        if version is None:
            raise ModelNotReady("no champion model yet; run `rekomendasi train --data DIR` first.")
        if not data_dir.exists():
            raise ModelNotReady(f"no data directory {data_dir}; set REKOMENDASI_DATA_DIR.")
        model = registry.load("champion")
        if list(getattr(model, "feature_names_in_", [])) != list(FEATURES):
            raise ModelNotReady(
                f"champion v{version.version} was trained on other pair features than this release "
                "computes; run `rekomendasi train` to train one for it."
            )
        dataset = load_dataset(data_dir, max_quarantine_share=None, only=SERVING_TABLES)
        m = build_matrices(dataset, snapshot)
        ctx = pair_context(m, dataset, snapshot)
        people = dataset["employees"].set_index("nip")
        active = people["active"].fillna(False).astype(bool)
        employees = {
            str(nip): Employee(
                nip=str(nip),
                row=row,
                instansi_id=str(people.at[nip, "instansi_id"]),
                unit_id=str(people.at[nip, "unit_id"]),
                position_id=str(people.at[nip, "position_id"]),
                province=_optional(people.at[nip, "province"]),
            )
            for row, nip in enumerate(m.nips)
            if nip in people.index and bool(active.get(nip, False))
        }
        gaps = snapshot.competency_gaps.sort_values(
            ["nip", "gap", "competency_id"], ascending=[True, False, True], kind="stable"
        ).reset_index(drop=True)
        bounds = gaps.groupby("nip", sort=False).indices
        due = snapshot.mandatory[snapshot.mandatory["due"].astype(bool)]
        dev = snapshot.development
        catalog = dataset["catalog"]
        engine = cls(
            dataset=dataset,
            snapshot=snapshot,
            model=model,
            model_version=version,
            matrices=m,
            context=ctx,
            candidates=candidates,
            employees=employees,
            competency_names=competency_names(dataset["competencies"]),
            loaded_at=dt.datetime.now(dt.UTC),
            load_seconds=0.0,
            _gap_rows={str(n): (int(i[0]), int(i[-1]) + 1) for n, i in bounds.items()},
            _gaps={c: gaps[c].to_numpy() for c in gaps.columns},
            _mandatory={str(n): _records(g) for n, g in due.groupby("nip")},
            _jp={
                str(nip): JpStatus(int(year), float(total), float(target), float(remaining), bool(met))
                for nip, year, total, target, remaining, met in zip(
                    dev["nip"],
                    dev["year"],
                    dev["jp_total"],
                    dev["jp_target"],
                    dev["jp_remaining"],
                    dev["meets_jp_target"],
                    strict=True,
                )
            },
            entry_info={str(r["training_id"]): r for r in _records(catalog)},
            _entry_index={str(t): i for i, t in enumerate(m.entries["training_id"])},
            _ids=m.entries["training_id"].to_numpy(dtype=object),
        )
        ranked = _ranked(engine, cache_dir)
        engine.ranked, engine.ranked_scores = ranked["ranked"], ranked["scores"]
        engine.explained_features, engine.explained_values = ranked["features"], ranked["values"]
        engine.load_seconds = time.perf_counter() - started
        log.info(
            "engine loaded: %d employees, %d entries, model v%s, snapshot %s, %.1f s",
            len(employees),
            len(m.entries),
            version.version,
            engine.snapshot_id,
            engine.load_seconds,
        )
        return engine

    @property
    def snapshot_id(self) -> str:
        """The snapshot's date and the first 12 characters of its data fingerprint."""
        fingerprint = str(self.snapshot.manifest.get("data_fingerprint", ""))[:12]
        return f"{self.snapshot.as_of.isoformat()}:{fingerprint}"

    def employee(self, nip: str) -> Employee:
        """The active employee ``nip``.

        Raises:
            EmployeeNotFound: not an active employee of the snapshot.
        """
        found = self.employees.get(nip)
        if found is None:
            raise EmployeeNotFound(f"no active employee {nip} in snapshot {self.snapshot_id}.")
        return found

    def staff(self, instansi_id: str, unit_id: str | None = None) -> list[str]:
        """NIPs of an agency's (or one unit's) active employees, sorted."""
        return sorted(
            e.nip
            for e in self.employees.values()
            if e.instansi_id == instansi_id and (unit_id is None or e.unit_id == unit_id)
        )

    def recommend(self, nip: str, k: int = 10, filters: Filters | None = None) -> list[Recommendation]:
        """Top ``k`` for one employee: candidates by the generator, ranked by the champion, explained.

        Without filters the ranking comes from :attr:`ranked` (every employee's top ``MAX_K``, scored in
        bulk when the engine loaded); with filters it is computed now. Both order the same way: score,
        then the better gap coverage, then the training id, as the batch job does.
        """
        who = self.employee(nip)
        filters = filters or Filters()
        if filters == Filters() and k <= self.ranked.shape[1]:
            entries = self.ranked[who.row, :k]
            entries = entries[entries >= 0].astype(np.int64)
            scores = self.ranked_scores[who.row, : len(entries)].astype(np.float64)
        else:
            entries, scores = self._rank_now(who.row, filters)
            entries, scores = entries[:k], scores[:k]
        if len(entries) == 0:
            return []
        m = self.matrices
        # Contributions of the first EXPLAINED unfiltered entries were computed in bulk; the rest now.
        ready = min(len(entries), self.explained_features.shape[1]) if filters == Filters() else 0
        main_features = np.zeros((len(entries), TOP_CONTRIBUTIONS), dtype=np.int64)
        main_values = np.zeros((len(entries), TOP_CONTRIBUTIONS))
        main_features[:ready] = self.explained_features[who.row, :ready]
        main_values[:ready] = self.explained_values[who.row, :ready]
        if ready < len(entries):
            X = pair_matrix(m, np.full(len(entries) - ready, who.row), entries[ready:], self.context)
            main_features[ready:], main_values[ready:] = _main_contributions(self.model, X, num_threads=1)
        out = []
        for rank, (entry, score, features, values) in enumerate(
            zip(entries, scores, main_features, main_values, strict=True), 1
        ):
            gaps = gaps_addressed(m, who.row, int(entry), self.competency_names)
            out.append(
                Recommendation(
                    rank=rank,
                    training_id=str(self._ids[entry]),
                    score=round(float(score), 6),
                    gaps=tuple(gaps),
                    expected_gap_closed=round(sum(g.closable for g in gaps), 3),
                    contributions=tuple(
                        Contribution(FEATURES[int(j)], round(float(v), 4))
                        for j, v in zip(features, values, strict=True)
                    ),
                )
            )
        return out

    def _rank_now(self, row: int, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """Entry indices and scores of one employee's filtered candidates, best first."""
        m = self.matrices
        eligible = m.eligible[row] & self._entry_mask(filters)
        if not eligible.any():
            return np.array([], dtype=np.int64), np.array([])
        score = np.where(eligible[None, :], generation_score(m, np.array([row])), -np.inf)
        top, values = top_candidates(score, self.candidates)
        entries = top[0][np.isfinite(values[0])]
        X = pair_matrix(m, np.full(len(entries), row), entries, self.context)
        scores = self.model.predict(X, num_threads=1)
        order = np.lexsort((self._ids[entries], -X[:, 0], -scores))
        return entries[order], scores[order]

    def _entry_mask(self, filters: Filters) -> np.ndarray:
        entries = self.matrices.entries
        if filters == Filters():
            return np.ones(len(entries), dtype=bool)
        keep = entry_filter(entries, filters.modalities, filters.max_cost_idr, filters.max_jp)
        if filters.province is not None:
            held = entries["province"]
            keep &= (held.isna() | (held.str.casefold() == filters.province.casefold())).to_numpy()
        return keep

    def gap_profile(self, nip: str) -> list[dict[str, Any]]:
        """The employee's competency gaps (snapshot columns) with the evidence counts behind each
        estimate, largest gap first."""
        self.employee(nip)
        start, stop = self._gap_rows.get(nip, (0, 0))
        columns = {name: values[start:stop] for name, values in self._gaps.items()}
        return [{name: values[i] for name, values in columns.items()} for i in range(stop - start)]

    def evidence(self, nip: str) -> dict[str, dict[str, object]]:
        """competency_id -> evidence counts of the employee's estimates."""
        start, stop = self._gap_rows.get(nip, (0, 0))
        ids = self._gaps["competency_id"][start:stop]
        parts = {c: self._gaps[c][start:stop] for c in EVIDENCE_COLUMNS}
        return {str(comp): {c: parts[c][i] for c in EVIDENCE_COLUMNS} for i, comp in enumerate(ids)}

    def mandatory_due(self, nip: str) -> list[dict[str, object]]:
        """Mandatory programmes due for the employee (training_id, condition, rule_id, rule_en, enrolled)."""
        return self._mandatory.get(nip, [])

    def jp_status(self, nip: str) -> JpStatus | None:
        """The 20 JP obligation for the snapshot's year: earned, target, remaining."""
        return self._jp.get(nip)

    def past_outcomes(self, training_id: str) -> dict[str, float | None]:
        """How earlier participants fared in the entry (from the pair context)."""
        index = self._entry_index.get(training_id)
        if index is None:
            return {"participants": 0.0, "completion_rate": None, "mean_score": None}
        stats = self.context.entry_stats[index]

        def value(x: float) -> float | None:
            return None if np.isnan(x) else round(float(x), 3)

        return {
            "participants": float(stats[0]),
            "completion_rate": value(stats[1]),
            "mean_score": value(stats[2]),
        }


MAX_K = 50
EXPLAINED = 10  # contributions are computed in bulk for each employee's first EXPLAINED entries
TOP_CONTRIBUTIONS = 3


def _main_contributions(model: Any, X: np.ndarray, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``TOP_CONTRIBUTIONS`` largest feature contributions (by size) of each row: indices, values."""
    contributions = model.contributions(X, num_threads=num_threads, as_frame=False)[:, : len(FEATURES)]
    top = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :TOP_CONTRIBUTIONS]
    return top, np.take_along_axis(contributions, top, axis=1)


def _rank_all(engine: Engine) -> dict[str, np.ndarray]:
    """Every employee's unfiltered top ``MAX_K`` (entry indices, -1 padding) and their scores, scored
    in bulk the way the batch job scores, and the main contributions of the first ``EXPLAINED``."""
    m = engine.matrices
    ranked = np.full((len(m.nips), MAX_K), -1, dtype=np.int32)
    scores = np.full((len(m.nips), MAX_K), np.nan, dtype=np.float64)
    features = np.zeros((len(m.nips), EXPLAINED, TOP_CONTRIBUTIONS), dtype=np.int8)
    contributions = np.zeros((len(m.nips), EXPLAINED, TOP_CONTRIBUTIONS), dtype=np.float64)
    for chunk in generate(m, engine.candidates):
        emp = chunk["emp"].to_numpy(dtype=np.int64)
        entry = chunk["entry"].to_numpy(dtype=np.int64)
        X = pair_matrix(m, emp, entry, engine.context)
        score = engine.model.predict(X)
        order = np.lexsort((engine._ids[entry], -X[:, 0], -score, emp))
        emp, entry, score = emp[order], entry[order], score[order]
        starts = np.r_[0, np.flatnonzero(np.diff(emp)) + 1]
        position = np.arange(len(emp)) - np.repeat(starts, np.diff(np.r_[starts, len(emp)]))
        keep = position < MAX_K
        ranked[emp[keep], position[keep]] = entry[keep]
        scores[emp[keep], position[keep]] = score[keep]
        first = position < EXPLAINED
        top, values = _main_contributions(engine.model, X[order][first])
        features[emp[first], position[first]] = top
        contributions[emp[first], position[first]] = values
    return {"ranked": ranked, "scores": scores, "features": features, "values": contributions}


def _ranked(engine: Engine, cache_dir: Path | None) -> dict[str, np.ndarray]:
    """:func:`_rank_all`, cached on disk by snapshot, model version and candidate count, so a restart
    (or a second worker) reads it instead of scoring everyone again."""
    if cache_dir is None:
        return _rank_all(engine)
    version = engine.model_version
    key = f"{engine.snapshot_id}-v{version.version}-{version.run_id}-c{engine.candidates}-e{EXPLAINED}"
    path = cache_dir / "serving" / (re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".npz")
    if path.exists():
        with np.load(path) as cached:
            found = {name: cached[name] for name in cached.files}
        if found["ranked"].shape[0] == len(engine.matrices.nips):
            return found
    ranked = _rank_all(engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(partial, **ranked)  # type: ignore[arg-type]
    partial.replace(path)  # atomic: a second worker never reads a half-written file
    return ranked


def _optional(value: object) -> str | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        else str(value)
    )


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts with None for missing values (plain Python for the hot path)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


__all__ = ["FEATURES", "Contribution", "Employee", "Engine", "Filters", "Recommendation"]
