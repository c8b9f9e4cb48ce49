"""Request/cache counters of this container, mirrored to Redis (keys.metrics) every few seconds.

In-process counting keeps the hot path free of network calls; `flush()` adds the deltas to
shared Redis counters (INCRBY in one pipeline) so /health and /metrics can report the fleet.
Without Redis (or with the in-memory fallback lacking INCRBY) the container's own numbers are used.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from chalicelib.cache import keys

FLUSH_EVERY_S = 5.0
_COUNTERS = ("requests", "cache_hits", "cache_misses", "response_ms_total")


@dataclass
class Metrics:
    started_at: float = field(default_factory=time.time)
    totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0.0))
    pending: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0.0))
    recent: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=10_000))
    last_flush: float = field(default_factory=time.monotonic)

    def _add(self, name: str, value: float) -> None:
        self.totals[name] += value
        self.pending[name] += value

    def request(self, elapsed_ms: float) -> None:
        totals, pending = self.totals, self.pending   # every request: inlined _add (handler overhead)
        totals["requests"] += 1
        pending["requests"] += 1
        totals["response_ms_total"] += elapsed_ms
        pending["response_ms_total"] += elapsed_ms
        self.recent.append((time.time(), elapsed_ms))

    def cache(self, hit: bool) -> None:
        name = "cache_hits" if hit else "cache_misses"
        self.totals[name] += 1
        self.pending[name] += 1

    def maybe_flush(self, get_kv: Any) -> None:
        """Every FLUSH_EVERY_S: push the deltas (get_kv is only called then, so no client is built per request)."""
        if time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.flush(get_kv())

    def flush(self, kv: Any) -> None:
        self.last_flush = time.monotonic()
        pipeline = getattr(kv, "pipeline", None)
        if pipeline is None or not any(self.pending.values()):
            return
        with contextlib.suppress(Exception):
            pipe = pipeline(transaction=False)
            minute = int(time.time() // 60)
            for name, value in self.pending.items():
                if value:
                    pipe.incrbyfloat(keys.metrics(name), value)
            pipe.incrbyfloat(keys.metrics(f"requests:{minute}"), self.pending["requests"])
            pipe.expire(keys.metrics(f"requests:{minute}"), 180)
            pipe.execute()
            self.pending = dict.fromkeys(_COUNTERS, 0.0)

    def shared(self, kv: Any) -> dict[str, float]:
        """Fleet-wide totals from Redis (after flushing ours), else this container's."""
        self.flush(kv)
        out = dict(self.totals)
        with contextlib.suppress(Exception):
            mget = kv.mget
            names = [*list(_COUNTERS), f"requests:{int(time.time() // 60) - 1}"]
            values = mget([keys.metrics(n) for n in names])
            if values[0] is not None:
                out = {n: float(v or 0) for n, v in zip(names, values, strict=True)}
        return out

    def local_rpm(self) -> float:
        cutoff = time.time() - 60
        return float(sum(1 for t, _ in self.recent if t >= cutoff))

    def local_avg_ms(self) -> float:
        cutoff = time.time() - 60
        window = [ms for t, ms in self.recent if t >= cutoff]
        return sum(window) / len(window) if window else 0.0


METRICS = Metrics()
