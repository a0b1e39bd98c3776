"""The simulator's Indonesian text: competency framework and phrase lexicon (package data)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

_KINDS = ("activities", "indicators", "praise", "critique", "course_topics", "course_titles")


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Phrases per competency id and kind, plus competency-free fillers."""

    phrases: dict[str, dict[str, tuple[str, ...]]]
    activity_suffixes: tuple[str, ...]
    feedback_openers: tuple[str, ...]
    course_templates: tuple[str, ...]
    noise_activities: tuple[str, ...]

    def get(self, competency_id: str, kind: str) -> tuple[str, ...]:
        """Phrases of ``kind`` for ``competency_id``."""
        return self.phrases[competency_id][kind]


def _load_yaml(name: str) -> Any:
    text = resources.files("rekomendasi.simulate").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def world_spec() -> dict[str, Any]:
    """The competency framework and job families of the simulated world (``data/world.yaml``)."""
    return dict(_load_yaml("world.yaml"))


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The Indonesian phrase lexicon (``data/lexicon.yaml``)."""
    raw = _load_yaml("lexicon.yaml")
    phrases = {
        cid: {kind: tuple(str(p) for p in entry[kind]) for kind in _KINDS}
        for cid, entry in raw["competencies"].items()
    }
    fillers = raw["fillers"]
    return Lexicon(
        phrases=phrases,
        activity_suffixes=tuple(fillers["activity_suffixes"]),
        feedback_openers=tuple(fillers["feedback_openers"]),
        course_templates=tuple(fillers["course_description_templates"]),
        noise_activities=tuple(fillers["noise_activities"]),
    )
