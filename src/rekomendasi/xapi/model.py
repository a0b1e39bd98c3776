"""Pydantic models of the part of xAPI 1.0.3 statements the service receives.

Written here rather than taken from a library: the maintained one (``ralph-malph``'s models) pins
``importlib-metadata<8.6`` below this project's, brings the GPL-licensed ``rfc3987`` into an Apache-2.0
project and builds its settings from the environment when imported; TinCanPython is an unvalidated object
model last released in 2020. The subset is small and the rules are the specification's:

- every property has its type, and a property xAPI does not define is refused (an LRS must refuse them);
  properties the service does not use (``authority``, ``attachments``, context activities, interaction
  components) are accepted with their JSON shape checked loosely;
- the actor is one Agent identified by an ``account`` (the employee's NIP as ``name``); an ``mbox``,
  ``mbox_sha1sum`` or ``openid`` is refused with the reason, as is a Group;
- the object is an Activity (the only kind that can be a catalogue entry);
- timestamps are ISO 8601 text (a number is refused); one without a zone is taken as UTC;
- booleans are JSON booleans, a score's ``scaled`` lies in [-1, 1] and ``raw`` between ``min`` and ``max``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    model_validator,
)

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_DURATION = re.compile(
    r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
)


def absolute_iri(value: str) -> str:
    """Return ``value`` if it is an absolute IRI (a scheme, a colon, no spaces).

    Raises:
        ValueError: it is not.
    """
    if not _SCHEME.fullmatch(value):
        raise ValueError(f"must be an absolute IRI such as https://... or urn:..., got {value[:80]!r}")
    return value


def _irl(value: str) -> str:
    absolute_iri(value)
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, got {value[:80]!r}")
    return value


def _language_map(value: dict[str, str]) -> dict[str, str]:
    bad = [tag for tag in value if not _LANGUAGE_TAG.fullmatch(tag)]
    if bad:
        raise ValueError(f"keys must be language tags such as 'id-ID' or 'en-US', got {bad[0][:20]!r}")
    return value


def _duration(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise ValueError(f"must be an ISO 8601 duration such as PT1H30M, got {value[:40]!r}")
    return value


def _timestamp_text(value: object) -> object:
    """xAPI timestamps are ISO 8601 strings; pydantic alone would also take a number of seconds."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp string such as 2025-03-31T09:30:00+07:00")
    return value


def _utc_if_naive(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


Iri = Annotated[StrictStr, AfterValidator(absolute_iri)]
Irl = Annotated[StrictStr, AfterValidator(_irl)]
LanguageMap = Annotated[dict[str, StrictStr], AfterValidator(_language_map)]
Extensions = dict[Iri, Any]
Timestamp = Annotated[dt.datetime, BeforeValidator(_timestamp_text), AfterValidator(_utc_if_naive)]
JsonObject = dict[str, Any]


class _Xapi(BaseModel):
    """Every xAPI object: unknown properties refused, values never coerced from another JSON type."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Account(_Xapi):
    """An account on a system: for an employee, ``name`` is the 18-digit NIP."""

    homePage: Irl  # noqa: N815  (xAPI's property names)
    name: StrictStr = Field(min_length=1)


class Agent(_Xapi):
    """The actor: one person, identified by an account."""

    objectType: Literal["Agent"] = "Agent"  # noqa: N815
    name: StrictStr | None = None
    account: Account | None = None
    mbox: StrictStr | None = None
    mbox_sha1sum: StrictStr | None = None
    openid: StrictStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_person(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("objectType") == "Group":
            raise ValueError("a Group is not accepted: send one statement per employee")
        return data

    @model_validator(mode="after")
    def _by_account(self) -> Agent:
        others = [name for name in ("mbox", "mbox_sha1sum", "openid") if getattr(self, name) is not None]
        if others:
            raise ValueError(
                f"{others[0]} is not accepted: identify the employee by account "
                "{homePage, name: the 18-digit NIP}, the identifier SIASN and the catalogue share"
            )
        if self.account is None:
            raise ValueError("an account {homePage, name: the 18-digit NIP} is required")
        return self


class VerbOut(_Xapi):
    """A statement's verb: its IRI and how to show it."""

    id: Iri
    display: LanguageMap | None = None


class ActivityDefinition(_Xapi):
    """What an activity is. Interaction components are accepted as given (not used)."""

    name: LanguageMap | None = None
    description: LanguageMap | None = None
    type: Iri | None = None
    moreInfo: Irl | None = None  # noqa: N815
    extensions: Extensions | None = None
    interactionType: StrictStr | None = None  # noqa: N815
    correctResponsesPattern: list[StrictStr] | None = None  # noqa: N815
    choices: list[JsonObject] | None = None
    scale: list[JsonObject] | None = None
    source: list[JsonObject] | None = None
    target: list[JsonObject] | None = None
    steps: list[JsonObject] | None = None


class Activity(_Xapi):
    """The statement's object: an activity (a catalogue entry, through the activity map)."""

    objectType: StrictStr = "Activity"  # noqa: N815
    id: Iri
    definition: ActivityDefinition | None = None

    @model_validator(mode="after")
    def _activity(self) -> Activity:
        if self.objectType != "Activity":
            raise ValueError(
                f"objectType {self.objectType[:40]!r} is not accepted: the object must be an Activity "
                "(a catalogue entry)"
            )
        return self


class Score(_Xapi):
    """A result's score. ``scaled`` in [-1, 1]; ``raw`` between ``min`` and ``max`` when they are given."""

    scaled: float | None = Field(default=None, ge=-1.0, le=1.0)
    raw: float | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Score:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min ({self.min:g}) must be less than max ({self.max:g})")
        if self.raw is not None:
            if self.min is not None and self.raw < self.min:
                raise ValueError(f"raw ({self.raw:g}) is below min ({self.min:g})")
            if self.max is not None and self.raw > self.max:
                raise ValueError(f"raw ({self.raw:g}) is above max ({self.max:g})")
        return self


class Result(_Xapi):
    """The outcome the statement reports."""

    score: Score | None = None
    success: StrictBool | None = None
    completion: StrictBool | None = None
    response: StrictStr | None = None
    duration: Annotated[StrictStr, AfterValidator(_duration)] | None = None
    extensions: Extensions | None = None


class Context(_Xapi):
    """Where the statement happened. The service reads ``registration`` and ``platform`` only."""

    registration: uuid.UUID | None = None
    platform: StrictStr | None = None
    revision: StrictStr | None = None
    language: StrictStr | None = None
    instructor: JsonObject | None = None
    team: JsonObject | None = None
    contextActivities: JsonObject | None = None  # noqa: N815
    statement: JsonObject | None = None
    extensions: Extensions | None = None


class Statement(_Xapi):
    """One xAPI statement, as a platform or its LRS sends it."""

    id: uuid.UUID | None = None
    actor: Agent
    verb: VerbOut
    object_: Activity = Field(alias="object")
    result: Result | None = None
    context: Context | None = None
    timestamp: Timestamp | None = None
    stored: Timestamp | None = None
    authority: JsonObject | None = None
    version: Annotated[StrictStr, Field(pattern=r"^1\.0(\.\d+)?$")] | None = None
    attachments: list[JsonObject] | None = None

    @model_validator(mode="before")
    @classmethod
    def _text_id(cls, data: Any) -> Any:
        """A statement id is a UUID string (pydantic alone would take 16 raw bytes too)."""
        if isinstance(data, dict) and "id" in data and not isinstance(data["id"], str):
            raise ValueError("id must be a UUID string")
        return data

    @property
    def nip(self) -> str:
        """str: The actor's account name (a NIP once :func:`~rekomendasi.xapi.statements.parse_statements`
        has checked it)."""
        assert self.actor.account is not None  # the Agent validator requires it
        return self.actor.account.name


__all__ = [
    "Account",
    "Activity",
    "ActivityDefinition",
    "Agent",
    "Context",
    "Result",
    "Score",
    "Statement",
    "VerbOut",
    "absolute_iri",
]
