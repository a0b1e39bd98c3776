"""The API through a real uvicorn server on localhost (`rekomendasi serve`), and a schemathesis run over
the OpenAPI schema that must never produce a 5xx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from rekomendasi.serving.store import Stores

from .conftest import Served, served_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(served_home: Path, small_world: Path) -> Iterator[tuple[str, str]]:
    """(base URL, an admin key) of `rekomendasi serve` in a child process."""
    settings = served_settings(served_home, small_world)
    env = {
        **os.environ,
        "REKOMENDASI_HOME": str(served_home),
        "REKOMENDASI_FEATURES_DIR": str(settings.features_dir),
        "REKOMENDASI_TRAINING_DIR": str(settings.training_dir),
        "REKOMENDASI_SNAPSHOT_DIR": str(settings.snapshot_dir),
        "REKOMENDASI_SCORES_DIR": str(settings.scores_dir),
        "REKOMENDASI_MLFLOW_URI": settings.mlflow_uri,
        "REKOMENDASI_STATE_DB_URL": settings.state_db_url,
        "REKOMENDASI_NIP_SALT": "test-salt",
        "REKOMENDASI_BULK_MAX_NIPS": str(settings.bulk_max_nips),
    }
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rekomendasi", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.5)
        else:
            pytest.fail("server not ready within 120 s")
        with Stores.open(settings.state_db_url, "test-salt") as stores:
            key = stores.keys.create_key("server test", "admin")[1]
        yield base, key
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_real_server_answers_and_guards(server: tuple[str, str], served: Served) -> None:
    base, key = server
    path = f"{base}/v1/employees/{served.nip}/recommendations"
    answer = httpx.get(path, headers={"X-API-Key": key}, params={"k": 3, "lang": "en"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["recommendations"]) == 3 and answer.json()["recommendations"][0]["reason"]
    assert httpx.get(path, timeout=30).status_code == 401
    assert httpx.get(f"{base}/v1/employees/12/recommendations", headers={"X-API-Key": key}).status_code == 422
    big = {"nips": [served.nip] * 6}
    assert (
        httpx.post(f"{base}/v1/recommendations/bulk", headers={"X-API-Key": key}, json=big).status_code == 413
    )
    docs = httpx.get(f"{base}/openapi.json").json()
    assert "/v1/employees/{nip}/recommendations" in docs["paths"]
    assert "rekomendasi_requests_total" in httpx.get(f"{base}/metrics").text


def test_no_server_errors_anywhere(served: Served) -> None:
    """Schemathesis generates requests for every operation of the OpenAPI schema (valid and invalid
    ones), with a planner key, a platform key and none; no answer may be a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", served.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    tried: list[str] = []
    statuses: set[int] = set()
    for operation in operations:

        @given(
            case=operation.as_strategy(schemathesis.GenerationMode.POSITIVE)
            | operation.as_strategy(schemathesis.GenerationMode.NEGATIVE)
        )
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            for key in (served.planner, served.platform, None):
                response = case.call(headers={"X-API-Key": key} if key else {})
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path}: {response.text[:500]}"
                )
                statuses.add(response.status_code)
            tried.append(case.operation.label)

        check()
    assert len(set(tried)) == len(operations)
    assert {200, 401, 422} <= statuses  # the calls reached the app, with and without valid keys
