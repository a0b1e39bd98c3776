"""Train the ranker on observed outcomes with a time split, then evaluate it against the baselines.

``fit_ranker`` never reads ``truth/``; ``evaluate_ranker`` reads it only when the data directory has
one (simulated worlds), to add the oracle and the truth-graded metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from rekomendasi.candidates import Candidates, Catalogue, build_matrices, generate
from rekomendasi.contract import Dataset
from rekomendasi.contract.schemas import (
    Assessments,
    Behaviour,
    DailyReports,
    Employees,
    Feedback,
    Indicators,
    Skp,
)
from rekomendasi.effectiveness import (
    EffectConfig,
    estimate_effectiveness,
    level_snapshots,
    participant_gains,
)
from rekomendasi.effectiveness.feature import entry_effect_values, fill_entry_effect
from rekomendasi.errors import ConfigError, DataContractError
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot
from rekomendasi.features.schemas import Performance
from rekomendasi.ranking.calibration import GainCalibration, calibration_table, fit_gain_calibration
from rekomendasi.ranking.evaluate import baseline_scores, by_group, compare, rank_lists
from rekomendasi.ranking.feedback import FeedbackExamples, feedback_examples, training_rows
from rekomendasi.ranking.gain import GainRanker
from rekomendasi.ranking.labels import Examples, outcome_examples
from rekomendasi.ranking.metrics import GAIN, ITEM, RANK, USER, oracle_top_k, recall_per_user
from rekomendasi.ranking.pairs import FEATURES, pair_features
from rekomendasi.ranking.ranker import LambdaRanker

CORRECTION_ROUNDS = 100
"""Rounds of the served model's LambdaRank correction when there is feedback."""
RANKER = "ranker (expected gain)"
"""The served model's row in the evaluation tables."""
REFERENCE = "LambdaRank (outcome labels)"
"""LambdaRank on graded outcome labels, fitted on the training years: the comparison row."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RankerParams(_Strict):
    n_estimators: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    num_leaves: int = Field(gt=1)
    min_child_samples: int = Field(gt=0)
    eval_at: int = Field(gt=0)
    early_stopping_rounds: int = Field(ge=0)
    n_jobs: int = Field(default=1, gt=0)
    extra_trees: bool = False  # LambdaRanker's default is True since #15 (tuned on Yandex's data)


class GainParams(_Strict):
    """The served model's effectiveness regression (:class:`~rekomendasi.ranking.gain.GainRanker`)."""

    alphas: list[PositiveFloat] = Field(min_length=1)
    n_jobs: int = Field(default=1, gt=0)


class EvaluationParams(_Strict):
    k: list[int]
    bootstrap_resamples: int = Field(gt=0)
    fairness_groups: list[str]
    central_agency_pattern: str | None = None


class TrainConfig(_Strict):
    """The training config (``train.yaml``: the packaged default, or the override the settings name)."""

    version: int
    seed: int
    candidates: int = Field(gt=0)
    holdout_employee_share: float = Field(gt=0, lt=1)
    gain: GainParams
    ranker: RankerParams
    evaluation: EvaluationParams


def load_train_config(path: Path) -> TrainConfig:
    """Read and validate the training config; errors name the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return TrainConfig.model_validate(raw)
    except FileNotFoundError as err:
        raise ConfigError(
            f"{path}: training config not found; set REKOMENDASI_TRAIN_CONFIG to a train.yaml, or unset it "
            "to use the packaged default."
        ) from err
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"{path}: invalid training config: {problems}") from err


@dataclass
class FitResult:
    """A fitted ranker with what it was fitted on.

    Attributes:
        model: the served ranker, refitted on every label year.
        reference: LambdaRank on graded outcome labels (fitted on the training years), a comparison.
        validation_ndcg: NDCG@10 on the last label year's enrolments (outcome labels) of the model fitted
            on the earlier years only: what the refitted model never shows.
    """

    model: GainRanker
    as_of: dt.date
    train_years: list[int]
    validation_year: int
    holdout: np.ndarray
    examples: dict[str, int]
    validation_ndcg: float
    snapshot: Snapshot
    validation: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None  # the time-split (X, y, qid)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    calibration: pd.DataFrame | None = None  # the gain calibration checked on held-out enrolments
    feedback: dict[str, int] = field(default_factory=dict)  # feedback pairs by use (ranking.feedback)
    reference: LambdaRanker | None = None


def label_years(dataset: Dataset, as_of: dt.date) -> list[int]:
    """Years whose enrolments can be labelled: after the first year of evidence, complete by ``as_of``."""
    starts = [
        dataset[table][column].min().year
        for table, column in (
            ("assessments", Assessments.assessed_on),
            ("feedback", Feedback.given_on),
            ("daily_reports", DailyReports.date),
        )
        if len(dataset[table])
    ]
    starts += [
        int(dataset[table][column].str[:4].astype(int).min())
        for table, column in (
            ("skp", Skp.period),
            ("behaviour", Behaviour.period),
            ("indicators", Indicators.period),
        )
        if len(dataset[table])
    ]
    if not starts or dataset["training_history"].empty:
        return []
    last = as_of.year if (as_of.month, as_of.day) == (12, 31) else as_of.year - 1
    return list(range(min(starts) + 1, last + 1))


def fit_ranker(
    dataset: Dataset,
    spec: EvidenceSpec,
    config: TrainConfig,
    as_of: dt.date,
    progress: Callable[[str], None] | None = None,
    feedback: pd.DataFrame | None = None,
) -> FitResult:
    """The served model (:class:`~rekomendasi.ranking.gain.GainRanker`): fitted on outcomes of all label
    years but the last, which chooses its rounds and gives the validation NDCG and the gain calibration
    (time split), then refitted on every label year; and LambdaRank on graded labels fitted on the
    earlier years (early-stopped on the last), the comparison row. Rows of ``feedback`` (a feedback
    export's columns) add weighted training examples to both (:mod:`.feedback`).

    Raises:
        DataContractError: the history is too short for a time split (two label years are needed).
    """
    years = label_years(dataset, as_of)
    if len(years) < 2:
        raise DataContractError(
            "training needs enrolments in at least two calendar years after a year of evidence, "
            f"up to {as_of}; found {years or 'none'}. "
            "Load a longer training_history (and evidence), or use a later --as-of."
        )
    snapshots: dict[int, Snapshot] = {}
    for year in [years[0] - 1, *years]:
        if progress is not None:
            progress(f"snapshot {year}-12-31")
        snapshots[year] = build_snapshot(dataset, dt.date(year, 12, 31), spec, encoder=None)
    if progress is not None:
        progress("labels from outcomes")
    levels: dict[int, Snapshot] = {}
    examples = outcome_examples(dataset, spec, years, snapshots, levels=levels)
    # Measured effectiveness (#16): published with the model, and its ranker input by label year.
    levels = level_snapshots(dataset, spec, years, progress, levels)
    windows = participant_gains(dataset, levels, years, EffectConfig().horizon_years, every_cut=True)
    measured = estimate_effectiveness(dataset, spec, as_of, None, progress, levels, windows)
    final = (
        snapshots[years[-1]]
        if dt.date(years[-1], 12, 31) == as_of
        else build_snapshot(dataset, as_of, spec, encoder=None)
    )
    rng = np.random.default_rng(config.seed)
    nips = final.performance[Performance.nip].to_numpy()
    holdout = np.sort(nips[rng.random(len(nips)) < config.holdout_employee_share])
    # A hash lookup: np.isin on object arrays compares every pair (99 s at 100,000 employees).
    keep = ~pd.Index(examples.nip).isin(holdout)
    train = keep & (examples.year < years[-1])
    valid = keep & (examples.year == years[-1])
    extra = feedback_examples(dataset, feedback, snapshots, as_of, years).without(holdout)
    for rows in (examples, extra.examples):  # what was measured before each example's year (#16)
        fill_entry_effect(rows.features, rows.year, rows.training_id, windows)
    if progress is not None:
        progress("fit the expected-gain model")
    # Nested time split: the effectiveness regression's penalty is chosen on the last label year,
    # which also gives the validation NDCG and the calibration; then it is refitted on every year.
    X, y, qid, weight = training_rows(examples, train, extra)
    model = _gain_model(config)
    model.fit(
        X,
        _progress(examples, train, extra),
        eval_set=(examples.features[valid], examples.progress[valid]),
        sample_weight=weight,
    )
    validation = (
        examples.features[valid].reset_index(drop=True),
        examples.label[valid],
        examples.qid[valid],
    )
    nested_ndcg = _validation_ndcg(model, validation, config.ranker.eval_at)
    if progress is not None:
        progress("calibrate the expected gain")
    last = examples.year == years[-1]
    calibration, calibration_check = _calibrate(model, examples, valid, ~keep & last)
    X_all, y_all, q_all, weight_all = training_rows(examples, keep, extra)
    model.refit(X_all, _progress(examples, keep, extra), sample_weight=weight_all)
    reference = LambdaRanker(**config.ranker.model_dump(), random_state=config.seed)
    if len(extra):
        # What people answered says what the evidence of progress cannot: a LambdaRank correction
        # on outcomes and answers, starting from the expected gain (bench feedback measures it).
        model.correct(X_all, y_all, q_all, weight_all, reference._params(), CORRECTION_ROUNDS)
        # Its scores are no longer in units of gain: calibrated again, on the same enrolments (which the
        # refitted model has seen: slightly optimistic, the price of a model that learns from answers).
        calibration, calibration_check = _calibrate(model, examples, valid, ~keep & last)
    model.gain_calibration_ = calibration.to_dict()
    model.effectiveness_ = measured.to_dict()
    model.entry_effects_ = entry_effect_values(windows)
    if progress is not None:
        progress("fit LambdaRank (reference)")
    reference.fit(X, y, qid, eval_set=validation, sample_weight=weight)
    return FitResult(
        model=model,
        as_of=as_of,
        train_years=years[:-1],
        validation_year=years[-1],
        holdout=holdout,
        examples={"train": int(train.sum()), "validation": int(valid.sum())},
        validation_ndcg=nested_ndcg,
        snapshot=final,
        validation=validation,
        calibration=calibration_check,
        feedback=extra.counts,
        reference=reference,
    )


def _gain_model(config: TrainConfig) -> GainRanker:
    gain = config.gain
    return GainRanker(alphas=tuple(gain.alphas), random_state=config.seed, n_jobs=gain.n_jobs)


def _progress(examples: Examples, rows: np.ndarray, extra: FeedbackExamples) -> np.ndarray:
    """The measured progress of ``examples[rows]`` followed by NaN for the feedback examples: no
    progress was measured (the effectiveness regression skips them). A rejection as zero improvement
    would lower the effectiveness of exactly the courses the model recommends most, the only ones
    people answer about (measured: NDCG@10 0.71 to 0.57 on a feedback round); answers enter through
    the correction (:meth:`GainRanker.correct`) instead."""
    values = examples.progress[rows]
    return np.concatenate([values, np.full(len(extra), np.nan)]) if len(extra) else values


def _calibrate(
    model: GainRanker | LambdaRanker, examples: Examples, fit_rows: np.ndarray, check_rows: np.ndarray
) -> tuple[GainCalibration, pd.DataFrame | None]:
    """The expected-gain calibration, fitted on ``fit_rows`` (the validation year's enrolments) and
    checked on ``check_rows`` (the holdout employees' enrolments of that year; None when there are none).

    Raises:
        DataContractError: too few enrolments with a realised gain to calibrate.
    """
    features = examples.features[list(FEATURES)]
    try:
        calibration = fit_gain_calibration(model.predict(features[fit_rows]), examples.improvement[fit_rows])
    except ValueError as err:
        raise DataContractError(f"{err}; load a longer or larger training_history.") from err
    check = None
    if check_rows.sum() >= 20:
        check = calibration_table(
            calibration, model.predict(features[check_rows]), examples.improvement[check_rows]
        )
    return calibration, check


def read_benefit(data_dir: Path, nips: np.ndarray | None = None) -> pd.DataFrame | None:
    """truth/benefit of a simulated world, or None for real data (evaluation only).

    Args:
        nips: keep only these employees' eligible pairs (read that way from Parquet: the whole table of
            a 100,000-employee world holds 27 million pairs).
    """
    for ext in (".parquet", ".csv"):
        path = data_dir / "truth" / f"benefit{ext}"
        if not path.exists():
            continue
        if ext == ".csv":
            benefit = pd.read_csv(path, dtype={"nip": str})
            return benefit if nips is None else benefit[benefit["eligible"] & benefit["nip"].isin(nips)]
        if nips is None:
            return pd.read_parquet(path)
        return pd.read_parquet(path, filters=[("eligible", "==", True), ("nip", "in", list(nips))])
    return None


def agency_kind(employees: pd.DataFrame, central_pattern: str | None = None) -> pd.Series:
    """``central`` or ``regional`` per employee's agency (the contract has no agency type).

    With ``central_pattern`` (a regular expression on ``instansi_id``, from the training config) the
    matching agencies are central. Without it the data decides: a ministry or central agency has staff in
    several provinces (its vertical offices), a regional government (pemda) only in its own province.
    """
    agencies = employees[Employees.instansi_id]
    if central_pattern:
        central = agencies.str.match(central_pattern)
    else:
        spread = employees.groupby(Employees.instansi_id)[Employees.province].nunique()
        central = agencies.map(spread > 1).astype(bool)
    return pd.Series(np.where(central, "central", "regional"), index=employees.index, name="agency_kind")


def fairness_groups(employees: pd.DataFrame, config: EvaluationParams) -> pd.DataFrame:
    """One row per nip, one column per configured fairness group (``agency_kind`` is derived)."""
    frame = employees.assign(agency_kind=agency_kind(employees, config.central_agency_pattern))
    frame = frame.set_index(Employees.nip)[config.fairness_groups]
    return frame.fillna("(unknown)")


def evaluate_ranker(dataset: Dataset, fit: FitResult, config: TrainConfig) -> dict[str, pd.DataFrame]:
    """Rank the held-out employees' candidates with every model; metrics per model and per group."""
    m = build_matrices(fit.snapshot, Catalogue.for_model(fit.snapshot, fit.model))
    # Only the held-out employees' candidates: generation is per employee, so these are the rows a
    # generation for everyone would keep.
    rows = np.flatnonzero(pd.Index(m.nips).isin(fit.holdout))
    candidates = pd.concat(generate(m, config.candidates, rows=rows), ignore_index=True)
    features = pair_features(m, candidates)
    k = max(config.evaluation.k)
    scores = {
        RANKER: fit.model.predict(features[list(FEATURES)]),
        **({REFERENCE: fit.reference.predict(features[list(FEATURES)])} if fit.reference is not None else {}),
        "candidate score": features["generator_score"].to_numpy(),
    }
    scores.update(baseline_scores(features, config.seed))
    lists = {name: rank_lists(candidates, score, k) for name, score in scores.items()}
    truth = read_benefit(dataset.data_dir, fit.holdout)
    oracle = None
    if truth is not None:
        truth = truth[truth["training_id"].isin(m.catalogue.ids)]
        truth = truth.rename(columns={"benefit": "gain"})[["nip", "training_id", "gain"]]
        oracle = oracle_top_k(truth, max(k, 10))
        lists["oracle (truth)"] = oracle[oracle[RANK] <= k]
    table = compare(
        lists,
        truth,
        len(m.catalogue.ids),
        dataset["catalog_competencies"],
        tuple(config.evaluation.k),
        config.evaluation.bootstrap_resamples,
        config.seed,
    )
    out = {
        "models": table,
        "importance": fit.model.feature_importances_.rename("gain")
        .reset_index()
        .rename(columns={"index": "feature"}),
    }
    if oracle is not None:
        out["candidates"] = pd.DataFrame(
            [
                {
                    "candidates_per_employee": float(candidates.groupby(Candidates.nip).size().mean()),
                    "recall_oracle@10": float(
                        recall_per_user(candidates.assign(**{RANK: 1}), oracle[oracle[RANK] <= 10], 1).mean()
                    ),
                }
            ]
        )
    groups = fairness_groups(dataset["employees"], config.evaluation)
    out["groups"] = by_group(
        {n: lst for n, lst in lists.items() if n in (RANKER, "gap heuristic")},
        truth,
        groups,
        k,
    )
    return out


def validation_ndcg(model: GainRanker | LambdaRanker, fit: FitResult, k: int = 10) -> float:
    """NDCG@k of ``model`` on ``fit``'s time-split validation examples (graded by outcome labels).

    Needs no truth, so it compares a challenger with the champion on real data too. The served model is
    refitted on every label year, the validation year included, as a champion trained on the same data
    was: the comparison is like for like. ``fit.validation_ndcg`` is the honest figure (the model fitted
    on the earlier years only).
    """
    if fit.validation is None:
        return float("nan")
    return _validation_ndcg(model, fit.validation, k)


def _validation_ndcg(
    model: GainRanker | LambdaRanker, validation: tuple[pd.DataFrame, np.ndarray, np.ndarray], k: int
) -> float:
    from rekomendasi.ranking.metrics import ndcg_at_k

    X, y, qid = validation
    # The metrics' users are the validation queries, their items the examples.
    frame = pd.DataFrame(
        {
            USER: qid,
            ITEM: np.arange(len(y)),
            GAIN: y.astype(float),
            "score": model.predict(X[list(FEATURES)]),
        }
    )
    frame[RANK] = frame.groupby(USER)["score"].rank(ascending=False, method="first").astype(int)
    return ndcg_at_k(frame, frame, k)
