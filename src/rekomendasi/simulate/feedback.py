"""Feedback on individual employees and the public's service satisfaction survey (SKM) per unit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import SKM_ELEMENTS
from rekomendasi.contract.schemas import Employees, Feedback, PublicFeedback
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.lexicon import lexicon
from rekomendasi.simulate.people import People
from rekomendasi.simulate.sampling import employees_in, random_dates, weighted_columns
from rekomendasi.simulate.tables import categorical
from rekomendasi.simulate.textgen import PhrasePool, decorate, off_topic

_SOURCES = ("atasan", "rekan", "bawahan", "publik")  # drawn with shares 40, 35, 10, 15 %
_ATASAN, _REKAN, _BAWAHAN, _PUBLIK = range(len(_SOURCES))


def generate_feedback(
    config: SimConfig, people: People, levels: LevelModel, comp_ids: list[str]
) -> pd.DataFrame:
    """Feedback (plus emp, comp; string columns as categoricals): ratings in [1, 5] and text from
    superiors, peers, subordinates and the public, following the gap on the day given."""
    rng = config.rng("feedback")
    a = config.assumptions
    frame = people.frame
    lex = lexicon()
    n = len(frame)
    count = rng.poisson(a.feedback_per_year * config.years, n)
    emp = np.repeat(np.arange(n), count)
    structural = ~frame["jenis"].isin(["fungsional", "pelaksana"]).to_numpy()
    source = rng.choice(4, size=len(emp), p=[0.4, 0.35, 0.1, 0.15])  # position in _SOURCES
    source = np.where((source == _BAWAHAN) & ~structural[emp], _REKAN, source)
    source = np.where((source == _PUBLIK) & ~frame["service"].to_numpy()[emp], _ATASAN, source)
    pick = weighted_columns(levels.in_standard, emp, rng.random(len(emp)))
    public_comp = np.where(
        rng.random(len(emp)) < 0.7, comp_ids.index("pelayanan_publik"), comp_ids.index("komunikasi")
    )
    comp = np.where(source == _PUBLIK, public_comp, pick)
    low = np.maximum(pd.Timestamp(config.start).to_datetime64(), frame[Employees.entry_date].to_numpy()[emp])
    dates = random_dates(rng, low, np.full(len(emp), pd.Timestamp(config.as_of).to_datetime64()))
    gap = levels.at(emp, comp, dates) - levels.required[emp, comp]
    rating = np.clip(
        np.round(3.2 + 1.1 * gap + rng.normal(0, 0.7 * a.feedback_noise, len(emp)) + a.feedback_bias), 1, 5
    )
    has_text = rng.random(len(emp)) < 0.7
    no_rating = has_text & (rng.random(len(emp)) < 0.15)
    positive = (rating >= 4) | ((rating == 3) & (rng.random(len(emp)) < 0.5))
    about = off_topic(comp, emp, levels.in_standard, a.text_noise, config.rng("text_noise.feedback"))
    praised = PhrasePool(comp_ids, "praise").draw(about, rng)
    criticised = PhrasePool(comp_ids, "critique").draw(about, rng)
    text = decorate(praised.where(positive, criticised), lex.feedback_openers, 0.35, rng, prefix=True)
    tagged = rng.random(len(emp)) < a.feedback_tag_share
    out = pd.DataFrame(
        {
            Feedback.nip: people.nips(emp),
            Feedback.given_on: dates,
            Feedback.source: categorical(source, _SOURCES),
            Feedback.rating: pd.array(np.where(no_rating, np.nan, rating), dtype="Int64")
            if len(emp)
            else pd.array([], dtype="Int64"),
            Feedback.text: text.present(has_text).categorical(),
            Feedback.competency_id: categorical(np.where(tagged, comp, -1), comp_ids),
            "emp": emp.astype(np.int32),
            "comp": np.where(has_text, about, -1).astype(np.int16),
        }
    )
    return out


def generate_public_feedback(
    config: SimConfig,
    people: People,
    levels: LevelModel,
    mid_year: dict[int, np.ndarray],
    comp_ids: list[str],
) -> pd.DataFrame:
    """Public feedback: SKM element scores in [1, 4] per service unit and year, following the
    unit's mean gap in pelayanan_publik."""
    rng = config.rng("public_feedback")
    noise = 0.1 * config.assumptions.public_feedback_noise
    frame = people.frame
    service = frame["service"].to_numpy()
    pp = comp_ids.index("pelayanan_publik")
    element_effect = rng.normal(0, 0.12, len(SKM_ELEMENTS))
    parts = []
    for year, dense in mid_year.items():
        emp = np.intersect1d(employees_in(frame, pd.Timestamp(year, 6, 30)), np.flatnonzero(service))
        if not len(emp):
            continue
        gap = (
            pd.Series(dense[emp, pp] - levels.required[emp, pp])
            .groupby(frame[Employees.unit_id].to_numpy()[emp])
            .mean()
        )
        units = gap.index.to_numpy()
        score = np.clip(
            3.05
            + 0.35 * gap.to_numpy()[:, None]
            + element_effect[None, :]
            + rng.normal(0, noise, (len(units), len(SKM_ELEMENTS))),
            1.0,
            4.0,
        )
        parts.append(
            pd.DataFrame(
                {
                    PublicFeedback.unit_id: np.repeat(units, len(SKM_ELEMENTS)),
                    PublicFeedback.period: str(year),
                    PublicFeedback.element: np.tile(np.array(SKM_ELEMENTS, dtype=object), len(units)),
                    PublicFeedback.score: np.round(score.reshape(-1), 2),
                    PublicFeedback.responses: rng.poisson(120, len(units) * len(SKM_ELEMENTS)),
                }
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            columns=[
                PublicFeedback.unit_id,
                PublicFeedback.period,
                PublicFeedback.element,
                PublicFeedback.score,
                PublicFeedback.responses,
            ]
        )
    )
