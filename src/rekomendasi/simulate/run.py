"""Run the simulator end to end and write the data directory and ``truth/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import (
    TABLES_BY_NAME,
    Assessments,
    Behaviour,
    Catalog,
    CatalogCompetencies,
    DailyReports,
    Employees,
    Feedback,
    Indicators,
    JpLog,
    PublicFeedback,
    Skp,
    TrainingHistory,
)
from rekomendasi.contract.writing import write_chunks, write_table
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.evidence import generate_evidence
from rekomendasi.simulate.history import simulate_history
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.people import build_people
from rekomendasi.simulate.truth import TRUTH_README, benefit_chunks, true_levels
from rekomendasi.simulate.world import build_world

# Sort keys give every table a stable row order, so files are byte-identical for a seed and
# truth/text_competency row numbers point at the right rows.
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
        config: size, seed, as-of date, history length and file format.
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
    history = simulate_history(config, world, people)
    stage("evidence")
    levels = LevelModel(config, world, people, history)
    evidence = generate_evidence(config, world, people, history, levels)
    final_levels = levels.dense(pd.Timestamp(config.as_of) + pd.Timedelta(days=1))

    stage("writing tables")
    ext = f".{config.fmt}"
    frame = people.frame
    nip = frame[Employees.nip].to_numpy()
    catalog = world.catalog
    tables: dict[str, pd.DataFrame] = {
        "competencies": world.competencies,
        "positions": world.positions,
        "position_standards": world.standards,
        "employees": frame,
        "catalog": catalog,
        "catalog_competencies": world.catalog_competencies,
        "assessments": evidence.assessments,
        "skp": evidence.skp,
        "behaviour": evidence.behaviour,
        "indicators": evidence.indicators,
        "daily_reports": evidence.daily_reports,
        "feedback": evidence.feedback,
        "public_feedback": evidence.public_feedback,
        "jp_log": evidence.jp_log,
    }
    training = history.training.copy()
    training[TrainingHistory.nip] = nip[training["emp"].to_numpy(dtype=np.int64)]
    training[TrainingHistory.training_id] = catalog[Catalog.training_id].to_numpy()[
        training["entry"].to_numpy(dtype=np.int64)
    ]
    satisfaction = training[TrainingHistory.satisfaction]
    training[TrainingHistory.satisfaction] = pd.array(
        np.where(satisfaction < 0, np.nan, satisfaction), dtype="Int64"
    )
    tables["training_history"] = training
    text_truth = []
    for name, unordered in tables.items():
        table = unordered
        if name in _ORDER:
            table = unordered.sort_values(_ORDER[name], kind="stable").reset_index(drop=True)
        if name in _TEXT_COLUMNS:
            labelled = np.flatnonzero(table["comp"].to_numpy() >= 0)
            text_truth.append(
                pd.DataFrame(
                    {
                        "table": name,
                        "row": labelled + 1,
                        "column": _TEXT_COLUMNS[name],
                        "competency_id": np.array(world.competency_ids, dtype=object)[
                            table["comp"].to_numpy()[labelled]
                        ],
                    }
                )
            )
        columns = TABLES_BY_NAME[name].columns
        write_table(table[columns], out / f"{name}{ext}")
        rows[name] = len(table)
    primary = world.catalog_competencies.drop_duplicates(CatalogCompetencies.training_id)
    entries = catalog[Catalog.training_id]
    text_truth.append(
        pd.DataFrame(
            {
                "table": "catalog",
                "row": entries.map({t: i + 1 for i, t in enumerate(entries)}).to_numpy()[
                    entries.isin(primary[CatalogCompetencies.training_id]).to_numpy()
                ],
                "column": Catalog.description,
                "competency_id": primary.set_index(CatalogCompetencies.training_id)
                .reindex(entries)[CatalogCompetencies.competency_id]
                .dropna()
                .to_numpy(),
            }
        )
    )

    stage("writing truth")
    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    (truth / "README.md").write_text(TRUTH_README, encoding="utf-8")
    write_table(true_levels(world, people, final_levels), truth / f"true_levels{ext}")
    rows["truth/benefit"] = write_chunks(
        benefit_chunks(world, people, history, final_levels), truth / f"benefit{ext}"
    )
    write_table(pd.concat(text_truth, ignore_index=True), truth / f"text_competency{ext}")
    write_table(world.agencies.drop(columns="weight"), truth / f"agencies{ext}")
    write_table(catalog[[Catalog.training_id, "effect", "popularity"]], truth / f"catalog_effects{ext}")
    stage("done")
    return SimulationSummary(out_dir=out, rows=rows, seconds=seconds)
