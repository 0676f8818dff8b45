"""Token-bucket rate limits, one bucket per caller (a key, or else a client address).

A bucket holds up to ``burst`` questions and refills at ``per_minute``; a
caller whose bucket is empty gets ``RateLimited`` (429) with the seconds until
the next question is allowed.  Buckets live in memory, per process; the least
recently used are forgotten beyond ``max_callers`` (a forgotten caller starts
again with a full bucket).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from service.errors import RateLimited


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = 100_000,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, identity: str) -> float:
        """Take one question from ``identity``'s bucket: 0 if allowed, else seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(identity, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[identity] = (tokens, now)
            while len(self._buckets) > self._max_callers:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self._rate

    def check(self, identity: str) -> None:
        """Raise ``RateLimited`` with ``Retry-After`` when ``identity`` must wait."""
        wait = self.wait_seconds(identity)
        if wait > 0:
            raise RateLimited(
                f"too many questions; retry in {math.ceil(wait)} s",
                retry_after=max(1, math.ceil(wait)),
            )
