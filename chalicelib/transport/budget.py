"""Per-venue request budget: a token bucket sized from the venue's published rate limit.

One bucket per venue per process (`bucket_for`). Capacity = requests_per_minute, refilled at
rpm/60 per second, so a warm Lambda or a long-running `frs collect` never exceeds the venue's
public limit, and one collection (run at most once a minute) can spend at most a minute's worth.
A collection never waits for tokens: what the budget cannot cover is skipped and reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chalicelib.venues.base import VenueSpec


class TokenBucket:
    def __init__(self, capacity: float, refill_per_second: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._clock = clock
        self._tokens = float(capacity)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, n: float = 1.0) -> bool:
        """Spend n tokens if available now; False (and nothing spent) otherwise."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.refill_per_second)
            self._at = now
            if self._tokens >= n:
                self._tokens -= n
                return True
            return False

    @property
    def available(self) -> float:
        with self._lock:
            now = self._clock()
            return min(self.capacity, self._tokens + (now - self._at) * self.refill_per_second)


def bucket_from_spec(spec: VenueSpec, *, clock: Callable[[], float] = time.monotonic) -> TokenBucket:
    rpm = spec.rate_limit.requests_per_minute
    return TokenBucket(rpm, rpm / 60.0, clock=clock)


_BUCKETS: dict[str, TokenBucket] = {}
_LOCK = threading.Lock()


def bucket_for(spec: VenueSpec) -> TokenBucket:
    """The process-wide bucket of this venue (created full on first use, e.g. a Lambda cold start)."""
    with _LOCK:
        if spec.id not in _BUCKETS:
            _BUCKETS[spec.id] = bucket_from_spec(spec)
        return _BUCKETS[spec.id]


def reset_buckets() -> None:
    """Tests and repeated in-process CLI runs start with full buckets."""
    with _LOCK:
        _BUCKETS.clear()
