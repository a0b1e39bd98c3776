"""The API in-process: explained recommendations, filters, access control, audit, bad input, feedback,
and the 503 path when nothing has been trained."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from rekomendasi.contract import Dataset
from rekomendasi.contract.writing import write_chunks
from rekomendasi.features import EvidenceSpec, build_snapshot
from rekomendasi.jobs.scores import batch_job
from rekomendasi.recommend import Filters
from rekomendasi.registry import registry_from_settings
from rekomendasi.serving.app import create_app
from rekomendasi.serving.auth import hash_nip

from .conftest import Served, served_settings


def _get(served: Served, path: str, key: str | None = None, **params: object):  # type: ignore[no-untyped-def]
    headers = {"X-API-Key": key} if key else {}
    return served.client.get(path, headers=headers, params=params)


def test_recommendations_are_explained_in_both_languages(served: Served) -> None:
    path = f"/v1/employees/{served.nip}/recommendations"
    body = _get(served, path, served.planner, k=5).json()
    assert body["nip"] == served.nip and body["k"] == 5 and body["lang"] == "id"
    recs = body["recommendations"]
    assert [r["rank"] for r in recs] == [1, 2, 3, 4, 5]
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    first = recs[0]
    assert first["reason"].startswith(("Menutup", "Memperkuat", "Mengembangkan", "Pengembangan"))
    gaps = first["explanation"]["gaps"]
    assert gaps and {"required_level", "estimated_level", "uncertainty", "evidence"} <= set(gaps[0])
    assert first["explanation"]["model_contributions"] and first["explanation"]["expected_benefit"]
    assert body["jp"]["target"] == 20 and body["jp"]["remaining"] == max(0, 20 - body["jp"]["earned"])
    english = _get(served, path, served.planner, k=5, lang="en").json()
    assert [r["training_id"] for r in english["recommendations"]] == [r["training_id"] for r in recs]
    assert english["recommendations"][0]["reason"] != first["reason"]
    assert english["recommendations"][0]["reason"].startswith(
        ("Closes", "Strengthens", "Develops", "General")
    )


def test_api_agrees_with_the_batch_job(
    served: Served, small_dataset: Dataset, spec: EvidenceSpec, tmp_path: Path
) -> None:
    # The batch job builds its own snapshot from the data and scores it into a store of its own; the API
    # reads the snapshot written to disk and the store `rekomendasi score` made. Same answers.
    engine = served.app.state.service.engine
    snapshot = build_snapshot(small_dataset, engine.snapshot.as_of, spec, encoder=None)
    out = tmp_path / "batch.csv"
    batch_job(snapshot, registry_from_settings(served.settings), out, 10, engine.options, write_chunks)
    batch = pd.read_csv(out, dtype={"nip": str})
    assert batch["nip"].nunique() == engine.active_count
    for nip in engine.nips[:15]:
        body = _get(served, f"/v1/employees/{nip}/recommendations", served.admin).json()
        mine = batch[batch["nip"] == nip]
        assert [r["training_id"] for r in body["recommendations"]] == mine["training_id"].tolist()
        assert [r["reason"] for r in body["recommendations"]] == mine["reason"].tolist()
        assert [r["score"] for r in body["recommendations"]] == mine["score"].tolist()


def test_filters_are_applied(served: Served) -> None:
    path = f"/v1/employees/{served.nip}/recommendations"
    body = _get(served, path, served.planner, k=20, modality="e_learning", max_jp=20).json()
    recs = body["recommendations"]
    assert recs and all(r["modality"] == "e_learning" and r["jp"] <= 20 for r in recs)
    cheap = _get(served, path, served.planner, k=20, max_cost_idr=0).json()["recommendations"]
    assert all((r["cost_idr"] or 0) == 0 for r in cheap)


def test_mandatory_programmes_come_apart_with_their_rule(served: Served) -> None:
    engine = served.app.state.service.engine
    due = next((n for n in engine.nips if engine.mandatory_due(n)), None)
    assert due is not None, "the small world has someone with a mandatory programme due"
    body = _get(served, f"/v1/employees/{due}/recommendations", served.admin, lang="en").json()
    mandatory = {m["training_id"] for m in body["mandatory_due"]}
    assert mandatory and all(m["rule"] for m in body["mandatory_due"])
    assert not mandatory & {r["training_id"] for r in body["recommendations"]}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"k": 0}, "query.k"),
        ({"k": 51}, "query.k"),
        ({"lang": "fr"}, "query.lang"),
        ({"modality": "teleport"}, "query.modality.0"),
        ({"max_jp": -1}, "query.max_jp"),
    ],
)
def test_bad_parameters_are_422_saying_what(served: Served, params: dict[str, object], where: str) -> None:
    response = _get(served, f"/v1/employees/{served.nip}/recommendations", served.planner, **params)
    assert response.status_code == 422
    assert where in {p["where"] for p in response.json()["detail"]}


def test_unknown_filters_and_malformed_nips_are_422(served: Served) -> None:
    unknown = _get(served, f"/v1/employees/{served.nip}/recommendations", served.planner, colour="red")
    assert unknown.status_code == 422 and "colour" in unknown.json()["detail"]
    for bad in ("123", "1985031520100110011", "19850315201001100x"):
        response = _get(served, f"/v1/employees/{bad}/recommendations", served.planner)
        assert response.status_code == 422 and response.json()["detail"][0]["where"] == "path.nip"


def test_keys_roles_and_scopes(served: Served) -> None:
    path = f"/v1/employees/{served.nip}/recommendations"
    assert _get(served, path).status_code == 401
    assert _get(served, path, "rk_nope_nope").status_code == 401
    bearer = served.client.get(path, headers={"Authorization": f"Bearer {served.planner}"})
    assert bearer.status_code == 200
    outside = _get(served, f"/v1/employees/{served.other_nip}/recommendations", served.planner)
    missing = _get(served, "/v1/employees/199901012020011999/recommendations", served.planner)
    # Out of scope and unknown look the same: the answer does not reveal whether the NIP exists.
    assert outside.status_code == missing.status_code == 403
    assert outside.json()["detail"].replace(served.other_nip, "N") == missing.json()["detail"].replace(
        "199901012020011999", "N"
    )
    assert _get(served, "/v1/employees/199901012020011999/recommendations", served.admin).status_code == 404
    assert _get(served, f"/v1/employees/{served.other_nip}/recommendations", served.admin).status_code == 200
    agency = _get(served, f"/v1/agencies/{served.agency}/recommendations", served.planner, limit=2, k=1)
    assert agency.status_code == 200 and len(agency.json()["results"]) == 2
    assert agency.json()["next_offset"] == 2
    other_agency = served.app.state.service.engine.employee(served.other_nip).instansi_id
    assert _get(served, f"/v1/agencies/{other_agency}/recommendations", served.planner).status_code == 403


def test_platform_keys_see_reasons_but_no_evidence(served: Served) -> None:
    body = _get(served, f"/v1/employees/{served.nip}/recommendations", served.platform).json()
    gap = body["recommendations"][0]["explanation"]["gaps"][0]
    assert set(gap) == {"competency_id", "name"} and body["recommendations"][0]["reason"]
    assert _get(served, f"/v1/employees/{served.nip}/gaps", served.platform).status_code == 403
    profile = _get(served, f"/v1/employees/{served.nip}/gaps", served.planner, lang="en").json()
    assert profile["gaps"] and all(g["evidence"] for g in profile["gaps"])
    assert [g["gap"] for g in profile["gaps"]] == sorted((g["gap"] for g in profile["gaps"]), reverse=True)


def test_revoked_keys_stop_working(served: Served) -> None:
    keys = served.app.state.service.stores.keys
    principal, key = keys.create_key("short-lived", "planner", [served.agency])
    path = f"/v1/employees/{served.nip}/recommendations"
    assert _get(served, path, key).status_code == 200
    assert keys.revoke_key(principal.key_id)
    assert _get(served, path, key).status_code == 401


def test_audit_log_records_who_asked_for_whom_hashed(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    audit = served.app.state.service.stores.audit
    engine = served.app.state.service.engine
    with caplog.at_level(logging.INFO, logger="rekomendasi.api"):
        _get(served, f"/v1/employees/{served.nip}/recommendations", served.planner)
        _get(served, f"/v1/employees/{served.other_nip}/recommendations", served.planner)
    rows = audit.read(limit=2)
    hashed = hash_nip(served.nip, "test-salt")
    assert list(rows["status"]) == [200, 403]
    assert (
        rows.iloc[0]["nip_hashes"] == hashed and rows.iloc[0]["model_version"] == engine.model_version.version
    )
    assert rows.iloc[0]["snapshot_id"] == engine.snapshot_id and rows.iloc[0]["role"] == "planner"
    assert served.nip not in rows.to_csv() and served.other_nip not in rows.to_csv()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert hashed in logged and served.nip not in logged and served.other_nip not in logged


def test_bulk_limits_scope_and_malformed_json(served: Served) -> None:
    headers = {"X-API-Key": served.planner}
    body = {"nips": [served.nip, served.other_nip], "k": 2, "lang": "en"}
    answer = served.client.post("/v1/recommendations/bulk", headers=headers, json=body).json()
    assert [r["nip"] for r in answer["results"]] == [served.nip]
    assert [e["nip"] for e in answer["errors"]] == [served.other_nip]
    too_many = {"nips": [served.nip] * 6}
    response = served.client.post("/v1/recommendations/bulk", headers=headers, json=too_many)
    assert response.status_code == 413 and "limit is 5" in response.json()["detail"]
    broken = served.client.post(
        "/v1/recommendations/bulk", headers={**headers, "Content-Type": "application/json"}, content=b"{nips:"
    )
    assert broken.status_code == 422 and "JSON" in str(broken.json()["detail"])
    extra = served.client.post("/v1/recommendations/bulk", headers=headers, json={**body, "colour": 1})
    assert extra.status_code == 422


def test_feedback_is_stored_and_objections_need_a_reason(served: Served) -> None:
    headers = {"X-API-Key": served.planner}
    entry = _get(served, f"/v1/employees/{served.nip}/recommendations", served.planner, k=1).json()
    training = entry["recommendations"][0]["training_id"]
    ok = served.client.post(
        "/v1/feedback",
        headers=headers,
        json={"nip": served.nip, "training_id": training, "event": "accepted"},
    )
    assert ok.status_code == 201 and ok.json()["model_version"]
    bare = {"nip": served.nip, "training_id": training, "event": "objected"}
    assert served.client.post("/v1/feedback", headers=headers, json=bare).status_code == 422
    objected = served.client.post(
        "/v1/feedback", headers=headers, json={**bare, "reason": "Sudah pernah ikut."}
    )
    assert objected.status_code == 201
    unknown = {"nip": served.nip, "training_id": "TRN-9999", "event": "accepted"}
    assert served.client.post("/v1/feedback", headers=headers, json=unknown).status_code == 422
    outside = {"nip": served.other_nip, "training_id": training, "event": "accepted"}
    assert served.client.post("/v1/feedback", headers=headers, json=outside).status_code == 403
    exported = served.app.state.service.stores.feedback.export()
    mine = exported[exported["nip"] == served.nip]
    assert {"accepted", "objected"} <= set(mine["event"])
    assert "Sudah pernah ikut." in set(mine["reason"])
    # The objection takes the entry out of the person's list until it is resolved (the shared app's
    # other tests see the list as it was: tests/serving/test_objections.py covers every surface).
    later = _get(served, f"/v1/employees/{served.nip}/recommendations", served.planner, k=1).json()
    assert later["recommendations"][0]["training_id"] != training
    resolved = {**bare, "event": "resolved", "reason": "Ditinjau bersama pegawai."}
    assert served.client.post("/v1/feedback", headers=headers, json=resolved).status_code == 201
    again = _get(served, f"/v1/employees/{served.nip}/recommendations", served.planner, k=1).json()
    assert again["recommendations"][0]["training_id"] == training


def test_catalogue_model_health_and_metrics(served: Served) -> None:
    page = _get(served, "/v1/catalog", served.platform, modality="e_learning", limit=5).json()
    assert 0 < len(page["entries"]) <= 5 and all(e["modality"] == "e_learning" for e in page["entries"])
    one = page["entries"][0]["training_id"]
    assert _get(served, f"/v1/catalog/{one}", served.platform).json()["training_id"] == one
    assert _get(served, "/v1/catalog/NOPE", served.platform).status_code == 404
    info = _get(served, "/v1/model", served.planner).json()
    assert info["version"] and "champion" in info["aliases"] and info["trained_as_of"] == "2025-12-31"
    assert info["metrics"]["validation_ndcg_at_10"] > 0
    assert served.client.get("/health").json() == {"status": "ok"}
    assert served.client.get("/ready").json()["ready"] is True
    metrics = served.client.get("/metrics").text
    assert "rekomendasi_requests_total" in metrics and "rekomendasi_request_seconds" in metrics
    assert served.nip not in metrics


def test_without_champion_or_snapshot_everything_says_what_to_run(tmp_path: Path, small_world: Path) -> None:
    app = create_app(served_settings(tmp_path, small_world))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and "rekomendasi features" in ready.json()["detail"]
        _, key = app.state.service.stores.keys.create_key("admin", "admin")
        response = client.get("/v1/employees/198503152010011001/recommendations", headers={"X-API-Key": key})
        assert response.status_code == 503 and "rekomendasi" in response.json()["detail"]
        assert "Traceback" not in response.text


def test_without_a_scores_store_for_the_champion_it_says_to_score(
    served_home: Path, small_world: Path, tmp_path: Path
) -> None:
    # The served home's snapshot and champion, but a scores root holding nothing for them.
    settings = served_settings(served_home, small_world, scores_dir=tmp_path / "scores")
    app = create_app(settings)
    with TestClient(app) as client:
        ready = client.get("/ready")
        detail = ready.json()["detail"]
        assert ready.status_code == 503
        assert f"rekomendasi score --snapshot {served_home / 'snapshot'}" in detail and "v1" in detail


def test_the_scores_store_equals_ranking_at_request_time(served: Served) -> None:
    engine = served.app.state.service.engine
    assert engine.store.top_n == 50
    for nip in engine.nips[:20]:
        precomputed = engine.recommend(nip, 10)  # read from the scores store
        on_request = engine.recommend(nip, 60)  # past the store's depth: ranked now
        assert [r.training_id for r in on_request[:10]] == [r.training_id for r in precomputed]
        assert [r.score for r in on_request[:10]] == [r.score for r in precomputed]
        filtered = engine.recommend(nip, 10, Filters(max_jp=10_000))  # explained at request time
        assert filtered == precomputed  # every field: scores, gaps, contributions


def test_demo_key_line_is_a_working_one_line_curl(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    from rekomendasi.cli.outputs import _print_demo_key

    _print_demo_key(served.settings, "127.0.0.1", 8000)
    lines = capsys.readouterr().out.splitlines()
    curl = next(line for line in lines if line.startswith("try: curl"))
    key = curl.split("X-API-Key: ")[1].split("'")[0]
    path = curl.split("http://127.0.0.1:8000")[1].rstrip("'")
    response = served.client.get(path, headers={"X-API-Key": key})
    assert response.status_code == 200 and len(response.json()["recommendations"]) == 3
