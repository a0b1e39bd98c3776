"""What each participant gained on the competencies a course targets, beside comparable non-participants.

One calendar year Y at a time: the estimated level of every (employee, competency of the position
standard) at the end of Y-1 and at the end of Y, both from the evidence alone (the evidence model's
training bonus is switched off, so finishing a course cannot raise an estimate by itself). A
*participant cell* is a completed enrolment of Y (enrolled in Y, completed by the end of Y) times one
competency the entry targets and the person's standard holds. Its *control* is the mean change of the
k most comparable cells of people who took no course on that competency in the window (or, with
``later_until``, of people who enrolled on it after the window: not yet trained): the same competency and
the same kind of position (jenis jabatan), nearest on the level estimated before, the level the position
requires, the estimate's uncertainty and the amount of evidence behind it (nearest-neighbour matching
with replacement on standardised covariates, within those exact strata).

The participant's gain beyond the controls is a difference in differences: (after - before) of the
participant minus (after - before) of its matched controls. Every level drifts with time and noisy
estimates drift back towards the mean, so people's changes depend on where their estimates start;
the naive before/after change, kept beside it, carries all of that. Summed over the targeted
competencies this gives one gain per enrolment (:class:`Enrolments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from rekomendasi.contract import Dataset
from rekomendasi.contract.schemas import CatalogCompetencies, TrainingHistory
from rekomendasi.features import Snapshot
from rekomendasi.features.schemas import CompetencyGaps, Roster

EVIDENCE_COUNTS = (
    CompetencyGaps.n_assessment,
    CompetencyGaps.n_indicators,
    CompetencyGaps.n_behaviour,
    CompetencyGaps.n_skp,
    CompetencyGaps.n_feedback,
)
COVARIATES = ("before", "required", "uncertainty", "evidence")
"""What a control is matched on, within the same competency and jenis jabatan."""
NEIGHBOURS = 10
"""Controls per participant cell."""
MIN_STRATUM = 30
"""A (competency, jenis jabatan) stratum with fewer controls than this matches on the competency alone."""


@dataclass(frozen=True)
class Enrolments:
    """One row per measured completed enrolment: nip, training_id, year, cells (targeted competencies
    measured), gain (beyond matched controls, summed over the cells), naive (before/after change summed
    over the cells), before (mean estimated level before), required (mean)."""

    frame: pd.DataFrame


def window_cells(
    dataset: Dataset,
    before: Snapshot,
    after: Snapshot,
    enrolled: int,
    window: tuple[int, int],
    later_until: int | None = None,
) -> pd.DataFrame:
    """Participant cells of the enrolments completed in year ``enrolled``, measured from ``before`` to
    ``after``, with each cell's own change and its matched controls' mean change.

    Args:
        before: snapshot as of 31 December of the year before the window, built without the training
            bonus.
        after: the same as of 31 December of the window's last year.
        enrolled: the participants' year: enrolled in it and completed by its end.
        window: the first and last calendar years the change spans. Nobody enrolled on a competency in
            these years (or in ``enrolled``) is a control for it. A window before ``enrolled`` is a
            placebo: the participants have not trained yet (and did not on that competency in the
            window), so a sound estimate of their gain is near zero.
        later_until: controls only among the people who enrolled on the competency after the window
            (and after ``enrolled``), up to this year: chosen for a course by the same policy, not yet
            trained (the not-yet-treated comparison). None: everyone not enrolled on it.
    """
    key = ["nip", "competency_id"]
    change = _levels(before, "before").merge(
        after.competency_gaps[
            [CompetencyGaps.nip, CompetencyGaps.competency_id, CompetencyGaps.estimated_level]
        ].rename(columns={CompetencyGaps.estimated_level: "after"}),
        on=key,
        how="inner",
    )
    change["delta"] = change["after"] - change["before"]
    jenis = before.roster.set_index(Roster.nip)[Roster.jenis_jabatan]
    change["jenis"] = change["nip"].map(jenis).fillna("-").to_numpy()

    first, last = window
    exposed = _targeted(dataset, min(first, enrolled), max(last, enrolled))
    exposed_in_window = _targeted(dataset, first, last)
    is_exposed = _index(change, key).isin(_index(exposed, key))
    taken = _targeted(dataset, enrolled, enrolled)
    done = taken[
        (taken[TrainingHistory.status] == "completed")
        & (taken[TrainingHistory.completed_on] <= pd.Timestamp(enrolled, 12, 31))
    ].drop_duplicates([*key, TrainingHistory.training_id])
    if enrolled > last:  # placebo: no course on the competency inside the window
        done = done[~_index(done, key).isin(_index(exposed_in_window, key))]
    cells = done[[*key, TrainingHistory.training_id]].merge(change, on=key, how="inner")
    pool = ~is_exposed
    if later_until is not None:
        later = _targeted(dataset, max(last, enrolled) + 1, later_until)
        pool &= _index(change, key).isin(_index(later, key))
    cells["control"] = _matched_control(cells, change[pool])
    cells["year"] = enrolled
    cells["through"] = last
    return cells.dropna(subset=["control"]).reset_index(drop=True)


def _levels(snapshot: Snapshot, name: str) -> pd.DataFrame:
    """(nip, competency) rows of the snapshot's gaps: the estimate as ``name`` and the covariates."""
    gaps = snapshot.competency_gaps
    return pd.DataFrame(
        {
            "nip": gaps[CompetencyGaps.nip].to_numpy(),
            "competency_id": gaps[CompetencyGaps.competency_id].to_numpy(),
            name: gaps[CompetencyGaps.estimated_level].to_numpy(dtype=float),
            "required": gaps[CompetencyGaps.required_level].to_numpy(dtype=float),
            "uncertainty": gaps[CompetencyGaps.uncertainty].to_numpy(dtype=float),
            "evidence": np.log1p(gaps[list(EVIDENCE_COUNTS)].to_numpy(dtype=float).sum(axis=1)),
        }
    )


def _targeted(dataset: Dataset, first: int, last: int) -> pd.DataFrame:
    """Enrolments of years ``first``..``last`` times the competencies their entries target."""
    history = dataset["training_history"]
    on = history[TrainingHistory.enrolled_on]
    rows = history[(on >= pd.Timestamp(first, 1, 1)) & (on <= pd.Timestamp(last, 12, 31))]
    links = dataset["catalog_competencies"][
        [CatalogCompetencies.training_id, CatalogCompetencies.competency_id]
    ]
    columns = [
        TrainingHistory.nip,
        TrainingHistory.training_id,
        TrainingHistory.status,
        TrainingHistory.completed_on,
    ]
    return rows[columns].merge(links, on=TrainingHistory.training_id)


def _index(frame: pd.DataFrame, key: list[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[key])


def _matched_control(cells: pd.DataFrame, controls: pd.DataFrame) -> np.ndarray:
    """Each participant cell's mean control change: its k nearest controls of the same competency and
    jenis jabatan (of the same competency only where that stratum is small); NaN without controls."""
    out = np.full(len(cells), np.nan)
    if cells.empty or controls.empty:
        return out
    x_all = controls[list(COVARIATES)].to_numpy(dtype=float)
    scale = np.nanstd(x_all, axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    by_comp = controls.groupby("competency_id").indices
    by_stratum = controls.groupby(["competency_id", "jenis"]).indices
    delta = controls["delta"].to_numpy(dtype=float)
    for stratum, rows in cells.groupby(["competency_id", "jenis"]).indices.items():
        comp = stratum[0]  # type: ignore[index]
        pool = by_stratum.get(stratum)
        if pool is None or len(pool) < MIN_STRATUM:
            pool = by_comp.get(comp)
        if pool is None or len(pool) == 0:
            continue
        k = min(NEIGHBOURS, len(pool))
        x = np.nan_to_num(x_all[pool] / scale)
        q = np.nan_to_num(cells.iloc[rows][list(COVARIATES)].to_numpy(dtype=float) / scale)
        _, near = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(q)
        out[rows] = delta[pool][near].mean(axis=1)
    return out


def enrolment_gains(cells: pd.DataFrame) -> Enrolments:
    """Participant cells summed per enrolment: the gain beyond controls and the naive change."""
    cells = cells.assign(gain=cells["delta"] - cells["control"])
    frame = (
        cells.groupby(["nip", TrainingHistory.training_id, "year", "through", "cut"], sort=True)
        .agg(
            cells=("gain", "size"),
            gain=("gain", "sum"),
            naive=("delta", "sum"),
            before=("before", "mean"),
            required=("required", "mean"),
        )
        .reset_index()
    )
    return Enrolments(frame)
