"""One agency's part of a snapshot build (#14).

A snapshot build (:func:`rekomendasi.features.snapshot.build_snapshot`) cuts the point-in-time view by
agency (``instansi_id``) and runs :func:`agency_features` on each part, in this process or on a Dask
cluster (:mod:`rekomendasi.cluster`). A part holds the agency's rows of every table keyed by NIP
(:data:`NIP_TABLES`); what is the same for every agency (the positions and their standards, the
catalogue, the competencies, the fitted text model, the units' public satisfaction) travels once, in a
:class:`FeatureContext`. Every stage run here is per employee, so an agency's part of a table is exactly
its rows of the table the whole view would give.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Employees
from rekomendasi.features.development import jp_status, mandatory_programmes
from rekomendasi.features.gaps import gap_evidence
from rekomendasi.features.participation import roster, taken
from rekomendasi.features.performance import performance_features
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.features.textevidence import row_competencies, text_profile
from rekomendasi.features.textmap import TextModel

# The tables of the point-in-time view cut by agency (every one has a nip column) ...
NIP_TABLES = (
    "employees",
    "assessments",
    "behaviour",
    "daily_reports",
    "feedback",
    "indicators",
    "jp_log",
    "skp",
    "training_history",
)
# ... and those every agency gets whole. Public feedback is about units: it reaches the agencies as
# FeatureContext.unit_score, aggregated once.
SHARED_TABLES = ("positions", "position_standards", "competencies", "catalog", "catalog_competencies")


@dataclass(frozen=True)
class FeatureContext:
    """What every agency's part needs, sent to each worker once.

    Attributes:
        text_model: the text model fitted over every agency (:meth:`TextModel.shipped`).
        masks: per position, the competencies its texts may be assigned
            (:func:`~rekomendasi.features.textevidence.standard_masks`).
        tables: the tables of :data:`SHARED_TABLES`, whole.
        unit_score: each unit's public satisfaction
            (:func:`~rekomendasi.features.performance.unit_satisfaction`).
    """

    as_of: dt.date
    spec: EvidenceSpec
    text_model: TextModel
    masks: dict[str, np.ndarray]
    tables: dict[str, pd.DataFrame]
    unit_score: pd.Series


@dataclass(frozen=True)
class AgencyFeatures:
    """One agency's per-employee snapshot tables, each sorted by nip.

    Attributes:
        evidence: the competency gaps still as evidence
            (:func:`~rekomendasi.features.gaps.gap_evidence`): their estimates need the prior and the
            calibrations fitted over every agency.
        performance: without the talent grid, which needs the estimates.
    """

    roster: pd.DataFrame
    evidence: pd.DataFrame
    performance: pd.DataFrame
    development: pd.DataFrame
    mandatory: pd.DataFrame
    text_profile: pd.DataFrame
    taken: pd.DataFrame


def agency_features(part: dict[str, pd.DataFrame], context: FeatureContext) -> AgencyFeatures:
    """The per-employee stages of a snapshot on one agency's rows (:class:`AgencyParts`)."""
    tables = {**context.tables, **part}
    spec, model, masks = context.spec, context.text_model, context.masks
    indicators = row_competencies(tables, "indicators", model, masks, spec)
    feedback = row_competencies(tables, "feedback", model, masks, spec)
    return AgencyFeatures(
        roster=roster(tables),
        evidence=gap_evidence(tables, spec, context.as_of, indicators, feedback),
        performance=performance_features(tables, spec, context.unit_score),
        development=jp_status(tables, spec, context.as_of),
        mandatory=mandatory_programmes(tables, spec, context.as_of),
        text_profile=text_profile(tables, model, masks, spec),
        taken=taken(tables),
    )


class AgencyParts:
    """The tables of :data:`NIP_TABLES` cut by agency.

    A row belongs to the agency of its NIP in ``staff`` (every employee of the data, also those who
    joined after the as-of date: their earlier rows stay with their agency). Each table is put in agency
    order once, keeping the order of rows within an agency, so that a part is a slice of it; the sorted
    table replaces the unsorted one in ``tables``, so the view is held once.

    Args:
        tables: the point-in-time view; its tables of :data:`NIP_TABLES` are replaced (same rows, in
            agency order).
        staff: the data's employees table (nip, instansi_id).
    """

    def __init__(self, tables: MutableMapping[str, pd.DataFrame], staff: pd.DataFrame) -> None:
        self.agencies, agency_of = np.unique(staff[Employees.instansi_id].astype(str), return_inverse=True)
        lookup = pd.Index(staff[Employees.nip])
        self._tables: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
        for name in NIP_TABLES:
            found = lookup.get_indexer(tables[name][Employees.nip])
            # A NIP no agency employs (the contract quarantines such rows; a hand-made dataset may keep
            # them) rides with the first agency: it only reaches the text profile, which is per NIP.
            code = np.where(found >= 0, agency_of[found], 0)
            order = np.argsort(code, kind="stable")
            bounds = np.searchsorted(code[order], np.arange(len(self.agencies) + 1))
            tables[name] = tables[name].take(order).reset_index(drop=True)
            self._tables[name] = (tables[name], bounds)

    def __len__(self) -> int:
        return len(self.agencies)

    def __iter__(self) -> Iterator[tuple[str, dict[str, pd.DataFrame]]]:
        """(agency, its rows of every table of :data:`NIP_TABLES`), in agency order."""
        for i, agency in enumerate(self.agencies):
            yield str(agency), {name: self._cut(name, i) for name in NIP_TABLES}

    def _cut(self, name: str, i: int) -> pd.DataFrame:
        frame, bounds = self._tables[name]
        return frame.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True)
