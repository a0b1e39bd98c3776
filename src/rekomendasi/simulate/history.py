"""Training history: an imperfect assignment policy and outcomes that depend on the true fit.

The policy mixes mandatory programmes, popularity, supervisors' noisy view of gaps (blind to whether a
course's level suits the person) and chance; the world's assumptions set their weights and may add the
true fit and the true quality of a course. Outcomes follow :mod:`dynamics`, so completed courses that
fit raise true levels, and later evidence moves with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import JENIS_JABATAN
from rekomendasi.contract.schemas import Catalog, Employees, Positions, TrainingHistory, jenis_eligibility
from rekomendasi.simulate import dynamics
from rekomendasi.simulate.assumptions import Assumptions
from rekomendasi.simulate.catalog import effect_z
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.people import People
from rekomendasi.simulate.world import World

_DURATION_DAYS = {
    "klasikal": (5, 20),
    "e_learning": (7, 60),
    "blended": (20, 60),
    "coaching": (30, 90),
    "mentoring": (30, 120),
    "magang": (20, 60),
    "seminar": (1, 2),
    "workshop": (2, 5),
    "belajar_mandiri": (14, 90),
    "detasering": (30, 90),
    "benchmarking": (3, 10),
}
POLICY_BLOCK_ROWS = 16_384  # employees per block of the [employee, entry] policy matrices
_MANDATORY_FOR_JENIS = {
    "pengawas": "new_pengawas",
    "administrator": "new_administrator",
    "jpt_pratama": "new_jpt_pratama",
    "jpt_madya": "new_jpt_madya",
}


@dataclass(frozen=True)
class History:
    """The simulated training history and the level trajectories it produced.

    Attributes:
        training: contract columns of ``training_history`` plus emp and entry (row indices).
        gains: realised level gains: emp, comp, date (effective from), gain.
        start_levels: level matrix at 1 January of each history year (unclipped); empty unless kept.
        final_levels: true levels at the as-of date, clipped to [1, 5].
        completed: [employee, entry] True where the entry was completed by the as-of date.
    """

    training: pd.DataFrame
    gains: pd.DataFrame
    start_levels: dict[int, np.ndarray]
    final_levels: np.ndarray
    completed: np.ndarray


def simulate_history(
    config: SimConfig, world: World, people: People, *, keep_start_levels: bool = True
) -> History:
    """Run the assignment policy year by year and apply each outcome to the true levels.

    Args:
        config: the world's parameters.
        world: its static structure.
        people: its employees.
        keep_start_levels: record the level matrix at the start of each year (``History.start_levels``,
            for analysis; a GB at a million staff); without it ``start_levels`` is empty.
    """
    rng = config.rng("history")
    a = config.assumptions
    frame = people.frame
    n, n_comp = people.level0.shape
    catalog = world.catalog
    n_entries = len(catalog)
    as_of = pd.Timestamp(config.as_of)
    required = world.required[frame["pos_idx"].to_numpy()]
    positions = world.positions
    jenis_idx = (
        frame[Employees.position_id]
        .map(dict(zip(positions[Positions.position_id], positions[Positions.jenis_jabatan], strict=True)))
        .map({j: i for i, j in enumerate(JENIS_JABATAN)})
        .to_numpy(dtype=np.int64)
    )
    eligible_jenis = jenis_eligibility(catalog[Catalog.eligible_jenis_jabatan])
    mandatory = catalog[Catalog.mandatory_for].notna().to_numpy()
    province_ok = _province_mask(catalog, frame, rng)
    popularity = np.log(catalog["popularity"].to_numpy())
    ability = frame["ability"].to_numpy()
    entry_dates = frame[Employees.entry_date].to_numpy()
    perception_error = rng.normal(0.0, a.policy_perception_noise, (n, n_comp)).astype(np.float32)
    in_standard = required > 0

    completed = np.zeros((n, n_entries), dtype=bool)
    levels = people.level0.astype(np.float64).copy()
    start_levels: dict[int, np.ndarray] = {}
    enrolments: list[pd.DataFrame] = []
    gain_rows: list[pd.DataFrame] = []
    mandatory_events = _mandatory_events(config, world, people, rng)
    before_window = mandatory_events[
        mandatory_events[TrainingHistory.enrolled_on] < pd.Timestamp(config.start)
    ]
    enrolments.append(
        _outcomes(before_window, world, levels, required, ability, rng, as_of, a, apply=False)[0]
    )
    _mark_completed(completed, enrolments[-1])

    for year in config.history_years:
        if keep_start_levels:
            start_levels[year] = levels.copy()
        year_start, year_end = pd.Timestamp(year, 1, 1), min(pd.Timestamp(year, 12, 31), as_of)
        # Regular trainings chosen by the imperfect policy, a block of employees at a time (the
        # [employee, entry] matrices of a million staff would not fit); the Gumbel noise is drawn block
        # after block from one stream, so the draws are those of one [employee, entry] draw.
        open_entries = ~mandatory & _catalog_open(catalog, year, config)
        entered = entry_dates <= year_end.to_datetime64()
        top = np.zeros((n, 4), dtype=np.int64)
        finite = np.zeros((n, 4), dtype=bool)
        for low in range(0, n, POLICY_BLOCK_ROWS):
            rows = slice(low, min(low + POLICY_BLOCK_ROWS, n))
            available = (
                eligible_jenis[jenis_idx[rows]]
                & province_ok[rows]
                & ~completed[rows]
                & open_entries[None, :]
                & entered[rows, None]
            )
            top[rows], finite[rows] = _policy_top4(
                world, levels[rows], required[rows], perception_error[rows], available, popularity, rng, a
            )
        scale = a.trainings_per_year / 1.3  # exactly 1 by default
        lam = np.where(frame[Employees.status].to_numpy() == "pppk", 0.8 * scale, 1.3 * scale)
        count = np.minimum(rng.poisson(lam), 4)
        rank = np.arange(4)[None, :]
        chosen = (rank < count[:, None]) & finite
        emp_idx = np.repeat(np.arange(n)[:, None], 4, axis=1)[chosen]
        entry_idx = top[chosen]
        launch = catalog["launched_on"].to_numpy()[entry_idx]
        earliest = np.maximum(np.maximum(year_start.to_datetime64(), launch), entry_dates[emp_idx])
        span = np.maximum((year_end.to_datetime64() - earliest).astype("timedelta64[D]").astype(int), 0)
        enrolled = earliest + (rng.random(len(emp_idx)) * (span + 1)).astype("timedelta64[D]")
        regular = pd.DataFrame({"emp": emp_idx, "entry": entry_idx, TrainingHistory.enrolled_on: enrolled})
        in_year = mandatory_events[
            (mandatory_events[TrainingHistory.enrolled_on] >= year_start)
            & (mandatory_events[TrainingHistory.enrolled_on] <= year_end)
        ]
        events = pd.concat([in_year, regular], ignore_index=True)
        done, gains = _outcomes(events, world, levels, required, ability, rng, as_of, a, apply=True)
        enrolments.append(done)
        _mark_completed(completed, done)
        gain_rows.append(gains)
        # Levels at the start of next year: drift plus gains effective this year.
        levels += dynamics.YEARLY_DRIFT * in_standard
        if len(gains):
            np.add.at(levels, (gains["emp"].to_numpy(), gains["comp"].to_numpy()), gains["gain"].to_numpy())

    training = pd.concat(enrolments, ignore_index=True)
    training = training.sort_values(["emp", TrainingHistory.enrolled_on, "entry"], kind="stable").reset_index(
        drop=True
    )
    training = training.drop_duplicates(["emp", "entry", TrainingHistory.enrolled_on])
    gains = (
        pd.concat(gain_rows, ignore_index=True)
        if gain_rows
        else pd.DataFrame(columns=["emp", "entry", "comp", "date", "gain"])
    )
    # Drift is applied per whole year above; the as-of day closes the last year.
    return History(
        training=training,
        gains=gains,
        start_levels=start_levels,
        final_levels=np.clip(levels, 1.0, 5.0).astype(np.float32),
        completed=completed,
    )


def _province_mask(catalog: pd.DataFrame, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Classroom courses held in one province admit that province's staff and a few travellers."""
    held = catalog[Catalog.province]
    codes, _ = pd.factorize(pd.concat([frame[Employees.province], held], ignore_index=True))
    local, where_held = codes[: len(frame)], np.where(held.isna().to_numpy(), -2, codes[len(frame) :])
    anywhere = held.isna().to_numpy()[None, :]
    out = np.zeros((len(frame), len(catalog)), dtype=bool)
    for low in range(0, len(frame), POLICY_BLOCK_ROWS):  # the draws of one [employee, entry] draw
        rows = slice(low, min(low + POLICY_BLOCK_ROWS, len(frame)))
        travel = rng.random((rows.stop - low, len(catalog))) < 0.15
        out[rows] = anywhere | (local[rows, None] == where_held[None, :]) | travel
    return out


def _policy_top4(
    world: World,
    levels: np.ndarray,
    required: np.ndarray,
    perception_error: np.ndarray,
    available: np.ndarray,
    popularity: np.ndarray,
    rng: np.random.Generator,
    assumptions: Assumptions,
) -> tuple[np.ndarray, np.ndarray]:
    """For a block of employees: the policy's four best entries (by popularity, supervisors' noisy view
    of the gaps, the true fit and quality when the assumptions weigh them, and Gumbel chance; ties to the
    earlier entry) and whether each was available at all."""
    a = assumptions
    perceived_gap = np.maximum(required - levels + perception_error, 0.0)
    in_standard = required > 0
    relevance = np.zeros(available.shape, dtype=np.float32)
    for k in range(world.targets.shape[1]):
        comp = world.targets[:, k]
        valid = comp >= 0
        safe = np.where(valid, comp, 0)
        relevance += np.where(valid[None, :], perceived_gap[:, safe] + 0.8 * in_standard[:, safe], 0.0)
    gumbel = rng.gumbel(0.0, 1.0, available.shape).astype(np.float32)
    informed = a.policy_popularity * popularity[None, :] + a.policy_gap * relevance
    if a.policy_fit:
        informed = informed + a.policy_fit * _mean_match(world, levels, a)
    if a.policy_quality:
        informed = informed + a.policy_quality * effect_z(world.catalog)[None, :]
    score = np.where(
        available,
        (informed + a.policy_temperature * gumbel).astype(np.float32),
        np.float32(-np.inf),
    )
    top = _top(score, 4)
    return top, np.isfinite(np.take_along_axis(score, top, axis=1))


def _mean_match(world: World, levels: np.ndarray, assumptions: Assumptions) -> np.ndarray:
    """[employee, entry] true level match of a block of employees, averaged over each entry's targets."""
    total = np.zeros((len(levels), len(world.targets)), dtype=np.float32)
    count = np.maximum((world.targets >= 0).sum(axis=1), 1)
    for k in range(world.targets.shape[1]):
        comp = world.targets[:, k]
        valid = comp >= 0
        target = world.target_levels[:, k].astype(np.float64)
        match = dynamics.level_match(levels[:, np.where(valid, comp, 0)], target[None, :], assumptions)
        total += np.where(valid[None, :], match, 0.0).astype(np.float32)
    return total / count[None, :]


def _top(score: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` highest scores of each row, best first, ties to the lower column: the first
    ``k`` of a stable descending argsort, found by partition (a full sort per row is the slow part)."""
    neg = -score
    kth = np.partition(neg, k - 1, axis=1)[:, k - 1 : k]
    below = neg < kth
    tied = neg == kth
    take = below | (tied & (np.cumsum(tied, axis=1) <= k - below.sum(axis=1, keepdims=True)))
    columns = np.nonzero(take)[1].reshape(len(score), k)
    order = np.argsort(np.take_along_axis(neg, columns, axis=1), axis=1, kind="stable")
    return np.take_along_axis(columns, order, axis=1)


def _catalog_open(catalog: pd.DataFrame, year: int, config: SimConfig) -> np.ndarray:
    """Entries that took enrolments in ``year``: retired ones closed before the last year."""
    launched = catalog["launched_on"].dt.year.to_numpy() <= year
    retired_open = catalog[Catalog.active].to_numpy() | (year < config.as_of.year)
    return launched & retired_open


def _mandatory_events(
    config: SimConfig, world: World, people: People, rng: np.random.Generator
) -> pd.DataFrame:
    """Latsar after entry for PNS; PKP/PKA/PKN after taking a structural post. Some are not yet done."""
    frame = people.frame
    catalog = world.catalog
    entry_of = {
        cond: int(np.flatnonzero(catalog[Catalog.mandatory_for].to_numpy() == cond)[0])
        for cond in ("cpns", "new_pengawas", "new_administrator", "new_jpt_pratama", "new_jpt_madya")
    }
    pns = frame[Employees.status].to_numpy() == "pns"
    latsar_on = frame[Employees.entry_date] + pd.to_timedelta(rng.integers(90, 420, len(frame)), unit="D")
    rows = [
        pd.DataFrame(
            {
                "emp": np.flatnonzero(pns),
                "entry": entry_of["cpns"],
                TrainingHistory.enrolled_on: latsar_on[pns].to_numpy(),
            }
        )
    ]
    for jenis, cond in _MANDATORY_FOR_JENIS.items():
        holders = np.flatnonzero(frame["jenis"].to_numpy() == jenis)
        start = frame["position_since"].to_numpy()[holders] + (rng.integers(30, 540, len(holders))).astype(
            "timedelta64[D]"
        )
        rows.append(
            pd.DataFrame({"emp": holders, "entry": entry_of[cond], TrainingHistory.enrolled_on: start})
        )
    events = pd.concat(rows, ignore_index=True)
    events[TrainingHistory.enrolled_on] = pd.to_datetime(events[TrainingHistory.enrolled_on]).dt.normalize()
    return events[events[TrainingHistory.enrolled_on] <= pd.Timestamp(config.as_of)].reset_index(drop=True)


def _outcomes(
    events: pd.DataFrame,
    world: World,
    levels: np.ndarray,
    required: np.ndarray,
    ability: np.ndarray,
    rng: np.random.Generator,
    as_of: pd.Timestamp,
    assumptions: Assumptions,
    *,
    apply: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Completion, score, satisfaction and realised gains of each enrolment."""
    a = assumptions
    catalog = world.catalog
    m = len(events)
    emp = events["emp"].to_numpy(dtype=np.int64)
    entry = events["entry"].to_numpy(dtype=np.int64)
    comp = world.targets[entry]
    valid = comp >= 0
    safe = np.where(valid, comp, 0)
    level = levels[emp[:, None], safe]
    target = world.target_levels[entry].astype(np.float64)
    effect = catalog["effect"].to_numpy()[entry]
    fit = dynamics.level_match(level, target, a)
    gain = dynamics.expected_gain(level, target, valid, effect, fit, a)
    match = np.where(valid, fit, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    p_complete = dynamics.completion_probability(match, ability[emp], a)
    completes = rng.random(m) < p_complete
    score = np.clip(
        60
        + 14 * match
        + 10 * ability[emp]
        + 5 * (np.where(valid, level - target + 1, 0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1))
        + rng.normal(0, 7, m),
        0,
        100,
    )
    fails = ~completes & (rng.random(m) < 0.4)
    modality = catalog[Catalog.modality].to_numpy()
    lo = np.array([_DURATION_DAYS[mod][0] for mod in modality], dtype=np.int64)[entry]
    hi = np.array([_DURATION_DAYS[mod][1] for mod in modality], dtype=np.int64)[entry]
    duration = (lo + rng.random(m) * (hi - lo + 1)).astype(int) if m else np.zeros(0, int)
    jp = catalog[Catalog.jp].to_numpy()[entry]
    duration = np.where(
        catalog[Catalog.mandatory_for].notna().to_numpy()[entry], np.maximum(duration, jp // 6), duration
    )
    enrolled_on = pd.to_datetime(events[TrainingHistory.enrolled_on]).to_numpy()
    end = enrolled_on + duration.astype("timedelta64[D]")
    ongoing = end > as_of.to_datetime64()
    status = np.where(
        ongoing, "enrolled", np.where(completes, "completed", np.where(fails, "failed", "dropped"))
    )
    visible = a.satisfaction_effect * effect_z(catalog)[entry] if a.satisfaction_effect else 0.0
    satisfaction = np.clip(np.round(2.6 + 1.8 * match + visible + rng.normal(0, 0.7, m)), 1, 5).astype(int)
    realised = (
        gain
        * rng.lognormal(0.0, a.gain_noise, (m, 1))
        * np.where(status == "completed", 1.0, np.where(status == "failed", 0.3, 0.0))[:, None]
    )
    finished = status != "enrolled"
    frame = pd.DataFrame(
        {
            "emp": emp,
            "entry": entry,
            TrainingHistory.enrolled_on: enrolled_on,
            TrainingHistory.completed_on: np.where(status == "completed", end, np.datetime64("NaT")),
            TrainingHistory.status: status,
            TrainingHistory.score: np.where(finished & (status != "dropped"), np.round(score, 1), np.nan),
            TrainingHistory.satisfaction: np.where(finished & (rng.random(m) < 0.8), satisfaction, -1),
            TrainingHistory.jp_earned: np.where(
                (status == "completed") & (rng.random(m) < 0.7), jp.astype(float), np.nan
            ),
        }
    )
    gains = pd.DataFrame()
    if apply:
        k_emp = np.repeat(emp[:, None], comp.shape[1], axis=1)
        effective = np.repeat(end[:, None], comp.shape[1], axis=1)
        keep = valid & (realised > 0) & np.repeat(finished[:, None], comp.shape[1], axis=1)
        k_entry = np.repeat(entry[:, None], comp.shape[1], axis=1)
        gains = pd.DataFrame(
            {
                "emp": k_emp[keep],
                "entry": k_entry[keep],
                "comp": comp[keep],
                "date": effective[keep],
                "gain": realised[keep],
            }
        )
    return frame, gains


def _mark_completed(completed: np.ndarray, frame: pd.DataFrame) -> None:
    done = frame[frame[TrainingHistory.status] == "completed"]
    completed[done["emp"].to_numpy(dtype=np.int64), done["entry"].to_numpy(dtype=np.int64)] = True
