"""Prometheus metrics of one app: requests and latency by route, queue depth, answer modes,
and the process's own (resident memory, CPU time, open files)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

# Label values come from these sets only, so a flood of invented methods cannot grow the
# series without bound (routes are the app's templates, or "unmatched").
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "syllabus_requests_total",
            "HTTP requests by route and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "syllabus_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.answers = Counter(
            "syllabus_answers_total", "Answers by mode.", ["mode"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "syllabus_generation_queue_depth",
            "Generation requests waiting or running.",
            registry=self.registry,
        )

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request; a method outside :data:`METHODS` counts as ``other``."""
        shown = method if method in METHODS else "other"
        self.requests.labels(route, shown, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def track_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(lambda: float(depth()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
