"""The champion as every scorer uses it: the registry's ``champion`` alias, loaded by the version it
points to, and refused when it was trained on other pair features than this release computes."""

from __future__ import annotations

from dataclasses import dataclass

from rekomendasi.errors import ModelNotReady
from rekomendasi.ranking.pairs import FEATURES
from rekomendasi.recommend.core import Ranker
from rekomendasi.registry import ModelRegistry, ModelVersion


@dataclass(frozen=True)
class Champion:
    """The model and the exact registered version it was loaded from."""

    model: Ranker
    version: ModelVersion


def load_champion(registry: ModelRegistry) -> Champion:
    """The registry's champion, loaded by version (an alias moved meanwhile cannot mix two versions).

    Raises:
        ModelNotReady: no champion, or one trained on other pair features than this release computes
            (each message says what to run).
    """
    version = registry.alias_version("champion")
    if version is None:
        raise ModelNotReady("no champion model yet; run `rekomendasi train --data DIR` first.")
    model = registry.load_version(version.version)
    if list(getattr(model, "feature_names_in_", [])) != list(FEATURES):
        raise ModelNotReady(
            f"champion v{version.version} was trained on other pair features than this release "
            "computes; run `rekomendasi train` to train one for it."
        )
    return Champion(model, version)
