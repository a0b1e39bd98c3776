"""Evidence tables generated from true levels with realistic noise, bias and missingness."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rekomendasi.simulate.assessments import generate_assessments
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.feedback import generate_feedback, generate_public_feedback
from rekomendasi.simulate.history import History
from rekomendasi.simulate.indicators import generate_daily_reports, generate_indicators
from rekomendasi.simulate.jp_log import generate_jp_log
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.people import People
from rekomendasi.simulate.performance import generate_behaviour, generate_skp
from rekomendasi.simulate.world import World


@dataclass(frozen=True)
class Evidence:
    """Evidence tables with internal columns (emp, comp) used for the truth folder; their string columns
    are categoricals (codes), decoded only as they are written."""

    assessments: pd.DataFrame
    skp: pd.DataFrame
    behaviour: pd.DataFrame
    indicators: pd.DataFrame
    daily_reports: pd.DataFrame
    feedback: pd.DataFrame
    public_feedback: pd.DataFrame
    jp_log: pd.DataFrame


def generate_evidence(
    config: SimConfig, world: World, people: People, history: History, levels: LevelModel
) -> Evidence:
    """Every optional evidence table of the contract."""
    comp_ids = world.competency_ids
    mid_year = {y: levels.dense(pd.Timestamp(y, 7, 1)) for y in config.history_years}
    behaviour, behaviour_latent = generate_behaviour(config, people, levels, mid_year, comp_ids)
    indicators = generate_indicators(config, people, levels, mid_year, comp_ids)
    return Evidence(
        assessments=generate_assessments(config, people, levels, comp_ids),
        skp=generate_skp(config, world, people, levels, mid_year, behaviour_latent),
        behaviour=behaviour,
        indicators=indicators,
        daily_reports=generate_daily_reports(config, world, people, indicators),
        feedback=generate_feedback(config, people, levels, comp_ids),
        public_feedback=generate_public_feedback(config, people, levels, mid_year, comp_ids),
        jp_log=generate_jp_log(config, people),
    )
