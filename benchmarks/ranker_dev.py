"""Development measurements of the served ranker (issue #15), on simulated worlds with truth.

    .venv/bin/python benchmarks/ranker_dev.py ceiling WORLD_DIR [WORLD_DIR ...]
    .venv/bin/python benchmarks/ranker_dev.py variants WORLD_DIR [WORLD_DIR ...]

Each world is prepared once (snapshots, outcome examples, the held-out employees' candidates and their
truth; cached beside it as ``<world>.ranker-dev.pkl``, delete it after changing the features) exactly as
``rekomendasi evaluate`` splits it. ``ceiling`` scores the held-out candidates with the simulator's own
benefit formula on our *estimated* levels, with the courses' true and with an average effectiveness,
beside the candidate score and the expected gain: what bounds the ranker. ``variants`` compares the
expected gain with the alternatives tried in #15. NDCG@10 graded by truth, as in the evaluation report.
Worlds used in #15: ``rekomendasi simulate --employees 4000 --seed S`` for S in 5, 11, 13, 17, 19, and the
dev worlds of ``rekomendasi bench grid --set dev``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rekomendasi.candidates import Candidates, Catalogue, build_matrices, generate
from rekomendasi.effectiveness import EffectConfig, level_snapshots, participant_gains
from rekomendasi.effectiveness.feature import entry_effect_values, fill_entry_effect
from rekomendasi.features import build_snapshot
from rekomendasi.features.schemas import Performance
from rekomendasi.jobs.inputs import training_inputs
from rekomendasi.ranking import gain
from rekomendasi.ranking.labels import outcome_examples
from rekomendasi.ranking.metrics import RANK, ndcg_per_user, oracle_top_k
from rekomendasi.ranking.pairs import FEATURES, pair_features
from rekomendasi.ranking.ranker import LambdaRanker
from rekomendasi.ranking.train import label_years, load_train_config, read_benefit
from rekomendasi.settings import Settings

CONFIG = load_train_config(Path(gain.__file__).parents[1] / "specs" / "train.yaml")


def prepare(data: Path) -> dict:
    cache = data.parent / f"{data.name}.ranker-dev.pkl"
    if cache.exists():
        world = pickle.loads(cache.read_bytes())
        if world.get("version") == 5:
            return world
    inputs = training_inputs(Settings(), data, None)
    ds, spec, as_of = inputs.dataset, inputs.spec, inputs.as_of
    years = label_years(ds, as_of)
    snaps = {y: build_snapshot(ds, dt.date(y, 12, 31), spec, encoder=None) for y in [years[0] - 1, *years]}
    levels: dict = {}
    examples = outcome_examples(ds, spec, years, snaps, levels=levels)
    levels = level_snapshots(ds, spec, years, None, levels)
    windows = participant_gains(ds, levels, years, EffectConfig().horizon_years, every_cut=True)
    fill_entry_effect(examples.features, examples.year, examples.training_id, windows)
    final = snaps[years[-1]] if dt.date(years[-1], 12, 31) == as_of else build_snapshot(ds, as_of, spec)
    rng = np.random.default_rng(CONFIG.seed)
    nips = final.performance[Performance.nip].to_numpy()
    holdout = np.sort(nips[rng.random(len(nips)) < CONFIG.holdout_employee_share])
    values = entry_effect_values(windows)
    m = build_matrices(final, Catalogue.from_snapshot(final).with_entry_effects(values))
    rows = np.flatnonzero(pd.Index(m.nips).isin(holdout))
    candidates = pd.concat(generate(m, CONFIG.candidates, rows=rows), ignore_index=True)
    truth = read_benefit(data, holdout)
    assert truth is not None, f"{data} has no truth/"
    truth = truth[truth["training_id"].isin(m.catalogue.ids)].rename(columns={"benefit": "gain"})
    path = data / "truth" / "catalog_effects.parquet"
    table = pd.read_parquet(path) if path.exists() else pd.read_csv(path.with_suffix(".csv"))
    effects = table.set_index("training_id")["effect"]
    world = {
        "version": 5,  # entry_effect (#16)
        "years": years,
        "examples": examples,
        "holdout": holdout,
        "candidates": candidates[[Candidates.nip, Candidates.training_id, Candidates.emp, Candidates.entry]],
        "features": pair_features(m, candidates),
        "truth": truth[["nip", "training_id", "gain"]],
        "matrices": m,
        "effect": effects.reindex(m.catalogue.ids).fillna(effects.mean()).to_numpy(),
    }
    cache.write_bytes(pickle.dumps(world))
    return world


def ndcg10(world: dict, score: np.ndarray) -> float:
    frame = world["candidates"][[Candidates.nip, Candidates.training_id]].assign(score=score)
    frame[RANK] = frame.groupby(Candidates.nip)["score"].rank(ascending=False, method="first").astype(int)
    oracle = world.setdefault("_oracle", oracle_top_k(world["truth"], 10))
    return float(ndcg_per_user(frame[frame[RANK] <= 10], world["truth"], 10, oracle).mean())


def split(world: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ex = world["examples"]
    keep = ~pd.Index(ex.nip).isin(world["holdout"])
    last = world["years"][-1]
    return keep & (ex.year < last), keep & (ex.year == last), keep


def benefit_formula(world: dict, effect: np.ndarray, width: float = 0.7) -> np.ndarray:
    """The default simulator's benefit (truth/README.md) on our estimated levels."""
    m, c = world["matrices"], world["candidates"]
    emp, entry, cat = c["emp"].to_numpy(), c["entry"].to_numpy(), world["matrices"].catalogue
    comp = cat.targets[entry]
    valid = comp >= 0
    safe = np.where(valid, comp, 0)
    est = np.nan_to_num(m.estimated[emp[:, None], safe], nan=1.0)
    req = m.required[emp[:, None], safe]
    target = cat.target_levels[entry]
    n = np.maximum(valid.sum(1), 1)
    match = np.exp(-((est - (target - 1)) ** 2) / (2 * width**2))
    g = effect[entry][:, None] * match * np.clip(target - est, 0, 1.2) / np.sqrt(n)[:, None]
    closing = np.minimum(g, np.maximum(req - est, 0))
    value = np.where(req > 0, closing + 0.25 * (g - closing), 0.1 * g)
    complete = np.clip(0.6 + 0.3 * np.where(valid, match, 0).sum(1) / n, 0.05, 0.98)
    return complete * np.where(valid, value, 0).sum(1)


def without_measured(world: dict) -> dict:
    """The world with ``entry_effect`` missing everywhere: the model before #16."""
    ex = world["examples"]
    features = ex.features.assign(entry_effect=np.nan)
    return {
        **world,
        "examples": dataclasses.replace(ex, features=features),
        "features": world["features"].assign(entry_effect=np.nan),
    }


def expected_gain(world: dict, corrected: bool = False, **params: object) -> float:
    train, valid, keep = split(world)
    ex = world["examples"]
    model = gain.GainRanker(**params).fit(  # type: ignore[arg-type]
        ex.features[train], ex.progress[train], eval_set=(ex.features[valid], ex.progress[valid])
    )
    model.refit(ex.features[keep], ex.progress[keep])
    if corrected:  # what train does with feedback, here on outcome labels alone
        reference = LambdaRanker(**CONFIG.ranker.model_dump(), random_state=CONFIG.seed)
        model.correct(ex.features[keep], ex.label[keep], ex.qid[keep], None, reference._params(), 100)
    return ndcg10(world, model.predict(world["features"][list(FEATURES)]))


def lambdarank(world: dict) -> float:
    train, valid, _ = split(world)
    ex = world["examples"]
    model = LambdaRanker(**CONFIG.ranker.model_dump(), random_state=CONFIG.seed)
    model.fit(
        ex.features[train],
        ex.label[train],
        ex.qid[train],
        eval_set=(ex.features[valid], ex.label[valid], ex.qid[valid]),
    )
    return ndcg10(world, model.predict(world["features"][list(FEATURES)]))


def main(command: str, dirs: list[str]) -> None:
    worlds = {Path(d).name: prepare(Path(d)) for d in dirs}
    rows = {
        "ceiling": {
            "candidate score": lambda w: ndcg10(w, w["features"]["generator_score"].to_numpy()),
            "formula, average effect": lambda w: ndcg10(w, benefit_formula(w, np.ones(len(w["effect"])))),
            "formula, true effect": lambda w: ndcg10(w, benefit_formula(w, w["effect"])),
            "expected gain": expected_gain,
        },
        "variants": {
            "expected gain": expected_gain,
            "without measured effectiveness": lambda w: expected_gain(without_measured(w)),
            "measured effectiveness forced": lambda w: expected_gain(w, measured="always"),
            "penalty 1000 (not chosen)": lambda w: expected_gain(w, alphas=(1000.0,)),
            "penalty 10000 (not chosen)": lambda w: expected_gain(w, alphas=(10000.0,)),
            "+ LambdaRank correction": lambda w: expected_gain(w, corrected=True),
            "LambdaRank (outcome labels)": lambdarank,
        },
    }[command]
    for name, score in rows.items():
        values = {world: score(w) for world, w in worlds.items()}
        cells = " ".join(f"{k}:{v:.4f}" for k, v in values.items())
        print(f"{name:28s} {cells}  mean {np.mean(list(values.values())):.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
