"""``bench reliability``: the measured figures of the API's reliability (issue #10), each scenario on a fresh
real server (``rekomendasi serve``, uvicorn) with a fresh state database, driven from separate processes
(:mod:`.hostile`, :mod:`.loadgen`):

``body``
    a 500 MB chunked POST to the bulk route, without a key (expect 401) and with one (expect 413): the
    status, the seconds until it, the bytes the client wrote by then, and the server's resident memory
    (every process, sampled every 50 ms) before, at its peak and after. Target: growth < 50 MB.
``overload``
    four clients pulling the largest agency's page (k=50, 100 employees) as fast as they can while a
    ``/health`` prober and an ordinary-recommendations prober (20 requests/s each, open loop) measure
    latency; the same probers alone first, as the reference. Target under the load: ``/health`` p99
    < 50 ms, ordinary p99 < 100 ms.
``kill9``
    500 concurrent mixed requests, each with its own ``X-Request-ID``; every server process SIGKILLed
    once half have been answered; then the answered requests with no audit row (target 0) and
    ``rekomendasi audit verify`` on the state database.
``soak``
    ``minutes`` at 100 requests/s of a realistic mix (open loop) with a ``/health`` prober: errors by
    status, latency per minute, resident memory per minute, audit rows against answered requests.
``throughput``
    closed-loop throughput of single recommendations and of ``/health`` (32 clients), as phases 2 and 3
    of ``bench serve``, to compare with the figures recorded before the durable audit.
``ratelimit``
    one admin key over its per-worker limit: how many answers are 429, whether each carries
    ``Retry-After``, and the accepted rate against the limit.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekomendasi.bench.harness import commit
from rekomendasi.bench.hostile import ANSWERED, HEADERS_ONLY, alive
from rekomendasi.bench.rig import (
    Rig,
    RssSampler,
    World,
    answers,
    cpu_seconds,
    drive,
    earlier_serve,
    finish,
    loadgen,
    opened_rig,
    read_outcomes,
    single,
    start,
    state_rows,
    verify_audit,
)
from rekomendasi.features.schemas import Roster

__all__ = ["SCENARIOS", "Plan", "World", "reliability_bench"]

SCENARIOS = ("body", "overload", "kill9", "soak", "throughput", "ratelimit")
HEALTH_P99_TARGET_MS = 50.0
ORDINARY_P99_TARGET_MS = 100.0
RSS_GROWTH_TARGET_MB = 50.0


@dataclass(frozen=True, slots=True)
class Plan:
    """How hard and how long: ``workers`` server processes (``overload_workers`` for the overload),
    ``seconds`` per measured phase, ``minutes`` of soak at ``soak_rate`` requests/s, an upload of
    ``upload_mb`` MB, ``kill_requests`` requests of which ``kill_after`` are answered before the kill."""

    workers: int = 2
    overload_workers: tuple[int, ...] = (1,)
    seconds: float = 30.0
    minutes: float = 10.0
    soak_rate: float = 100.0
    probe_rate: float = 20.0
    heavy_clients: int = 4
    upload_mb: float = 500.0
    kill_requests: int = 500
    kill_after: int = 250
    clients: int = 32
    rate_limit: float = 20.0
    port: int = 8766
    record: Path | None = None  # earlier `bench serve` lines are read from here for the throughput


def reliability_bench(
    world: World, plan: Plan, scenarios: tuple[str, ...] = SCENARIOS, keep: Path | None = None
) -> Iterator[tuple[str, dict[str, object]]]:
    """Run ``scenarios`` in turn, each on a fresh server; yield each one's name and measured fields as
    soon as it is done.

    Args:
        keep: a directory to keep the scratch files in (state databases, server logs, request outcomes);
            a temporary one, removed at the end, when None.

    Raises:
        RekomendasiError: a server exited or was not ready in time, or a driver failed.
        ModelNotReady: there is no snapshot roster in ``world.snapshot``.
    """
    with opened_rig(world, plan.port, keep) as rig:
        for name in scenarios:
            # The machine is shared: its load average (1 minute) before and after says how noisy the run was.
            load_before = round(os.getloadavg()[0], 2)
            code = commit()  # the line's own commit is taken at its end; the tree may change meanwhile
            fields = RUNS[name](rig, plan)
            yield (
                name,
                {
                    "snapshot": str(world.snapshot),
                    "scores": str(world.scores),
                    "employees": len(rig.roster),
                    **fields,
                    "load_average": [load_before, round(os.getloadavg()[0], 2)],
                    "commit_at_start": code,
                },
            )


# --- the scenarios -------------------------------------------------------------------------------------


def body(rig: Rig, plan: Plan) -> dict[str, object]:
    """A huge chunked upload to the bulk route without a key (401) and with one (413)."""
    uploads: dict[str, dict[str, Any]] = {}
    with rig.server("body", plan.workers) as server:
        for name, key, expected in (("no_key", "", 401), ("valid_key", server.key, 413)):
            upload = {
                "base": server.base,
                "path": "/v1/recommendations/bulk",
                "key": key,
                "bytes": int(plan.upload_mb * 1e6),
                "chunk": 65536,
                "timeout": 120.0,
                "grace": 3.0,
            }
            time.sleep(1.0)  # let the memory of the previous upload settle
            cpu = cpu_seconds(server.pid)
            with RssSampler(server.pid, 0.05) as rss:
                answer = drive("upload", upload, server.scratch)
                time.sleep(1.0)  # the "after" sample: a second after the answer
            # Server CPU spent on the upload: after an early answer, reading (or not) the rest of the body.
            spent = round(cpu_seconds(server.pid) - cpu, 2)
            uploads[name] = {**answer, "expected_status": expected, "server_cpu_s": spent, **rss.fields()}
        still = answers(server.base, server.key)
        problems = server.problems()
    return {
        "workers": plan.workers,
        "upload_mb": plan.upload_mb,
        **uploads,
        "still_answers": still,
        **problems,
        "meets_target": bool(
            all(u["status"] == u["expected_status"] for u in uploads.values())
            and max(u["rss_growth_peak_mb"] for u in uploads.values()) < RSS_GROWTH_TARGET_MB
            and still
        ),
    }


def overload(rig: Rig, plan: Plan) -> dict[str, object]:
    """Probers of ``/health`` and of ordinary recommendations, alone and beside heavy agency pages."""
    sizes = rig.roster[Roster.instansi_id].value_counts()
    agency, staff = str(sizes.index[0]), int(sizes.iloc[0])
    heavy_path = f"/v1/agencies/{agency}/recommendations?k=50&limit=100&lang=id"
    nips = rig.nips()
    ordinary = [single(n) for n in rig.rng.sample(nips, min(len(nips), 5000))]
    found: dict[str, object] = {
        "agency": agency,
        "agency_staff": staff,
        "heavy_path": heavy_path,
        "heavy_clients": plan.heavy_clients,
        "probe_rate": plan.probe_rate,
        "seconds": plan.seconds,
    }
    for workers in plan.overload_workers:
        with rig.server(f"overload-{workers}", workers) as server:
            probe = {
                "base": server.base,
                "key": server.key,
                "seconds": plan.seconds,
                "timeout": 60.0,
                "streams": [
                    {"name": "health", "rate": plan.probe_rate, "requests": [{"path": "/health"}]},
                    {"name": "ordinary", "rate": plan.probe_rate, "requests": ordinary},
                ],
            }
            drive("open", {**probe, "seconds": min(2.0, plan.seconds)}, server.scratch)  # warm-up
            reference = drive("open", probe, server.scratch)
            heavy_plan = {
                "base": server.base,
                "key": server.key,
                "clients": plan.heavy_clients,
                "seconds": plan.seconds + 2.0,
                "timeout": 300.0,
                "requests": [{"kind": "agency", "path": heavy_path}],
            }
            heavy = start("closed", heavy_plan, server.scratch)
            time.sleep(1.0)  # the heavy clients are at work before the probers start
            loaded = drive("open", probe, server.scratch)
            heavy_found = finish(heavy)
            found[f"workers_{workers}"] = {
                "health_p50_ms": [reference["health"]["p50_ms"], loaded["health"]["p50_ms"]],
                "health_p99_ms": [reference["health"]["p99_ms"], loaded["health"]["p99_ms"]],
                "ordinary_p50_ms": [reference["ordinary"]["p50_ms"], loaded["ordinary"]["p50_ms"]],
                "ordinary_p99_ms": [reference["ordinary"]["p99_ms"], loaded["ordinary"]["p99_ms"]],
                "probe_errors": [
                    reference["health"]["errors"] + reference["ordinary"]["errors"],
                    loaded["health"]["errors"] + loaded["ordinary"]["errors"],
                ],
                "heavy_pages_per_s": heavy_found["requests_per_s"],
                "heavy_answer_mb": heavy_found["answer_mb_mean"],
                "heavy_mb_per_s": heavy_found["mb_per_s"],
                "heavy_p50_ms": heavy_found["p50_ms"],
                "heavy_errors": heavy_found["errors"],
                "heavy_statuses": heavy_found["statuses"],
                "reference": reference,
                "loaded": loaded,
                "meets_target": bool(
                    (loaded["health"]["p99_ms"] or 1e9) < HEALTH_P99_TARGET_MS
                    and (loaded["ordinary"]["p99_ms"] or 1e9) < ORDINARY_P99_TARGET_MS
                    and loaded["health"]["errors"] + loaded["ordinary"]["errors"] == 0
                ),
                **server.problems(),
            }
    found["note"] = "pairs are [probers alone, probers beside the heavy pages]"
    return found


def kill9(rig: Rig, plan: Plan) -> dict[str, object]:
    """Concurrent mixed requests, every server process SIGKILLed midway; answered requests without an
    audit row, and the audit chain afterwards."""
    prefix = f"k9-{uuid.uuid4().hex[:8]}-"
    weights = {"single": 0.5, "bulk": 0.2, "gaps": 0.2, "feedback": 0.1}
    requests = [{**r, "id": f"{prefix}{i}"} for i, r in enumerate(rig.mixed(plan.kill_requests, weights))]
    with rig.server("kill9", plan.workers) as server:
        outcomes_path = server.scratch / "outcomes.jsonl"
        burst = {
            "base": server.base,
            "key": server.key,
            "requests": requests,
            "kill_after": plan.kill_after,
            "kill_pid": server.pid,
            "spread_seconds": 1.0,  # all in flight together, yet every kind answered before the kill
            "timeout": 120.0,
            "outcomes": str(outcomes_path),
        }
        driven = drive("burst", burst, server.scratch)
        server.proc.wait(timeout=30)
        problems = server.problems()
    time.sleep(0.5)
    left = alive(driven["killed_pids"])
    verify = verify_audit(server)
    state = state_rows(server.state_url, prefix)
    rows = state.audit_ids
    outcomes = read_outcomes(outcomes_path)
    answered = [o for o in outcomes if o["state"] == ANSWERED]
    cut = [o for o in outcomes if o["state"] == HEADERS_ONLY]
    missing = sorted(o["id"] for o in answered if o["id"] not in rows)
    feedback_201 = sum(o["kind"] == "feedback" and o["status"] == 201 for o in answered)
    return {
        "workers": plan.workers,
        "requests": len(requests),
        "kill_after": plan.kill_after,
        "answered": len(answered),
        "answered_by_status": dict(Counter(str(o["status"]) for o in answered)),
        "answered_by_kind": dict(Counter(str(o["kind"]) for o in answered)),
        "headers_only": len(cut),
        "failed": len(outcomes) - len(answered) - len(cut),
        "killed_after_seconds": driven["killed_after_seconds"],
        "answered_after_kill": driven["answered_after_kill"],
        "processes_killed": len(driven["killed_pids"]),
        "processes_left": len(left),
        "audit_rows": len(rows),
        "answered_without_row": len(missing),
        "answered_without_row_ids": missing[:10],
        "headers_without_row": sum(o["id"] not in rows for o in cut),
        "rows_without_answer": len(rows - {o["id"] for o in answered}),
        "feedback_answered_201": feedback_201,
        "feedback_rows": state.feedback_rows,
        "state_error": state.error,
        **verify,
        **problems,
        "meets_target": bool(
            not state.error
            and not missing
            and verify["audit_verify_exit"] == 0
            and state.feedback_rows >= feedback_201
        ),
    }


def soak(rig: Rig, plan: Plan) -> dict[str, object]:
    """A realistic mix at a steady offered rate for ``minutes``, with a ``/health`` prober."""
    seconds = plan.minutes * 60.0
    prefix = f"soak-{uuid.uuid4().hex[:8]}-"
    weights = {"single": 0.80, "agency": 0.05, "bulk": 0.08, "gaps": 0.05, "feedback": 0.02}
    with rig.server("soak", plan.workers) as server:
        outcomes_path = server.scratch / "outcomes.jsonl"
        common = {"base": server.base, "key": server.key, "seconds": seconds, "timeout": 60.0}
        mix = {
            **common,
            "bucket_seconds": 60.0,
            "outcomes": str(outcomes_path),
            "streams": [
                {
                    "name": "mix",
                    "rate": plan.soak_rate,
                    "requests": rig.mixed(5000, weights),
                    "id_prefix": prefix,
                }
            ],
        }
        health = {**common, "streams": [{"name": "health", "rate": 10.0, "requests": [{"path": "/health"}]}]}
        with RssSampler(server.pid, 1.0) as rss:
            prober = start("open", health, server.scratch)
            driven = drive("open", mix, server.scratch)["mix"]
            probed = finish(prober)["health"]
        state = state_rows(server.state_url, prefix)
        problems = server.problems()
    outcomes = read_outcomes(outcomes_path)
    answered = {o["id"] for o in outcomes if o["state"] == ANSWERED}
    by_minute = [
        round(max((mb for t, mb in rss.samples if b * 60 <= t < (b + 1) * 60), default=0.0), 1)
        for b in range(max(int(seconds // 60), 1))
    ]
    missing = len(answered - state.audit_ids)
    return {
        "workers": plan.workers,
        "minutes": plan.minutes,
        "offered_rate": plan.soak_rate,
        "requests": driven["requests"],
        "requests_per_s": driven["requests_per_s"],
        "errors": driven["errors"],
        "server_errors": driven["server_errors"],
        "statuses": driven["statuses"],
        "p50_ms": driven["p50_ms"],
        "p99_ms": driven["p99_ms"],
        "max_ms": driven["max_ms"],
        "by_minute": driven.get("by_bucket", []),
        "by_kind": driven.get("by_kind", {}),
        "health_p50_ms": probed["p50_ms"],
        "health_p99_ms": probed["p99_ms"],
        "health_errors": probed["errors"],
        **{k: v for k, v in rss.fields().items() if k != "rss_samples"},
        "rss_max_by_minute_mb": by_minute,
        # Growth past the first minute (caches warm by then): the leak check.
        "rss_growth_after_first_minute_mb": round(by_minute[-1] - by_minute[0], 1),
        "answered": len(answered),
        "audit_rows": len(state.audit_ids),
        "answered_without_row": missing,
        "state_error": state.error,
        **problems,
        "meets_target": bool(driven["errors"] == 0 and not missing and not state.error),
    }


def throughput(rig: Rig, plan: Plan) -> dict[str, object]:
    """Closed-loop throughput of single recommendations and of ``/health`` (phases 2 and 3 of
    ``bench serve``), and of ``/v1/model`` (audited, no ranking), with ``workers`` processes and with
    one, beside the last ``bench serve`` figures recorded for the same snapshot.

    One client's ``/health`` latency is measured too: a keep-alive request that waits ~40 ms with no work
    behind it is Nagle's algorithm meeting the client's delayed ACK (uvicorn's ``--workers N`` leaves
    TCP_NODELAY off, Kludex/uvicorn#3149), and then closed-loop throughput is clients / 40 ms whatever
    the server does."""
    nips = rig.nips()
    rig.rng.shuffle(nips)
    found: dict[str, object] = {"workers": plan.workers, "clients": plan.clients}
    for workers in sorted({plan.workers, 1}, reverse=True):
        with rig.server(f"throughput-{workers}", workers) as server:
            paths = server.scratch / "paths.txt"
            paths.write_text("\n".join(single(n)["path"] for n in nips[:20_000]), encoding="utf-8")
            health = server.scratch / "health.txt"
            health.write_text("/health\n", encoding="utf-8")
            model = server.scratch / "model.txt"
            model.write_text("/v1/model\n", encoding="utf-8")
            recs = loadgen(server.base, paths, server.key, plan.clients, plan.seconds)
            health_run = loadgen(server.base, health, server.key, plan.clients, plan.seconds)
            # Audited but no ranking: what the edge and the audit row cost on their own.
            audited = loadgen(server.base, model, server.key, plan.clients, plan.seconds)
            alone = loadgen(server.base, health, server.key, 1, min(plan.seconds, 5.0))
            per_s = {
                name: float(run["requests_per_s"])
                for name, run in (("recs", recs), ("health", health_run), ("model", audited))
            }
            found[f"workers_{workers}"] = {
                "recommendations_closed_loop": recs,
                "health_closed_loop": health_run,
                "model_closed_loop": audited,
                "recommendations_to_health_ratio": round(per_s["recs"] / max(per_s["health"], 1e-9), 3),
                "model_to_health_ratio": round(per_s["model"] / max(per_s["health"], 1e-9), 3),
                "health_one_client_p50_ms": alone["p50_ms"],
                "keep_alive_stall": bool(alone["p50_ms"] > 30.0),
                **server.problems(),
            }
    found["earlier_serve"] = earlier_serve(plan.record, rig.world.snapshot)
    return found


def ratelimit(rig: Rig, plan: Plan) -> dict[str, object]:
    """One admin key at four times its per-worker limit: 429s, their ``Retry-After``, the accepted rate."""
    limit, burst = plan.rate_limit, 2.0
    settings = {
        "REKOMENDASI_RATE_LIMIT_ADMIN": str(limit),
        "REKOMENDASI_RATE_BURST_SECONDS": str(burst),
    }
    offered = 4 * limit * plan.workers
    nips = rig.nips()
    with rig.server("ratelimit", plan.workers, settings) as server:
        outcomes_path = server.scratch / "outcomes.jsonl"
        driven = drive(
            "open",
            {
                "base": server.base,
                "key": server.key,
                "seconds": plan.seconds,
                "timeout": 60.0,
                "outcomes": str(outcomes_path),
                "streams": [
                    {
                        "name": "over",
                        "rate": offered,
                        "requests": [single(n) for n in nips[:2000]],
                        "id_prefix": "rl-",
                    },
                    {"name": "health", "rate": 10.0, "requests": [{"path": "/health"}]},
                ],
            },
            server.scratch,
        )
        problems = server.problems()
    over = [o for o in read_outcomes(outcomes_path) if o["id"].startswith("rl-")]
    refused = [o for o in over if o["status"] == 429]
    accepted = sum(o["status"] == 200 for o in over)
    most = limit * plan.workers * (plan.seconds + burst)  # every worker's bucket, full at the start
    return {
        "workers": plan.workers,
        "rate_limit_per_worker": limit,
        "burst_seconds": burst,
        "offered_rate": offered,
        "requests": len(over),
        "accepted": accepted,
        "accepted_per_s": round(accepted / plan.seconds, 1),
        "refused_429": len(refused),
        "retry_after_missing": sum("retry_after" not in o for o in refused),
        "retry_after_values": dict(Counter(o.get("retry_after") for o in refused)),
        "accepted_most_expected": most,
        "statuses": driven["over"]["statuses"],
        "health_p99_ms": driven["health"]["p99_ms"],
        "health_errors": driven["health"]["errors"],
        **problems,
        "meets_target": bool(
            refused and accepted <= most * 1.05 and not any("retry_after" not in o for o in refused)
        ),
    }


RUNS: dict[str, Callable[[Rig, Plan], dict[str, object]]] = {
    "body": body,
    "overload": overload,
    "kill9": kill9,
    "soak": soak,
    "throughput": throughput,
    "ratelimit": ratelimit,
}
