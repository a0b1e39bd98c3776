"""What the snapshot records about people and participation, computed once from the point-in-time view
so that candidates and pair features never go back to the raw tables:

- the roster: who was an employee on the snapshot date, with the position type eligibility rules need;
- what each employee had taken (enrolled in or completed), which is never recommended again;
- how earlier participants fared in each entry;
- the share of each position's staff who had completed each entry (what peers took).

All inputs are the tables of :func:`rekomendasi.features.asof.as_of_view`, where a training completed
after the snapshot date is still ``enrolled``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from rekomendasi.contract.schemas import Employees, Positions, TrainingHistory
from rekomendasi.features.schemas import EntryOutcomes, PeerUptake, Roster, Taken

FINISHED = ("completed", "dropped", "failed")
_TAKEN = ("enrolled", "completed")


def roster(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per employee of the snapshot date, sorted by nip (:class:`Roster`)."""
    employees = tables["employees"].merge(
        tables["positions"][[Positions.position_id, Positions.jenis_jabatan]],
        on=Employees.position_id,
        how="left",
    )
    out = pd.DataFrame(
        {
            Roster.nip: employees[Employees.nip],
            Roster.instansi_id: employees[Employees.instansi_id],
            Roster.unit_id: employees[Employees.unit_id],
            Roster.position_id: employees[Employees.position_id],
            Roster.jenis_jabatan: employees[Positions.jenis_jabatan],
            Roster.status: employees[Employees.status],
            Roster.gender: employees[Employees.gender],
            Roster.province: employees[Employees.province],
            Roster.active: employees[Employees.active].fillna(False).astype(bool),
        }
    )
    return out.sort_values(Roster.nip, kind="stable").reset_index(drop=True)


def taken(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """(nip, training_id) of every entry an employee was enrolled in or had completed (:class:`Taken`)."""
    history = tables["training_history"]
    rows = history.loc[history[TrainingHistory.status].isin(_TAKEN), [Taken.nip, Taken.training_id]]
    return rows.drop_duplicates().sort_values([Taken.nip, Taken.training_id]).reset_index(drop=True)


def entry_outcomes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per entry with finished enrolments: takers, completion rate, mean score and satisfaction."""
    history = tables["training_history"]
    finished = history[history[TrainingHistory.status].isin(FINISHED)]
    stats = finished.groupby(TrainingHistory.training_id, sort=True).agg(
        takers=(TrainingHistory.nip, "size"),
        completion_rate=(TrainingHistory.status, lambda s: float((s == "completed").mean())),
        mean_score=(TrainingHistory.score, "mean"),
        mean_satisfaction=(TrainingHistory.satisfaction, lambda s: float(s.astype(float).mean())),
    )
    out = stats.reset_index()
    out[EntryOutcomes.takers] = out[EntryOutcomes.takers].astype("int64")
    for column in (EntryOutcomes.completion_rate, EntryOutcomes.mean_score, EntryOutcomes.mean_satisfaction):
        out[column] = out[column].astype("float64")
    return out[
        [
            EntryOutcomes.training_id,
            EntryOutcomes.takers,
            EntryOutcomes.completion_rate,
            EntryOutcomes.mean_score,
            EntryOutcomes.mean_satisfaction,
        ]
    ]


def peer_uptake(tables: Mapping[str, pd.DataFrame], people: pd.DataFrame) -> pd.DataFrame:
    """Per (position, entry): the share of the position's staff on the roster who had completed it."""
    history = tables["training_history"]
    done = history[history[TrainingHistory.status] == "completed"]
    position = people.set_index(Roster.nip)[Roster.position_id]
    done = done.assign(**{PeerUptake.position_id: done[TrainingHistory.nip].map(position)}).dropna(
        subset=[PeerUptake.position_id]
    )
    counts = done.groupby([PeerUptake.position_id, PeerUptake.training_id], sort=True)[
        TrainingHistory.nip
    ].nunique()
    staff = position.value_counts()
    share = counts / staff.reindex(counts.index.get_level_values(0)).to_numpy()
    out = share.rename(PeerUptake.share).reset_index()
    out[PeerUptake.share] = out[PeerUptake.share].astype(float)
    return out[[PeerUptake.position_id, PeerUptake.training_id, PeerUptake.share]]
