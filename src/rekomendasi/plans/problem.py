"""The planning problem of one agency: who is planned for, their JP floor, the candidate trainings each
may take (from the scores store, with the calibrated expected gain) and the mandatory programmes due.

Built once per request; :mod:`rekomendasi.plans.solve` solves it at one budget or several.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rekomendasi.contract.schemas import Catalog
from rekomendasi.errors import ModelNotReady, NotFound, PlanInputError
from rekomendasi.features import Snapshot
from rekomendasi.features.schemas import Development, Mandatory, Roster
from rekomendasi.plans.schemas import FAIR_COLUMNS, PlanRequest
from rekomendasi.ranking.calibration import GainCalibration
from rekomendasi.recommend.core import Ranker
from rekomendasi.recommend.filters import NO_OBJECTIONS, Objections
from rekomendasi.recommend.schemas import Scores
from rekomendasi.recommend.store import ScoresStore

GAIN_CANDIDATES = 10
"""Per person: the candidates with the highest expected gain the solver may choose from."""
JP_CANDIDATES = 4
"""Per person: besides those, the candidates with the most JP per rupiah (they reach the floor cheaply)."""


@dataclass(frozen=True)
class Problem:
    """One agency's planning problem.

    Attributes:
        people: one row per active employee planned for (``nip``, ``unit_id``, ``status``, ``gender``,
            ``earned_jp``: JP already counted towards the plan year's floor), sorted by nip.
        pairs: one row per personal candidate: ``person`` (row of ``people``), ``nip``, ``training_id``,
            ``rank`` and ``score`` (the ranker's), ``gain`` (calibrated expected gain, levels),
            ``heuristic_gain`` (the gap the entry can close, levels, uncalibrated), ``jp``, ``cost_idr``,
            ``gaps`` (the store's gap records).
        needs: (pair row, need id) of each competency gap a pair addresses; a person takes at most one
            training per need.
        mandatory: one row per mandatory programme due and not enrolled: ``person``, ``nip``,
            ``training_id``, ``jp``, ``cost_idr``, ``rule_id``, ``rule_en``.
        seats: training_id -> seats on offer (entries with a limit only).
        titles: training_id -> title; modality: training_id -> modality.
        names: competency_id -> name.
        floor: the JP floor (``PlanRequest.min_jp``).
        year: the plan year.
    """

    people: pd.DataFrame
    pairs: pd.DataFrame
    needs: np.ndarray
    mandatory: pd.DataFrame
    seats: dict[str, int]
    titles: dict[str, str]
    modality: dict[str, str]
    names: dict[str, str]
    floor: float
    year: int


def gain_calibration(model: Ranker) -> GainCalibration:
    """The calibration the model was trained with.

    Raises:
        ModelNotReady: the model predates calibrated gains (says to retrain).
    """
    raw = getattr(model, "gain_calibration_", None)
    if not raw:
        raise ModelNotReady(
            "the champion model has no expected-gain calibration (it was trained by an older release); "
            "run `rekomendasi train` to train one that has."
        )
    return GainCalibration.from_dict(raw)


def check_request(request: PlanRequest) -> None:
    """Refuse what no data can make sense of.

    Raises:
        PlanInputError: a budget of zero or less, a floor of zero or less, a non-positive cap, an unknown
            coverage column.
    """
    if request.budget_idr <= 0:
        raise PlanInputError(f"the budget must be more than Rp 0; got {request.budget_idr}.")
    if not request.min_jp > 0:
        raise PlanInputError(f"the JP floor must be more than 0; got {request.min_jp}.")
    if request.max_cost_per_person_idr is not None and request.max_cost_per_person_idr <= 0:
        raise PlanInputError(
            f"the cost cap per person must be more than Rp 0; got {request.max_cost_per_person_idr}."
        )
    unknown = sorted(set(request.fair_coverage) - set(FAIR_COLUMNS))
    if unknown:
        raise PlanInputError(
            f"unknown coverage group {', '.join(unknown)}; choose from {', '.join(FAIR_COLUMNS)}."
        )
    if request.time_limit_s <= 0:
        raise PlanInputError(f"the time limit must be more than 0 s; got {request.time_limit_s}.")


def build_problem(
    snapshot: Snapshot,
    scores: ScoresStore,
    model: Ranker,
    request: PlanRequest,
    objections: Objections = NO_OBJECTIONS,
) -> Problem:
    """The planning problem of ``request`` on ``snapshot`` and the store made from it, without the
    entries of the staff's standing ``objections`` (UU 27/2022 art. 10).

    Raises:
        PlanInputError: see :func:`check_request`.
        NotFound: the agency has no active employee in the snapshot, or the unit is not in the agency.
        ModelNotReady: the model has no gain calibration.
    """
    check_request(request)
    calibration = gain_calibration(model)
    people = _people(snapshot, request)
    year = request.year if request.year is not None else snapshot.as_of.year + 1
    earned = pd.Series(0.0, index=people.index)
    if year == snapshot.as_of.year:  # JP already earned this year count towards its floor
        dev = snapshot.development.set_index(Development.nip)[Development.jp_total]
        earned = people["nip"].map(dev).fillna(0.0)
    people = people.assign(earned_jp=earned.astype(float).to_numpy())
    catalog = snapshot.catalog.set_index(Catalog.training_id)
    rows = objections.drop(scores.read(request.agency))
    pairs, needs = _pairs(rows, people, catalog, calibration, request)
    seats = catalog[Catalog.seats].dropna()
    return Problem(
        people=people,
        pairs=pairs,
        needs=needs,
        mandatory=_mandatory(snapshot, people, catalog),
        seats={str(k): int(v) for k, v in seats.items()},
        titles={str(k): str(v) for k, v in catalog[Catalog.title].items()},
        modality={str(k): str(v) for k, v in catalog[Catalog.modality].items()},
        names=dict(
            zip(
                snapshot.competencies["competency_id"].astype(str),
                snapshot.competencies["name"].astype(str),
                strict=True,
            )
        ),
        floor=float(request.min_jp),
        year=year,
    )


def _people(snapshot: Snapshot, request: PlanRequest) -> pd.DataFrame:
    roster = snapshot.roster
    staff = roster[roster[Roster.active].astype(bool) & (roster[Roster.instansi_id] == request.agency)]
    if staff.empty:
        raise NotFound(
            f"agency {request.agency!r} has no active employee in snapshot {snapshot.snapshot_id}."
        )
    if request.unit is not None:
        units = sorted(staff[Roster.unit_id].astype(str).unique())
        staff = staff[staff[Roster.unit_id] == request.unit]
        if staff.empty:
            shown = ", ".join(units[:8]) + (" ..." if len(units) > 8 else "")
            raise PlanInputError(
                f"unit {request.unit!r} is not a unit of {request.agency} (its units: {shown})."
            )
    columns = [Roster.nip, Roster.unit_id, Roster.status, Roster.gender]
    out = staff[columns].astype({Roster.nip: str, Roster.unit_id: str}).copy()
    out[Roster.gender] = out[Roster.gender].fillna("(unknown)").astype(str)
    out[Roster.status] = out[Roster.status].fillna("(unknown)").astype(str)
    return out.sort_values(Roster.nip, kind="stable").reset_index(drop=True)


def _pairs(
    rows: pd.DataFrame,
    people: pd.DataFrame,
    catalog: pd.DataFrame,
    calibration: GainCalibration,
    request: PlanRequest,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Each person's candidates: the best by gain and the most JP per rupiah, within the cost cap."""
    person = pd.Series(np.arange(len(people)), index=people["nip"].to_numpy())
    rows = rows[rows[Scores.nip].isin(person.index)].reset_index(drop=True)
    ids = rows[Scores.training_id].astype(str)
    frame = pd.DataFrame(
        {
            "person": rows[Scores.nip].map(person).to_numpy(dtype=np.int64),
            "nip": rows[Scores.nip].astype(str).to_numpy(),
            "training_id": ids.to_numpy(),
            "rank": rows[Scores.rank].to_numpy(dtype=np.int64),
            "score": rows[Scores.score].to_numpy(dtype=np.float64),
            "gain": calibration(rows[Scores.score].to_numpy()),
            "heuristic_gain": rows[Scores.expected_gap_closed].to_numpy(dtype=np.float64),
            "jp": ids.map(catalog[Catalog.jp]).to_numpy(dtype=np.float64),
            "cost_idr": ids.map(catalog[Catalog.cost_idr]).fillna(0).to_numpy(dtype=np.int64),
        }
    )
    frame["gaps"] = rows[Scores.gaps].array if len(rows) else pd.Series([], dtype=object)
    if request.max_cost_per_person_idr is not None:
        frame = frame[frame["cost_idr"] <= request.max_cost_per_person_idr]
    by_gain = frame.sort_values(["person", "gain", "rank"], ascending=[True, False, True], kind="stable")
    best = by_gain.groupby("person").head(GAIN_CANDIDATES).index
    efficiency: pd.Series = frame["jp"] / np.maximum(frame["cost_idr"], 1)
    by_jp = frame.assign(_e=efficiency).sort_values(["person", "_e", "rank"], ascending=[True, False, True])
    cheap = by_jp.groupby("person").head(JP_CANDIDATES).index
    keep = np.sort(np.union1d(best.to_numpy(), cheap.to_numpy()))
    frame = frame.loc[keep].sort_values(["person", "rank"], kind="stable").reset_index(drop=True)
    return frame, _needs(frame)


def _needs(pairs: pd.DataFrame) -> np.ndarray:
    """[n, 2] (pair row, need id): the gap competencies (gap > 0, in the position's standard) of each pair,
    a need id per distinct (person, competency)."""
    if pairs.empty:
        return np.zeros((0, 2), dtype=np.int64)
    lists = pa.array(pairs["gaps"].array)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    flat = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists).to_numpy()
    gap = pc.struct_field(flat, "gap").to_numpy(zero_copy_only=False)
    required = pc.struct_field(flat, "required_level").is_valid().to_numpy(zero_copy_only=False)
    competency = pc.struct_field(flat, "competency_id").to_numpy(zero_copy_only=False)
    open_gap = np.nan_to_num(gap.astype(np.float64)) > 0
    open_gap &= required
    pair_rows = parent[open_gap]
    people = pairs["person"].to_numpy()[pair_rows]
    key = pd.MultiIndex.from_arrays([people, competency[open_gap]])
    need = pd.factorize(key)[0]
    return np.column_stack([pair_rows, need]).astype(np.int64)


def _mandatory(snapshot: Snapshot, people: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    due = snapshot.mandatory
    due = due[due[Mandatory.due].astype(bool) & ~due[Mandatory.enrolled].astype(bool)]
    person = pd.Series(np.arange(len(people)), index=people["nip"].to_numpy())
    due = due[due[Mandatory.nip].isin(person.index)]
    due = due.drop_duplicates([Mandatory.nip, Mandatory.training_id])
    ids = due[Mandatory.training_id].astype(str)
    return pd.DataFrame(
        {
            "person": due[Mandatory.nip].map(person).to_numpy(dtype=np.int64),
            "nip": due[Mandatory.nip].astype(str).to_numpy(),
            "training_id": ids.to_numpy(),
            "jp": ids.map(catalog[Catalog.jp]).to_numpy(dtype=np.float64),
            "cost_idr": ids.map(catalog[Catalog.cost_idr]).fillna(0).to_numpy(dtype=np.int64),
            "rule_id": due[Mandatory.rule_id].astype(str).to_numpy(),
            "rule_en": due[Mandatory.rule_en].astype(str).to_numpy(),
        }
    ).reset_index(drop=True)
