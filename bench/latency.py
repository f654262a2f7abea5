"""Server-side latency of pages and API calls, measured through Django's test client."""

import statistics
import time

from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext

TARGET_MS = 150


def latency(client: Client, label: str, urls: list[str], rounds: int = 3, target_ms: float = TARGET_MS) -> None:
    """Request each URL ``rounds`` times (after one warm-up each) and print p50/p95, the most
    queries and the largest response, and whether p95 meets the target."""
    for url in urls:
        client.get(url)  # warm caches and connections
    samples, queries, sizes = [], [], []
    for _ in range(rounds):
        for url in urls:
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries.append(len(ctx.captured_queries))
            sizes.append(len(response.content))
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    verdict = "OK" if p95 < target_ms else "SLOW"
    print(f"{label:<28} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  (n={len(samples)}, queries ≤ {max(queries)}, "
          f"≤ {max(sizes) // 1024} KiB)  target p95 < {target_ms:.0f} ms {verdict}", flush=True)
