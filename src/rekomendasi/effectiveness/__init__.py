"""Course effectiveness (issue #16): which catalogue entries, providers and modalities close gaps, measured
from outcomes against comparable non-participants (:mod:`.panel`, :mod:`.estimate`)."""

from rekomendasi.effectiveness.estimate import (
    COLUMNS,
    EffectConfig,
    Effectiveness,
    estimate_effectiveness,
    level_snapshots,
    measured_years,
    participant_gains,
    without_bonus,
)

__all__ = [
    "COLUMNS",
    "EffectConfig",
    "Effectiveness",
    "estimate_effectiveness",
    "level_snapshots",
    "measured_years",
    "participant_gains",
    "without_bonus",
]
