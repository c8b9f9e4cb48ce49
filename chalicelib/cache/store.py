"""The key-value store behind `wiring.kv()`: Redis when configured (cache/resp.py), else an in-memory fallback.

The fallback implements the subset of redis-py the project uses (strings with TTL, sets,
counters, pipelines, scan, pub/sub publish to in-process listeners) so `frs local` without a
redis-server still runs one process end to end. It says so in the log: state is per process
and is lost on restart, so it is never chosen silently.
"""

from __future__ import annotations

import builtins
import fnmatch
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)


def make_kv(settings: Any) -> Any:
    """Redis on REDIS_URL (short timeouts: a slow cache must not stall a Lambda), else MemoryKV.

    cache/resp.RespKV speaks the read path's commands itself and hands every other call to redis-py,
    built on first use: a route Lambda's cold start never imports redis-py (issue 18)."""
    if settings.redis_enabled:
        from chalicelib.cache.resp import RespKV

        return RespKV(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30)
    reason = "USE_REDIS=false" if not settings.use_redis else "REDIS_URL is not set"
    log.warning("Redis disabled (%s): using the in-memory key-value fallback (per process, not shared)", reason)
    return MemoryKV()


def is_outage(exc: BaseException) -> bool:
    """Redis unreachable (refused, reset, timed out), as opposed to a bad command or a bug.

    redis-py's ConnectionError/TimeoutError derive from RedisError, not from the builtins; they are
    looked up only when redis is already loaded (an exception cannot come from a module never imported).
    """
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    errors = sys.modules.get("redis.exceptions")
    return errors is not None and isinstance(exc, (errors.ConnectionError, errors.TimeoutError))


def _b(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value).encode() if isinstance(value, float) else str(value).encode()
    return str(value).encode()


class MemoryKV:
    """Thread-safe in-memory stand-in for the redis-py calls the service makes (values are bytes)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, Any] = {}
        self._expiry: dict[str, float] = {}
        self._lock = threading.RLock()
        self._clock = clock
        self.listeners: list[Callable[[str, bytes], None]] = []

    # ---- internals ---------------------------------------------------------------------------
    def _live(self, key: str) -> bool:
        at = self._expiry.get(key)
        if at is not None and self._clock() >= at:
            self._data.pop(key, None)
            self._expiry.pop(key, None)
        return key in self._data

    def _expire_in(self, key: str, ex: float | None) -> None:
        if ex is None:
            self._expiry.pop(key, None)
        else:
            self._expiry[key] = self._clock() + float(ex)

    # ---- strings -----------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._data[key] if self._live(key) and isinstance(self._data[key], bytes) else None

    def mget(self, keys: Any, *more: str) -> list[bytes | None]:
        names = [keys, *more] if isinstance(keys, str) else [*keys, *more]
        return [self.get(k) for k in names]

    def set(self, key: str, value: Any, ex: int | None = None, nx: bool = False, px: int | None = None) -> bool | None:
        with self._lock:
            if nx and self._live(key):
                return None
            self._data[key] = _b(value)
            self._expire_in(key, px / 1000 if px is not None else ex)
            return True

    def setex(self, key: str, ex: int, value: Any) -> bool | None:
        return self.set(key, value, ex=ex)

    def incrbyfloat(self, key: str, amount: float = 1.0) -> float:
        with self._lock:
            value = float(self.get(key) or 0) + float(amount)
            self._data[key] = _b(value)
            return value

    def incr(self, key: str, amount: int = 1) -> int:
        with self._lock:
            value = int(self.get(key) or 0) + int(amount)
            self._data[key] = _b(value)
            return value

    # ---- keys --------------------------------------------------------------------------------
    def delete(self, *keys: str) -> int:
        with self._lock:
            gone = 0
            for k in keys:
                k = k.decode() if isinstance(k, bytes) else k
                if self._live(k):
                    gone += 1
                self._data.pop(k, None)
                self._expiry.pop(k, None)
            return gone

    def exists(self, *keys: str) -> int:
        with self._lock:
            return sum(1 for k in keys if self._live(k))

    def expire(self, key: str, seconds: int) -> bool:
        with self._lock:
            if not self._live(key):
                return False
            self._expire_in(key, seconds)
            return True

    def ttl(self, key: str) -> int:
        with self._lock:
            if not self._live(key):
                return -2
            at = self._expiry.get(key)
            return -1 if at is None else max(0, round(at - self._clock()))

    def scan_iter(self, match: str = "*", count: int | None = None) -> Iterator[bytes]:
        with self._lock:
            names = [k for k in list(self._data) if self._live(k) and fnmatch.fnmatchcase(k, match)]
        return iter([k.encode() for k in names])

    # ---- sets --------------------------------------------------------------------------------
    def _set(self, key: str) -> builtins.set[bytes]:
        if not self._live(key) or not isinstance(self._data[key], set):
            self._data[key] = set()
        return self._data[key]

    def sadd(self, key: str, *members: Any) -> int:
        with self._lock:
            s = self._set(key)
            before = len(s)
            s.update(_b(m) for m in members)
            return len(s) - before

    def srem(self, key: str, *members: Any) -> int:
        with self._lock:
            s = self._set(key)
            before = len(s)
            s.difference_update(_b(m) for m in members)
            return before - len(s)

    def smembers(self, key: str) -> builtins.set[bytes]:
        with self._lock:
            return set(self._set(key))

    def scard(self, key: str) -> int:
        return len(self.smembers(key))

    # ---- pub/sub and batching ----------------------------------------------------------------
    # ---- lists (the ingest buffer) ------------------------------------------------------------
    def _list(self, key: str) -> list[bytes]:
        if not self._live(key):
            self._data[key] = []
        return self._data[key]

    def rpush(self, key: str, *values: Any) -> int:
        with self._lock:
            items = self._list(key)
            items.extend(_b(v) for v in values)
            return len(items)

    def lpop(self, key: str) -> bytes | None:
        with self._lock:
            items = self._list(key)
            return items.pop(0) if items else None

    def lindex(self, key: str, index: int) -> bytes | None:
        with self._lock:
            items = self._list(key)
            return items[index] if -len(items) <= index < len(items) else None

    def llen(self, key: str) -> int:
        with self._lock:
            return len(self._list(key))

    def publish(self, channel: str, message: Any) -> int:
        for listener in list(self.listeners):
            listener(channel, _b(message))
        return len(self.listeners)

    def pipeline(self, transaction: bool = True) -> _Pipeline:
        return _Pipeline(self)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


class _Pipeline:
    """Buffers calls and runs them on execute(), like redis-py's pipeline (no atomicity needed here)."""

    def __init__(self, kv: MemoryKV) -> None:
        self._kv = kv
        self._calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., _Pipeline]:
        if not hasattr(self._kv, name):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> _Pipeline:
            self._calls.append((name, args, kwargs))
            return self

        return call

    def execute(self) -> list[Any]:
        calls, self._calls = self._calls, []
        return [getattr(self._kv, name)(*args, **kwargs) for name, args, kwargs in calls]

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._calls = []
