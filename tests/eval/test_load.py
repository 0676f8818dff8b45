"""The load test's planning and accounting (the run itself is in BENCHMARKS.md)."""

from __future__ import annotations

import pytest

from eval.bench.load import Outcome, is_loopback, main, plan, summary


def test_asks_are_spread_evenly_among_searches() -> None:
    order = plan(searches=8, asks=2)
    assert order.count("ask") == 2 and order.count("search") == 8
    assert order[0] == "ask" and order[5] == "ask"
    assert plan(3, 0) == ["search"] * 3


def test_only_loopback_urls_are_accepted() -> None:
    assert is_loopback("http://127.0.0.1:8000") and is_loopback("http://localhost:1")
    assert is_loopback("http://[::1]:8000")
    assert not is_loopback("http://10.0.0.5:8000") and not is_loopback("https://example.org")
    with pytest.raises(SystemExit):
        main(["--url", "https://example.org"])


def test_backpressure_is_counted_apart_from_failures() -> None:
    outcomes = [
        Outcome("/v1/search", 200, 0.010),
        Outcome("/v1/search", 200, 0.030),
        Outcome("/v1/ask", 503, 0.001),
        Outcome("/v1/ask", 200, 0.500),
    ]
    result = summary(outcomes, seconds=2.0)
    assert result["passed"] and result["overloaded_503"] == 1
    assert result["errors_5xx_other_than_503"] == 0 and result["requests_per_second"] == 2.0
    assert result["endpoints"]["/v1/search"]["p50_ms"] == 20.0
    assert result["endpoints"]["/v1/ask"]["statuses"] == {"200": 1, "503": 1}
    failed = summary([*outcomes, Outcome("/v1/ask", 500, 0.1), Outcome("/v1/ask", 0, 30)], 2.0)
    assert not failed["passed"] and failed["no_response"] == 1
