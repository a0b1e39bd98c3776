"""Search LightGBM LambdaRank settings for ``LambdaRanker`` by cross-validation by query on the Yandex
learning-to-rank training part (issue #15; results and recommendation in ``letor-search.md``).

    .venv/bin/python benchmarks/letor_search.py run GROUP [GROUP ...] --seeds 0-4
    .venv/bin/python benchmarks/letor_search.py json '{"name": "x", "ranker": {}, "raw": {}}' --seeds 0-4
    .venv/bin/python benchmarks/letor_search.py table [--seeds 100-109] [--top 20] [--names A B ...]
    .venv/bin/python benchmarks/letor_search.py confirm NAME@K [NAME@K ...] --seeds 100-109
    .venv/bin/python benchmarks/letor_search.py fit-time NAME@K [NAME@K ...]
    .venv/bin/python benchmarks/letor_search.py check --seeds 0   # after `run base`: ours == cross_validate

A candidate is ``{"name", "ranker": LambdaRanker constructor args, "raw": extra LightGBM params that
override LambdaRanker's own, "bag": models averaged (seeds random_state + 1000 i), "rounds": [k, ...]}``.
It is fitted once per fold for the largest k and scored at every k (the first k trees of a longer fit
are the k-round fit: no early stopping), each k a configuration ``name@k`` of its own. The folds are
``cross_validate``'s exactly (GroupKFold, 5 folds, shuffled by the CV seed), the fit is
``LambdaRanker._params()`` updated with ``raw`` on ``ranker._dataset`` (with ``raw`` and ``bag`` empty
it is ``LambdaRanker`` itself: checked against ``cross_validate``), the score ``ndcg_per_query``, one
thread. Every (configuration, CV seed) is cached as its 666 per-query NDCG@10 under ``--cache``
(default ``var/letor-search/cache``) and logged to ``--log``; ``table`` reads them back.

``table`` reports, over the chosen seeds, the mean and sd of NDCG@10 over folds (what ``bench letor
--cv 5`` prints, per seed) and the paired difference against the current defaults on the same folds,
with two standard errors: over folds (sd / sqrt(folds); the folds of repeated CV share queries, so this
one is optimistic) and over queries (each query's difference averaged over the seeds, sd / sqrt(666):
the spread that a new set of queries, such as the hidden test part, would bring).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import GroupKFold

from rekomendasi.bench.letor import LetorSet, cross_validate, ndcg_per_query, read_letor
from rekomendasi.ranking.ranker import LambdaRanker, _dataset

# ../shared beside the repository
TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "yandex-letor" / "train.tsv.gz"
FOLDS = 5
BASE = "defaults@500"

# ---------------------------------------------------------------------------------------------------
# Candidates, by group. ``rounds`` lists the k scored; n_estimators is set to the largest.


def cand(
    name: str, rounds: list[int] | None = None, bag: int = 1, raw: dict | None = None, **ranker: Any
) -> dict:
    return {"name": name, "ranker": ranker, "raw": raw or {}, "bag": bag, "rounds": rounds or [500]}


GROUPS: dict[str, list[dict]] = {
    "base": [
        cand("defaults", [500]),
        cand(
            "old",
            [500],
            num_leaves=31,
            extra_trees=False,
            subsample=1.0,
            colsample_bytree=1.0,
            reg_lambda=0.0,
            min_child_samples=20,
            learning_rate=0.05,
        ),
    ],
    # learning rate x rounds, around the defaults
    "lr": [
        cand("lr0.02", [500, 1000, 1500, 2000], learning_rate=0.02),
        cand("lr0.05", [250, 500, 750, 1000], learning_rate=0.05),
        cand("lr0.1", [100, 200, 300, 500], learning_rate=0.1),
    ],
    "leaves": [
        cand("nl7", [500, 1000, 1500], num_leaves=7),
        cand("nl31", [250, 500, 750], num_leaves=31),
        cand("nl63", [250, 500], num_leaves=63),
    ],
    "mcs": [
        cand("mcs5", [500, 750], min_child_samples=5),
        cand("mcs50", [500, 750, 1000], min_child_samples=50),
        cand("mcs100", [500, 750, 1000], min_child_samples=100),
    ],
    "ff": [
        cand("ff0.3", [500, 750, 1000], colsample_bytree=0.3),
        cand("ff0.5", [500, 750, 1000], colsample_bytree=0.5),
        cand("ff1.0", [500, 750], colsample_bytree=1.0),
        cand("bag1.0", [500, 750], subsample=1.0),
        cand("bag0.5", [500, 750, 1000], subsample=0.5),
    ],
    "reg": [
        cand("l2_0", [500, 750], reg_lambda=0.0),
        cand("l2_10", [500, 750, 1000], reg_lambda=10.0),
        cand("l1_1", [500, 750, 1000], raw={"lambda_l1": 1.0}),
        cand("noxt", [250, 500, 750], extra_trees=False),
        cand(
            "noxt_ff0.5_mcs50", [250, 500, 750], extra_trees=False, colsample_bytree=0.5, min_child_samples=50
        ),
    ],
    "raw": [
        cand("trunc10", [500, 750], raw={"lambdarank_truncation_level": 10}),
        cand("trunc20", [500, 750], raw={"lambdarank_truncation_level": 20}),
        cand("xendcg", [500, 750, 1000], raw={"objective": "rank_xendcg"}),
        cand("maxbin63", [500, 750], raw={"max_bin": 63}),
        cand("maxbin1023", [500, 750], raw={"max_bin": 1023}),
        cand("lgain_lin", [500, 750], raw={"label_gain": [0, 1, 2, 3, 4]}),
        cand("lgain_sq", [500, 750], raw={"label_gain": [0, 1, 4, 9, 16]}),
        cand("nonorm", [500, 750], raw={"lambdarank_norm": False}),
        cand("ffnode0.5", [500, 750, 1000], raw={"feature_fraction_bynode": 0.5}),
        cand("psmooth10", [500, 750, 1000], raw={"path_smooth": 10.0}),
    ],
    "bags": [  # not run (time): seed bagging
        cand("bag3", [500], bag=3),
    ],
    # stage 2: around the best of stage 1 (fewer leaves, more rounds; path smoothing)
    "stage2": [
        cand("nl7_ps10", [750, 1000, 1500], num_leaves=7, raw={"path_smooth": 10.0}),
        cand("nl11", [750, 1000], num_leaves=11),
        cand("nl7_mcs50", [1000, 1500], num_leaves=7, min_child_samples=50),
        cand("ps30", [300, 500], raw={"path_smooth": 30.0}),
    ],
    "stage2bag": [  # not run (time)
        cand("nl7_bag3", [1000], bag=3, num_leaves=7),
    ],
}

# ---------------------------------------------------------------------------------------------------


def folds_of(data: LetorSet, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``cross_validate``'s folds for this CV seed."""
    return list(GroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(data.X, groups=data.qid))


def params_of(candidate: dict, seed: int, bag_index: int = 0) -> tuple[dict, int]:
    """LightGBM params and rounds: LambdaRanker's own, then the raw overrides."""
    ranker = {**candidate["ranker"], "n_estimators": max(candidate["rounds"]), "n_jobs": 1}
    ranker["random_state"] = seed + 1000 * bag_index
    model = LambdaRanker(**ranker)
    params = {**model._params(), **candidate["raw"]}
    if candidate["raw"].get("objective") == "rank_xendcg":
        params.pop("eval_at", None)
    return params, model.n_estimators


def fit_predict(
    candidate: dict, data: LetorSet, fit: np.ndarray, held: np.ndarray, seed: int
) -> dict[int, np.ndarray]:
    """Scores of the held rows at every k of ``rounds`` (bag averaged)."""
    out = {k: np.zeros(len(held)) for k in candidate["rounds"]}
    for b in range(candidate["bag"]):
        params, rounds = params_of(candidate, seed, b)
        train = _dataset_np(data, fit)
        booster = lgb.train(params, train, num_boost_round=rounds)
        for k in candidate["rounds"]:
            out[k] += booster.predict(data.X[held], num_iteration=k, num_threads=1) / candidate["bag"]
    return out


def _dataset_np(data: LetorSet, rows: np.ndarray) -> lgb.Dataset:
    import pandas as pd

    frame = pd.DataFrame(data.X[rows], columns=[f"x{i}" for i in range(data.X.shape[1])])
    return _dataset(frame, data.grade[rows].astype(float), data.qid[rows])


def key_of(candidate: dict, k: int, seed: int) -> str:
    spec = {
        "name": candidate["name"],
        "ranker": candidate["ranker"],
        "raw": candidate["raw"],
        "bag": candidate["bag"],
        "k": k,
    }
    text = json.dumps(spec, sort_keys=True)
    return hashlib.sha1(f"{text}|{seed}".encode()).hexdigest()[:16]


def evaluate(candidate: dict, data: LetorSet, seeds: list[int], cache: Path, log: Path) -> None:
    """Per-query NDCG@10 for every k and seed, cached; one log line per (configuration, seed)."""
    cache.mkdir(parents=True, exist_ok=True)
    uq = np.unique(data.qid)
    for seed in seeds:
        if all((cache / f"{key_of(candidate, k, seed)}.json").exists() for k in candidate["rounds"]):
            continue
        per_query = {k: np.full(len(uq), np.nan) for k in candidate["rounds"]}
        fold_of = np.full(len(uq), -1)
        start = time.perf_counter()
        for f, (fit, held) in enumerate(folds_of(data, seed)):
            scores = fit_predict(candidate, data, fit, held, seed)
            idx = np.searchsorted(uq, np.unique(data.qid[held]))
            fold_of[idx] = f
            for k, s in scores.items():
                per_query[k][idx] = ndcg_per_query(data.grade[held], s, data.qid[held])
        seconds = time.perf_counter() - start
        for k, v in per_query.items():
            name = f"{candidate['name']}@{k}"
            folds = [float(v[fold_of == f].mean()) for f in range(FOLDS)]
            record = {
                "name": name,
                "seed": seed,
                "ranker": candidate["ranker"],
                "raw": candidate["raw"],
                "bag": candidate["bag"],
                "n_estimators": k,
                "folds": folds,
                "mean": float(np.mean(folds)),
                "seconds_all_k": round(seconds, 1),
                "per_query": v.tolist(),
                "fold_of": fold_of.tolist(),
            }
            (cache / f"{key_of(candidate, k, seed)}.json").write_text(json.dumps(record))
            with log.open("a") as fh:
                fh.write(
                    json.dumps({x: record[x] for x in record if x not in ("per_query", "fold_of")}) + "\n"
                )
        print(
            f"{candidate['name']} seed {seed}: "
            + ", ".join(f"@{k} {np.nanmean(v):.4f}" for k, v in per_query.items())
            + f"  ({seconds:.0f} s)",
            flush=True,
        )


def load(cache: Path) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for p in cache.glob("*.json"):
        r = json.loads(p.read_text())
        out.setdefault(r["name"], {})[r["seed"]] = r
    return out


def table(cache: Path, seeds: list[int], top: int, names: list[str] | None) -> list[dict]:
    results = load(cache)
    if BASE not in results or not all(s in results[BASE] for s in seeds):
        sys.exit(f"{BASE} lacks some of the seeds {seeds}: run `run base` on them first")
    base = results[BASE]
    rows = []
    for name, by_seed in results.items():
        if names and name not in names:
            continue
        if not all(s in by_seed for s in seeds):
            continue
        folds = np.concatenate([by_seed[s]["folds"] for s in seeds])
        diff = folds - np.concatenate([base[s]["folds"] for s in seeds])
        q = np.mean(
            [np.array(by_seed[s]["per_query"]) - np.array(base[s]["per_query"]) for s in seeds], axis=0
        )
        seed_means = [np.mean(by_seed[s]["folds"]) for s in seeds]
        rows.append(
            {
                "name": name,
                "mean": folds.mean(),
                "sd": folds.std(ddof=1),
                "seed_sd": np.std(seed_means, ddof=1),
                "diff": diff.mean(),
                "se_folds": diff.std(ddof=1) / np.sqrt(len(diff)),
                "se_queries": q.std(ddof=1) / np.sqrt(len(q)),
                "wins": int((diff > 0).sum()),
                "n": len(diff),
                "spec": {
                    "ranker": by_seed[seeds[0]]["ranker"],
                    "raw": by_seed[seeds[0]]["raw"],
                    "bag": by_seed[seeds[0]]["bag"],
                    "n_estimators": by_seed[seeds[0]]["n_estimators"],
                },
            }
        )
    rows.sort(key=lambda r: -r["mean"])
    print(f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds) * FOLDS} folds); diff = paired vs {BASE}")
    print(f"{'configuration':28s} {'mean':>7s} {'sd':>6s} {'diff':>8s} {'se_fold':>7s} {'se_q':>7s} wins")
    for r in rows[:top] if top else rows:
        print(
            f"{r['name']:28s} {r['mean']:.4f} {r['sd']:.4f} {r['diff']:+.4f} {r['se_folds']:.4f} "
            f"{r['se_queries']:.4f} {r['wins']:>3d}/{r['n']}"
        )
    return rows


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def find_candidate(name: str, cache: Path) -> dict:
    """A configuration ``name@k`` back as a candidate with rounds [k] (from the cache)."""
    for p in cache.glob("*.json"):
        r = json.loads(p.read_text())
        if r["name"] == name:
            return {
                "name": name.split("@", 1)[0],
                "ranker": r["ranker"],
                "raw": r["raw"],
                "bag": r["bag"],
                "rounds": [r["n_estimators"]],
            }
    sys.exit(f"{name}: not in the cache")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["run", "json", "table", "confirm", "fit-time", "check"])
    ap.add_argument("args", nargs="*")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--names", nargs="*")
    ap.add_argument("--cache", type=Path, default=Path("var/letor-search/cache"))
    ap.add_argument("--log", type=Path, default=Path("var/letor-search/search-log.jsonl"))
    ap.add_argument("--train", type=Path, default=TRAIN)
    a = ap.parse_args()
    seeds = parse_seeds(a.seeds)
    if a.command == "table":
        table(a.cache, seeds, a.top, a.names)
        return
    data = read_letor(a.train)
    if a.command == "check":
        # our fit with raw={} and bag=1 is LambdaRanker's: same folds, same scores
        ours = json.loads((a.cache / f"{key_of(GROUPS['base'][0], 500, seeds[0])}.json").read_text())["folds"]
        theirs = cross_validate(data, FOLDS, {"random_state": seeds[0], "n_jobs": 1}, seeds[0]).folds
        print("ours  ", [round(x, 6) for x in ours], "\ntheirs", [round(x, 6) for x in theirs])
        assert np.allclose(ours, theirs), "mismatch"
        return
    if a.command == "fit-time":
        for name in a.args:
            c = find_candidate(name, a.cache)
            times = []
            for _ in range(3):
                start = time.perf_counter()
                for b in range(c["bag"]):
                    params, rounds = params_of(c, 0, b)
                    lgb.train(params, _dataset_np(data, np.arange(len(data.qid))), num_boost_round=rounds)
                times.append(time.perf_counter() - start)
            print(
                f"{name}: fit on all {len(data.qid)} rows, 1 thread: best of 3 {min(times):.2f} s "
                f"(runs {', '.join(f'{t:.2f}' for t in times)})",
                flush=True,
            )
        return
    if a.command == "run":
        candidates = [c for g in a.args for c in GROUPS[g]]
    elif a.command == "confirm":
        candidates = [find_candidate(n, a.cache) for n in a.args]
    else:
        candidates = [json.loads(x) for x in a.args]
        for c in candidates:
            c.setdefault("raw", {}), c.setdefault("bag", 1), c.setdefault("rounds", [500])
    for c in candidates:
        print(json.dumps({x: c[x] for x in ("name", "ranker", "raw", "bag", "rounds")}), flush=True)
        evaluate(c, data, seeds, a.cache, a.log)


if __name__ == "__main__":
    main()
