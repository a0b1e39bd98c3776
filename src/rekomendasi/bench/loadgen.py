"""The load generator of `rekomendasi bench serve`: ``clients`` concurrent keep-alive HTTP clients (aiohttp)
in one process, for ``seconds``.

Two modes. Closed loop (no ``rate``): each client sends its next request as soon as the previous answer is
read, which measures the highest throughput; with C clients the mean latency is then C / throughput by
Little's law, whatever the server's speed. Open loop (``rate`` requests/s in all): the clients send on a
fixed schedule, and latency is counted from the scheduled send time (no coordinated omission), which
measures the latency at that load.

Run it as its own process (``python -m rekomendasi.bench.loadgen``) so it does not share an interpreter with
the server; it prints one JSON line: requests, errors, requests/s and latency percentiles in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np


async def _client(
    session: object,
    base: str,
    paths: list[str],
    start: int,
    deadline: float,
    out: list[float],
    errors: list[int],
    interval: float | None = None,
    offset: float = 0.0,
) -> None:
    """One client: closed loop, or (with ``interval``) a request every ``interval`` s from ``offset``;
    latency then counts from the scheduled time, so a slow answer delays nothing unmeasured."""
    i = start
    scheduled = time.perf_counter() + offset
    while True:
        if interval is not None:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        began = scheduled if interval is not None else time.perf_counter()
        if began >= deadline:
            return
        async with session.get(base + paths[i % len(paths)]) as response:  # type: ignore[attr-defined]
            await response.read()
            if response.status != 200:
                errors.append(response.status)
        out.append(time.perf_counter() - began)
        i += 1
        if interval is not None:
            scheduled += interval


async def _run(
    base: str, key: str, paths: list[str], clients: int, seconds: float, warmup: float, rate: float | None
) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    headers = {"X-API-Key": key} if key else {}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        if warmup > 0:
            await asyncio.gather(
                *(
                    _client(session, base, paths, c * 7919, time.perf_counter() + warmup, [], [])
                    for c in range(clients)
                )
            )
        latencies: list[float] = []
        errors: list[int] = []
        started = time.perf_counter()
        deadline = started + seconds
        interval = clients / rate if rate else None
        await asyncio.gather(
            *(
                _client(
                    session,
                    base,
                    paths,
                    c * 104729,
                    deadline,
                    latencies,
                    errors,
                    interval,
                    (interval or 0.0) * c / clients,
                )
                for c in range(clients)
            )
        )
        elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1e3
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else float("nan"),
        "p95_ms": round(float(np.percentile(ms, 95)), 2) if len(ms) else float("nan"),
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else float("nan"),
        "max_ms": round(float(ms.max()), 2) if len(ms) else float("nan"),
        "clients": clients,
        "offered_rate": rate or 0.0,
    }


def run(
    base: str,
    key: str,
    paths: list[str],
    clients: int,
    seconds: float,
    warmup: float = 2.0,
    rate: float | None = None,
) -> dict[str, float]:
    """Drive ``base`` with ``clients`` concurrent clients over ``paths`` (cycled) for ``seconds``: closed
    loop, or open loop at ``rate`` requests/s in all."""
    return asyncio.run(_run(base, key, paths, clients, seconds, warmup, rate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", default="", help="API key (none for /health)")
    parser.add_argument("--paths", type=Path, required=True, help="file with one request path per line")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=None, help="open loop: requests/s in all")
    args = parser.parse_args()
    paths = [line for line in args.paths.read_text(encoding="utf-8").splitlines() if line]
    print(json.dumps(run(args.base, args.key, paths, args.clients, args.seconds, args.warmup, args.rate)))


if __name__ == "__main__":
    main()
