"""Run the simulator end to end and write the data directory and ``truth/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import (
    TABLES_BY_NAME,
    Assessments,
    Behaviour,
    Catalog,
    DailyReports,
    Feedback,
    Indicators,
    JpLog,
    PublicFeedback,
    Skp,
    TrainingHistory,
)
from rekomendasi.contract.writing import write_chunks
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.evidence import generate_evidence
from rekomendasi.simulate.history import History, simulate_history
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.people import People, build_people
from rekomendasi.simulate.tables import categorical, sort_order, write_frame
from rekomendasi.simulate.truth import benefit_chunks, text_competency, true_levels, truth_readme
from rekomendasi.simulate.world import World, build_world

# Sort keys give every table a stable row order, so files are byte-identical for a seed and
# truth/text_competency row numbers point at the right rows. Tables are held compact (string columns as
# categoricals) and written in slices of their sorted order, so memory stays bounded at a million staff.
_ORDER = {
    "assessments": [Assessments.nip, Assessments.assessed_on, Assessments.method, Assessments.competency_id],
    "skp": [Skp.nip, Skp.period],
    "behaviour": [Behaviour.nip, Behaviour.period, Behaviour.core_value],
    "indicators": [Indicators.nip, Indicators.period, Indicators.indicator_id],
    "daily_reports": [DailyReports.nip, DailyReports.date],
    "feedback": [Feedback.nip, Feedback.given_on],
    "public_feedback": [PublicFeedback.unit_id, PublicFeedback.period, PublicFeedback.element],
    "training_history": [TrainingHistory.nip, TrainingHistory.enrolled_on, TrainingHistory.training_id],
    "jp_log": [JpLog.nip, JpLog.date],
}
_TEXT_COLUMNS = {
    "behaviour": Behaviour.feedback,
    "indicators": Indicators.description,
    "daily_reports": DailyReports.activity,
    "feedback": Feedback.text,
}


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """What was written: rows per table and seconds per stage."""

    out_dir: Path
    rows: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)


def simulate(
    config: SimConfig, out_dir: Path | str, progress: Callable[[str], None] | None = None
) -> SimulationSummary:
    """Simulate a world for ``config`` and write it to ``out_dir`` (created; existing tables replaced).

    Args:
        config: size, seed, as-of date, history length, file format and the world's assumptions.
        out_dir: the data directory to write.
        progress: called with a stage name as each stage starts.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Replace an earlier world completely, also when the format changes (a table must not exist twice).
    for stale in [
        *out.glob("*.csv"),
        *out.glob("*.parquet"),
        *out.glob("truth/*.csv"),
        *out.glob("truth/*.parquet"),
    ]:
        if stale.stem in TABLES_BY_NAME or stale.parent.name == "truth":
            stale.unlink()
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    current: list[tuple[str, float]] = []

    def stage(name: str) -> None:
        """Close the running stage's clock and start ``name``'s."""
        now = time.perf_counter()
        if current:
            previous, started = current.pop()
            seconds[previous] = round(now - started, 2)
        if name != "done":
            current.append((name, now))
        if progress is not None:
            progress(name)

    stage("world")
    world = build_world(config)
    stage("people")
    people = build_people(config, world)
    stage("training history")
    history = simulate_history(config, world, people, keep_start_levels=False)
    stage("evidence")
    levels = LevelModel(config, world, people, history)
    evidence = generate_evidence(config, world, people, history, levels)
    final_levels = levels.dense(pd.Timestamp(config.as_of) + pd.Timedelta(days=1))
    del levels

    stage("writing tables")
    ext = f".{config.fmt}"
    tables: dict[str, pd.DataFrame] = {
        "competencies": world.competencies,
        "positions": world.positions,
        "position_standards": world.standards,
        "employees": people.frame,
        "catalog": world.catalog,
        "catalog_competencies": world.catalog_competencies,
        **{f.name: getattr(evidence, f.name) for f in fields(evidence)},
        "training_history": _training_history(world, people, history),
    }
    del evidence  # each table is released once written
    labelled: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    for name in list(tables):
        table = tables.pop(name)
        order = sort_order(table, _ORDER[name]) if name in _ORDER else None
        if name in _TEXT_COLUMNS:
            comp = table["comp"].to_numpy() if order is None else table["comp"].to_numpy()[order]
            row = np.flatnonzero(comp >= 0)
            labelled.append((name, _TEXT_COLUMNS[name], row + 1, comp[row]))
        rows[name] = write_frame(table, out / f"{name}{ext}", TABLES_BY_NAME[name].columns, order)
        del table, order

    stage("writing truth")
    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    (truth / "README.md").write_text(truth_readme(config.assumptions), encoding="utf-8")
    write_frame(true_levels(world, people, final_levels), truth / f"true_levels{ext}")
    rows["truth/benefit"] = write_chunks(
        benefit_chunks(world, people, history, final_levels, assumptions=config.assumptions),
        truth / f"benefit{ext}",
    )
    write_frame(text_competency(world, labelled), truth / f"text_competency{ext}")
    write_frame(world.agencies.drop(columns="weight"), truth / f"agencies{ext}")
    write_frame(world.catalog[[Catalog.training_id, "effect", "popularity"]], truth / f"catalog_effects{ext}")
    stage("done")
    return SimulationSummary(out_dir=out, rows=rows, seconds=seconds)


def _training_history(world: World, people: People, history: History) -> pd.DataFrame:
    """The training history with its nip and training_id (categoricals) and satisfaction nullable."""
    training = history.training.copy(deep=False)  # copy-on-write: the history's own frame stays as it is
    satisfaction = training[TrainingHistory.satisfaction]
    training[TrainingHistory.satisfaction] = pd.array(
        np.where(satisfaction < 0, np.nan, satisfaction), dtype="Int64"
    )
    training[TrainingHistory.nip] = people.nips(training["emp"].to_numpy())
    training[TrainingHistory.training_id] = categorical(
        training["entry"].to_numpy(), list(world.catalog[Catalog.training_id])
    )
    return training
