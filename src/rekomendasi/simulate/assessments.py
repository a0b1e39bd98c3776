"""Competency assessments: noisy, method-dependent measurements of true levels on a date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import NATIONAL_COMPETENCIES
from rekomendasi.contract.schemas import Assessments, Employees
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.people import People
from rekomendasi.simulate.sampling import random_dates
from rekomendasi.simulate.tables import categorical

# Assessment methods: share of assessment events, noise SD (levels) and bias. Self-assessment is lenient.
METHODS = {
    "assessment_center": (0.25, 0.25, 0.0),
    "metode_sederhana": (0.25, 0.5, 0.1),
    "cat": (0.13, 0.4, 0.0),
    "uji_kompetensi": (0.17, 0.35, 0.0),
    "360": (0.12, 0.55, 0.15),
    "self": (0.08, 0.7, 0.35),
}
TECHNICAL_METHODS = ("cat", "uji_kompetensi")


def generate_assessments(
    config: SimConfig, people: People, levels: LevelModel, comp_ids: list[str]
) -> pd.DataFrame:
    """Assessments (plus emp, comp; string columns as categoricals): per method, noisy and biased
    levels in [1, 5] of the competencies in each assessed employee's standard."""
    rng = config.rng("assessments")
    a = config.assumptions
    frame = people.frame
    n = len(frame)
    assessed = rng.random(n) < a.share_assessed
    events = np.flatnonzero(assessed)
    events = np.concatenate([events, events[rng.random(len(events)) < 0.3]])
    names = list(METHODS)
    shares = np.array([METHODS[m][0] for m in names])
    method = rng.choice(len(names), size=len(events), p=shares / shares.sum())  # position in METHODS
    low = np.maximum(
        pd.Timestamp(config.start).to_datetime64(), frame[Employees.entry_date].to_numpy()[events]
    )
    dates = random_dates(rng, low, np.full(len(events), pd.Timestamp(config.as_of).to_datetime64()))
    national = np.array([comp_ids.index(c) for c in NATIONAL_COMPETENCIES])
    technical = np.array([i for i, c in enumerate(comp_ids) if c not in NATIONAL_COMPETENCIES])
    by_technical_method = np.isin(method, [names.index(m) for m in TECHNICAL_METHODS])
    rows_emp, rows_comp, rows_event = [], [], []
    in_std = levels.in_standard
    for tech, comps in ((True, technical), (False, national)):
        ev = np.flatnonzero(by_technical_method == tech)
        grid = in_std[events[ev]][:, comps]
        e_i, c_i = np.nonzero(grid)
        rows_emp.append(events[ev][e_i])
        rows_comp.append(comps[c_i])
        rows_event.append(ev[e_i])
    emp = np.concatenate(rows_emp)
    comp = np.concatenate(rows_comp)
    event = np.concatenate(rows_event)
    true = levels.at(emp, comp, dates[event])
    sd = np.array([METHODS[m][1] for m in names])[method][event] * a.assessment_noise
    bias = np.array([METHODS[m][2] for m in names])[method][event] + a.assessment_bias
    if a.assessment_person_bias_sd:  # its own stream: the other draws stay those of the default world
        bias = bias + config.rng("assessments.person_bias").normal(0.0, a.assessment_person_bias_sd, n)[emp]
    observed = np.clip(np.round(true + bias + rng.normal(0, 1, len(emp)) * sd, 1), 1.0, 5.0)
    out = pd.DataFrame(
        {
            Assessments.nip: people.nips(emp),
            Assessments.competency_id: categorical(comp, comp_ids),
            Assessments.level: observed,
            Assessments.assessed_on: dates[event],
            Assessments.method: categorical(method[event], names),
            "emp": emp.astype(np.int32),
            "comp": comp.astype(np.int16),
        }
    )
    # Duplicates by (emp, comp) are duplicates by (nip, competency_id): both are one-to-one.
    return out.drop_duplicates(["emp", "comp", Assessments.assessed_on, Assessments.method]).reset_index(
        drop=True
    )
