"""Vectorised sampling of Indonesian phrases from the lexicon, keyed by competency index.

Generated text repeats a few thousand distinct strings millions of times, so a text column is held as
:class:`Texts`, integer codes into a vocabulary, and becomes a categorical column (decoded only as it
is written): a million-employee world keeps its tens of millions of texts at four bytes a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rekomendasi.simulate.lexicon import lexicon
from rekomendasi.simulate.sampling import weighted_columns


@dataclass(frozen=True, slots=True)
class Texts:
    """A text column: row i reads ``vocabulary[codes[i]]``, or is missing where ``codes[i]`` is -1.

    Attributes:
        codes: int32 [rows] positions in ``vocabulary``, -1 for a missing cell.
        vocabulary: object [strings]; may hold duplicates (they merge in :meth:`categorical`).
    """

    codes: np.ndarray
    vocabulary: np.ndarray

    def where(self, mask: np.ndarray, other: Texts) -> Texts:
        """This text where ``mask`` is True, ``other``'s elsewhere (row-aligned)."""
        shifted = np.where(other.codes >= 0, other.codes + len(self.vocabulary), -1)
        return Texts(
            np.where(mask, self.codes, shifted).astype(np.int32),
            np.concatenate([self.vocabulary, other.vocabulary]),
        )

    def present(self, mask: np.ndarray) -> Texts:
        """The same text where ``mask`` is True and a missing cell elsewhere."""
        return Texts(np.where(mask, self.codes, -1).astype(np.int32), self.vocabulary)

    def strings(self) -> np.ndarray:
        """Object array of the texts, None where missing (for small columns and tests)."""
        return where_present(self.codes >= 0, self.vocabulary[np.maximum(self.codes, 0)])

    def categorical(self) -> pd.Categorical:
        """The column as a categorical over the distinct strings of the vocabulary (sorted)."""
        distinct, inverse = np.unique(self.vocabulary.astype(str), return_inverse=True)
        codes = np.where(self.codes >= 0, inverse.astype(np.int32)[np.maximum(self.codes, 0)], -1)
        return pd.Categorical.from_codes(codes, categories=pd.Index(distinct.astype(object), dtype=str))

    @staticmethod
    def concat(parts: Sequence[Texts]) -> Texts:
        """Rows of ``parts`` one after the other."""
        offsets = np.cumsum([0, *(len(p.vocabulary) for p in parts)])
        codes = [np.where(p.codes >= 0, p.codes + off, -1) for p, off in zip(parts, offsets, strict=False)]
        return Texts(
            np.concatenate([np.zeros(0, np.int32), *codes]).astype(np.int32),
            np.concatenate([np.zeros(0, dtype=object), *(p.vocabulary for p in parts)]),
        )

    @staticmethod
    def of(values: Sequence[str], codes: np.ndarray) -> Texts:
        """Row i reads ``values[codes[i]]``."""
        return Texts(np.asarray(codes).astype(np.int32), np.array(values, dtype=object))


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

    def draw(self, comp: np.ndarray, rng: np.random.Generator) -> Texts:
        """One phrase per row for the competency indices in ``comp``."""
        pick = self.offset[comp] + (rng.random(len(comp)) * self.count[comp]).astype(np.int64)
        return Texts(pick.astype(np.int32), self.phrases)


def decorate(
    base: Texts, extras: tuple[str, ...], share: float, rng: np.random.Generator, *, prefix: bool
) -> Texts:
    """Add a generic filler before (``prefix``, lower-casing the phrase's first letter) or after each
    phrase for a ``share`` of rows."""
    if not len(base.codes):
        return base
    use = rng.random(len(base.codes)) < share
    filler = rng.integers(0, len(extras), len(base.codes))
    # Vocabulary of every (phrase, filler or none) pair: phrase v with filler f is v * width + 1 + f.
    width = len(extras) + 1
    vocabulary = []
    for phrase in base.vocabulary:
        vocabulary.append(phrase)
        lowered = phrase[:1].lower() + phrase[1:]
        vocabulary.extend(f"{extra} {lowered}" if prefix else f"{phrase} {extra}" for extra in extras)
    codes = base.codes.astype(np.int64) * width + np.where(use, 1 + filler, 0)
    return Texts(np.where(base.codes >= 0, codes, -1).astype(np.int32), np.array(vocabulary, dtype=object))


def where_present(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Object array holding ``values`` where ``mask`` is True and None (a missing cell) elsewhere."""
    out = np.asarray(values, dtype=object).copy()
    out[~np.asarray(mask, dtype=bool)] = None
    return out


def off_topic(
    comp: np.ndarray, emp: np.ndarray, allowed: np.ndarray, share: float, rng: np.random.Generator
) -> np.ndarray:
    """The competency each text row is written about: ``comp``, except for a ``share`` of rows written
    about a random competency of the employee's standard (``allowed[emp]``), whatever the row's rating
    or indicator measures. A share of 0 returns ``comp`` itself and draws nothing."""
    if share <= 0 or not len(comp):
        return comp
    swap = rng.random(len(comp)) < share
    return np.where(swap, weighted_columns(allowed, emp, rng.random(len(comp))), comp)
