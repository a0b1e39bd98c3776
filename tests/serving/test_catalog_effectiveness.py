"""``GET /v1/catalog/{training_id}/effectiveness``: the serving model's estimates, by entry, provider and
modality (issue #16), an entry's with the parts of its pooled estimate (its own participants' mean, what
courses of its kind reached, the weight of the first); 404 for an unknown entry, 409 for a model trained
before estimates existed; a model trained before pooling still answers; read once when the engine
loads."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from rekomendasi.effectiveness import Effectiveness
from rekomendasi.errors import ModelNotReady
from rekomendasi.recommend.champion import Champion
from rekomendasi.serving.effects import Effects
from rekomendasi.serving.engine import Engine
from tests.served import Served

from .estimates import hand_made, measured, pooled_entry, serve_estimates, too_few

PINNED = pooled_entry(84, 0.1213, 0.0517, 0.1902, raw=0.1015, kind=0.1345, weight=0.4)
INDISTINCT = pooled_entry(150, 0.0612, 0.0201, 0.1003, raw=-0.05, kind=0.0635, weight=0.02)
"""An entry whose participants' data cannot tell it apart from courses of its kind."""
POOLING = ("raw_effect", "raw_low", "raw_high", "kind_effect", "own_weight")


@pytest.fixture()
def picked(served: Served) -> dict[str, str]:
    """Four entries of the served catalogue with a provider: one pinned to a number, one with too few
    participants, one left out of the estimates (new in the catalogue since), one whose own weight is
    about 0."""
    catalog = served.app.state.service.engine.snapshot.catalog
    ids = catalog[catalog["provider"].notna()].sort_values("training_id")["training_id"].tolist()
    return {"number": ids[0], "few": ids[1], "new": ids[2], "indistinct": ids[3]}


@pytest.fixture()
def estimates(
    served: Served, picked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Effectiveness]:
    engine = served.app.state.service.engine
    made = hand_made(
        engine.snapshot.catalog,
        {picked["number"]: PINNED, picked["few"]: too_few(7), picked["indistinct"]: INDISTINCT},
        left_out=(picked["new"],),
    )
    serve_estimates(monkeypatch, engine, made)
    yield made


def _get(served: Served, training_id: str, key: str | None, **params: str) -> Any:
    headers = {"X-API-Key": key} if key else {}
    return served.client.get(f"/v1/catalog/{training_id}/effectiveness", headers=headers, params=params)


def _row(table: pd.DataFrame, column: str, key: str) -> dict[str, Any]:
    found = table[table[column] == key]
    assert len(found) == 1, (column, key)
    return {str(k): (None if pd.isna(v) else v) for k, v in found.iloc[0].to_dict().items()}


NUMBERS = ("participants", "effect", "ci_low", "ci_high", "naive", "naive_low", "naive_high")


def _same(answer: dict[str, Any], row: dict[str, Any], fields: tuple[str, ...] = NUMBERS) -> None:
    for field in fields:
        expected = row[field]
        assert answer[field] == (None if expected is None else pytest.approx(expected, abs=5e-5)), field
    assert answer["reason"] == row["reason"]


def test_an_entry_answers_its_own_provider_and_modality_numbers(
    served: Served, picked: dict[str, str], estimates: Effectiveness
) -> None:
    tid = picked["number"]
    answer = _get(served, tid, served.planner)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    entry = _row(estimates.entries, "training_id", tid)
    assert body["training_id"] == tid and body["title"] == entry["title"]
    assert body["provider"] == entry["provider"] and body["modality"] == entry["modality"]
    assert (body["participants"], body["effect"], body["ci_low"], body["ci_high"]) == (
        84,
        0.1213,
        0.0517,
        0.1902,
    )
    assert (body["naive"], body["naive_low"], body["naive_high"]) == (0.3213, 0.2517, 0.3902)
    assert tuple(body[f] for f in POOLING) == (0.1015, 0.0215, 0.1815, 0.1345, 0.4)
    assert body["reason"] is None and body["confidence"] == 0.95
    assert body["as_of"] == "2025-12-31"
    assert body["model_version"] == served.app.state.service.engine.model_version.version
    assert body["explanation"] == (
        "Estimated gain 0.12 measured competency levels beyond comparable staff who had not taken it (95% "
        "interval 0.05 to 0.19; data up to 2025-12-31): its 84 measured participants' own figure (0.10) "
        "weighed at 40% with what courses of its kind reached (0.13)."
    )
    assert set(POOLING).isdisjoint(body["provider_estimate"])  # an entry's parts only
    provider = _row(estimates.providers, "provider", entry["provider"])
    assert body["provider_estimate"]["name"] == entry["provider"]
    assert body["provider_estimate"]["entries"] == provider["entries"]
    _same(body["provider_estimate"], provider)
    modality = _row(estimates.modalities, "modality", entry["modality"])
    assert body["modality_estimate"]["name"] == entry["modality"]
    _same(body["modality_estimate"], modality)


def test_every_entry_matches_the_models_table(
    served: Served, picked: dict[str, str], estimates: Effectiveness
) -> None:
    ids = estimates.entries["training_id"].tolist()
    assert len(ids) >= 20
    for tid in ids[::7]:
        answer = _get(served, tid, served.admin)
        assert answer.status_code == 200, answer.text
        _same(answer.json(), _row(estimates.entries, "training_id", tid), NUMBERS + POOLING)


def test_too_few_participants_and_an_entry_newer_than_the_estimates(
    served: Served, picked: dict[str, str], estimates: Effectiveness
) -> None:
    few = _get(served, picked["few"], served.planner).json()
    assert few["participants"] == 7 and few["effect"] is None and few["ci_low"] is None
    assert all(few[f] is None for f in POOLING)
    assert few["reason"] == "too few participants: 7 measured, 20 needed"
    assert few["explanation"].startswith("No estimate yet: too few participants: 7 measured, 20 needed;")
    assert few["provider_estimate"]["effect"] is not None  # its provider still has a number
    new = _get(served, picked["new"], served.planner)
    assert new.status_code == 200, new.text
    body = new.json()
    assert body["participants"] == 0 and body["effect"] is None
    assert all(body[f] is None for f in POOLING)
    assert "not in the estimates" in body["reason"] and "2025-12-31" in body["reason"]
    # The last modality of the hand-made table has too few: pooled rows say why too.
    last = estimates.modalities.iloc[-1]
    entry = estimates.entries[estimates.entries["modality"] == last["modality"]].iloc[0]
    pooled = _get(served, entry["training_id"], served.planner).json()["modality_estimate"]
    assert pooled["effect"] is None and pooled["reason"].startswith("too few participants")


def test_an_entry_its_participants_cannot_tell_apart_from_its_kind_says_so(
    served: Served, picked: dict[str, str], estimates: Effectiveness
) -> None:
    body = _get(served, picked["indistinct"], served.planner).json()
    assert (body["effect"], body["raw_effect"], body["kind_effect"], body["own_weight"]) == (
        0.0612,
        -0.05,
        0.0635,
        0.02,
    )
    assert body["explanation"] == (
        "Estimated gain 0.06 measured competency levels beyond comparable staff who had not taken it (95% "
        "interval 0.02 to 0.10; data up to 2025-12-31): essentially what courses of its kind reached "
        "(0.06), as its 150 measured participants' data (own figure -0.05) cannot yet tell it apart from "
        "courses of its kind."
    )


def test_a_model_trained_before_pooling_answers_without_its_parts(
    served: Served, picked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = served.app.state.service.engine
    made = hand_made(engine.snapshot.catalog, {picked["number"]: PINNED}, before_pooling=True)
    assert set(POOLING).isdisjoint(made.to_dict()["entries"][0])
    serve_estimates(monkeypatch, engine, made)
    answer = _get(served, picked["number"], served.planner)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["participants"], body["effect"], body["ci_low"], body["ci_high"]) == (
        84,
        0.1213,
        0.0517,
        0.1902,
    )
    assert all(body[f] is None for f in POOLING)
    assert body["explanation"] == (  # then the effect is its participants' mean, and says so
        "Its 84 measured participants gained 0.12 measured competency levels more than comparable staff who "
        "had not taken it (95% interval 0.05 to 0.19; levels summed over the competencies it targets; data "
        "up to 2025-12-31)."
    )
    page = _get(served, picked["few"], served.planner)
    assert page.status_code == 200 and page.json()["raw_effect"] is None


def test_unknown_entries_are_404_with_or_without_estimates(
    served: Served, picked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = served.app.state.service.engine
    for carried in (hand_made(engine.snapshot.catalog), None):
        serve_estimates(monkeypatch, engine, carried)
        answer = _get(served, "NOPE-404", served.planner)
        assert answer.status_code == 404
        assert answer.json() == {"detail": "no catalogue entry NOPE-404; GET /v1/catalog lists them."}


def test_a_model_without_estimates_says_to_train(
    served: Served, picked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = served.app.state.service.engine
    serve_estimates(monkeypatch, engine, None)
    answer = _get(served, picked["number"], served.planner)
    assert answer.status_code == 409
    detail = answer.json()["detail"]
    assert "`rekomendasi train`" in detail and f"v{engine.model_version.version}" in detail
    assert "Traceback" not in answer.text


def test_keys_as_for_the_catalogue(served: Served, picked: dict[str, str], estimates: Effectiveness) -> None:
    tid = picked["number"]
    assert _get(served, tid, None).status_code == 401
    assert _get(served, tid, "rk_0123456789abcdef_" + "x" * 43).status_code == 401
    for key in (served.admin, served.planner, served.platform):  # aggregate numbers: every role, as /catalog
        assert _get(served, tid, key).json()["effect"] == 0.1213
    unknown = _get(served, tid, served.planner, lang="en")
    assert unknown.status_code == 422 and "lang" in unknown.json()["detail"]


def test_the_route_is_documented_with_its_answers(served: Served) -> None:
    document = served.client.get("/openapi.json").json()
    operation = document["paths"]["/v1/catalog/{training_id}/effectiveness"]["get"]
    assert {"200", "401", "404", "409", "422", "429", "503"} <= set(operation["responses"])
    assert "rekomendasi train" in operation["responses"]["409"]["description"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    out = document["components"]["schemas"][schema]
    assert {"effect", "ci_low", "ci_high", "naive", "provider_estimate", "explanation"} <= set(
        out["properties"]
    )
    for field in POOLING:  # nullable and documented
        described = out["properties"][field]
        assert len(described["description"]) > 30, field
        assert {"type": "null"} in described["anyOf"], field
    assert "pooled" in out["properties"]["effect"]["description"]
    example = out["examples"][0]
    assert example["effect"] == 0.1213 and example["provider_estimate"]["participants"] == 611
    assert example["effect"] == pytest.approx(
        example["kind_effect"] + example["own_weight"] * (example["raw_effect"] - example["kind_effect"]),
        abs=5e-5,
    )
    assert "weighed at 40%" in example["explanation"]


def test_the_engine_reads_the_champions_estimates_once_at_load(
    served: Served, picked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rekomendasi.jobs.outputs import score_options
    from rekomendasi.registry import registry_from_settings
    from rekomendasi.serving import engine as engine_module

    settings = served.settings
    served_engine = served.app.state.service.engine
    made = hand_made(served_engine.snapshot.catalog, {picked["number"]: PINNED})

    def load(carried: object) -> Engine:
        model = copy.copy(served_engine.model)  # the shared model keeps what it carries
        model.effectiveness_ = carried
        monkeypatch.setattr(
            engine_module, "load_champion", lambda _: Champion(model, served_engine.model_version)
        )
        return Engine.load(
            settings.resolve(settings.snapshot_dir),
            settings.resolve(settings.scores_dir),
            registry_from_settings(settings),
            score_options(settings)[0],
        )

    loaded = load(made.to_dict())
    assert loaded.effects is not None and loaded.effects.as_of == made.as_of
    found = loaded.effectiveness(picked["number"]).estimate
    assert (found.participants, found.effect, found.ci_low, found.ci_high) == (84, 0.1213, 0.0517, 0.1902)
    assert load(None).effects is None
    with pytest.raises(ModelNotReady, match="rekomendasi train"):
        load({"as_of": "2025-12-31"})  # not what Effectiveness.to_dict makes


def test_entries_without_a_provider_have_no_provider_estimate() -> None:
    catalog = pd.DataFrame(
        {
            "training_id": ["T-1", "T-2"],
            "title": ["Satu", "Dua"],
            "provider": ["LAN", None],
            "modality": ["klasikal", "klasikal"],
        }
    )
    made = hand_made(catalog, {"T-1": measured(30, 0.1, 0.05, 0.15), "T-2": measured(25, 0.2, 0.1, 0.3)})
    effects = Effects.of_model(type("Model", (), {"effectiveness_": made.to_dict()})())
    assert effects is not None
    lone = effects.entry("T-2", "ignored", "klasikal")  # the estimates' provider, not the one passed
    assert lone.provider is None and lone.by_provider is None and lone.estimate.effect == 0.2
    assert lone.by_modality is not None and lone.by_modality.participants == 55
    with_one = effects.entry("T-1", None, None)
    assert with_one.by_provider is not None and with_one.by_provider.entries == 1
    assert with_one.by_provider.effect == pytest.approx(0.05)
    fresh = effects.entry("T-3", "LAN", "e_learning")  # not in the estimates: the catalogue's values
    assert not fresh.estimated and fresh.estimate.participants == 0
    assert fresh.by_provider is not None and fresh.by_provider.participants == 30
    assert fresh.by_modality is not None and fresh.by_modality.participants == 0
    assert fresh.by_modality.reason == "too few participants: 0 measured, 20 needed"
