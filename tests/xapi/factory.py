"""xAPI statements for the tests: a valid one by default, any part replaced by keyword."""

from __future__ import annotations

import uuid
from typing import Any

ADL = "http://adlnet.gov/expapi/verbs/"
NIP = "198501012010011001"


def statement(
    nip: str = NIP,
    verb: str = "completed",
    activity: str = "urn:rekomendasi:training:TRN-0001",
    timestamp: str | None = "2025-03-03T09:00:00+07:00",
    statement_id: str | None = None,
    **parts: Any,
) -> dict[str, Any]:
    """A valid statement (a fresh id unless given); ``parts`` replace or add top-level properties
    (``result=...``), or remove them when None."""
    data: dict[str, Any] = {
        "id": statement_id or str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.go.id", "name": nip}},
        "verb": {"id": ADL + verb, "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": activity, "definition": {"name": {"id-ID": "Kursus"}}},
    }
    if timestamp is not None:
        data["timestamp"] = timestamp
    for name, value in parts.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data
