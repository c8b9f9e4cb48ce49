"""Circuit breaker per venue, with its state kept between Lambda invocations.

closed --(N consecutive failed collections)--> open --(after reset_seconds)--> half-open (one trial)
half-open --success--> closed;  half-open --failure--> open again.

State lives in Redis (key cache.keys.breaker(dex), JSON, with a TTL) when Redis is configured,
else in PostgreSQL through the storage's breaker_get/breaker_set, else in process memory (a warm
Lambda or one `frs collect` run). `since` is when the breaker opened (open) or when the half-open
trial started (half_open), epoch seconds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, MutableMapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.cache import keys

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
REDIS_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class BreakerState:
    state: str = CLOSED
    failures: int = 0               # consecutive failed collections
    since: float | None = None      # epoch seconds: opened (open) / trial started (half_open)


class StateStore(Protocol):
    def load(self, dex: str) -> BreakerState | None: ...
    def save(self, dex: str, state: BreakerState) -> None: ...


class DictStore:
    """In-memory (or any dict-like) store: tests, and the no-Redis/no-database fallback."""

    def __init__(self, data: MutableMapping[str, Any] | None = None) -> None:
        self.data: MutableMapping[str, Any] = {} if data is None else data

    def load(self, dex: str) -> BreakerState | None:
        raw = self.data.get(dex)
        return BreakerState(**raw) if raw else None

    def save(self, dex: str, state: BreakerState) -> None:
        self.data[dex] = asdict(state)


class RedisStore:
    """JSON under keys.breaker(dex) with a TTL (a forgotten breaker is simply closed)."""

    def __init__(self, client: Any, ttl_seconds: int = REDIS_TTL_SECONDS) -> None:
        self.client, self.ttl_seconds = client, ttl_seconds

    def load(self, dex: str) -> BreakerState | None:
        raw = self.client.get(keys.breaker(dex))
        if not raw:
            return None
        data = json.loads(raw)
        return BreakerState(state=data["state"], failures=int(data["failures"]), since=data.get("since"))

    def save(self, dex: str, state: BreakerState) -> None:
        self.client.set(keys.breaker(dex), json.dumps(asdict(state)), ex=self.ttl_seconds)


class StorageStore:
    """PostgreSQL through the storage's breaker_get(dex) / breaker_set(dex, state, failures, opened_at)."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    def load(self, dex: str) -> BreakerState | None:
        row = self.storage.breaker_get(dex)
        if not row:
            return None
        if isinstance(row, dict):
            state, failures, opened = row.get("state"), row.get("failures"), row.get("opened_at")
        else:
            state, failures, opened = row[0], row[1], row[2]
        since = opened.timestamp() if isinstance(opened, datetime) else opened
        return BreakerState(state=str(state), failures=int(failures or 0), since=since)

    def save(self, dex: str, state: BreakerState) -> None:
        opened = None if state.since is None else datetime.fromtimestamp(state.since, tz=UTC)
        self.storage.breaker_set(dex, state.state, state.failures, opened)


class FallbackStore:
    """Use `primary`; when it errors (Redis down), say so once and keep going in memory."""

    def __init__(self, primary: StateStore, memory: DictStore) -> None:
        self.primary, self.memory, self._warned = primary, memory, False

    def _fail(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("breaker state store unavailable (%s); using process memory", exc)
            self._warned = True

    def load(self, dex: str) -> BreakerState | None:
        try:
            return self.primary.load(dex)
        except Exception as exc:  # any backend error: the breaker must not fail the collection
            self._fail(exc)
            return self.memory.load(dex)

    def save(self, dex: str, state: BreakerState) -> None:
        self.memory.save(dex, state)
        try:
            self.primary.save(dex, state)
        except Exception as exc:
            self._fail(exc)


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class CircuitBreaker:
    def __init__(self, dex: str, store: StateStore, *, threshold: int, reset_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.dex, self.store, self.threshold, self.reset_seconds, self.clock = dex, store, threshold, reset_seconds, clock

    def state(self) -> BreakerState:
        return self.store.load(self.dex) or BreakerState()

    def check(self) -> str | None:
        """None when a collection may run (possibly as the half-open trial); else why not."""
        s, now = self.state(), self.clock()
        if s.state == CLOSED:
            return None
        since = s.since if s.since is not None else now
        if now < since + self.reset_seconds:
            if s.state == OPEN:
                return f"circuit open until {iso(since + self.reset_seconds)}"
            return f"circuit half-open: trial collection running since {iso(since)}"
        self.store.save(self.dex, replace(s, state=HALF_OPEN, since=now))   # this caller is the trial
        return None

    def record(self, ok: bool) -> BreakerState:
        """Outcome of a collection that ran (success/partial = ok, failed = not ok)."""
        s, now = self.state(), self.clock()
        if ok:
            new = BreakerState()
        elif s.state == HALF_OPEN or s.failures + 1 >= self.threshold:
            new = BreakerState(state=OPEN, failures=s.failures + 1, since=now)
        else:
            new = BreakerState(state=CLOSED, failures=s.failures + 1)
        if new != s:
            self.store.save(self.dex, new)
        return new


_MEMORY = DictStore()


def default_store(settings: Any, *, storage: Any = None, kv: Any = None) -> StateStore:
    """Redis when configured, else the database (storage with breaker_get/set), else process memory.

    `kv` is the caller's Redis client (the Lambda's wiring.kv()): reused, so a container keeps one
    connection; without it (CLI) the composition root's client (wiring.kv()), built once per process.
    """
    if settings.redis_enabled:
        if kv is None:
            from chalicelib import wiring  # only the composition root builds adapters

            kv = wiring.kv_for(settings)
        return FallbackStore(RedisStore(kv), _MEMORY)
    if storage is not None and hasattr(storage, "breaker_get") and hasattr(storage, "breaker_set"):
        return FallbackStore(StorageStore(storage), _MEMORY)
    return _MEMORY


def breaker_for(dex: str, settings: Any, *, store: StateStore | None = None, storage: Any = None,
                kv: Any = None) -> CircuitBreaker:
    return CircuitBreaker(dex, store or default_store(settings, storage=storage, kv=kv),
                          threshold=settings.circuit_failure_threshold, reset_seconds=settings.circuit_reset_seconds)


def reset_memory() -> None:
    """Forget in-process breaker state (tests; repeated in-process CLI runs)."""
    _MEMORY.data.clear()
