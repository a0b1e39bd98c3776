"""The load driver of `rekomendasi bench reliability`: hostile and mixed clients against a running server,
in a process of their own (``python -m rekomendasi.bench.hostile MODE PLAN.json``), printing one JSON line.

Modes (the plan is a JSON file of the mode's fields, see :mod:`.reliability`):

``upload``
    One POST whose chunked body (``bytes`` of it, from a generator) is written on a raw socket while its
    answer is read at the same time: the status, the seconds until it came, and how many body bytes the
    client had written by then and in all (the kernel's send buffer counts as written).
``open``
    Streams of requests sent on a fixed schedule (``rate`` a second each), each request in its own task
    so a slow answer delays no other send; latency counts from the scheduled send time (open loop, no
    coordinated omission). Statistics per stream, per kind of request and per ``bucket_seconds``.
``closed``
    ``clients`` clients each sending its next request as soon as the previous answer is read (the heavy
    load): answers a second, bytes per answer, latency.
``burst``
    All requests at once, or started evenly over ``spread_seconds`` (a server's queue is first in, first
    out, and reading a body puts a POST behind the GETs that came with it), each with its own
    ``X-Request-ID``; once ``kill_after`` have been answered, SIGKILL the process ``kill_pid`` and all its
    descendants. Each request's outcome: answered (status and whole body read), headers (status read,
    body cut) or failed (no status).

``open`` and ``burst`` can write every request's outcome to ``outcomes`` (JSON lines of id, kind, state,
status, start and seconds), so the audit rows can be matched to the requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

ANSWERED = "answered"
HEADERS_ONLY = "headers"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one request: ``at`` seconds after the run began (its scheduled time in open loop),
    its latency in seconds, status (None: no status line), bytes of the answer's body, and ``state``
    (answered, headers or failed)."""

    kind: str
    request_id: str
    at: float
    seconds: float
    status: int | None
    size: int
    state: str
    retry_after: str | None = None


async def _send(session: Any, base: str, request: dict[str, Any], request_id: str) -> Outcome:
    """Send one request; its outcome (``at`` and ``seconds`` are filled in by the caller)."""
    import aiohttp

    headers = {"X-Request-ID": request_id} if request_id else {}
    data = None
    if "body" in request:
        data = json.dumps(request["body"]).encode()
        headers["Content-Type"] = "application/json"
    status: int | None = None
    retry_after: str | None = None
    kind = str(request.get("kind", "request"))
    try:
        async with session.request(
            request.get("method", "GET"), base + request["path"], data=data, headers=headers
        ) as response:
            status = response.status
            retry_after = response.headers.get("Retry-After")
            body = await response.read()
        return Outcome(kind, request_id, 0.0, 0.0, status, len(body), ANSWERED, retry_after)
    except (TimeoutError, aiohttp.ClientError, OSError):
        state = HEADERS_ONLY if status is not None else FAILED
        return Outcome(kind, request_id, 0.0, 0.0, status, 0, state, retry_after)


def _session(connections: int, key: str, timeout: float) -> Any:
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
        headers={"X-API-Key": key} if key else {},
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


# --- open loop -----------------------------------------------------------------------------------------


async def _stream(
    session: Any, base: str, stream: dict[str, Any], started: float, seconds: float, out: list[Outcome]
) -> None:
    """One open-loop stream: request ``i`` is sent at ``started + i / rate``, in its own task."""
    requests: list[dict[str, Any]] = stream["requests"]
    interval = 1.0 / float(stream["rate"])
    prefix: str | None = stream.get("id_prefix")
    pending: set[asyncio.Task[None]] = set()

    async def timed(request: dict[str, Any], request_id: str, scheduled: float) -> None:
        got = await _send(session, base, request, request_id)
        done = time.perf_counter()
        out.append(
            Outcome(
                got.kind,
                request_id,
                scheduled - started,
                done - scheduled,
                got.status,
                got.size,
                got.state,
                got.retry_after,
            )
        )

    i = 0
    while True:
        scheduled = started + i * interval
        if scheduled - started >= seconds:
            break
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        request_id = f"{prefix}{i}" if prefix else ""
        task = asyncio.create_task(timed(requests[i % len(requests)], request_id, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
        i += 1
    if pending:
        await asyncio.gather(*pending)


async def run_open(plan: dict[str, Any]) -> dict[str, Any]:
    """The ``open`` mode: every stream of the plan at its rate for ``seconds``; statistics per stream."""
    seconds = float(plan["seconds"])
    outcomes: dict[str, list[Outcome]] = {s["name"]: [] for s in plan["streams"]}
    async with _session(int(plan.get("connections", 512)), plan.get("key", ""), plan["timeout"]) as session:
        started = time.perf_counter() + 0.05
        await asyncio.gather(
            *(
                _stream(session, plan["base"], s, started, seconds, outcomes[s["name"]])
                for s in plan["streams"]
            )
        )
    if plan.get("outcomes"):
        _write_outcomes(Path(plan["outcomes"]), [o for found in outcomes.values() for o in found])
    bucket = float(plan.get("bucket_seconds") or seconds)
    return {
        name: summary(found, seconds, bucket if plan.get("bucket_seconds") else None)
        for name, found in outcomes.items()
    }


# --- closed loop ---------------------------------------------------------------------------------------


async def run_closed(plan: dict[str, Any]) -> dict[str, Any]:
    """The ``closed`` mode: ``clients`` clients, each as fast as its answers come, for ``seconds``."""
    requests: list[dict[str, Any]] = plan["requests"]
    clients = int(plan["clients"])
    seconds = float(plan["seconds"])
    out: list[Outcome] = []
    async with _session(clients, plan.get("key", ""), plan["timeout"]) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def client(c: int) -> None:
            i = c
            while (began := time.perf_counter()) < deadline:
                got = await _send(session, plan["base"], requests[i % len(requests)], "")
                ended = time.perf_counter()
                out.append(
                    Outcome(got.kind, "", began - started, ended - began, got.status, got.size, got.state)
                )
                i += clients

        await asyncio.gather(*(client(c) for c in range(clients)))
        elapsed = time.perf_counter() - started
    found = summary(out, elapsed)
    answered = [o.size for o in out if o.state == ANSWERED and o.status == 200]
    found["answer_mb_mean"] = round(float(np.mean(answered)) / 1e6, 3) if answered else 0.0
    found["mb_per_s"] = round(sum(answered) / 1e6 / elapsed, 1)
    return found


# --- burst and kill ------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc), parents first."""
    found = [pid]
    for parent in found:
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found.extend(int(c) for c in children if int(c) not in found)
    return found


def kill_all(pid: int) -> list[int]:
    """SIGKILL ``pid`` and its descendants (collected first, then killed in one go); the pids killed."""
    victims = descendants(pid)
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    return victims


def alive(pids: Sequence[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie, dead but not yet reaped, is not)."""
    found = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "\nState:\tZ" not in status:
            found.append(pid)
    return found


async def run_burst(plan: dict[str, Any]) -> dict[str, Any]:
    """The ``burst`` mode: every request at once; SIGKILL the server after ``kill_after`` answers."""
    requests: list[dict[str, Any]] = plan["requests"]
    kill_after = int(plan.get("kill_after") or 0)
    spread = float(plan.get("spread_seconds") or 0.0)
    out: list[Outcome] = []
    killed: list[int] = []
    killed_at: float | None = None
    answered = [0]
    async with _session(len(requests), plan.get("key", ""), plan["timeout"]) as session:
        started = time.perf_counter()

        async def one(i: int, request: dict[str, Any]) -> None:
            nonlocal killed_at
            await asyncio.sleep(i * spread / len(requests))
            got = await _send(session, plan["base"], request, request["id"])
            ended = time.perf_counter()
            out.append(
                Outcome(got.kind, got.request_id, 0.0, ended - started, got.status, got.size, got.state)
            )
            answered[0] += got.state == ANSWERED
            if kill_after and not killed and answered[0] >= kill_after:
                killed.extend(kill_all(int(plan["kill_pid"])))
                killed_at = ended - started

        await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    if plan.get("outcomes"):
        _write_outcomes(Path(plan["outcomes"]), out)
    states = Counter(o.state for o in out)
    return {
        "requests": len(out),
        "answered": states[ANSWERED],
        "headers_only": states[HEADERS_ONLY],
        "failed": states[FAILED],
        "statuses": _statuses(out),
        "killed_pids": killed,
        "killed_after_seconds": None if killed_at is None else round(killed_at, 3),
        "answered_after_kill": sum(o.state == ANSWERED and o.seconds > (killed_at or 1e9) for o in out),
    }


# --- a huge chunked upload -----------------------------------------------------------------------------


def filler(total: int, chunk: int) -> Iterator[bytes]:
    """``total`` bytes of a JSON-looking body in pieces of ``chunk`` bytes, made as they are asked for."""
    head = b'{"nips": ["'
    yield head
    sent = len(head)
    piece = b"1" * chunk
    while sent < total:
        part = piece[: min(chunk, total - sent)]
        sent += len(part)
        yield part


async def run_upload(plan: dict[str, Any]) -> dict[str, Any]:
    """The ``upload`` mode: a chunked POST of ``bytes`` bytes, its answer read while it is written."""
    url = urlsplit(plan["base"])
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    key = f"X-API-Key: {plan['key']}\r\n" if plan.get("key") else ""
    head = (
        f"POST {plan['path']} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{key}\r\n"
    )
    sent = 0
    started = time.perf_counter()
    writer.write(head.encode())

    async def send() -> str:
        nonlocal sent
        try:
            for part in filler(int(plan["bytes"]), int(plan.get("chunk", 65536))):
                writer.write(b"%x\r\n%b\r\n" % (len(part), part))
                await writer.drain()
                sent += len(part)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return "complete"
        except (ConnectionError, OSError) as err:
            return type(err).__name__

    async def receive() -> tuple[int, bytes, float, int]:
        status_line = await reader.readline()
        at, sent_then = time.perf_counter() - started, sent
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = await reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), body, at, sent_then

    sending = asyncio.create_task(send())
    answer: dict[str, Any] = {"status": None, "seconds": None, "bytes_sent_at_answer": None, "detail": ""}
    try:
        status, body, at, sent_then = await asyncio.wait_for(receive(), timeout=float(plan["timeout"]))
        answer.update(
            status=status,
            seconds=round(at, 3),
            bytes_sent_at_answer=sent_then,
            detail=body.decode("utf-8", "replace")[:300],
        )
    except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as err:
        answer["detail"] = f"no answer: {type(err).__name__}"
    except TimeoutError:
        answer["detail"] = f"no answer within {plan['timeout']} s"
    # Did the server hang up (the upload ends in a reset or a closed pipe), or does it keep reading?
    try:
        ended = await asyncio.wait_for(asyncio.shield(sending), timeout=float(plan.get("grace", 3.0)))
    except TimeoutError:
        ended = "still sending"
        sending.cancel()
    writer.transport.abort()
    return {
        **answer,
        "sender": ended,
        "bytes_sent": sent,
        "seconds_total": round(time.perf_counter() - started, 3),
    }


# --- statistics ----------------------------------------------------------------------------------------


def summary(outcomes: Sequence[Outcome], seconds: float, bucket: float | None = None) -> dict[str, Any]:
    """Requests, statuses, latency percentiles in ms (of answered requests), per kind and per bucket."""
    found = _stats(outcomes, seconds)
    kinds = sorted({o.kind for o in outcomes})
    if len(kinds) > 1:
        found["by_kind"] = {k: _stats([o for o in outcomes if o.kind == k], seconds) for k in kinds}
    if bucket:
        buckets: dict[int, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            buckets[int(o.at // bucket)].append(o)
        found["by_bucket"] = [
            {"from_s": round(b * bucket), **_stats(buckets[b], bucket, brief=True)} for b in sorted(buckets)
        ]
    return found


def _stats(outcomes: Sequence[Outcome], seconds: float, brief: bool = False) -> dict[str, Any]:
    ms = np.asarray([o.seconds for o in outcomes if o.state == ANSWERED], dtype=float) * 1e3

    def pct(q: float) -> float | None:
        return round(float(np.percentile(ms, q)), 2) if len(ms) else None

    errors = sum(o.status is None or not 200 <= o.status < 300 for o in outcomes)
    found: dict[str, Any] = {
        "requests": len(outcomes),
        "errors": errors,
        "server_errors": sum(o.status is not None and o.status >= 500 for o in outcomes),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_ms": round(float(ms.max()), 2) if len(ms) else None,
    }
    if not brief:
        found.update(
            requests_per_s=round(len(outcomes) / max(seconds, 1e-9), 1),
            p95_ms=pct(95),
            statuses=_statuses(outcomes),
        )
    return found


def _statuses(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many answers of each status (``no answer`` for none, ``cut`` for a body cut short)."""
    counts: Counter[str] = Counter()
    for o in outcomes:
        name = "no answer" if o.status is None else str(o.status)
        counts[name if o.state != HEADERS_ONLY else f"{name} cut"] += 1
    return dict(sorted(counts.items()))


def _write_outcomes(path: Path, outcomes: Sequence[Outcome]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for o in outcomes:
            row = {
                "id": o.request_id,
                "kind": o.kind,
                "state": o.state,
                "status": o.status,
                "at": round(o.at, 4),
                "seconds": round(o.seconds, 4),
            }
            if o.retry_after is not None:
                row["retry_after"] = o.retry_after
            handle.write(json.dumps(row) + "\n")


MODES = {"upload": run_upload, "open": run_open, "closed": run_closed, "burst": run_burst}


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in MODES:
        raise SystemExit(f"usage: python -m rekomendasi.bench.hostile {{{'|'.join(MODES)}}} PLAN.json")
    plan = json.loads(Path(args[1]).read_text(encoding="utf-8"))
    print(json.dumps(asyncio.run(MODES[args[0]](plan))))


if __name__ == "__main__":
    main()
