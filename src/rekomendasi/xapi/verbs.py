"""The xAPI verbs the service understands: the five ADL verbs a learning platform reports, which become
training history, and the ADL TLA profile's ``recommended``, which the service reports itself."""

from __future__ import annotations

from enum import StrEnum

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
"""Prefix of the ADL vocabulary's verb IRIs (xAPI 1.0.3, appendix: the ADL verb list)."""


class Verb(StrEnum):
    """A verb by its IRI (what a statement's ``verb.id`` holds)."""

    REGISTERED = ADL_VERBS + "registered"
    ATTEMPTED = ADL_VERBS + "attempted"
    COMPLETED = ADL_VERBS + "completed"
    PASSED = ADL_VERBS + "passed"
    FAILED = ADL_VERBS + "failed"
    RECOMMENDED = "https://w3id.org/xapi/tla/verbs/recommended"

    @property
    def short(self) -> str:
        """str: The verb's last path segment (``completed``), as the store keeps it."""
        return self.value.rsplit("/", 1)[-1]


INBOUND_VERBS: tuple[Verb, ...] = (Verb.REGISTERED, Verb.ATTEMPTED, Verb.COMPLETED, Verb.PASSED, Verb.FAILED)
"""Verbs accepted from a platform; any other verb is reported invalid (the service would not know what
the statement says about the training)."""
STARTS: frozenset[Verb] = frozenset({Verb.REGISTERED, Verb.ATTEMPTED})
"""Verbs that open an enrolment in the training history."""
DISPLAY: dict[Verb, dict[str, str]] = {
    Verb.RECOMMENDED: {"en-US": "recommended", "id-ID": "direkomendasikan"},
}
"""``verb.display`` of the statements the service builds."""


def inbound_verb(iri: str) -> Verb | None:
    """The accepted verb with IRI ``iri``, or None (the recommended verb is never accepted inbound)."""
    for verb in INBOUND_VERBS:
        if verb.value == iri:
            return verb
    return None


def by_short(name: str) -> Verb:
    """The verb whose :attr:`Verb.short` is ``name``.

    Raises:
        ValueError: no verb has that name.
    """
    for verb in Verb:
        if verb.short == name:
            return verb
    raise ValueError(f"no xAPI verb named {name!r}")
