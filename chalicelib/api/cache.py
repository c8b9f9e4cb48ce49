"""Two-tier read cache (SPEC "Caching Strategy"): bounded in-process TTL dict over Redis over the database.

- Tier 1 (memory): LRU dict bounded by entries and approximate bytes. Its TTL is short,
  min(5 s, CACHE_TTL_SECONDS), because the analysis rewrites the Redis copy every cycle and a
  warm container must not serve something older than Redis for long. CACHE_TTL_SECONDS=0
  disables it.
- Tier 2 (Redis): the keys of chalicelib/cache/keys.py. A database load is written back with
  `ex=CACHE_TTL_SECONDS` so other containers share it (the analysis overwrites it next cycle).
- Derived entries (rendered responses, computed opportunities) name a parent entry and are
  valid only while that exact parent entry is: invalidating or refreshing the parent drops them.

Every read says where it came from: "memory" | "redis" | "database".

Degrade, don't fail (issue 12): every successful load is also kept as the key's LAST KNOWN value (bounded,
no TTL). When the database is unreachable (chalicelib.outage) and Redis has nothing, `fetch` serves that
copy with `stale=True` (responses say `"stale": true` beside `data_age_seconds`); with no copy the outage
propagates and the REST wrapper answers 503 with Retry-After. A Redis or database outage is logged once per
state change, not per request.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from chalicelib.api.metrics import METRICS

log = logging.getLogger(__name__)
MEMORY_TTL_CAP_S = 5.0
_versions = count(1)


@dataclass(slots=True)
class Entry:
    value: Any
    updated_ms: int | None          # when the underlying data was produced (not when cached)
    source: str                     # tier the value was loaded from before landing in memory
    expires_at: float               # time.monotonic()
    size: int
    version: int
    parent: tuple[str, int] | None = None
    tail: str | None = None         # value[1:] of a rendered JSON object, made on demand (tail())


@dataclass(frozen=True, slots=True)
class Cached:
    value: Any
    source: str                     # memory | redis | database
    updated_ms: int | None
    version: int = 0                # memory entry version (for derived entries)
    key: str = ""
    stale: bool = False             # the source is down: this is the last known value (updated_ms says how old)


class TwoTierCache:
    def __init__(self, max_entries: int = 512, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._mem: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._last: OrderedDict[str, tuple[Any, int]] = OrderedDict()   # key -> last known (value, updated or loaded ms)

    # ---- memory tier ------------------------------------------------------------------
    def _live(self, key: str, ttl: float) -> Entry | None:
        entry = self._mem.get(key)
        if entry is None:
            return None
        now = time.monotonic()
        if entry.expires_at <= now or (entry.parent and not self._parent_ok(entry.parent, now)):
            self._drop(key)
            return None
        self._mem.move_to_end(key)
        return entry

    def _parent_ok(self, parent: tuple[str, int], now: float) -> bool:
        p = self._mem.get(parent[0])
        return p is not None and p.version == parent[1] and p.expires_at > now

    def _drop(self, key: str) -> None:
        entry = self._mem.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def _put(self, key: str, value: Any, updated_ms: int | None, source: str, ttl: float,
             size: int, parent: tuple[str, int] | None = None) -> int:
        version = next(_versions)
        if ttl <= 0 or size > self.max_bytes:
            return version
        self._drop(key)
        self._mem[key] = Entry(value, updated_ms, source, time.monotonic() + ttl, size, version, parent)
        self._bytes += size
        while self._mem and (len(self._mem) > self.max_entries or self._bytes > self.max_bytes):
            self._drop(next(iter(self._mem)))
        return version

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._mem)

    # ---- reads ------------------------------------------------------------------------------
    def peek(self, key: str) -> Cached | None:
        """The memory entry `key` while it is live (and its parent is), else None; never loads."""
        entry = self.live(key)
        return None if entry is None else Cached(entry.value, "memory", entry.updated_ms, entry.version, key)

    def tail(self, key: str, entry: Entry) -> str:
        """entry.value[1:] - a rendered JSON object without its "{" - made once per entry, counted in its size.

        api/fastlane.py splices the freshness members in front of it per repeat request: one copy of the
        body per response instead of two (slicing, then joining)."""
        tail = entry.tail
        if tail is None:
            tail = entry.tail = entry.value[1:]
            if self._mem.get(key) is entry:
                entry.size += len(tail)
                self._bytes += len(tail)
        return tail

    def live(self, key: str) -> Entry | None:
        """peek's entry itself, counted as a hit (api/fastlane.py: no Cached built per repeat request)."""
        entry = self._live(key, 0)
        if entry is not None:
            METRICS.cache(True)
        return entry

    def fetch(
        self,
        key: str,
        *,
        ttl: float,
        kv: Any,
        read_redis: Callable[[Any], tuple[Any, int | None, int] | None],
        load_db: Callable[[], tuple[Any, int | None, int]],
        write_redis: Callable[[Any, Any], None] | None = None,
    ) -> Cached:
        """memory -> Redis -> database. Loaders return (value, updated_ms, approx_size_bytes)."""
        from chalicelib import outage

        mem_ttl = memory_ttl(ttl)
        entry = self._live(key, mem_ttl)
        if entry is not None:
            METRICS.cache(True)
            return Cached(entry.value, "memory", entry.updated_ms, entry.version, key)
        hit = None
        if kv is not None:
            try:
                hit = read_redis(kv)
            except Exception as exc:  # Redis down: serve from the database (logged once per state change)
                if not outage.redis_outage(exc):
                    log.warning("redis read %s failed: %s", key, exc)
                outage.down("redis", exc)
            else:
                outage.up("redis")
        if hit is not None:
            METRICS.cache(True)
            value, updated_ms, size = hit
            self._remember(key, value, updated_ms)
            version = self._put(key, value, updated_ms, "redis", mem_ttl, size)
            return Cached(value, "redis", updated_ms, version, key)
        METRICS.cache(False)
        try:
            value, updated_ms, size = load_db()
        except Exception as exc:
            if not outage.database_outage(exc):
                raise
            outage.down("database", exc)
            if key not in self._last:
                raise                  # nothing known to serve: the REST wrapper answers 503
            value, updated_ms = self._last[key]
            return Cached(value, "memory", updated_ms, 0, key, stale=True)
        self._remember(key, value, updated_ms)
        if write_redis is not None and kv is not None:
            try:
                write_redis(kv, value)
            except Exception as exc:
                if not outage.redis_outage(exc):
                    log.warning("redis write %s failed: %s", key, exc)
                outage.down("redis", exc)
        version = self._put(key, value, updated_ms, "database", mem_ttl, size)
        return Cached(value, "database", updated_ms, version, key)

    def _remember(self, key: str, value: Any, updated_ms: int | None) -> None:
        # no data time of its own (the dexes table): its age is counted from when it was loaded
        self._last[key] = (value, updated_ms if updated_ms is not None else int(time.time() * 1000))
        self._last.move_to_end(key)
        while len(self._last) > self.max_entries:
            self._last.popitem(last=False)

    def memo(self, key: str, ttl: float, build: Callable[[], Any]) -> Any:
        """A value computed here, kept in the memory tier for min(ttl, 5 s) (no Redis, no hit/miss counting)."""
        entry = self._live(key, memory_ttl(ttl))
        if entry is not None:
            return entry.value
        value = build()
        self._put(key, value, None, "memory", memory_ttl(ttl), 4096)
        return value

    def derived(self, key: str, parent: Cached, build: Callable[[], tuple[Any, int]], ttl: float) -> Cached:
        """A value computed from `parent` (memory only), valid while that parent entry is."""
        entry = self._live(key, memory_ttl(ttl))
        if entry is not None:
            METRICS.cache(True)
            return Cached(entry.value, "memory", entry.updated_ms, entry.version, key)
        value, size = build()
        link = (parent.key, parent.version) if parent.key in self._mem and not parent.stale else None
        version = self._put(key, value, parent.updated_ms, parent.source, memory_ttl(ttl) if link else 0,
                            size, link)
        return Cached(value, parent.source, parent.updated_ms, version, key, stale=parent.stale)

    # ---- invalidation ---------------------------------------------------------------------
    def invalidate(self, *prefixes: str, kv: Any = None, redis_keys: tuple[str, ...] = (),
                   redis_patterns: tuple[str, ...] = ()) -> None:
        for key in [k for k in self._mem if k.startswith(prefixes)]:
            self._drop(key)
        if kv is None:
            return
        with contextlib.suppress(Exception):
            doomed = list(redis_keys)
            scan = getattr(kv, "scan_iter", None)
            for pattern in redis_patterns:
                if scan is not None:
                    doomed.extend(scan(match=pattern, count=1000))
            if doomed:
                kv.delete(*doomed)

    def clear(self) -> None:
        self._mem.clear()
        self._last.clear()
        self._bytes = 0


def memory_ttl(ttl: float) -> float:
    return min(MEMORY_TTL_CAP_S, float(ttl))


CACHE = TwoTierCache()
