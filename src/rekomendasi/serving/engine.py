"""What one API worker holds: the snapshot and the scores store opened for reading, and the champion.

A thin loader and cache around the recommendation core (:mod:`rekomendasi.recommend`): an unfiltered
answer is read from the scores store (one row group of one agency's partition), a filtered one is ranked
now through the same core on the employee's cut of the snapshot. Both become
:class:`~rekomendasi.recommend.Recommendation` values through the same conversion, so they agree with
each other and with ``rekomendasi batch``. Neither the snapshot's per-employee tables nor the store are
held whole: a worker keeps the roster, the shared tables and the row groups it read last.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.candidates import Catalogue, build_matrices
from rekomendasi.contract.schemas import Catalog, optional_text
from rekomendasi.errors import EmployeeNotFound, EstimatesMissing, NotFound
from rekomendasi.features import Snapshot, SnapshotReader
from rekomendasi.features.schemas import CompetencyGaps, Development, EntryOutcomes, Mandatory, Roster
from rekomendasi.recommend import (
    DEFAULT_OPTIONS,
    NO_FILTERS,
    NO_OBJECTIONS,
    Filters,
    Objections,
    Ranker,
    Recommendation,
    ScoreOptions,
    ScoresStore,
    StoreId,
    recommendations,
    score_employees,
)
from rekomendasi.recommend.champion import load_champion
from rekomendasi.registry import ModelRegistry, ModelVersion
from rekomendasi.rowgroups import NipRows
from rekomendasi.serving.effects import Effects, EntryEffect

log = logging.getLogger(__name__)


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
    instansi_id: str
    unit_id: str
    position_id: str
    province: str | None


@dataclass
class Engine:
    """The loaded state of one worker. Build it with :meth:`load`; read-only afterwards (safe across
    threads: the snapshot reader guards its cache, the store's index is a read-only memory map)."""

    reader: SnapshotReader
    catalogue: Catalogue
    model: Ranker
    model_version: ModelVersion
    store: ScoresStore
    options: ScoreOptions
    loaded_at: dt.datetime
    load_seconds: float
    entry_info: dict[str, dict[str, object]]  # every catalogue row, by training_id
    effects: Effects | None  # the champion's course-effectiveness estimates (None: trained before them)
    _people: dict[str, np.ndarray]  # roster columns of the active employees, sorted by nip
    _keys: NipRows  # their positions by nip
    _outcomes: dict[str, dict[str, float | None]]
    _due: dict[str, list[dict[str, object]]]  # mandatory programmes due, by nip (a small table)
    _jp: dict[str, np.ndarray]  # development columns, in the snapshot's nip order

    @classmethod
    def load(
        cls,
        snapshot_dir: Path,
        scores_dir: Path,
        registry: ModelRegistry,
        options: ScoreOptions = DEFAULT_OPTIONS,
    ) -> Engine:
        """Read the snapshot, the champion and open the scores store made from both.

        Raises:
            ModelNotReady: no snapshot, no champion, a champion trained on other features, or no scores
                store for this snapshot and champion (each message says what to run).
        """
        started = time.perf_counter()
        reader = SnapshotReader(snapshot_dir)  # its tables on disk serve the rarer requests
        snapshot = reader.head
        champion = load_champion(registry)
        model, version = champion.model, champion.version
        store = ScoresStore.open(
            scores_dir,
            StoreId(snapshot.snapshot_id, version.version, version.run_id),
            command=f"rekomendasi score --snapshot {snapshot_dir} --out {scores_dir}",
        )
        active = snapshot.roster[snapshot.roster[Roster.active]].reset_index(drop=True)
        outcomes = snapshot.entry_outcomes.set_index(EntryOutcomes.training_id)
        engine = cls(
            reader=reader,
            catalogue=Catalogue.for_model(snapshot, model),
            model=model,
            model_version=version,
            store=store,
            options=options,
            loaded_at=dt.datetime.now(dt.UTC),
            load_seconds=0.0,
            entry_info={str(r[Catalog.training_id]): r for r in _records(snapshot.catalog)},
            effects=Effects.of_model(model, version.version),
            _people={c: active[c].to_numpy(dtype=object) for c in active.columns},
            _keys=NipRows(active[Roster.nip]),
            _due=_by_nip(_records(snapshot.mandatory[snapshot.mandatory[Mandatory.due].astype(bool)])),
            _jp={c: snapshot.development[c].to_numpy() for c in _JP_COLUMNS},
            _outcomes={
                str(t): {
                    "participants": float(row[EntryOutcomes.takers]),
                    "completion_rate": _rounded(float(row[EntryOutcomes.completion_rate])),
                    "mean_score": _rounded(float(row[EntryOutcomes.mean_score])),
                }
                for t, row in outcomes.iterrows()
            },
        )
        engine.load_seconds = time.perf_counter() - started
        log.info(
            "engine loaded: %d active employees, %d entries, model v%s, snapshot %s, store %s, %.1f s",
            len(engine._keys),
            len(engine.catalogue.ids),
            version.version,
            snapshot.snapshot_id,
            store.path.name,
            engine.load_seconds,
        )
        return engine

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot's roster and shared tables (its per-employee tables are read per person)."""
        return self.reader.head

    @property
    def snapshot_id(self) -> str:
        """The snapshot's date and the first 12 characters of its data fingerprint."""
        return self.snapshot.snapshot_id

    @property
    def active_count(self) -> int:
        """int: active employees of the snapshot."""
        return len(self._keys)

    @property
    def nips(self) -> list[str]:
        """The active employees' NIPs, sorted."""
        return [str(n) for n in self._people[Roster.nip]]

    def find(self, nip: str) -> Employee | None:
        """The active employee ``nip``, or None."""
        row, end = self._keys.span(nip)
        if end == row:
            return None
        people = self._people
        return Employee(
            nip=nip,
            instansi_id=str(people[Roster.instansi_id][row]),
            unit_id=str(people[Roster.unit_id][row]),
            position_id=str(people[Roster.position_id][row]),
            province=optional_text(people[Roster.province][row]),
        )

    def employee(self, nip: str) -> Employee:
        """The active employee ``nip``.

        Raises:
            EmployeeNotFound: not an active employee of the snapshot.
        """
        found = self.find(nip)
        if found is None:
            raise EmployeeNotFound(f"no active employee {nip} in snapshot {self.snapshot_id}.")
        return found

    def staff(self, instansi_id: str, unit_id: str | None = None) -> list[str]:
        """NIPs of an agency's (or one unit's) active employees, sorted."""
        keep = self._people[Roster.instansi_id] == instansi_id
        if unit_id is not None:
            keep &= self._people[Roster.unit_id] == unit_id
        return [str(n) for n in self._people[Roster.nip][keep]]

    def recommend(
        self, nip: str, k: int = 10, filters: Filters = NO_FILTERS, objections: Objections = NO_OBJECTIONS
    ) -> list[Recommendation]:
        """Top ``k`` for one employee, explained, without the entries the person's standing objections
        name. Without filters (and ``k`` plus those objections within the ranks the store explained)
        from the scores store; otherwise ranked now by the same core, on the employee's cut of the
        snapshot."""
        who = self.employee(nip)
        objected = len(objections.of(nip))
        if filters.empty and k + objected <= self.store.explained:
            stored = self.store.employee(who.instansi_id, nip).slice(0, k + objected)
            rows = objections.drop(stored).slice(0, k)
        else:
            m = build_matrices(self.reader.person(nip), self.catalogue)
            options = dataclasses.replace(self.options, top_n=k, explained=k, num_threads=1)
            rows = score_employees(m, self.model, options, filters, validate=False, objections=objections)
        return recommendations(rows, self.catalogue.names)

    def gap_profile(self, nip: str) -> list[dict[str, Any]]:
        """The employee's competency gaps (snapshot columns) with the evidence counts behind each
        estimate, largest gap first."""
        self.employee(nip)
        gaps = self.reader.rows("competency_gaps", nip).sort_values(
            [CompetencyGaps.gap, CompetencyGaps.competency_id], ascending=[False, True], kind="stable"
        )
        return _records(gaps)

    def mandatory_due(self, nip: str) -> list[dict[str, object]]:
        """Mandatory programmes due for the employee (training_id, condition, rule_id, rule_en, enrolled)."""
        return self._due.get(nip, [])

    def jp_status(self, nip: str) -> JpStatus | None:
        """The 20 JP obligation for the snapshot's year: earned, target, remaining."""
        low, high = self.snapshot.span("development", nip)
        if high == low:
            return None
        year, total, target, remaining, met = (self._jp[c][low] for c in _JP_COLUMNS)
        return JpStatus(int(year), float(total), float(target), float(remaining), bool(met))

    def effectiveness(self, training_id: str) -> EntryEffect:
        """The champion's measured effectiveness of a catalogue entry, its provider's and its modality's.

        Raises:
            NotFound: not an entry of the snapshot's catalogue.
            EstimatesMissing: the champion carries no estimates (trained before them; says what to run).
        """
        entry = self.entry_info.get(training_id)
        if entry is None:
            raise NotFound(f"no catalogue entry {training_id}; GET /v1/catalog lists them.")
        if self.effects is None:
            raise EstimatesMissing(
                f"the serving model v{self.model_version.version} has no course-effectiveness estimates "
                "(it was trained before they were made); run `rekomendasi train` to train and promote one "
                "that has them, then `rekomendasi score` and restart the server."
            )
        return self.effects.entry(
            training_id, optional_text(entry[Catalog.provider]), optional_text(entry[Catalog.modality])
        )

    def effects_of(self, training_ids: list[str]) -> dict[str, EntryEffect]:
        """:meth:`effectiveness` of the catalogue entries among ``training_ids``; empty when the champion
        carries no estimates (pages then show none)."""
        if self.effects is None:
            return {}
        return {t: self.effectiveness(t) for t in training_ids if t in self.entry_info}

    def past_outcomes(self, training_id: str) -> dict[str, float | None]:
        """How earlier participants fared in the entry (from the snapshot's entry outcomes)."""
        return self._outcomes.get(
            training_id, {"participants": 0.0, "completion_rate": None, "mean_score": None}
        )


_JP_COLUMNS = (
    Development.year,
    Development.jp_total,
    Development.jp_target,
    Development.jp_remaining,
    Development.meets_jp_target,
)


def _by_nip(rows: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        out.setdefault(str(row[Mandatory.nip]), []).append(row)
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 3)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts with None for missing values (plain Python for the answers)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


__all__ = ["Employee", "Engine", "JpStatus"]
