"""Recommendations shown to a platform, as xAPI statements with the ADL TLA profile's ``recommended`` verb.

An LRS that holds both these and the platform's own statements (registered, completed, ...) about the same
employee (actor account name = NIP) and activity (the same IRI, through the activity map) can join what
was suggested with what was done. Each shown row gives one statement whose id is derived from the row, so
exporting it twice gives the same statement and an LRS stores it once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from rekomendasi.xapi.activities import ActivityMap
from rekomendasi.xapi.statements import ID_NAMESPACE
from rekomendasi.xapi.verbs import DISPLAY, Verb

Via = Literal["api", "widget"]
VIAS: tuple[str, ...] = ("api", "widget")
XAPI_VERSION = "1.0.3"
PLATFORM = "rekomendasi"
EXTENSION = "urn:rekomendasi:"
"""Prefix of the context extensions' IRIs (``urn:rekomendasi:rank``, ...): plain names of this service,
not a published profile's."""
_LANGUAGE_TAGS = {"id": "id-ID", "en": "en-US"}


@dataclass(frozen=True, slots=True)
class ShownRecommendation:
    """One recommendation answered to a platform key or widget token.

    Attributes:
        id: Its row id in the state database.
        at: When it was answered (UTC).
        key_id: The API key it was answered to (a widget token's key).
        nip: The employee.
        training_id: The catalogue entry recommended.
        rank: Its place in the answer (1 = first).
        model_version: The model that ranked it.
        via: ``api`` or ``widget``.
        request_id: The request that answered it (its audit row's), when known.
    """

    id: int
    at: dt.datetime
    key_id: str
    nip: str
    training_id: str
    rank: int
    model_version: str
    via: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class EntryName:
    """How a catalogue entry is called: its title and the title's language (``id`` or ``en``)."""

    title: str
    language: str | None = None


def recommended_id(row: ShownRecommendation) -> str:
    """The statement id of a shown row: a UUID 5 of what identifies the row (its id with when, to whom
    and what), the same at every export."""
    name = "|".join(
        (
            str(row.id),
            row.at.astimezone(dt.UTC).isoformat(),
            row.key_id,
            row.nip,
            row.training_id,
            str(row.rank),
        )
    )
    return str(uuid.uuid5(ID_NAMESPACE, f"recommended|{name}"))


def recommended_statement(
    row: ShownRecommendation,
    home_page: str,
    activities: ActivityMap,
    names: Mapping[str, EntryName],
) -> dict[str, object]:
    """The xAPI statement of one shown recommendation.

    Args:
        row: What was shown.
        home_page: ``actor.account.homePage`` (``Settings.xapi_home_page``): the system whose account
            names are NIPs.
        activities: The activity map: the object is the entry's first mapped IRI, else its canonical one.
        names: Catalogue titles by training_id, for ``object.definition.name``; an entry missing here
            is named by its training_id.

    Returns:
        The statement as JSON-ready values: actor (account name = NIP), TLA ``recommended`` verb, the
        activity, ``timestamp`` = when shown, and the rank, model version, channel, request id and
        training_id as ``urn:rekomendasi:`` context extensions.
    """
    entry = names.get(row.training_id)
    title = entry.title if entry is not None else row.training_id
    language = _LANGUAGE_TAGS.get(entry.language or "id", "id-ID") if entry is not None else "id-ID"
    extensions: dict[str, object] = {
        f"{EXTENSION}rank": row.rank,
        f"{EXTENSION}model_version": row.model_version,
        f"{EXTENSION}via": row.via,
        f"{EXTENSION}training_id": row.training_id,
    }
    if row.request_id:
        extensions[f"{EXTENSION}request_id"] = row.request_id
    return {
        "id": recommended_id(row),
        "actor": {"objectType": "Agent", "account": {"homePage": home_page, "name": row.nip}},
        "verb": {"id": Verb.RECOMMENDED.value, "display": DISPLAY[Verb.RECOMMENDED]},
        "object": {
            "objectType": "Activity",
            "id": activities.iri_of(row.training_id),
            "definition": {"name": {language: title}},
        },
        "timestamp": row.at.astimezone(dt.UTC).isoformat(),
        "context": {"platform": PLATFORM, "extensions": extensions},
        "version": XAPI_VERSION,
    }


__all__ = [
    "EXTENSION",
    "VIAS",
    "XAPI_VERSION",
    "EntryName",
    "ShownRecommendation",
    "Via",
    "recommended_id",
    "recommended_statement",
]
