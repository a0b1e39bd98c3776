"""Recommended statements and the activity map."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

from rekomendasi.xapi import (
    ActivityMap,
    EntryName,
    ShownRecommendation,
    Verb,
    canonical_iri,
    parse_statements,
    recommended_id,
    recommended_statement,
)
from rekomendasi.xapi.model import Statement

NIP = "198501012010011001"
ROW = ShownRecommendation(
    id=7,
    at=dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC),
    key_id="0123456789abcdef",
    nip=NIP,
    training_id="TRN-0002",
    rank=2,
    model_version="5",
    via="api",
    request_id="req-1",
)


def test_activity_map_resolves_mapped_and_canonical_iris() -> None:
    activities = ActivityMap(
        [("https://lms.example/c/1", "TRN-0001"), ("https://lms.example/c/1-old", "TRN-0001")]
    )
    assert activities.training_of("https://lms.example/c/1-old") == "TRN-0001"
    assert activities.training_of(canonical_iri("TRN-0009")) == "TRN-0009"
    assert activities.training_of("urn:rekomendasi:training:") is None
    assert activities.training_of("https://lms.example/c/2") is None
    assert activities.iri_of("TRN-0001") == "https://lms.example/c/1"  # the first mapped
    assert activities.iri_of("TRN-0009") == "urn:rekomendasi:training:TRN-0009"
    assert len(activities) == 2


def test_recommended_statement_says_who_what_when_and_why() -> None:
    activities = ActivityMap([("https://lms.example/c/2", "TRN-0002")])
    names = {"TRN-0002": EntryName("Pelatihan Analisis Kebijakan", "id")}
    built = recommended_statement(ROW, "https://siasn.bkn.go.id", activities, names)
    assert built["actor"] == {
        "objectType": "Agent",
        "account": {"homePage": "https://siasn.bkn.go.id", "name": NIP},
    }
    assert built["verb"] == {
        "id": "https://w3id.org/xapi/tla/verbs/recommended",
        "display": {"en-US": "recommended", "id-ID": "direkomendasikan"},
    }
    assert built["object"] == {
        "objectType": "Activity",
        "id": "https://lms.example/c/2",
        "definition": {"name": {"id-ID": "Pelatihan Analisis Kebijakan"}},
    }
    assert built["timestamp"] == "2025-03-03T02:00:00+00:00"
    assert built["context"] == {
        "platform": "rekomendasi",
        "extensions": {
            "urn:rekomendasi:rank": 2,
            "urn:rekomendasi:model_version": "5",
            "urn:rekomendasi:via": "api",
            "urn:rekomendasi:training_id": "TRN-0002",
            "urn:rekomendasi:request_id": "req-1",
        },
    }
    assert built["version"] == "1.0.3"
    Statement.model_validate(built)  # what the service sends is valid xAPI by its own rules


def test_an_unnamed_unmapped_entry_goes_by_its_canonical_iri_and_id() -> None:
    built = recommended_statement(ROW, "https://siasn.bkn.go.id", ActivityMap([]), {})
    assert built["object"] == {
        "objectType": "Activity",
        "id": "urn:rekomendasi:training:TRN-0002",
        "definition": {"name": {"id-ID": "TRN-0002"}},
    }
    english = recommended_statement(
        ROW, "https://x.go.id", ActivityMap([]), {"TRN-0002": EntryName("Policy", "en")}
    )
    assert english["object"]["definition"] == {"name": {"en-US": "Policy"}}  # type: ignore[index]


def test_recommended_ids_are_stable_and_differ_per_row() -> None:
    again = dataclasses.replace(ROW)
    other = dataclasses.replace(ROW, id=8)
    assert recommended_id(ROW) == recommended_id(again) != recommended_id(other)
    assert uuid.UUID(recommended_id(ROW)).version == 5


def test_recommended_statements_are_not_accepted_inbound() -> None:
    built = recommended_statement(ROW, "https://siasn.bkn.go.id", ActivityMap([]), {})
    (parsed,) = parse_statements(json.dumps(built))
    assert parsed.statement is None and Verb.RECOMMENDED.value in parsed.problem
