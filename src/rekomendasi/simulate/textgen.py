"""Vectorised sampling of Indonesian phrases from the lexicon, keyed by competency index."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.simulate.lexicon import lexicon


class PhrasePool:
    """All phrases of one kind, flattened, so a phrase can be drawn per row with one numpy gather."""

    def __init__(self, competency_ids: list[str], kind: str) -> None:
        lex = lexicon()
        phrases: list[str] = []
        self.offset = np.zeros(len(competency_ids), dtype=np.int64)
        self.count = np.zeros(len(competency_ids), dtype=np.int64)
        for i, cid in enumerate(competency_ids):
            items = lex.get(cid, kind)
            self.offset[i] = len(phrases)
            self.count[i] = len(items)
            phrases.extend(items)
        self.phrases = np.array(phrases, dtype=object)

    def draw(self, comp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One phrase per row for the competency indices in ``comp``."""
        pick = self.offset[comp] + (rng.random(len(comp)) * self.count[comp]).astype(np.int64)
        return self.phrases[pick]


def decorate(
    base: np.ndarray, extras: tuple[str, ...], share: float, rng: np.random.Generator, *, prefix: bool
) -> np.ndarray:
    """Add a generic filler before (``prefix``) or after each phrase for a ``share`` of rows."""
    if not len(base):
        return base
    use = rng.random(len(base)) < share
    filler = np.array(extras, dtype=object)[rng.integers(0, len(extras), len(base))]
    if prefix:
        text = pd.Series(base, dtype=object)
        lowered = (text.str[:1].str.lower() + text.str[1:]).to_numpy(dtype=object)
        return np.where(use, filler + " " + lowered, base)
    return np.where(use, base + " " + filler, base)


def where_present(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Object array holding ``values`` where ``mask`` is True and None (a missing cell) elsewhere."""
    out = np.asarray(values, dtype=object).copy()
    out[~np.asarray(mask, dtype=bool)] = None
    return out
