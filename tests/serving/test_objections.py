"""An objection (UU 27/2022 art. 10) through the API: the entry leaves that person's recommendations on
every surface (one employee, filtered, deeper than the store, bulk, agency pages, the widget, agency
plans) until a planner resolves it; who may resolve, what a resolution needs, and a correction.

The tests use an app of their own on the served world, with a state database of their own, so the
objections they record never reach the shared app's other tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rekomendasi.plans import PlanRequest
from rekomendasi.plans.problem import build_problem
from rekomendasi.recommend import Objections
from rekomendasi.serving.app import create_app
from rekomendasi.serving.auth import Role
from rekomendasi.serving.engine import Engine
from tests.served import served_settings


@dataclass
class Own:
    client: TestClient
    engine: Engine
    planner: str
    platform: str
    agency: str
    nip: str


@pytest.fixture(scope="module")
def own(served_home: Path, small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    state = tmp_path_factory.mktemp("objections") / "state.db"
    app = create_app(served_settings(served_home, small_world, state_db_url=f"sqlite:///{state}"))
    with TestClient(app) as client:
        service = app.state.service
        engine = service.engine
        assert engine is not None, service.not_ready
        nip = engine.nips[0]
        agency = engine.employee(nip).instansi_id
        keys = service.stores.keys
        yield Own(
            client=client,
            engine=engine,
            planner=keys.create_key("planner", Role.PLANNER, [agency])[1],
            platform=keys.create_key("platform", Role.PLATFORM, [agency])[1],
            agency=agency,
            nip=nip,
        )


def _ids(own: Own, key: str | None = None, **params: object) -> list[str]:
    answer = own.client.get(
        f"/v1/employees/{own.nip}/recommendations", headers={"X-API-Key": key or own.planner}, params=params
    )
    assert answer.status_code == 200, answer.text
    recs = answer.json()["recommendations"]
    assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
    return [r["training_id"] for r in recs]


def _feedback(own: Own, key: str, training: str, event: str, reason: str = "", **more: object) -> int:
    body = {"nip": own.nip, "training_id": training, "event": event, "reason": reason, **more}
    answer = own.client.post("/v1/feedback", headers={"X-API-Key": key}, json=body)
    return answer.status_code if answer.status_code != 201 else -int(answer.json()["id"])


def _everywhere(own: Own) -> dict[str, list[str]]:
    """The person's list as each surface answers it."""
    key = {"X-API-Key": own.planner}
    bulk = own.client.post("/v1/recommendations/bulk", headers=key, json={"nips": [own.nip], "k": 5}).json()
    page = own.client.get(f"/v1/agencies/{own.agency}/recommendations", headers=key, params={"k": 5}).json()
    token = own.client.post("/v1/embed/tokens", headers={"X-API-Key": own.platform}, json={"nip": own.nip})
    widget = own.client.get(
        "/v1/embed/recommendations",
        params={"k": 5},
        headers={"Authorization": f"Bearer {token.json()['token']}"},
    ).json()
    return {
        "single": _ids(own, k=5),
        "platform": _ids(own, own.platform, k=5),
        "filtered": _ids(own, k=5, max_cost_idr=10**12),  # ranked at request time
        "deeper": _ids(own, k=20)[:5],  # past the store's explained ranks: ranked at request time
        "bulk": [r["training_id"] for r in bulk["results"][0]["recommendations"]],
        "agency": next(
            [r["training_id"] for r in e["recommendations"]] for e in page["results"] if e["nip"] == own.nip
        ),
        "widget": [s["training_id"] for s in widget["suggestions"]],
    }


def test_an_objection_leaves_every_surface_until_it_is_resolved(own: Own) -> None:
    before = _ids(own, k=6)
    assert all(surface == before[:5] for surface in _everywhere(own).values())
    training = before[1]
    assert _feedback(own, own.planner, training, "objected", "Sudah pernah ikut pelatihan serupa.") < 0
    expected = [t for t in before if t != training]
    for name, surface in _everywhere(own).items():
        assert surface == expected, name
    assert own.client.app.state.service.objections([own.nip]).of(own.nip) == {training}

    # Only a planner or admin resolves it, with a reason; then the entry is back where it was.
    assert _feedback(own, own.platform, training, "resolved", "ditinjau") == 403
    assert _feedback(own, own.planner, training, "resolved", "  ") == 422
    assert _ids(own, k=5) == expected[:5]
    assert _feedback(own, own.planner, training, "resolved", "Ditinjau bersama pegawai: materinya baru.") < 0
    assert all(surface == before[:5] for surface in _everywhere(own).values())
    # Nothing is left to resolve; objecting again takes it out again.
    assert _feedback(own, own.planner, training, "resolved", "lagi") == 422
    assert _feedback(own, own.platform, training, "objected", "Masih keberatan.") < 0
    assert _ids(own, k=5) == expected[:5]
    assert _feedback(own, own.planner, training, "resolved", "Ditinjau ulang.") < 0
    assert _ids(own, k=5) == before[:5]


def test_a_mistaken_objection_is_corrected_away(own: Own) -> None:
    before = _ids(own, k=5)
    training = before[0]
    row = -_feedback(own, own.planner, training, "objected", "salah pilih")
    assert training not in _ids(own, k=5)
    assert _feedback(own, own.planner, training, "accepted", corrects=row) < 0
    assert _ids(own, k=5) == before


def test_agency_plans_leave_objected_pairs_out(own: Own) -> None:
    engine = own.engine
    request = PlanRequest(agency=own.agency, budget_idr=50_000_000)
    pairs = build_problem(engine.snapshot, engine.store, engine.model, request).pairs
    nip, training = pairs.iloc[0][["nip", "training_id"]]
    objections = Objections.of_pairs([(str(nip), str(training))])
    kept = build_problem(engine.snapshot, engine.store, engine.model, request, objections).pairs
    mine = kept[kept["nip"] == nip]
    assert training not in set(mine["training_id"]) and len(mine) > 0
    others = kept[kept["nip"] != nip].reset_index(drop=True)
    assert others.drop(columns=["gaps"]).equals(
        pairs[pairs["nip"] != nip].reset_index(drop=True).drop(columns=["gaps"])
    )
