"""The feedback round (issue #15): does retraining on what people did with their recommendations make
the ranker better?

On a simulated world (with ``truth/``), :func:`feedback_round`:

1. fits the ranker on outcomes (:func:`~rekomendasi.ranking.train.fit_ranker`, the time split of
   ``train``), which also draws the held-out employees;
2. recommends each employee's top 10 through the recommendation core, from the snapshot at the end of
   the year before the last label year Y (what the planner had while Y ran), to everyone active then
   but the held-out employees;
3. simulates the answers from the true benefit (:class:`Responses`): a person answers some of what they
   are shown, accepts with a probability that grows with the benefit (else rejects, now and then by
   objecting), and completes an accepted course with a probability that grows with it too; the answers
   are dated in Y and recorded as feedback rows (the columns of ``rekomendasi feedback export``);
4. fits again with the feedback (the same path ``train`` takes with the state database's rows): the
   answers in Y become examples with features from the snapshot at the end of Y-1, no later;
5. evaluates the models of both fits on the same held-out employees, graded by truth
   (:func:`~rekomendasi.ranking.train.evaluate_ranker`), and each model's per-employee difference with a
   paired bootstrap interval: the served ranker, and the LambdaRank reference when the fit has one.

With ``rounds`` > 1, steps 2-4 repeat with the newest model; pairs answered before are not shown again.
The answers are drawn from the same truth the evaluation grades by, so the gain measures whether the
training path can use the signal, not how much real people's clicks carry.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rekomendasi.candidates import Catalogue, build_matrices, generate
from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec, build_snapshot
from rekomendasi.features.schemas import Roster
from rekomendasi.feedback import FEEDBACK_COLUMNS, FeedbackEvent
from rekomendasi.ranking.evaluate import rank_lists
from rekomendasi.ranking.metrics import GAIN, bootstrap_ci, ndcg_per_user, oracle_top_k
from rekomendasi.ranking.pairs import FEATURES, pair_features
from rekomendasi.ranking.train import FitResult, TrainConfig, evaluate_ranker, fit_ranker, read_benefit
from rekomendasi.recommend import Objections, ScoreOptions, Scores, score_employees

SHOWN = 10
"""Recommendations each person is shown per round."""
FIXED = ("candidate score", "popularity (same position)", "gap heuristic", "text similarity", "random")
"""Rows of the evaluation that no fit changes (and the oracle)."""
Figures = tuple[float, float, float]
"""(mean, low, high): a mean NDCG@10 or difference with its 95% bootstrap interval."""


@dataclass(frozen=True, slots=True)
class ModelRound:
    """One model's held-out NDCG@10 before and after the feedback, and the paired difference."""

    before: Figures
    after: Figures
    difference: Figures


@dataclass(frozen=True, slots=True)
class Responses:
    """How simulated people answer what they are shown. ``q`` is the pair's true benefit as a quantile
    among all pairs shown in the round (0 worst, 1 best), so the rules do not depend on a world's scale.

    Attributes:
        answer: share of shown recommendations a person answers at all.
        accept: P(accept) = accept[0] + accept[1] * q; otherwise the answer is a rejection.
        complete: P(complete | accepted) = complete[0] + complete[1] * q.
        object_below: a rejection of a pair with q below this is an objection instead, with probability
            ``object_share``.
        object_share: see ``object_below``.
        seed: of the draws.
    """

    answer: float = 0.7
    accept: tuple[float, float] = (0.05, 0.8)
    complete: tuple[float, float] = (0.35, 0.55)
    object_below: float = 0.2
    object_share: float = 0.1
    seed: int = 0


@dataclass
class RoundResult:
    """What a feedback round measured.

    Attributes:
        models: each learned model's figures by its evaluation name, the served ranker first.
        employees: held-out employees evaluated.
        held_out: their NIPs (nobody among them was shown anything or answered).
        feedback: the simulated feedback rows (a feedback export's columns).
        used: the last fit's feedback pairs by what became of them (``FitResult.feedback``).
        events: feedback rows by event.
        baselines: NDCG@10 of the other models of the evaluation (the same for both fits).
    """

    models: dict[str, ModelRound]
    employees: int
    held_out: np.ndarray
    feedback: pd.DataFrame
    used: dict[str, int]
    events: dict[str, int]
    baselines: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def feedback_round(
    dataset: Dataset,
    spec: EvidenceSpec,
    config: TrainConfig,
    as_of: dt.date,
    rounds: int = 1,
    responses: Responses = Responses(),
    progress: Callable[[str], None] | None = None,
) -> RoundResult:
    """Run ``rounds`` feedback rounds on a simulated world and measure the ranker before and after.

    Raises:
        DataContractError: the world has too short a history to train (see ``fit_ranker``).
        ValueError: the world has no ``truth/benefit``, or ``rounds`` < 1.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    say = progress or (lambda _: None)
    clock = _Clock()
    say("fit on outcomes")
    before = fit_ranker(dataset, spec, config, as_of)
    clock.lap("fit before")
    year = before.validation_year
    say(f"snapshot {year - 1}-12-31 (what was shown during {year})")
    shown_on = build_snapshot(dataset, dt.date(year - 1, 12, 31), spec, encoder=None)
    roster = shown_on.roster
    active = roster.loc[roster[Roster.active].astype(bool), Roster.nip].astype(str)
    people = active[~active.isin(before.holdout)].to_numpy()
    benefit = _benefit(dataset, people)
    m = build_matrices(shown_on.subset(people), Catalogue.for_model(shown_on, before.model))
    options = ScoreOptions(candidates=config.candidates, top_n=SHOWN, explained=0, num_threads=1)
    rng = np.random.default_rng(responses.seed)
    parts: list[pd.DataFrame] = []
    fit = before
    for r in range(rounds):
        say(f"round {r + 1}: recommend to {len(people):,} employees and simulate their answers")
        # Pairs answered in an earlier round are not shown again (left out like objected ones).
        answered = Objections.of_pairs(
            (nip, t) for part in parts for nip, t in zip(part["nip"], part["training_id"], strict=True)
        )
        shown = score_employees(m, fit.model, options, validate=False, objections=answered)
        parts.append(_answers(shown, benefit, year, r, rounds, responses, rng, sum(map(len, parts))))
        feedback = pd.concat(parts, ignore_index=True)
        say(f"round {r + 1}: fit with {len(feedback):,} feedback rows")
        fit = fit_ranker(dataset, spec, config, as_of, feedback=feedback)
        clock.lap(f"round {r + 1}")
    say("evaluate both on the held-out employees")
    tables = {
        name: evaluate_ranker(dataset, f, config)["models"].set_index("model")
        for name, f in (("before", before), ("after", fit))
    }
    clock.lap("evaluate")
    names = [str(n) for n in tables["before"].index if n not in FIXED and not str(n).startswith("oracle")]
    names.sort(key=lambda n: not n.startswith("ranker"))  # the served ranker, then the reference
    differences = _paired(dataset, before, fit, config)
    models = {
        name: ModelRound(_figures(tables["before"], name), _figures(tables["after"], name), delta)
        for name, delta in zip(names, differences, strict=True)
    }
    return RoundResult(
        models=models,
        employees=len(before.holdout),
        held_out=before.holdout,
        feedback=feedback,
        used=dict(fit.feedback),
        events={str(k): int(v) for k, v in feedback["event"].value_counts().sort_index().items()},
        baselines={
            str(name): float(row["ndcg@10"]) for name, row in tables["before"].iterrows() if name in FIXED
        },
        seconds=clock.laps,
    )


def _benefit(dataset: Dataset, people: np.ndarray) -> pd.DataFrame:
    """truth/benefit of ``people``'s pairs (every pair, eligible as of the as-of date or not: a course
    shown in Y may have been taken during Y)."""
    truth = read_benefit(dataset.data_dir)
    if truth is None:
        raise ValueError(f"{dataset.data_dir} has no truth/benefit: the round needs a simulated world")
    truth = truth[truth["nip"].astype(str).isin(people)]
    return truth.assign(nip=truth["nip"].astype(str), training_id=truth["training_id"].astype(str))[
        ["nip", "training_id", "benefit"]
    ]


def _answers(
    shown: pd.DataFrame,
    benefit: pd.DataFrame,
    year: int,
    round_index: int,
    rounds: int,
    responses: Responses,
    rng: np.random.Generator,
    first_id: int,
) -> pd.DataFrame:
    """The feedback rows of one round's answers, dated in ``year`` (each round in its own slice of it)."""
    pairs = shown[[Scores.nip, Scores.training_id]].astype(str).merge(benefit, how="left")
    q = pairs["benefit"].fillna(0.0).rank(pct=True, method="average").to_numpy()
    n = len(pairs)
    answers = rng.random(n) < responses.answer
    accepted = answers & (rng.random(n) < responses.accept[0] + responses.accept[1] * q)
    completed = accepted & (rng.random(n) < responses.complete[0] + responses.complete[1] * q)
    objects = answers & ~accepted & (q < responses.object_below) & (rng.random(n) < responses.object_share)
    rejected = answers & ~accepted & ~objects
    start = dt.date(year, 1, 1) + dt.timedelta(days=150 * round_index // rounds)
    answered_on = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(rng.integers(0, 150 // rounds + 1, n), "D")
    done_on = answered_on + pd.to_timedelta(rng.integers(30, 180, n), "D")  # still in the year
    parts = []
    for mask, event, when, reason in (
        (accepted, FeedbackEvent.ACCEPTED, answered_on, ""),
        (rejected, FeedbackEvent.REJECTED, answered_on, "tidak relevan (simulasi)"),
        (objects, FeedbackEvent.OBJECTED, answered_on, "keberatan (simulasi)"),
        (completed, FeedbackEvent.COMPLETED, done_on, ""),
    ):
        parts.append(
            pd.DataFrame(
                {
                    "nip": pairs[Scores.nip].to_numpy()[mask],
                    "training_id": pairs[Scores.training_id].to_numpy()[mask],
                    "event": event.value,
                    "reason": reason,
                    "model_version": f"round-{round_index + 1}",
                    "at": when[mask],
                    "key_id": "bench-feedback",
                }
            )
        )
    rows = pd.concat(parts, ignore_index=True).sort_values(["at", "nip", "training_id"], kind="stable")
    rows.insert(0, "id", np.arange(first_id + 1, first_id + 1 + len(rows), dtype=np.int64))
    rows["corrects"] = pd.array([pd.NA] * len(rows), dtype="Int64")
    return rows[list(FEEDBACK_COLUMNS)].reset_index(drop=True)


def _figures(table: pd.DataFrame, name: str) -> Figures:
    mean, low, high = table.loc[name, ["ndcg@10", "ndcg@10_low", "ndcg@10_high"]].to_numpy(dtype=float)
    return float(mean), float(low), float(high)


def _learned(fit: FitResult) -> list[object]:
    """The fit's models in evaluation order: the served ranker, then the reference if it has one."""
    reference = getattr(fit, "reference", None)
    return [fit.model, *([reference] if reference is not None else [])]


def _paired(dataset: Dataset, before: FitResult, after: FitResult, config: TrainConfig) -> list[Figures]:
    """Each learned model's mean per-employee NDCG@10 difference (after - before) on the held-out
    employees, truth-graded, with its 95% bootstrap interval (the employees resampled together, so both
    lists face the same people)."""
    m = build_matrices(before.snapshot, Catalogue.for_model(before.snapshot, before.model))
    rows = np.flatnonzero(pd.Index(m.nips).isin(before.holdout))
    candidates = pd.concat(generate(m, config.candidates, rows=rows), ignore_index=True)
    features = pair_features(m, candidates)[list(FEATURES)]
    truth = read_benefit(dataset.data_dir, before.holdout)
    assert truth is not None  # checked by _benefit
    truth = truth[truth["training_id"].isin(m.catalogue.ids)]  # as evaluate_ranker grades
    truth = truth.rename(columns={"benefit": GAIN})[["nip", "training_id", GAIN]]
    oracle = oracle_top_k(truth, 10)
    out = []
    for old, new in zip(_learned(before), _learned(after), strict=True):
        first, last = (
            ndcg_per_user(rank_lists(candidates, model.predict(features), 10), truth, 10, oracle)  # type: ignore[attr-defined]
            for model in (old, new)
        )
        delta = (last - first.reindex(last.index)).dropna().to_numpy(dtype=float)
        low, high = bootstrap_ci(delta, config.evaluation.bootstrap_resamples, seed=config.seed)
        out.append((float(np.mean(delta)), low, high))
    return out


class _Clock:
    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 1)
        self._last = now
