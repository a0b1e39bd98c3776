"""Build the per-employee snapshot every model, the scores store and the API use (written and read by
:mod:`rekomendasi.features.storage`).

The snapshot is the one point-in-time view: it holds the evidence-derived tables (competency gaps,
performance, development, mandatory programmes, text profile) and everything candidates and pair
features need (the roster, what each employee had taken, how earlier participants fared, what peers
took, the catalogue), all as of one date. Nothing downstream goes back to the raw tables.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from rekomendasi import __version__
from rekomendasi.cluster import InProcess, Progress, Runner
from rekomendasi.contract import Dataset
from rekomendasi.contract import schemas as contract
from rekomendasi.errors import DataContractError
from rekomendasi.features import schemas
from rekomendasi.features.asof import as_of_view
from rekomendasi.features.gaps import calibration_rows, finish_gaps, fit_gap_model
from rekomendasi.features.participation import entry_outcomes, peer_uptake
from rekomendasi.features.partition import (
    SHARED_TABLES,
    AgencyFeatures,
    AgencyParts,
    FeatureContext,
    agency_features,
)
from rekomendasi.features.performance import unit_satisfaction, with_talent_grid
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.features.textevidence import scored_texts, standard_masks
from rekomendasi.features.textmap import TextModel, fit_text_model
from rekomendasi.rowgroups import NipRows
from rekomendasi.text import TextEncoder

# Every table of a snapshot with its schema; per-employee tables (sorted by nip) come first.
SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "roster": schemas.Roster,
    "competency_gaps": schemas.CompetencyGaps,
    "performance": schemas.Performance,
    "development": schemas.Development,
    "mandatory": schemas.Mandatory,
    "text_profile": schemas.TextProfile,
    "taken": schemas.Taken,
    "entry_outcomes": schemas.EntryOutcomes,
    "peer_uptake": schemas.PeerUptake,
    "catalog": contract.Catalog,
    "catalog_competencies": contract.CatalogCompetencies,
    "competencies": contract.Competencies,
}
TABLES = tuple(SCHEMAS)
PER_EMPLOYEE = tuple(name for name, model in SCHEMAS.items() if issubclass(model, schemas.PerEmployee))


@dataclass(frozen=True)
class Snapshot:
    """The as-of snapshot: one frame per table of :data:`TABLES` (see :mod:`rekomendasi.features.schemas`)
    and a manifest (date, data fingerprint, spec hash, text model)."""

    as_of: dt.date
    roster: pd.DataFrame
    competency_gaps: pd.DataFrame
    performance: pd.DataFrame
    development: pd.DataFrame
    mandatory: pd.DataFrame
    text_profile: pd.DataFrame
    taken: pd.DataFrame
    entry_outcomes: pd.DataFrame
    peer_uptake: pd.DataFrame
    catalog: pd.DataFrame
    catalog_competencies: pd.DataFrame
    competencies: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    _index: dict[str, NipRows] = field(default_factory=dict, init=False, repr=False, compare=False)

    def table(self, name: str) -> pd.DataFrame:
        """One of :data:`TABLES` by name."""
        frame: pd.DataFrame = getattr(self, name)
        return frame

    @property
    def snapshot_id(self) -> str:
        """str: the snapshot's date and the first 12 characters of its data fingerprint."""
        return f"{self.as_of.isoformat()}:{str(self.manifest.get('data_fingerprint', ''))[:12]}"

    def subset(self, nips: Iterable[str]) -> Snapshot:
        """The same snapshot cut to some employees: their rows of every per-employee table, every row of
        the shared ones (entry outcomes, peer uptake, catalogue). NIPs not in the snapshot are ignored.

        A binary search per table (the tables are sorted by nip), so cutting out one employee is cheap
        once the index of each table is built (at the first call).
        """
        wanted = np.unique(np.asarray(list(nips), dtype=object))
        cut = {}
        for name in PER_EMPLOYEE:
            frame = self.table(name)
            if len(wanted) == 1:  # one employee's rows are contiguous: a slice, without copying
                low, high = self.span(name, str(wanted[0]))
                cut[name] = frame.iloc[low:high].reset_index(drop=True)
            else:
                cut[name] = frame.iloc[self._rows(name).take(wanted)].reset_index(drop=True)
        return replace(self, **cut)  # type: ignore[arg-type]  # mypy reads the cache field in

    def employee_tables(self) -> dict[str, pd.DataFrame]:
        """The per-employee tables (:data:`PER_EMPLOYEE`) by name: what one partition of the snapshot
        adds to the shared tables."""
        return {name: self.table(name) for name in PER_EMPLOYEE}

    def with_employees(self, tables: Mapping[str, pd.DataFrame]) -> Snapshot:
        """This snapshot's shared tables with other per-employee tables (those of
        :meth:`employee_tables`), e.g. one agency's sent to a worker that holds the shared ones."""
        unknown = set(tables) - set(PER_EMPLOYEE)
        if unknown:
            raise ValueError(f"not per-employee tables: {sorted(unknown)}")
        return replace(self, **tables)  # type: ignore[arg-type]  # mypy reads the cache field in

    def span(self, table: str, nip: str) -> tuple[int, int]:
        """[low, high) positions of one employee's rows in a per-employee table."""
        return self._rows(table).span(nip)

    def _rows(self, table: str) -> NipRows:
        rows = self._index.get(table)
        if rows is None:
            rows = self._index.setdefault(table, NipRows(self.table(table)[schemas.PerEmployee.nip]))
        return rows

    def validate(self) -> Snapshot:
        """Check every table against its schema; return self.

        Raises:
            DataContractError: a table breaks its schema (names the table and the first problems).
        """
        for name, model in SCHEMAS.items():
            try:
                model.validate(self.table(name), lazy=True)
            except pa.errors.SchemaErrors as err:
                cases = err.failure_cases.head(5).to_dict("records")
                raise DataContractError(f"snapshot table {name} breaks its schema: {cases}") from err
        return self


def build_snapshot(
    dataset: Dataset,
    as_of: dt.date,
    spec: EvidenceSpec,
    encoder: TextEncoder | None,
    progress: Callable[[str], None] | None = None,
    runner: Runner | None = None,
    agencies: Progress | None = None,
) -> Snapshot:
    """Turn a validated dataset into the snapshot of ``as_of`` (evidence after it is never used).

    What is fitted or aggregated over everyone is computed here, once: the point-in-time view, the text
    model, the units' public satisfaction, the gaps' prior and calibrations, how each entry fared, what
    peers took, the data's fingerprint. The per-employee stages run agency by agency
    (:func:`~rekomendasi.features.partition.agency_features`), in this process or on a cluster; the
    gaps' evidence comes back from every agency, the prior and the calibrations are fitted on it, and
    each agency's estimates follow. The parts are put back in nip order, so the snapshot is the same
    wherever and however the agencies ran.

    Args:
        dataset: the loaded data directory.
        as_of: the snapshot date.
        spec: the reviewed evidence model.
        encoder: sentence-transformers encoder for text, or None for the lexical model alone.
        progress: called with each stage's name (six calls).
        runner: where the agencies run (default: in this process, one after the other).
        agencies: called with (agencies done, agencies in all) as they finish.

    Raises:
        PartitionFailed: an agency failed on every attempt (its name is in the message).
    """

    stage = stage_calls(progress)
    run = runner or InProcess()
    stage("point-in-time view")
    tables = as_of_view(dataset, as_of)
    stage("text model")
    text_model = fit_text_model(tables, spec, encoder)
    context = feature_context(tables, as_of, spec, text_model, scored_texts(tables))
    stage("per-agency features")
    outcomes = entry_outcomes(tables)  # before the cut: its means follow the order of the rows
    parts = AgencyParts(tables, dataset["employees"])
    shared = run.share(context)
    results = run.map(agency_features, parts, shared, total=len(parts), progress=agencies)
    return assemble(
        (part for _, part in results),
        context,
        text_model,
        encoder,
        stage,
        outcomes=lambda: outcomes,
        history=lambda: tables["training_history"],  # counts: the same in agency order
        fingerprint=lambda: data_fingerprint(dataset),
    )


def stage_calls(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    """A function that passes each stage's name to ``progress`` (and does nothing without one)."""

    def stage(name: str) -> None:
        if progress is not None:
            progress(name)

    return stage


def feature_context(
    tables: Mapping[str, pd.DataFrame],
    as_of: dt.date,
    spec: EvidenceSpec,
    text_model: TextModel,
    texts: Iterable[list[str]],
) -> FeatureContext:
    """What every agency's part needs, from the point-in-time view's shared tables and public feedback.

    Args:
        texts: the distinct texts the agencies will score, batched as a whole-table build scores them
            (:func:`~rekomendasi.features.textevidence.scored_texts`; read only when they are embedded).
    """
    return FeatureContext(
        as_of=as_of,
        spec=spec,
        text_model=text_model.shipped(texts),
        masks=standard_masks(tables, text_model),
        tables={name: tables[name] for name in SHARED_TABLES},
        unit_score=unit_satisfaction(tables["public_feedback"]),
    )


def assemble(
    results: Iterable[AgencyFeatures],
    context: FeatureContext,
    text_model: TextModel,
    encoder: TextEncoder | None,
    stage: Callable[[str], None],
    *,
    outcomes: Callable[[], pd.DataFrame],
    history: Callable[[], pd.DataFrame],
    fingerprint: Callable[[], str],
) -> Snapshot:
    """The snapshot from every agency's part, in agency order: the gaps' prior and calibrations fitted
    on the evidence they sent, each agency's estimates, the parts gathered in nip order.

    Args:
        outcomes: how each entry fared (:func:`~rekomendasi.features.participation.entry_outcomes`),
            asked for once every agency is done.
        history: the training history the peers' uptake counts (its finished rows at least).
        fingerprint: the data's fingerprint.
    """
    spec, as_of = context.spec, context.as_of
    done: dict[str, list[pd.DataFrame]] = {f.name: [] for f in fields(AgencyFeatures)}
    for part in results:
        for name, frames in done.items():
            frames.append(getattr(part, name))
    stage("competency gaps")
    evidence = done.pop("evidence")
    gap_model = fit_gap_model(pd.concat([calibration_rows(e) for e in evidence]), spec)
    done["competency_gaps"] = []
    competencies = context.tables["competencies"]
    while evidence:  # each agency's evidence is let go once it has its estimates
        estimates = finish_gaps(evidence.pop(0), gap_model, spec)
        done["competency_gaps"].append(estimates)
        # Taken from the front, put back at the end: after every agency, all have their talent grid.
        perf = done["performance"].pop(0)
        done["performance"].append(with_talent_grid(perf, estimates, competencies, spec))
    # Each table gathered lets its parts go (a snapshot's worth of memory, not two).
    gathered = {name: _gathered(done.pop(name)) for name in PER_EMPLOYEE}
    people = gathered["roster"]
    stage("outcomes and peers")
    manifest = {
        "as_of": as_of.isoformat(),
        "rekomendasi_version": __version__,
        "spec_sha256": hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True).encode()).hexdigest(),
        "data_fingerprint": fingerprint(),
        "text_model": encoder.model_name if encoder is not None else None,
        "text_validation": text_model.validation,
        "calibrations": [asdict(c) for c in gap_model.calibrations],
        "employees": len(people),
    }
    snapshot = Snapshot(
        as_of=as_of,
        roster=people,
        competency_gaps=gathered["competency_gaps"],
        performance=gathered["performance"],
        development=gathered["development"],
        mandatory=gathered["mandatory"],
        text_profile=gathered["text_profile"],
        taken=gathered["taken"],
        entry_outcomes=outcomes(),
        peer_uptake=peer_uptake({"training_history": history()}, people),
        catalog=context.tables["catalog"].reset_index(drop=True),
        catalog_competencies=context.tables["catalog_competencies"].reset_index(drop=True),
        competencies=competencies.reset_index(drop=True),
        manifest=manifest,
    )
    del gathered
    stage("checks")
    return snapshot.validate()


def data_fingerprint(dataset: Dataset) -> str:
    """SHA-256 over the content of every loaded table (order-sensitive, independent of file format)."""
    digest = hashlib.sha256()
    for name in sorted(dataset.tables):
        frame = dataset.tables[name]
        digest.update(name.encode())
        digest.update(str(list(frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _gathered(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The agencies' parts of one per-employee table as one table in nip order (an employee's rows are
    all in one part, in the order the table keeps them).

    A column an agency has no value for can come out with another dtype than where it has values (an
    all-missing column of strings is an object column); it takes the dtype it has where it has values,
    as in a table built whole. Empty parts are left out for the same reason.
    """
    kept = [part for part in parts if len(part)] or parts[:1]
    if len(kept) == 1:
        frame = kept[0]
    else:
        for column in kept[0].columns:
            valued = [part[column].dtype for part in kept if part[column].notna().any()]
            if valued:
                kept = [
                    part
                    if part[column].dtype == valued[0] or part[column].notna().any()
                    else part.astype({column: valued[0]})
                    for part in kept
                ]
        frame = pd.concat(kept, ignore_index=True)
    return frame.sort_values(schemas.PerEmployee.nip, kind="stable").reset_index(drop=True)
