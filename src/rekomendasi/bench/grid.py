"""A grid of simulated worlds with different assumptions, to see whether the ranker's margin holds where
the world differs from the one it was developed on (issue #15).

Each world is a set of :class:`~rekomendasi.simulate.assumptions.Assumptions` and a simulator seed. The
worlds come in two sets: ``dev`` (tune on these) and ``heldout`` (never tune on these: other assumptions,
other seeds, other random draws). For every world the grid simulates a data directory (cached: a world
is simulated again only when its config or the simulator's code changed), runs exactly what
``rekomendasi evaluate`` runs (:func:`rekomendasi.jobs.models.evaluate_job`), and keeps the NDCG@10 of
every model with its bootstrap CI. The best baseline is the best of what a planner could use today
(popularity, the gap heuristic, text similarity, random), never the candidate score or the oracle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rekomendasi.errors import ConfigError
from rekomendasi.settings import Settings
from rekomendasi.simulate.assumptions import DEFAULT, Assumptions
from rekomendasi.simulate.config import SimConfig

logger = logging.getLogger(__name__)
RANKER = "ranker (LambdaRank)"  # the ranker's row is the first model named "ranker ...", whatever its kind
CANDIDATE = "candidate score"
ORACLE = "oracle (truth)"
BASELINES = ("popularity (same position)", "gap heuristic", "text similarity", "random")
METRIC = "ndcg@10"
TARGET_MEAN = 0.70  # issue #15: mean ranker NDCG@10 over the grid at least this
TARGET_RATIO = 1.3  # and ranker / best baseline at least this on every world


@dataclass(frozen=True, slots=True)
class GridWorld:
    """One world of the grid.

    Attributes:
        name: unique in the grid (a folder name).
        seed: the simulator's seed.
        assumptions: what the world assumes.
        about: one line on what differs from the default world.
    """

    name: str
    seed: int
    assumptions: Assumptions
    about: str


def _drawn(name: str, seed: int, draw_seed: int) -> GridWorld:
    """A world whose every knob is drawn uniformly over its plausible range with ``draw_seed``."""
    knobs = Assumptions.draw(np.random.default_rng(draw_seed))
    return GridWorld(name, seed, knobs, f"every knob drawn from its plausible range (draw seed {draw_seed})")


_NOISY = DEFAULT.replace(
    assessment_noise=2.0,
    assessment_person_bias_sd=0.3,
    skp_noise=2.5,
    behaviour_noise=2.0,
    indicator_noise=2.5,
    feedback_noise=2.0,
    public_feedback_noise=3.0,
    text_noise=0.3,
)
DEV = (
    GridWorld("default", 1001, DEFAULT, "today's simulator"),
    GridWorld(
        "noisy-evidence", 1002, _NOISY, "every source 2-3x noisier, 30% of text off-topic, assessor halo"
    ),
    GridWorld(
        "quality-dominant",
        1003,
        DEFAULT.replace(quality_sd=0.5, modality_weight=0.3, jp_weight=0.3, match_width=1.2),
        "course quality varies a lot and shows little in modality or JP; fit matters less",
    ),
    GridWorld(
        "popularity-policy",
        1004,
        DEFAULT.replace(policy_popularity=2.0, policy_gap=0.15, popularity_sd=1.3, policy_temperature=0.7),
        "past enrolments follow popularity, concentrated on few entries",
    ),
    GridWorld(
        "visible-quality",
        1005,
        DEFAULT.replace(
            quality_sd=0.4, satisfaction_effect=1.0, provider_effect_sd=0.3, popularity_quality_corr=0.5
        ),
        "quality varies and shows in satisfaction, provider and popularity",
    ),
    _drawn("random-11", 1006, 11),
    _drawn("random-12", 1007, 12),
)
HELDOUT = (
    GridWorld(
        "biased-skp",
        2001,
        DEFAULT.replace(skp_leniency=0.3, skp_ability_weight=1.0, skp_noise=1.5, indicator_inflation=0.2),
        "lenient SKP driven by general ability, inflated self-reported indicators",
    ),
    GridWorld(
        "fit-dominant",
        2002,
        DEFAULT.replace(match_width=0.45, quality_sd=0.05, completion_base=0.5, completion_fit=0.45),
        "level fit decides almost everything; courses differ little in quality",
    ),
    GridWorld(
        "random-policy",
        2003,
        DEFAULT.replace(policy_popularity=0.0, policy_gap=0.0),
        "past enrolments chosen at random among eligible entries",
    ),
    GridWorld(
        "sparse-evidence",
        2004,
        DEFAULT.replace(
            share_assessed=0.15,
            daily_reports_central=0.05,
            daily_reports_regional=0.1,
            periodic_skp=0.05,
            skp_missing=0.25,
            feedback_per_year=0.2,
            indicator_tag_share=0.1,
            feedback_tag_share=0.05,
        ),
        "few assessments, daily reports, periodic SKP, feedback or tagged text",
    ),
    GridWorld(
        "informed-policy",
        2005,
        DEFAULT.replace(policy_fit=1.0, policy_quality=0.8, policy_gap=0.4, gain_noise=0.5),
        "past enrolments already favoured fitting, good courses; noisier gains",
    ),
    _drawn("random-21", 2006, 21),
    _drawn("random-22", 2007, 22),
)
SETS: dict[str, tuple[GridWorld, ...]] = {"dev": DEV, "heldout": HELDOUT}


def select(set_name: str, names: Sequence[str] | None = None) -> tuple[GridWorld, ...]:
    """The worlds of ``set_name`` (``dev`` or ``heldout``), or only those named, in the set's order.

    Raises:
        ConfigError: an unknown set or world (the message lists the valid ones).
    """
    if set_name not in SETS:
        raise ConfigError(f"unknown grid set {set_name!r}; valid sets: {', '.join(SETS)}")
    worlds = SETS[set_name]
    if not names:
        return worlds
    known = {w.name for w in worlds}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"unknown world {', '.join(map(repr, unknown))} in set {set_name!r}; "
            f"its worlds: {', '.join(w.name for w in worlds)}"
        )
    return tuple(w for w in worlds if w.name in names)


@dataclass(frozen=True)
class WorldRun:
    """One world's evaluation.

    Attributes:
        models: the ``models`` table of ``rekomendasi evaluate`` (one row per model).
        cached: the data directory was reused.
        seconds: wall seconds of ``simulate`` (0 when cached) and ``evaluate``.
        notes: what the fit reports (train years, examples, trees, validation NDCG, held-out employees).
        error: why the evaluation failed on this world (then ``models`` is empty), else None.
    """

    world: GridWorld
    employees: int
    models: pd.DataFrame
    cached: bool
    seconds: dict[str, float]
    notes: dict[str, object]
    error: str | None = None


def simulator_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of the simulator's code and data: a cached world is stale when it
    changes."""
    root = Path(__file__).resolve().parents[1] / "simulate"
    digest = hashlib.sha256()
    for path in sorted([*root.glob("*.py"), *root.glob("data/*")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def world_key(config: SimConfig) -> dict[str, object]:
    """What a cached world must match to be reused."""
    return {
        "employees": config.employees,
        "seed": config.seed,
        "years": config.years,
        "format": config.fmt,
        "assumptions": config.assumptions.as_dict(),
        "simulator": simulator_fingerprint(),
    }


def cached_world(name: str, config: SimConfig, out: Path) -> tuple[Path, bool]:
    """The data directory ``out/worlds/<name>`` of ``config``, simulated unless a world with the same key
    is there already; whether it was reused (also for ``bench effectiveness``)."""
    from rekomendasi.simulate import simulate

    data = out / "worlds" / name
    key_file = out / "worlds" / f"{name}.json"
    key = world_key(config)
    if key_file.exists() and (data / "truth").is_dir() and json.loads(key_file.read_text()) == key:
        return data, True
    key_file.unlink(missing_ok=True)  # a half-written world must not pass for a cached one
    simulate(config, data)
    key_file.write_text(json.dumps(key, indent=1), encoding="utf-8")
    return data, False


def prepare_world(world: GridWorld, employees: int, out: Path, fmt: str = "parquet") -> tuple[Path, bool]:
    """The world's data directory under ``out/worlds`` (:func:`cached_world`); whether it was reused."""
    config = SimConfig(employees=employees, seed=world.seed, fmt=fmt, assumptions=world.assumptions)
    return cached_world(world.name, config, out)


def run_world(
    world: GridWorld,
    employees: int,
    out: Path,
    settings: Settings,
    fmt: str = "parquet",
    stage: Callable[[str], None] | None = None,
) -> WorldRun:
    """Simulate (or reuse) one world and evaluate the ranker on it as ``rekomendasi evaluate`` does.

    Args:
        stage: called with "simulate" (or "cached world") and then with each stage of the evaluation.
    """
    from rekomendasi.jobs.models import evaluate_job

    started = time.perf_counter()
    if stage is not None:
        stage("simulate")
    data, cached = prepare_world(world, employees, out, fmt)
    simulated = time.perf_counter()
    try:
        result = evaluate_job(settings, data, None, progress=stage)
    except Exception as err:
        # A world the ranker cannot be fitted or evaluated on is a finding of the grid: the run goes on
        # to the other worlds, and the failure is in the table, grid.md and the command's exit code.
        logger.exception("evaluation failed on world %s", world.name)
        seconds = {"simulate": 0.0 if cached else round(simulated - started, 1), "evaluate": 0.0}
        empty = pd.DataFrame({"model": pd.Series(dtype=str), METRIC: pd.Series(dtype=float)})
        return WorldRun(world, employees, empty, cached, seconds, {}, f"{type(err).__name__}: {err}")
    fit = result.fit
    notes: dict[str, object] = {
        "model": ranker_name(result.tables["models"]),
        "train_years": ",".join(map(str, fit.train_years)),
        "train_examples": fit.examples.get("train", 0),
        "effect_alpha": getattr(fit.model, "best_alpha_", None),
        "validation_ndcg": round(float(fit.validation_ndcg), 4),
        "held_out_employees": len(fit.holdout),
    }
    seconds = {
        "simulate": 0.0 if cached else round(simulated - started, 1),
        "evaluate": round(time.perf_counter() - simulated, 1),
    }
    return WorldRun(world, employees, result.tables["models"], cached, seconds, notes)


def run_grid(
    worlds: Sequence[GridWorld],
    employees: int,
    out: Path,
    settings: Settings,
    fmt: str = "parquet",
    stage: Callable[[str], None] | None = None,
    done: Callable[[WorldRun], None] | None = None,
) -> list[WorldRun]:
    """Every world of ``worlds`` in turn (``stage`` gets "<world>: <stage>"; ``done`` each finished run);
    then ``grid.csv`` and ``grid.md`` are written to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for world in worlds:
        name = world.name

        def named(step: str, name: str = name) -> None:
            if stage is not None:
                stage(f"{name}: {step}")

        run = run_world(world, employees, out, settings, fmt, named)
        runs.append(run)
        if done is not None:
            done(run)
    write_outputs(runs, out)
    return runs


def ranker_name(models: pd.DataFrame) -> str:
    """The ranker's row of an evaluation's ``models`` table: the first model named "ranker ..."."""
    names = [str(m) for m in models["model"] if str(m).startswith("ranker")]
    return names[0] if names else RANKER


def grid_rows(runs: Sequence[WorldRun]) -> pd.DataFrame:
    """``grid.csv``: one row per world x model with NDCG@10 and its 95% bootstrap CI (and NDCG@5,
    MAP@10, oracle recall@10 where the evaluation has them); a world whose evaluation failed has one row
    without a model, with the error."""
    frames = []
    for run in runs:
        models = run.models
        keep = [c for c in ("model", "employees", "ndcg@10", "ndcg@10_low", "ndcg@10_high", "ndcg@5",
                            "map@10", "recall_oracle@10") if c in models.columns]  # fmt: skip
        frame = models[keep].rename(columns={"employees": "evaluated_employees"})
        if run.error:
            frame = pd.DataFrame({"model": [pd.NA], "error": [run.error]})
        frame.insert(0, "world", run.world.name)
        frame.insert(1, "seed", run.world.seed)
        frame.insert(2, "employees", run.employees)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def summary(runs: Sequence[WorldRun]) -> pd.DataFrame:
    """One row per world: NDCG@10 of the ranker, the candidate score, each baseline and the oracle; the
    best baseline (its name and NDCG@10), ranker / best baseline, and the seconds it took."""
    rows = []
    for run in runs:
        ndcg = run.models.set_index("model")[METRIC]
        baselines = ndcg.reindex(list(BASELINES))
        best = str(baselines.idxmax()) if baselines.notna().any() else ""
        best_value = float(baselines.max())
        ranker = float(ndcg.get(ranker_name(run.models), np.nan))
        row: dict[str, object] = {"world": run.world.name, "seed": run.world.seed, "ranker": ranker}
        row["candidate score"] = float(ndcg.get(CANDIDATE, np.nan))
        row.update({name: float(baselines[name]) for name in BASELINES})
        row["oracle"] = float(ndcg.get(ORACLE, np.nan))
        row["best baseline"] = best
        row["best baseline ndcg@10"] = best_value
        row["ratio"] = ranker / best_value if best_value > 0 else np.nan
        row["simulate s"] = run.seconds["simulate"]
        row["evaluate s"] = run.seconds["evaluate"]
        row["cached"] = run.cached
        row["error"] = run.error or ""
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The grid's figures against the targets of issue #15."""

    mean: float
    worst: float
    worst_world: str
    worst_ratio: float
    worst_ratio_world: str
    mean_met: bool
    ratio_met: bool
    failed: tuple[str, ...] = ()


def verdict(table: pd.DataFrame) -> Verdict:
    """Mean and worst ranker NDCG@10, and the worst ratio to the best baseline, over ``summary``'s rows
    (over the worlds evaluated; a failed world fails both targets)."""
    ok = (table["error"] == "").to_numpy() if "error" in table else np.ones(len(table), bool)
    failed = tuple(str(n) for n in table["world"][~ok])
    ranker, ratio = table["ranker"].to_numpy(dtype=float)[ok], table["ratio"].to_numpy(dtype=float)[ok]
    names = table["world"].to_numpy(dtype=str)[ok]
    if not len(ranker):
        return Verdict(np.nan, np.nan, "", np.nan, "", False, False, failed)
    worst, worst_ratio = int(np.argmin(ranker)), int(np.argmin(ratio))
    return Verdict(
        mean=float(np.mean(ranker)),
        worst=float(ranker[worst]),
        worst_world=str(names[worst]),
        worst_ratio=float(ratio[worst_ratio]),
        worst_ratio_world=str(names[worst_ratio]),
        mean_met=bool(np.mean(ranker) >= TARGET_MEAN) and not failed,
        ratio_met=bool((ratio >= TARGET_RATIO).all()) and not failed,
        failed=failed,
    )


def markdown(runs: Sequence[WorldRun]) -> str:
    """``grid.md``: the per-world table, the verdict and what each world assumes."""
    table = summary(runs)
    v = verdict(table)
    shown = table.drop(columns=["cached", "error"])
    header = "| " + " | ".join(shown.columns) + " |"
    lines = [
        f"# Ranker on a grid of simulated worlds ({runs[0].employees:,} employees each)",
        "",
        "NDCG@10 on held-out employees, graded by truth/benefit; best baseline = best of popularity, gap "
        "heuristic, text similarity and random; ratio = ranker / best baseline.",
        "",
        header,
        "|" + "---|" * len(shown.columns),
    ]
    for _, row in shown.iterrows():
        lines.append("| " + " | ".join(cell(str(c), x) for c, x in row.items()) + " |")
    lines += [
        "",
        f"- mean ranker NDCG@10 {v.mean:.4f} (target >= {TARGET_MEAN}: {'met' if v.mean_met else 'not met'})",
        f"- worst ranker NDCG@10 {v.worst:.4f} ({v.worst_world})",
        f"- worst ratio {v.worst_ratio:.3f} ({v.worst_ratio_world}; target >= {TARGET_RATIO} on every world: "
        f"{'met' if v.ratio_met else 'not met'})",
        *(f"- **{r.world.name}: evaluation failed**: {r.error}" for r in runs if r.error),
        "",
        "## Worlds",
        "",
    ]
    for run in runs:
        changed = run.world.assumptions.changed()
        knobs = ", ".join(f"{k}={val:g}" for k, val in changed.items()) or "defaults"
        notes = ", ".join(f"{k} {val}" for k, val in run.notes.items())
        lines.append(
            f"- **{run.world.name}** (seed {run.world.seed}): {run.world.about}. {knobs}. Fit: {notes}."
        )
    return "\n".join(lines) + "\n"


def cell(column: str, value: object) -> str:
    """A summary value as shown: NDCG to 4 decimals, the ratio to 2, seconds to 1."""
    if not isinstance(value, float):
        return str(value)
    if column.endswith(" s"):
        return f"{value:.1f}"
    return f"{value:.2f}" if column == "ratio" else f"{value:.4f}"


def write_outputs(runs: Sequence[WorldRun], out: Path) -> None:
    """``grid.csv`` (world x model) and ``grid.md`` (the summary) in ``out``."""
    grid_rows(runs).to_csv(out / "grid.csv", index=False)
    (out / "grid.md").write_text(markdown(runs), encoding="utf-8")
