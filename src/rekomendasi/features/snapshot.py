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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from rekomendasi import __version__
from rekomendasi.contract import Dataset
from rekomendasi.contract import schemas as contract
from rekomendasi.errors import DataContractError
from rekomendasi.features import schemas
from rekomendasi.features.asof import as_of_view
from rekomendasi.features.development import jp_status, mandatory_programmes
from rekomendasi.features.gaps import estimate_gaps
from rekomendasi.features.participation import entry_outcomes, peer_uptake, roster, taken
from rekomendasi.features.performance import performance_features
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.features.textmap import TextModel, assign, fit_text_model
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
# Free-text columns mapped to competencies for the text profile: table -> column.
TEXT_SOURCES = {
    "daily_reports": "activity",
    "indicators": "description",
    "feedback": "text",
    "behaviour": "feedback",
}


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
) -> Snapshot:
    """Turn a validated dataset into the snapshot of ``as_of`` (evidence after it is never used).

    Args:
        dataset: the loaded data directory.
        as_of: the snapshot date.
        spec: the reviewed evidence model.
        encoder: sentence-transformers encoder for text, or None for the lexical model alone.
        progress: called with each stage's name.
    """

    def stage(name: str) -> None:
        if progress is not None:
            progress(name)

    stage("point-in-time view")
    tables = as_of_view(dataset, as_of)
    stage("text model")
    text_model = fit_text_model(tables, spec, encoder)
    stage("text to competencies")
    allowed = _standard_masks(tables, text_model)
    indicator_comp = _tagged_or_inferred(tables, "indicators", "description", text_model, allowed, spec)
    feedback_comp = _tagged_or_inferred(tables, "feedback", "text", text_model, allowed, spec)
    text_profile = _text_profile(tables, text_model, allowed, spec)
    stage("competency gaps")
    gaps, calibrations = estimate_gaps(tables, spec, as_of, indicator_comp, feedback_comp)
    stage("performance")
    performance = performance_features(tables, gaps, spec)
    stage("development")
    development = jp_status(tables, spec, as_of)
    mandatory = mandatory_programmes(tables, spec, as_of)
    people = roster(tables)
    manifest = {
        "as_of": as_of.isoformat(),
        "rekomendasi_version": __version__,
        "spec_sha256": hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True).encode()).hexdigest(),
        "data_fingerprint": data_fingerprint(dataset),
        "text_model": encoder.model_name if encoder is not None else None,
        "text_validation": text_model.validation,
        "calibrations": [asdict(c) for c in calibrations],
        "employees": len(performance),
    }
    snapshot = Snapshot(
        as_of=as_of,
        roster=people,
        competency_gaps=gaps,
        performance=performance,
        development=development,
        mandatory=mandatory,
        text_profile=text_profile,
        taken=taken(tables),
        entry_outcomes=entry_outcomes(tables),
        peer_uptake=peer_uptake(tables, people),
        catalog=tables["catalog"].reset_index(drop=True),
        catalog_competencies=tables["catalog_competencies"].reset_index(drop=True),
        competencies=tables["competencies"].reset_index(drop=True),
        manifest=manifest,
    )
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


def _standard_masks(tables: Mapping[str, pd.DataFrame], model: TextModel) -> dict[str, np.ndarray]:
    """Per position, which classes (competencies) its standard holds; keyed by nip for lookup."""
    index = {c: i for i, c in enumerate(model.classes)}
    standards = tables["position_standards"]
    masks = {}
    for position, comps in standards.groupby("position_id")["competency_id"]:
        mask = np.zeros(len(model.classes), dtype=np.float32)
        mask[[index[c] for c in comps if c in index]] = 1.0
        masks[str(position)] = mask
    return masks


def _row_masks(
    nips: pd.Series, tables: Mapping[str, pd.DataFrame], masks: dict[str, np.ndarray], n_classes: int
) -> np.ndarray:
    position = nips.map(tables["employees"].set_index("nip")["position_id"])
    codes, uniques = pd.factorize(position)
    stack = np.stack(
        [masks.get(str(p), np.ones(n_classes, dtype=np.float32)) for p in uniques]
        + [np.ones(n_classes, dtype=np.float32)]
    )
    return stack[np.where(codes < 0, len(uniques), codes)]


def _tagged_or_inferred(
    tables: Mapping[str, pd.DataFrame],
    name: str,
    column: str,
    model: TextModel,
    masks: dict[str, np.ndarray],
    spec: EvidenceSpec,
) -> pd.Series:
    frame = tables[name]
    comp = frame["competency_id"].astype(object).copy()
    untagged = comp.isna() & frame[column].notna()
    if untagged.any():
        rows = frame[untagged]
        allowed = (
            _row_masks(rows["nip"], tables, masks, len(model.classes))
            if spec.text.restrict_to_standard
            else None
        )
        inferred, _ = assign(model, rows[column], allowed)
        comp[untagged] = inferred
    return comp


def _text_profile(
    tables: Mapping[str, pd.DataFrame], model: TextModel, masks: dict[str, np.ndarray], spec: EvidenceSpec
) -> pd.DataFrame:
    """Per (employee, competency): how much of the employee's free text is about it."""
    parts = []
    for name, column in TEXT_SOURCES.items():
        rows = tables[name][["nip", column]].dropna()
        if rows.empty:
            continue
        allowed = (
            _row_masks(rows["nip"], tables, masks, len(model.classes))
            if spec.text.restrict_to_standard
            else None
        )
        comp, conf = assign(model, rows[column], allowed)
        parts.append(pd.DataFrame({"nip": rows["nip"].to_numpy(), "competency_id": comp, "weight": conf}))
    if not parts:
        return pd.DataFrame(
            {
                "nip": pd.Series([], dtype="str"),
                "competency_id": pd.Series([], dtype="str"),
                "text_weight": [],
                "text_share": [],
                "text_rows": pd.Series([], dtype="int64"),
            }
        )
    rows = pd.concat(parts, ignore_index=True)
    out = (
        rows.groupby(["nip", "competency_id"], sort=True)
        .agg(text_weight=("weight", "sum"), text_rows=("weight", "size"))
        .reset_index()
    )
    out["text_share"] = out["text_weight"] / out.groupby("nip")["text_weight"].transform("sum")
    out["text_weight"] = out["text_weight"].round(4)
    out["text_share"] = out["text_share"].round(4)
    return out[["nip", "competency_id", "text_weight", "text_share", "text_rows"]]
