"""The load generator of `rekomendasi bench serve`: ``clients`` concurrent keep-alive HTTP clients (aiohttp)
in one process, each sending its next request as soon as the previous answer is read, for ``seconds``.

Run it as its own process (``python -m rekomendasi.loadgen``) so it does not share an interpreter with
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
) -> None:
    i = start
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        async with session.get(base + paths[i % len(paths)]) as response:  # type: ignore[attr-defined]
            await response.read()
            if response.status != 200:
                errors.append(response.status)
        out.append(time.perf_counter() - began)
        i += 1


async def _run(
    base: str, key: str, paths: list[str], clients: int, seconds: float, warmup: float
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
        await asyncio.gather(
            *(_client(session, base, paths, c * 104729, deadline, latencies, errors) for c in range(clients))
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
    }


def run(
    base: str, key: str, paths: list[str], clients: int, seconds: float, warmup: float = 2.0
) -> dict[str, float]:
    """Drive ``base`` with ``clients`` concurrent clients over ``paths`` (cycled) for ``seconds``."""
    return asyncio.run(_run(base, key, paths, clients, seconds, warmup))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", default="", help="API key (none for /health)")
    parser.add_argument("--paths", type=Path, required=True, help="file with one request path per line")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    paths = [line for line in args.paths.read_text(encoding="utf-8").splitlines() if line]
    print(json.dumps(run(args.base, args.key, paths, args.clients, args.seconds, args.warmup)))


if __name__ == "__main__":
    main()
