"""Which trainings work: each catalogue entry's, provider's and modality's gain beyond comparable people.

Each measured participant's gain is a difference in differences against matched comparable people
(:mod:`.panel`), in measured levels summed over the competencies the entry targets. The comparison
group (:func:`participant_gains`) is the people who enrolled on the same competency *later*, where the
data has later years: chosen by the same historical policy, not yet trained. The policy sends people
whose supervisors see gaps, and their levels move differently from everyone else's with the same
estimate; compared with everyone else, the estimates carried a placebo of about -0.03 levels and ranked
entries worse on the development worlds. The last year's enrolments have nobody later: they are
compared with everyone else, matched.

An entry's *effect* is its participants' mean gain pooled with what courses of its kind reached
(:mod:`.pooling`, empirical Bayes), with a bootstrap interval; its own participants' mean
(``raw_effect``), the weight of that mean and the kind's mean are published beside it. Entries with
fewer measured participants than ``min_participants`` get a reason instead of a number. Providers and
modalities pool their entries' participants (their raw means, with bootstrap intervals).

Beside every estimate is the *naive* before/after change of the same participants, and two overall
checks:

- all participants: mean gain beyond the comparison against the naive change (their difference is what
  the comparison removes: the drift every level has over time, and the movement of the estimates of the
  people the policy chose);
- the placebo: people who complete a course on a competency the *next* year, measured over a year
  before they took it. They have gained nothing from it yet, so a sound estimate is near zero there.

Measured levels come from the evidence alone (the evidence model's training bonus is off) and respond
to a real gain only as new evidence arrives: the estimates are in *measured* levels, a small share of
the true gains (``measured_share`` of ``rekomendasi bench effectiveness``), and what they are good for is
comparing entries, providers and modalities with each other. The window runs from the end of the year
before the enrolment to ``horizon_years`` after it, as far as the data allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.contract import Dataset
from rekomendasi.contract.schemas import Catalog, CatalogCompetencies, TrainingHistory
from rekomendasi.effectiveness.panel import enrolment_gains, window_cells
from rekomendasi.effectiveness.pooling import pooled_entries
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot

COLUMNS = ("training_id", "provider", "participants", "effect", "ci_low", "ci_high", "reason")
"""The contract's columns of ``rekomendasi effectiveness --out`` (data-contract.md), in order."""


POOLED_COLUMNS = ("raw_effect", "raw_low", "raw_high", "own_weight", "kind_effect")
"""Beside a pooled entry effect (:mod:`.pooling`): its own participants' mean and interval, the weight
of that mean in the effect, and the mean courses of its kind reached."""


@dataclass(frozen=True)
class EffectConfig:
    """How estimates are made.

    Attributes:
        min_participants: measured participants an entry, provider or modality needs for a number.
        resamples: bootstrap resamples of each interval.
        confidence: the intervals' coverage.
        horizon_years: years after the enrolment's year the change is measured over (as far as the data
            reaches).
        seed: the bootstrap's seed (the same data and seed give the same intervals).
    """

    min_participants: int = 20
    resamples: int = 1000
    confidence: float = 0.95
    horizon_years: int = 1
    seed: int = 0


@dataclass(frozen=True)
class Effectiveness:
    """Estimates as of one date.

    Attributes:
        entries: one row per catalogue entry: the contract's columns (``effect`` pooled), then title,
            modality, naive (before/after change of the same participants), naive_low, naive_high, and
            ``POOLED_COLUMNS``.
        providers: one row per provider: provider, entries (with participants), participants, effect,
            ci_low, ci_high, reason, naive, naive_low, naive_high.
        modalities: the same per modality.
        checks: the overall rows (all participants; the placebo): check, participants, effect, ci_low,
            ci_high, naive, naive_low, naive_high.
        enrolments: the measured enrolments behind them (nip, training_id, year, through, cells, gain,
            naive, before, required).
        years: the enrolment years measured.
    """

    as_of: dt.date
    entries: pd.DataFrame
    providers: pd.DataFrame
    modalities: pd.DataFrame
    checks: pd.DataFrame
    enrolments: pd.DataFrame
    years: list[int]
    config: EffectConfig = field(default_factory=EffectConfig)

    def table(self) -> pd.DataFrame:
        """The contract's output: ``COLUMNS`` of every catalogue entry."""
        return self.entries[list(COLUMNS)].copy()

    def to_dict(self) -> dict[str, Any]:
        """The tables as JSON-ready records (missing values as None) and what they were made with; the
        measured enrolments stay out (they name people). What a trained model carries to serve."""
        out: dict[str, Any] = {"as_of": self.as_of.isoformat(), "years": list(self.years)}
        out["config"] = asdict(self.config)
        for name in _TABLES:
            frame = getattr(self, name)
            out[name] = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return out

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Effectiveness:
        """What :meth:`to_dict` returned (``enrolments`` is empty)."""
        tables = {name: pd.DataFrame.from_records(saved[name]) for name in _TABLES}
        return cls(
            as_of=dt.date.fromisoformat(saved["as_of"]),
            enrolments=_enrolments([]),
            years=[int(y) for y in saved["years"]],
            config=EffectConfig(**saved["config"]),
            **tables,
        )


_TABLES = ("entries", "providers", "modalities", "checks")


def without_bonus(spec: EvidenceSpec) -> EvidenceSpec:
    """The evidence model with the training bonus off: estimates from evidence alone."""
    return spec.model_copy(update={"trainings": spec.trainings.model_copy(update={"gain": 0.0})})


def measured_years(dataset: Dataset, as_of: dt.date) -> list[int]:
    """Enrolment years that can be measured: a year of evidence before them, complete by ``as_of``."""
    from rekomendasi.ranking.train import label_years  # the same rule as the ranker's labels

    return label_years(dataset, as_of)


def level_snapshots(
    dataset: Dataset,
    spec: EvidenceSpec,
    years: list[int],
    progress: Callable[[str], None] | None = None,
    built: dict[int, Snapshot] | None = None,
) -> dict[int, Snapshot]:
    """Snapshots without the training bonus at the end of each of ``years`` and of the year before.

    Args:
        built: such snapshots already built (by year); only the missing ones are built.
    """
    out = dict(built or {})
    plain = without_bonus(spec)
    for year in [years[0] - 1, *years] if years else []:
        if year not in out:
            if progress is not None:
                progress(f"levels at {year}-12-31")
            out[year] = build_snapshot(dataset, dt.date(year, 12, 31), plain, encoder=None)
    return out


def participant_gains(
    dataset: Dataset,
    snapshots: dict[int, Snapshot],
    years: list[int],
    horizon_years: int = 1,
    every_cut: bool = False,
) -> pd.DataFrame:
    """Measured enrolments of ``years`` as known at the end of the last of them (the *cut*).

    An enrolment of year y is measured from the end of y-1 to ``horizon_years`` after y, compared with
    people who enrolled on the same competency later, up to the cut (chosen by the same policy, not yet
    trained): the window ends a year before the cut so that such people exist. Enrolments of the cut's
    own year have no later enrolments to compare with; they are measured over their year against
    everyone else (matched). Chosen on the development worlds (``rekomendasi bench effectiveness``):
    against everyone else, the policy's choice of people biased the estimates (a placebo of -0.03
    levels) and they ranked entries worse.

    Args:
        every_cut: the same for every earlier cut too (each of ``years``; column ``cut``): the
            ranker's input of label year Y uses what was known at the end of Y-1 (:mod:`.feature`).
    """
    cuts = sorted(years) if every_cut else [max(years)]
    parts = []
    for cut in cuts:
        for y in (y for y in years if y <= cut):
            if y < cut:
                end, later = min(y + horizon_years, cut - 1), cut
            else:
                end, later = y, None
            cells = window_cells(dataset, snapshots[y - 1], snapshots[end], y, (y, end), later)
            parts.append(cells.assign(cut=cut))
    return _enrolments(parts)


def final_windows(gains: pd.DataFrame) -> pd.DataFrame:
    """The rows of the last cut (of :func:`participant_gains` with ``every_cut``)."""
    if gains.empty:
        return gains
    return gains[gains["cut"] == gains["cut"].max()].reset_index(drop=True)


def placebo_gains(dataset: Dataset, snapshots: dict[int, Snapshot], years: list[int]) -> pd.DataFrame:
    """The next year's participants, measured over each year before they trained (years but the last),
    against the same comparison as :func:`participant_gains` (later enrolments where there are any)."""
    last = max(years)
    parts = [
        window_cells(
            dataset, snapshots[y - 1], snapshots[y], y + 1, (y, y), last if y + 1 < last else None
        ).assign(cut=last)
        for y in years[:-1]
    ]
    return _enrolments(parts)


def _enrolments(parts: list[pd.DataFrame]) -> pd.DataFrame:
    cells = [p for p in parts if len(p)]
    if not cells:
        columns = [
            "nip",
            "training_id",
            "year",
            "through",
            "cut",
            "cells",
            "gain",
            "naive",
            "before",
            "required",
        ]
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    return enrolment_gains(pd.concat(cells, ignore_index=True)).frame


def estimate_effectiveness(
    dataset: Dataset,
    spec: EvidenceSpec,
    as_of: dt.date,
    config: EffectConfig | None = None,
    progress: Callable[[str], None] | None = None,
    snapshots: dict[int, Snapshot] | None = None,
    gains: pd.DataFrame | None = None,
) -> Effectiveness:
    """Every catalogue entry's effect, and its providers' and modalities', from enrolments up to ``as_of``.

    Args:
        snapshots: bonus-free snapshots already built (:func:`level_snapshots`), by year.
        gains: :func:`participant_gains` of these snapshots and ``config.horizon_years`` already
            measured (with ``every_cut`` or not); measured here when None.
    """
    config = config or EffectConfig()
    years = measured_years(dataset, as_of)
    snapshots = level_snapshots(dataset, spec, years, progress, snapshots) if years else {}
    if progress is not None:
        progress("participants and matched controls")
    if gains is None:
        gains = (
            participant_gains(dataset, snapshots, years, config.horizon_years) if years else _enrolments([])
        )
    gains = final_windows(gains)
    placebo = placebo_gains(dataset, snapshots, years) if len(years) > 1 else _enrolments([])
    if progress is not None:
        progress("estimates and bootstrap intervals")
    return summarise_effectiveness(dataset, gains, placebo, as_of, years, config)


def summarise_effectiveness(
    dataset: Dataset,
    gains: pd.DataFrame,
    placebo: pd.DataFrame,
    as_of: dt.date,
    years: list[int],
    config: EffectConfig,
) -> Effectiveness:
    """The estimates from measured enrolments (:func:`participant_gains`, :func:`placebo_gains`)."""
    catalog = dataset["catalog"][[Catalog.training_id, Catalog.title, Catalog.provider, Catalog.modality]]
    gains = gains.merge(catalog, on=TrainingHistory.training_id, how="left")
    rng = np.random.default_rng(config.seed)
    links = dataset["catalog_competencies"]
    attributes = dataset["catalog"][[Catalog.training_id, Catalog.modality, Catalog.jp]].assign(
        n_targets=lambda f: f[Catalog.training_id].map(links.groupby(CatalogCompetencies.training_id).size())
    )
    per_entry = summarise(gains, "training_id", config, rng)
    pooled = pooled_entries(gains, attributes, config.resamples, config.confidence, rng)
    entries = catalog.merge(_with_pooled(per_entry, pooled), on=Catalog.training_id, how="left")
    entries = _fill_empty(entries, config, years, as_of)
    providers = summarise(
        gains.assign(provider=gains[Catalog.provider].fillna("(none)")), "provider", config, rng
    )
    modalities = summarise(gains, "modality", config, rng)
    checks = pd.concat(
        [
            summarise(gains.assign(check="participants"), "check", config, rng),
            summarise(placebo.assign(check="placebo"), "check", config, rng),
        ],
        ignore_index=True,
    )
    order = [*COLUMNS, "title", "modality", "naive", "naive_low", "naive_high"]
    order += [c for c in POOLED_COLUMNS if c in entries.columns]
    return Effectiveness(
        as_of=as_of,
        entries=entries[order],
        providers=providers,
        modalities=modalities,
        checks=checks,
        enrolments=gains,
        years=years,
        config=config,
    )


def summarise(
    gains: pd.DataFrame,
    by: str,
    config: EffectConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Per value of ``by``: participants, mean gain and naive change with bootstrap intervals, or the
    reason there is no number."""
    rows = []
    tail = (1.0 - config.confidence) / 2.0
    for key, group in gains.groupby(by, sort=True) if len(gains) else []:
        n = len(group)
        row: dict[str, object] = {by: key, "participants": n}
        if by != "training_id":
            row["entries"] = group["training_id"].nunique() if "training_id" in group else 0
        if n < config.min_participants:
            row["reason"] = _too_few(n, config)
            rows.append(row)
            continue
        draws = rng.integers(0, n, size=(config.resamples, n))
        for name, values in (("effect", group["gain"]), ("naive", group["naive"])):
            v = values.to_numpy(dtype=float)
            means = v[draws].mean(axis=1)
            low, high = np.quantile(means, [tail, 1.0 - tail])
            prefix = "ci" if name == "effect" else "naive"
            row[name], row[f"{prefix}_low"], row[f"{prefix}_high"] = float(v.mean()), float(low), float(high)
        row["reason"] = None
        rows.append(row)
    columns = [
        by,
        "participants",
        "effect",
        "ci_low",
        "ci_high",
        "reason",
        "naive",
        "naive_low",
        "naive_high",
    ]
    if by != "training_id":
        columns.insert(1, "entries")
    frame = pd.DataFrame(rows, columns=columns)
    frame["participants"] = frame["participants"].fillna(0).astype(int)
    return frame


def _with_pooled(raw: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """Entries' rows with the pooled effect and interval where they have a number (:mod:`.pooling`), the
    raw ones kept as ``raw_effect``, ``raw_low``, ``raw_high``."""
    out = raw.rename(columns={"effect": "raw_effect", "ci_low": "raw_low", "ci_high": "raw_high"})
    out = out.merge(pooled, on="training_id", how="left")
    numbered = out["raw_effect"].notna()
    for column in ("effect", "ci_low", "ci_high", "own_weight", "kind_effect"):
        out[column] = out[column].where(numbered)
    return out


def _too_few(n: int, config: EffectConfig) -> str:
    return f"too few participants: {n} measured, {config.min_participants} needed"


def _fill_empty(
    entries: pd.DataFrame, config: EffectConfig, years: list[int], as_of: dt.date
) -> pd.DataFrame:
    """Entries nobody was measured in: 0 participants and the reason (a history too short to measure
    any enrolment year says so rather than "too few")."""
    entries = entries.copy()
    missing = entries["participants"].isna()
    entries["participants"] = entries["participants"].fillna(0).astype(int)
    reason = (
        _too_few(0, config)
        if years
        else f"history too short: no enrolment year can be measured as of {as_of}"
    )
    entries.loc[missing, "reason"] = reason
    return entries
