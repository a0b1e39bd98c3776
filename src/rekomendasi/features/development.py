"""Development status: JP earned in the as-of year against the yearly obligation, and the mandatory
programmes each employee is due (with the rule that makes them due) or has done."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import list_items
from rekomendasi.features.spec import EvidenceSpec


def jp_status(tables: Mapping[str, pd.DataFrame], spec: EvidenceSpec, as_of: dt.date) -> pd.DataFrame:
    """JP earned from 1 January of the as-of year up to the as-of date, per employee.

    Completed catalogue trainings count with ``jp_earned`` (the catalogue's JP when empty); jp_log rows
    count as recorded.
    """
    year_start = pd.Timestamp(as_of.year, 1, 1)
    employees = tables["employees"][["nip"]].sort_values("nip", kind="stable").reset_index(drop=True)
    history = tables["training_history"]
    done = history[(history["status"] == "completed") & (history["completed_on"] >= year_start)]
    done = done.merge(tables["catalog"][["training_id", "jp"]], on="training_id", how="left")
    earned = done["jp_earned"].fillna(done["jp"].astype(float))
    training = earned.groupby(done["nip"]).sum()
    log = tables["jp_log"]
    log = log[log["date"] >= year_start]
    other = log.groupby("nip")["jp"].sum()
    out = employees.copy()
    out["year"] = as_of.year
    out["jp_training"] = out["nip"].map(training).fillna(0.0).to_numpy()
    out["jp_other"] = out["nip"].map(other).fillna(0.0).to_numpy()
    out["jp_total"] = out["jp_training"] + out["jp_other"]
    out["jp_target"] = spec.development.jp_per_year
    out["jp_remaining"] = np.maximum(out["jp_target"] - out["jp_total"], 0.0)
    out["meets_jp_target"] = out["jp_total"] >= out["jp_target"]
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
        tables["positions"][["position_id", "jenis_jabatan"]], on="position_id", how="left"
    )
    catalog = tables["catalog"]
    history = tables["training_history"]
    completed = (
        history[history["status"] == "completed"].groupby(["nip", "training_id"])["completed_on"].max()
    )
    enrolled = history[history["status"] == "enrolled"].set_index(["nip", "training_id"]).index
    rows = []
    for _, entry in catalog[catalog["mandatory_for"].notna() & catalog["active"]].iterrows():
        for condition in sorted(list_items(entry["mandatory_for"])):
            rule = dev.mandatory.get(condition)
            if rule is None:
                continue
            if condition == "cpns":
                recent = employees["entry_date"] >= pd.Timestamp(as_of) - pd.Timedelta(
                    days=int(dev.cpns_max_years * 365.25)
                )
                applies = employees[(employees["status"] == "pns") & recent]
            else:
                applies = employees[employees["jenis_jabatan"] == rule.jenis_jabatan]
            for nip in applies["nip"]:
                done_on = completed.get((nip, entry["training_id"]))
                rows.append((nip, entry["training_id"], condition, rule.rule_id, rule.rule_en, done_on))
    out = pd.DataFrame(
        rows, columns=["nip", "training_id", "condition", "rule_id", "rule_en", "completed_on"]
    )
    out["completed_on"] = pd.to_datetime(out["completed_on"]).astype("datetime64[us]")
    out["done"] = out["completed_on"].notna()
    out["due"] = ~out["done"]
    out["enrolled"] = (
        pd.MultiIndex.from_frame(out[["nip", "training_id"]]).isin(enrolled)
        if len(out)
        else pd.Series([], dtype=bool)
    )
    # CPNS who completed Latsar are no longer CPNS: the programme no longer applies to them.
    out = out[~((out["condition"] == "cpns") & out["done"])]
    return out.sort_values(["nip", "training_id"], kind="stable").reset_index(drop=True)
