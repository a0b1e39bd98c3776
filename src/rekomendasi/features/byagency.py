"""The snapshot of a data directory loaded by agency (#14): the national jobs' build.

:func:`build_snapshot_by_agency` gives the snapshot :func:`~rekomendasi.features.snapshot.build_snapshot`
gives on the whole dataset, without the driver ever holding the tables keyed by NIP. Each agency reads
its own rows from the load's scratch directory (:class:`~rekomendasi.contract.byagency.AgencyTables`)
and takes its point-in-time view, in this process or on a Dask worker, twice:

1. for the text model, it sends back its labelled texts (with the row each came from, so the first
   label of a text in the whole table wins, as in a whole build) and, when a sentence model is used,
   the distinct texts it will score;
2. for its features, it sends back its part of the snapshot and its finished trainings (with their
   rows, so how each entry fared is averaged in file order).

What needs every agency (the text model, the gaps' prior and calibrations, how each entry fared, what
peers took, the fingerprint) is fitted in the driver on what they sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from rekomendasi.cluster import InProcess, Progress, Runner
from rekomendasi.contract.byagency import PARTITIONED, AgencyData, AgencyTables
from rekomendasi.contract.reading import ROW
from rekomendasi.contract.schemas import Feedback, Indicators, TrainingHistory
from rekomendasi.features.asof import as_of_tables
from rekomendasi.features.participation import FINISHED, entry_outcomes
from rekomendasi.features.partition import AgencyFeatures, FeatureContext, agency_features
from rekomendasi.features.snapshot import Snapshot, assemble, feature_context, stage_calls
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.features.textevidence import scored_text_sources
from rekomendasi.features.textmap import factorized, fit_text_model
from rekomendasi.text import TextEncoder

# The labelled text of each table that has some: its text column (the label is its competency_id).
LABELLED = {"indicators": Indicators.description, "feedback": Feedback.text}


@dataclass(frozen=True)
class StoredAgency:
    """One agency of a load by agency: its position among the agencies and its employees' rows."""

    code: int
    employees: pd.DataFrame


@dataclass(frozen=True)
class TextsContext:
    """What the first pass needs on every worker."""

    parts: AgencyTables
    as_of: dt.date
    scored: bool  # send back the distinct texts to score (only a sentence model needs them)


@dataclass(frozen=True)
class AgencyTexts:
    """What one agency sends back for the text model.

    Attributes:
        labelled: per table of :data:`LABELLED`, the first row of each distinct labelled text
            (``_row``, text, competency_id).
        scored: the distinct texts of each batch of
            :func:`~rekomendasi.features.textevidence.scored_text_sources` (None when not asked).
    """

    labelled: dict[str, pd.DataFrame]
    scored: list[list[str]] | None


@dataclass(frozen=True)
class StoredContext:
    """What the second pass needs on every worker."""

    parts: AgencyTables
    features: FeatureContext


def agency_view(agency: StoredAgency, parts: AgencyTables, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """One agency's point-in-time view of the tables keyed by NIP, each row with its ``_row``."""
    tables = {name: parts.read(name, agency.code) for name in PARTITIONED}
    return as_of_tables({**tables, "employees": agency.employees}, as_of)


def agency_texts(agency: StoredAgency, context: TextsContext) -> AgencyTexts:
    """The first pass on one agency: its labelled texts and, when asked, the texts it will score."""
    view = agency_view(agency, context.parts, context.as_of)
    labelled = {}
    for name, column in LABELLED.items():
        frame = view[name].dropna(subset=["competency_id", column])
        labelled[name] = frame[[ROW, column, "competency_id"]].drop_duplicates(column).reset_index(drop=True)
    return AgencyTexts(labelled, scored_text_sources(view) if context.scored else None)


def stored_agency_features(
    agency: StoredAgency, context: StoredContext
) -> tuple[AgencyFeatures, pd.DataFrame]:
    """The second pass on one agency: its part of the snapshot, and its finished trainings (with
    ``_row``)."""
    view = agency_view(agency, context.parts, context.features.as_of)
    history = view["training_history"]
    finished = history[history[TrainingHistory.status].isin(FINISHED)].reset_index(drop=True)
    tables = {name: frame.drop(columns=[ROW], errors="ignore") for name, frame in view.items()}
    return agency_features(tables, context.features), finished


def build_snapshot_by_agency(
    data: AgencyData,
    as_of: dt.date,
    spec: EvidenceSpec,
    encoder: TextEncoder | None,
    progress: Callable[[str], None] | None = None,
    runner: Runner | None = None,
    agencies: Progress | None = None,
) -> Snapshot:
    """The snapshot of ``as_of`` from a data directory loaded by agency: the same as
    :func:`~rekomendasi.features.snapshot.build_snapshot` on the whole dataset (same stages, same
    arguments, same progress calls).

    Raises:
        PartitionFailed: an agency failed on every attempt (its name is in the message).
    """
    stage = stage_calls(progress)
    run = runner or InProcess()
    stage("point-in-time view")
    whole = as_of_tables(data.whole, as_of)
    partitions = [(agency, StoredAgency(code, staff)) for code, agency, staff in data.employees_by_agency()]
    stage("text model")
    texts = run.share(TextsContext(data.parts, as_of, scored=encoder is not None))
    sent = [
        found
        for _, found in run.map(agency_texts, partitions, texts, total=len(partitions), progress=agencies)
    ]
    labelled = {
        name: _first_rows([s.labelled[name] for s in sent], column) for name, column in LABELLED.items()
    }
    text_model = fit_text_model({**whole, **labelled}, spec, encoder)
    batches = _scored_batches([s.scored for s in sent if s.scored is not None])
    del sent
    context = feature_context(whole, as_of, spec, text_model, batches)
    stage("per-agency features")
    shared = run.share(StoredContext(data.parts, context))
    finished: list[pd.DataFrame] = []

    def parts() -> Iterator[AgencyFeatures]:
        for _, (features, done) in run.map(
            stored_agency_features, partitions, shared, total=len(partitions), progress=agencies
        ):
            finished.append(done)
            yield features

    def history() -> pd.DataFrame:
        if not finished:  # no agency (every employee quarantined)
            finished.append(
                agency_view(StoredAgency(-1, data.whole["employees"]), data.parts, as_of)["training_history"]
            )
        if len(finished) > 1:
            finished[:] = [_in_file_order(finished)]
        return finished[0]

    return assemble(
        parts(),
        context,
        text_model,
        encoder,
        stage,
        outcomes=lambda: entry_outcomes({"training_history": history()}),
        history=history,
        fingerprint=data.fingerprint,
    )


def _in_file_order(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The agencies' rows of one table in the table's order, without ``_row``."""
    frame = pd.concat(parts, ignore_index=True).sort_values(ROW, kind="stable")
    return frame.drop(columns=[ROW]).reset_index(drop=True)


def _first_rows(parts: list[pd.DataFrame], column: str) -> pd.DataFrame:
    """The first row of each distinct text over every agency, in file order (what a whole-table
    ``drop_duplicates`` keeps)."""
    return _in_file_order(parts).drop_duplicates(column).reset_index(drop=True)


def _scored_batches(sent: list[list[list[str]]]) -> list[list[str]]:
    """Each batch's distinct texts over every agency, sorted as a whole-table build sorts them; empty
    batches left out (a whole-table build does not score them)."""
    if not sent:
        return []
    batches = []
    for i in range(len(sent[0])):
        texts = [text for agency in sent for text in agency[i]]
        if texts:
            batches.append(factorized(pd.Series(texts, dtype="str"))[1])
    return batches
