"""Texts held as codes read exactly as the strings the simulator used to build row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rekomendasi.simulate.textgen import PhrasePool, Texts, decorate

EXTRAS = ("Alhamdulillah,", "Secara umum,", "dst.")


def _decorate_strings(
    base: np.ndarray, extras: tuple[str, ...], share: float, rng: np.random.Generator, *, prefix: bool
) -> np.ndarray:
    """The simulator's former decorate, over object arrays of strings (the reference)."""
    if not len(base):
        return base
    use = rng.random(len(base)) < share
    filler = np.array(extras, dtype=object)[rng.integers(0, len(extras), len(base))]
    if prefix:
        text = pd.Series(base, dtype=object)
        lowered = (text.str[:1].str.lower() + text.str[1:]).to_numpy(dtype=object)
        return np.where(use, filler + " " + lowered, base)
    return np.where(use, base + " " + filler, base)


@pytest.mark.parametrize("prefix", [True, False])
def test_decorate_reads_as_the_string_version_and_draws_the_same(prefix: bool) -> None:
    base = Texts.of(
        ["Rapat koordinasi", "Menyusun laporan", "rapat koordinasi", "É"], [0, 1, 2, 3, 0, 1, 3, 2] * 50
    )
    ours, theirs = np.random.default_rng(8), np.random.default_rng(8)
    decorated = decorate(base, EXTRAS, 0.4, ours, prefix=prefix)
    expected = _decorate_strings(base.strings(), EXTRAS, 0.4, theirs, prefix=prefix)
    assert list(decorated.strings()) == list(expected)
    assert ours.random() == theirs.random(), "the same draws, so later columns are unchanged"
    assert len(set(expected)) > 8


def test_decorating_nothing_draws_nothing() -> None:
    rng = np.random.default_rng(1)
    empty = Texts.of(["a"], np.zeros(0, int))
    assert decorate(empty, EXTRAS, 0.5, rng, prefix=True) is empty
    assert rng.random() == np.random.default_rng(1).random()


def test_where_present_concat_and_categorical() -> None:
    praise = Texts.of(["bagus", "teliti"], [0, 1, 1, 0])
    critique = Texts.of(["lambat", "bagus"], [1, 0, 0, 1])  # "bagus" in both vocabularies
    mixed = praise.where(np.array([True, False, True, False]), critique).present(np.array([1, 1, 1, 0], bool))
    assert list(mixed.strings()) == ["bagus", "lambat", "teliti", None]
    both = Texts.concat([mixed, Texts.of(["baru"], [0, 0])])
    column = both.categorical()
    assert list(column.astype(object)) == ["bagus", "lambat", "teliti", np.nan, "baru", "baru"]
    assert list(column.categories) == sorted(set(column.categories))  # distinct and in order
    assert column.codes.dtype.itemsize <= 4


def test_phrase_pool_draws_within_the_competency() -> None:
    pool = PhrasePool(["integritas", "komunikasi"], "praise")
    drawn = pool.draw(np.array([0, 1] * 100), np.random.default_rng(3))
    first = set(pool.phrases[pool.offset[0] : pool.offset[0] + pool.count[0]])
    assert set(drawn.strings()[::2]) <= first
    assert not set(drawn.strings()[1::2]) & first
