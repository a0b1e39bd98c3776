"""Text evidence per employee, from a fitted text model (:mod:`rekomendasi.features.textmap`): the
competency of each indicator and feedback row the data leaves untagged, and the text profile (how much
of an employee's free text is about each competency). A text is assigned among the competencies of its
author's position standard.

Every function here works row by row or employee by employee, so one agency's rows give that agency's
part of the whole tables' result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Employees, PositionStandards
from rekomendasi.features.schemas import TextProfile
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.features.textmap import TextModel, assign, factorized

# Free-text columns mapped to competencies for the text profile: table -> column.
TEXT_SOURCES = {
    "daily_reports": "activity",
    "indicators": "description",
    "feedback": "text",
    "behaviour": "feedback",
}
# Tables whose rows may carry a competency tag, and the text that stands in for a missing one.
TAGGED = {"indicators": "description", "feedback": "text"}


def standard_masks(tables: Mapping[str, pd.DataFrame], model: TextModel) -> dict[str, np.ndarray]:
    """Per position, which classes (competencies) its standard holds (1.0) and which not (0.0)."""
    index = {c: i for i, c in enumerate(model.classes)}
    standards = tables["position_standards"]
    masks = {}
    for position, comps in standards.groupby(PositionStandards.position_id)[PositionStandards.competency_id]:
        mask = np.zeros(len(model.classes), dtype=np.float32)
        mask[[index[c] for c in comps if c in index]] = 1.0
        masks[str(position)] = mask
    return masks


def row_masks(
    nips: pd.Series, tables: Mapping[str, pd.DataFrame], masks: dict[str, np.ndarray], n_classes: int
) -> np.ndarray:
    """[row, class] mask of the competencies each row's employee may be assigned (every class for an
    employee who is not in ``tables['employees']`` or whose position has no standard)."""
    position = nips.map(tables["employees"].set_index(Employees.nip)[Employees.position_id])
    codes, uniques = pd.factorize(position)
    stack = np.stack(
        [masks.get(str(p), np.ones(n_classes, dtype=np.float32)) for p in uniques]
        + [np.ones(n_classes, dtype=np.float32)]
    )
    return stack[np.where(codes < 0, len(uniques), codes)]


def row_competencies(
    tables: Mapping[str, pd.DataFrame],
    name: str,
    model: TextModel,
    masks: dict[str, np.ndarray],
    spec: EvidenceSpec,
) -> pd.Series:
    """The competency of each row of ``tables[name]`` (a table of :data:`TAGGED`): its tag, else the one
    its text is assigned (null with neither)."""
    frame = tables[name]
    comp = frame["competency_id"].astype(object).copy()
    untagged = _untagged(frame, TAGGED[name])
    if untagged.any():
        rows = frame[untagged]
        inferred, _ = assign(model, rows[TAGGED[name]], _allowed(rows["nip"], tables, model, masks, spec))
        comp[untagged] = inferred
    return comp


def text_profile(
    tables: Mapping[str, pd.DataFrame], model: TextModel, masks: dict[str, np.ndarray], spec: EvidenceSpec
) -> pd.DataFrame:
    """Per (employee, competency): how much of the employee's free text is about it (:class:`TextProfile`)."""
    parts = []
    for name, column in TEXT_SOURCES.items():
        rows = _profile_rows(tables, name)
        if rows.empty:
            continue
        comp, conf = assign(model, rows[column], _allowed(rows["nip"], tables, model, masks, spec))
        parts.append(pd.DataFrame({"nip": rows["nip"].to_numpy(), "competency_id": comp, "weight": conf}))
    if not parts:
        return pd.DataFrame(
            {
                TextProfile.nip: pd.Series([], dtype="str"),
                TextProfile.competency_id: pd.Series([], dtype="str"),
                TextProfile.text_weight: [],
                TextProfile.text_share: [],
                TextProfile.text_rows: pd.Series([], dtype="int64"),
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


def scored_texts(tables: Mapping[str, pd.DataFrame]) -> Iterator[list[str]]:
    """The distinct texts that :func:`row_competencies` (indicators, then feedback) and
    :func:`text_profile` score over ``tables``, one list per call of :func:`assign`, in the order a
    whole-table build makes them (what :meth:`TextModel.shipped` embeds)."""
    yield from (texts for texts in scored_text_sources(tables) if texts)


def scored_text_sources(tables: Mapping[str, pd.DataFrame]) -> list[list[str]]:
    """:func:`scored_texts` with a list for every source, empty where the tables give it no text (so
    that the lists of several agencies line up)."""
    sources = []
    for name, column in TAGGED.items():
        frame = tables[name]
        untagged = _untagged(frame, column)
        sources.append(factorized(frame.loc[untagged, column])[1] if untagged.any() else [])
    for name, column in TEXT_SOURCES.items():
        rows = _profile_rows(tables, name)
        sources.append(factorized(rows[column])[1] if not rows.empty else [])
    return sources


def _untagged(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame["competency_id"].isna() & frame[column].notna()


def _profile_rows(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    return tables[name][["nip", TEXT_SOURCES[name]]].dropna()


def _allowed(
    nips: pd.Series,
    tables: Mapping[str, pd.DataFrame],
    model: TextModel,
    masks: dict[str, np.ndarray],
    spec: EvidenceSpec,
) -> np.ndarray | None:
    return row_masks(nips, tables, masks, len(model.classes)) if spec.text.restrict_to_standard else None
