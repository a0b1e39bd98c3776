"""What ``score`` and ``batch`` resolve before they call :mod:`rekomendasi.jobs.scores`: how many
candidates to rank and entries to keep, and a champion to rank with (checked before a long build)."""

from __future__ import annotations

from rekomendasi.jobs.inputs import ConfigFile, train_config
from rekomendasi.recommend import ScoreOptions
from rekomendasi.recommend.champion import load_champion
from rekomendasi.registry import ModelRegistry
from rekomendasi.settings import Settings


def score_options(settings: Settings, top_n: int | None = None) -> tuple[ScoreOptions, ConfigFile]:
    """Candidates per employee from the training config (the number the champion was trained to rank),
    ``top_n`` entries kept per employee (default ``REKOMENDASI_SCORES_TOP_N``), and the config's file.

    Raises:
        ConfigError: the training config is missing or invalid.
    """
    config, config_file = train_config(settings)
    options = ScoreOptions(candidates=config.candidates, top_n=top_n or settings.scores_top_n)
    return options, config_file


def require_champion(registry: ModelRegistry) -> None:
    """Fail at once, before a snapshot is built, when the registry has no champion to score with.

    Raises:
        ModelNotReady: there is no champion (with what to run).
    """
    if registry.alias_version("champion") is None:
        load_champion(registry)  # raises the one message scoring gives
