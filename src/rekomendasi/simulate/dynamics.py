"""How training changes competency: the single model behind both the simulated outcomes and the
truth folder's expected benefit, so the oracle and the history agree on what "helped" means.

A catalogue entry is designed to bring a participant to ``target_level`` in each competency it targets.
It helps most a person about one level below the target; far below (cannot follow) or at/above the
target (nothing new) it helps little. A gain only counts fully while it closes a gap to the position's
required level.

How much fit matters (``match_width``, ``match_floor``) and how completion follows fit and ability are
knobs of :class:`~rekomendasi.simulate.assumptions.Assumptions`; every function takes them, so the
history and ``truth/benefit`` of one world always use the same ones.
"""

from __future__ import annotations

import numpy as np

from rekomendasi.simulate.assumptions import DEFAULT, Assumptions

MATCH_WIDTH = DEFAULT.match_width  # levels; the default spread of the level-match curve around (target - 1)
MAX_STEP = 1.2  # a single course raises a competency by at most this many levels
SURPLUS_CREDIT = 0.25  # value of a gain beyond the required level, per level
OFF_STANDARD_CREDIT = 0.1  # value of a gain in a competency the position does not require, per level
YEARLY_DRIFT = 0.05  # on-the-job learning, levels per year, in every required competency


def level_match(level: np.ndarray, target: np.ndarray, assumptions: Assumptions = DEFAULT) -> np.ndarray:
    """float in (0, 1]: how well a course aimed at ``target`` fits a person at ``level``."""
    return np.exp(-((level - (target - 1.0)) ** 2) / (2.0 * assumptions.match_width**2))


def expected_gain(
    level: np.ndarray,
    target: np.ndarray,
    valid: np.ndarray,
    effect: np.ndarray,
    match: np.ndarray | None = None,
    assumptions: Assumptions = DEFAULT,
) -> np.ndarray:
    """Expected level increase per targeted competency if the course is completed.

    Args:
        level: [m, k] current true level of each targeted competency.
        target: [m, k] the course's target level (0 where padding).
        valid: [m, k] True where the slot holds a targeted competency.
        effect: [m] latent effectiveness of the entry (modality x quality x JP dose).
        match: [m, k] ``level_match(level, target, assumptions)`` when the caller has it already.
        assumptions: the world's knobs (``match_width``, ``match_floor``).

    Returns:
        [m, k] expected gain in levels, 0 on padding; multi-competency courses split their effect.
    """
    n_targets = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    headroom = np.clip(target - level, 0.0, MAX_STEP)
    fit = level_match(level, target, assumptions) if match is None else match
    floor = assumptions.match_floor
    fit = floor + (1.0 - floor) * fit  # the default floor 0 leaves every bit of fit as it is
    gain = effect[:, None] * fit * headroom / np.sqrt(n_targets)
    return np.where(valid, gain, 0.0)


def gain_value(gain: np.ndarray, level: np.ndarray, required: np.ndarray) -> np.ndarray:
    """Value of a gain: the part that closes the gap to ``required`` counts fully, the rest a little."""
    gap = np.maximum(required - level, 0.0)
    closing = np.minimum(gain, gap)
    surplus = np.where(required > 0, SURPLUS_CREDIT, OFF_STANDARD_CREDIT) * (gain - closing)
    return closing + surplus


def completion_probability(
    mean_match: np.ndarray, ability: np.ndarray, assumptions: Assumptions = DEFAULT
) -> np.ndarray:
    """float in [0.05, 0.98]: a well-matched, able participant usually completes."""
    a = assumptions
    p = a.completion_base + a.completion_fit * mean_match + a.completion_ability * np.tanh(ability)
    return np.clip(p, 0.05, 0.98)


def pair_benefit(
    level: np.ndarray,
    required: np.ndarray,
    target: np.ndarray,
    valid: np.ndarray,
    effect: np.ndarray,
    ability: np.ndarray,
    assumptions: Assumptions = DEFAULT,
) -> np.ndarray:
    """Expected benefit of enrolling: P(complete) x value of the expected gains, summed over targets.

    All arguments are row-aligned ([m, k] or [m]); the result is [m], in levels of competency gap closed.
    The gain is taken at the median of its noise factor (1), as the history draws it.
    """
    fit = level_match(level, target, assumptions)
    gain = expected_gain(level, target, valid, effect, fit, assumptions)
    value = np.where(valid, gain_value(gain, level, required), 0.0).sum(axis=1)
    match = np.where(valid, fit, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    return completion_probability(match, ability, assumptions) * value
