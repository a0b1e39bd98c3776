"""Which catalogue entry an xAPI activity is: a map of activity IRIs to ``training_id``.

Platforms name their courses by their own IRIs (``https://lms.example.go.id/course/123``), so an operator
maps each to the catalogue entry it delivers (``rekomendasi xapi map``). Every entry also has a canonical
IRI, ``urn:rekomendasi:training:<training_id>``, that needs no mapping: a platform that knows the
catalogue's ids can use it directly, and it is the IRI of recommended statements about an unmapped entry.
"""

from __future__ import annotations

from collections.abc import Iterable

from rekomendasi.xapi.model import absolute_iri

CANONICAL_PREFIX = "urn:rekomendasi:training:"


def canonical_iri(training_id: str) -> str:
    """The IRI every catalogue entry has without mapping."""
    return CANONICAL_PREFIX + training_id


def check_iri(iri: str) -> str:
    """Return ``iri`` stripped if it is an absolute IRI.

    Raises:
        ValueError: it is not (the message shows what was given).
    """
    return absolute_iri(iri.strip())


class ActivityMap:
    """Activity IRIs to catalogue entries, and back.

    Args:
        mapped: (iri, training_id) pairs in the order they were mapped; an entry's first mapped IRI is
            the one recommended statements use.
    """

    def __init__(self, mapped: Iterable[tuple[str, str]]) -> None:
        self._training: dict[str, str] = {}
        self._iri: dict[str, str] = {}
        for iri, training_id in mapped:
            self._training[iri] = training_id
            self._iri.setdefault(training_id, iri)

    def training_of(self, iri: str) -> str | None:
        """The training_id of activity ``iri``: its mapped entry, else the id of a canonical IRI, else
        None. IRIs are compared as strings, as xAPI compares them."""
        found = self._training.get(iri)
        if found is not None:
            return found
        if iri.startswith(CANONICAL_PREFIX) and len(iri) > len(CANONICAL_PREFIX):
            return iri[len(CANONICAL_PREFIX) :]
        return None

    def iri_of(self, training_id: str) -> str:
        """The activity IRI of a catalogue entry: its first mapped IRI, else its canonical one."""
        return self._iri.get(training_id) or canonical_iri(training_id)

    def __len__(self) -> int:
        return len(self._training)


__all__ = ["CANONICAL_PREFIX", "ActivityMap", "canonical_iri", "check_iri"]
