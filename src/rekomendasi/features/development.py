"""Development status: JP earned in the as-of year against the yearly obligation, and the mandatory
programmes each employee is due (with the rule that makes them due) or has done."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Catalog, Employees, JpLog, Positions, TrainingHistory, list_items
from rekomendasi.features.schemas import Development, Mandatory
from rekomendasi.features.spec import EvidenceSpec


def jp_status(tables: Mapping[str, pd.DataFrame], spec: EvidenceSpec, as_of: dt.date) -> pd.DataFrame:
    """JP earned from 1 January of the as-of year up to the as-of date, per employee.

    Completed catalogue trainings count with ``jp_earned`` (the catalogue's JP when empty); jp_log rows
    count as recorded.
    """
    year_start = pd.Timestamp(as_of.year, 1, 1)
    employees = (
        tables["employees"][[Employees.nip]].sort_values(Employees.nip, kind="stable").reset_index(drop=True)
    )
    history = tables["training_history"]
    done = history[
        (history[TrainingHistory.status] == "completed")
        & (history[TrainingHistory.completed_on] >= year_start)
    ]
    done = done.merge(
        tables["catalog"][[Catalog.training_id, Catalog.jp]], on=Catalog.training_id, how="left"
    )
    earned = done[TrainingHistory.jp_earned].fillna(done[Catalog.jp].astype(float))
    training = earned.groupby(done[TrainingHistory.nip]).sum()
    log = tables["jp_log"]
    log = log[log[JpLog.date] >= year_start]
    other = log.groupby(JpLog.nip)[JpLog.jp].sum()
    out = employees.copy()
    out[Development.year] = as_of.year
    out[Development.jp_training] = out[Development.nip].map(training).fillna(0.0).to_numpy()
    out[Development.jp_other] = out[Development.nip].map(other).fillna(0.0).to_numpy()
    out[Development.jp_total] = out[Development.jp_training] + out[Development.jp_other]
    out[Development.jp_target] = spec.development.jp_per_year
    out[Development.jp_remaining] = np.maximum(out[Development.jp_target] - out[Development.jp_total], 0.0)
    out[Development.meets_jp_target] = out[Development.jp_total] >= out[Development.jp_target]
    return out


def mandatory_programmes(
    tables: Mapping[str, pd.DataFrame], spec: EvidenceSpec, as_of: dt.date
) -> pd.DataFrame:
    """One row per (employee, mandatory programme) that applies to the employee.

    A programme applies to CPNS (PNS whose entry is within ``cpns_max_years`` and who have no completed
    Latsar) and to holders of the position type its rule names. The data contract carries no date of
    appointment to the current position, so "new holder" is read as "holder who has not completed it".
    ``due`` is True until a completion is recorded on or before the as-of date.
    """
    dev = spec.development
    employees = tables["employees"].merge(
        tables["positions"][[Positions.position_id, Positions.jenis_jabatan]],
        on=Employees.position_id,
        how="left",
    )
    catalog = tables["catalog"]
    history = tables["training_history"]
    pair = [TrainingHistory.nip, TrainingHistory.training_id]
    completed = (
        history[history[TrainingHistory.status] == "completed"]
        .groupby(pair)[TrainingHistory.completed_on]
        .max()
    )
    enrolled = history[history[TrainingHistory.status] == "enrolled"].set_index(pair).index
    rows = []
    for _, entry in catalog[catalog[Catalog.mandatory_for].notna() & catalog[Catalog.active]].iterrows():
        for condition in sorted(list_items(entry[Catalog.mandatory_for])):
            rule = dev.mandatory.get(condition)
            if rule is None:
                continue
            if condition == "cpns":
                recent = employees[Employees.entry_date] >= pd.Timestamp(as_of) - pd.Timedelta(
                    days=int(dev.cpns_max_years * 365.25)
                )
                applies = employees[(employees[Employees.status] == "pns") & recent]
            else:
                applies = employees[employees[Positions.jenis_jabatan] == rule.jenis_jabatan]
            for nip in applies[Employees.nip]:
                done_on = completed.get((nip, entry[Catalog.training_id]))
                rows.append((nip, entry[Catalog.training_id], condition, rule.rule_id, rule.rule_en, done_on))
    key = [Mandatory.nip, Mandatory.training_id]
    out = pd.DataFrame(
        rows,
        columns=[*key, Mandatory.condition, Mandatory.rule_id, Mandatory.rule_en, Mandatory.completed_on],
    )
    out[Mandatory.completed_on] = pd.to_datetime(out[Mandatory.completed_on]).astype("datetime64[us]")
    out[Mandatory.done] = out[Mandatory.completed_on].notna()
    out[Mandatory.due] = ~out[Mandatory.done]
    out[Mandatory.enrolled] = (
        pd.MultiIndex.from_frame(out[key]).isin(enrolled) if len(out) else pd.Series([], dtype=bool)
    )
    # CPNS who completed Latsar are no longer CPNS: the programme no longer applies to them.
    out = out[~((out[Mandatory.condition] == "cpns") & out[Mandatory.done])]
    return out.sort_values(key, kind="stable").reset_index(drop=True)
