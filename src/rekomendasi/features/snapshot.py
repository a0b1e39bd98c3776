"""Build, write and read the per-employee snapshot every model and the API use."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rekomendasi import __version__
from rekomendasi.contract import Dataset
from rekomendasi.errors import ModelNotReady
from rekomendasi.features.asof import as_of_view
from rekomendasi.features.development import jp_status, mandatory_programmes
from rekomendasi.features.gaps import estimate_gaps
from rekomendasi.features.performance import performance_features
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.features.textmap import TextModel, assign, fit_text_model
from rekomendasi.text import TextEncoder

TABLES = ("competency_gaps", "performance", "development", "mandatory", "text_profile")
# Free-text columns mapped to competencies for the text profile: table -> column.
TEXT_SOURCES = {
    "daily_reports": "activity",
    "indicators": "description",
    "feedback": "text",
    "behaviour": "feedback",
}


@dataclass(frozen=True)
class Snapshot:
    """The as-of snapshot: long competency gaps plus per-employee tables and a manifest."""

    as_of: dt.date
    competency_gaps: pd.DataFrame
    performance: pd.DataFrame
    development: pd.DataFrame
    mandatory: pd.DataFrame
    text_profile: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        """One of :data:`TABLES` by name."""
        frame: pd.DataFrame = getattr(self, name)
        return frame


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
    return Snapshot(as_of, gaps, performance, development, mandatory, text_profile, manifest)


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


def write_snapshot(snapshot: Snapshot, out_dir: Path) -> list[Path]:
    """Write each table as Parquet plus ``manifest.json``; the same snapshot gives identical bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TABLES:
        path = out_dir / f"{name}.parquet"
        table = pa.Table.from_pandas(snapshot.table(name), preserve_index=False)
        table = table.replace_schema_metadata(None)  # pandas metadata embeds nothing we need
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    manifest = out_dir / "manifest.json"
    manifest.write_text(
        json.dumps(snapshot.manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    return [*paths, manifest]


def read_snapshot(snapshot_dir: Path) -> Snapshot:
    """Read a snapshot written by :func:`write_snapshot`.

    Raises:
        ModelNotReady: the directory holds no snapshot (with the command that builds one).
    """
    manifest_path = snapshot_dir / "manifest.json"
    if not manifest_path.exists():
        raise ModelNotReady(
            f"no snapshot in {snapshot_dir}; build one with "
            f"`rekomendasi features --data DIR --as-of DATE --out {snapshot_dir}`."
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    frames = {name: pd.read_parquet(snapshot_dir / f"{name}.parquet") for name in TABLES}
    return Snapshot(as_of=dt.date.fromisoformat(manifest["as_of"]), manifest=manifest, **frames)
