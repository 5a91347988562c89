"""`/metrics` in the Prometheus text format (``hanyi serve --metrics``), with
``prometheus-client``: what an operator graphs and alerts on.

    hanyi_requests_total{path,status}        requests answered, by route and HTTP status
    hanyi_request_seconds{path}              latency histogram (queueing included)
    hanyi_batch_texts                        texts per model call (dynamic batching at work)
    hanyi_queue_texts                        texts waiting for the model now
    hanyi_characters_translated_total        characters of text translated
    hanyi_cache_hits_total / _misses_total   the translation cache (inference/cache.py)

Each app has its own registry (no process-global state: tests and workers stay separate).
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily

from hanyi.serving.batching import DynamicBatcher

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class _CacheCollector:
    """Reads the cache's own counters when scraped (no double bookkeeping)."""

    def __init__(self, cache):
        self.cache = cache

    def collect(self):
        for name, value in (("hits", self.cache.stats.hits), ("misses", self.cache.stats.misses)):
            family = CounterMetricFamily(f"hanyi_cache_{name}", f"translation cache {name}")
            family.add_metric([], value)
            yield family


class Metrics:
    def __init__(self, batcher, cache=None):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("hanyi_requests", "requests answered", ["path", "status"],
                                registry=registry)
        self.latency = Histogram("hanyi_request_seconds", "time to answer a request", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=registry)
        self.batch_texts = Histogram("hanyi_batch_texts", "texts per model call",
                                     buckets=BATCH_BUCKETS, registry=registry)
        self.characters = Counter("hanyi_characters_translated", "characters of text translated",
                                  registry=registry)
        queue = Gauge("hanyi_queue_texts", "texts waiting for the model", registry=registry)
        queue.set_function(lambda: batcher.waiting)
        if cache is not None:
            registry.register(_CacheCollector(cache))

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def install_metrics(app: FastAPI, batcher: DynamicBatcher, cache) -> None:
    """``/metrics`` and the middleware that counts every API answer."""
    metrics = Metrics(batcher, cache)
    routes = {"/api/translate", "/api/translate_file", "/api/health"}
    batcher.on_batch = lambda texts: (metrics.batch_texts.observe(len(texts)),
                                      metrics.characters.inc(sum(len(t) for t in texts)))

    @app.middleware("http")
    async def count(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/api/"):  # known routes only: a bounded set of label values
            metrics.observe_request(path if path in routes else "/api/other",
                                    response.status_code, time.perf_counter() - t0)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def exposition():
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
