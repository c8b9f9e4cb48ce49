"""The two-tier cache: memory -> Redis -> database order, TTL, derived entries, bounds, invalidation."""

from __future__ import annotations

import pytest

from chalicelib.api import cache as cache_mod
from chalicelib.api.cache import TwoTierCache


class FakeRedis:
    """Only what the cache touches: get/set/delete/scan_iter (a real Redis is used in integration)."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def get(self, key):
        return self.store.get(key)

    def set(self, key, value, ex=None):
        self.store[key] = value.encode() if isinstance(value, str) else value

    def delete(self, *keys):
        return sum(self.store.pop(k, None) is not None for k in keys)

    def scan_iter(self, match, count=None):
        import fnmatch

        return [k for k in list(self.store) if fnmatch.fnmatch(k, match)]


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cache_mod.time, "monotonic", lambda: now[0])
    return now


def loaders(calls):
    def read_redis(kv):
        calls.append("redis")
        raw = kv.get("k")
        return (raw.decode(), 111, 1) if raw else None

    def load_db():
        calls.append("db")
        return "from-db", 222, 1

    def write_redis(kv, value):
        kv.set("k", value)

    return {"read_redis": read_redis, "load_db": load_db, "write_redis": write_redis}


def test_database_then_memory_then_redis_after_expiry(clock) -> None:
    c, kv, calls = TwoTierCache(), FakeRedis(), []
    first = c.fetch("k", ttl=60, kv=kv, **loaders(calls))
    assert (first.value, first.source, first.updated_ms) == ("from-db", "database", 222)
    assert kv.get("k") == b"from-db"                        # written back for other containers
    second = c.fetch("k", ttl=60, kv=kv, **loaders(calls))
    assert second.source == "memory" and calls == ["redis", "db"]
    clock[0] += 5.01                                         # memory TTL = min(5 s, 60 s)
    third = c.fetch("k", ttl=60, kv=kv, **loaders(calls))
    assert (third.value, third.source) == ("from-db", "redis")
    assert calls == ["redis", "db", "redis"]


def test_memory_ttl_follows_a_short_cache_ttl(clock) -> None:
    c, kv, calls = TwoTierCache(), FakeRedis(), []
    c.fetch("k", ttl=2, kv=kv, **loaders(calls))
    clock[0] += 2.5
    assert c.fetch("k", ttl=2, kv=kv, **loaders(calls)).source == "redis"
    zero = TwoTierCache()
    zero.fetch("k", ttl=0, kv=kv, **loaders(calls))
    assert zero.fetch("k", ttl=0, kv=kv, **loaders(calls)).source == "redis"   # memory tier disabled


def test_redis_failure_falls_back_to_database(clock) -> None:
    def broken(kv):
        raise ConnectionError("down")

    got = TwoTierCache().fetch("k", ttl=60, kv=object(), read_redis=broken, load_db=lambda: ("v", None, 1))
    assert (got.value, got.source) == ("v", "database")


def test_derived_entries_die_with_their_parent(clock) -> None:
    c, kv, calls = TwoTierCache(), FakeRedis(), []
    parent = c.fetch("k", ttl=60, kv=kv, **loaders(calls))
    builds = []
    d1 = c.derived("k:view", parent, lambda: (builds.append(1) or "view", 1), 60)
    assert d1.source == "database"                           # inherits where the data came from
    assert c.derived("k:view", parent, lambda: ("other", 1), 60).source == "memory"
    c.invalidate("k", kv=kv, redis_keys=("k",))              # drops parent and its derived entries
    assert kv.get("k") is None
    again = c.fetch("k", ttl=60, kv=kv, **loaders(calls))
    assert c.derived("k:view", again, lambda: ("rebuilt", 1), 60).value == "rebuilt"


def test_parent_refresh_invalidates_derived_even_with_other_prefix(clock) -> None:
    c, kv, calls = TwoTierCache(), FakeRedis(), []
    parent = c.fetch("k", ttl=60, kv=kv, **loaders(calls))
    c.derived("view", parent, lambda: ("v1", 1), 60)
    clock[0] += 5.01
    newer = c.fetch("k", ttl=60, kv=kv, **loaders(calls))    # parent reloaded from Redis: new version
    clock[0] -= 4                                            # (derived entry itself not yet expired)
    assert c.derived("view", newer, lambda: ("v2", 1), 60).value == "v2"


def test_bounded_by_entries_and_bytes(clock) -> None:
    c = TwoTierCache(max_entries=3, max_bytes=100)
    for i in range(5):
        c.fetch(f"k{i}", ttl=60, kv=None, read_redis=lambda kv: None, load_db=lambda: ("v", None, 10))
    assert len(c) == 3 and c.size_bytes == 30
    c.fetch("big", ttl=60, kv=None, read_redis=lambda kv: None, load_db=lambda: ("v", None, 95))
    assert c.size_bytes <= 100 and len(c) == 1


def test_pattern_invalidation_in_redis(clock) -> None:
    c, kv = TwoTierCache(), FakeRedis()
    kv.set("frs:v1:opportunities:symbol:BTC", "x")
    kv.set("frs:v1:opportunities:symbol:ETH", "x")
    kv.set("frs:v1:latest_funding_rates", "keep")
    c.invalidate("opportunities", kv=kv, redis_patterns=("frs:v1:opportunities:symbol:*",))
    assert list(kv.store) == ["frs:v1:latest_funding_rates"]


# ---- degrade, don't fail (issue 12) ---------------------------------------------------------------
def test_a_database_outage_serves_the_last_known_value_marked_stale(clock):
    import psycopg

    from chalicelib import outage

    outage.reset()
    cache = TwoTierCache()
    fresh = cache.fetch("k", ttl=5, kv=None, read_redis=lambda kv: None, load_db=lambda: ("v1", 1_000, 10))
    assert (fresh.value, fresh.source, fresh.stale) == ("v1", "database", False)
    clock[0] += 6                                               # past the memory TTL

    def down():
        raise psycopg.OperationalError("connection refused")

    stale = cache.fetch("k", ttl=5, kv=None, read_redis=lambda kv: None, load_db=down)
    assert (stale.value, stale.updated_ms, stale.stale) == ("v1", 1_000, True)      # the data's own time, kept
    assert outage.state("database") is not None
    with pytest.raises(psycopg.OperationalError):               # nothing known for this key: the caller's 503
        cache.fetch("other", ttl=5, kv=None, read_redis=lambda kv: None, load_db=down)
    with pytest.raises(ZeroDivisionError):                      # a bug is never served around
        cache.fetch("k", ttl=5, kv=None, read_redis=lambda kv: None, load_db=lambda: 1 / 0)
    outage.reset()


def test_derived_entries_of_a_stale_parent_are_stale_and_not_kept(clock):
    cache = TwoTierCache()
    parent = cache_mod.Cached("idx", "memory", 5, 0, "snapshots", stale=True)
    calls = []
    for _ in range(2):
        out = cache.derived("view", parent, lambda: (calls.append(1) or "body", 4), ttl=5)
        assert out.stale is True
    assert len(calls) == 2                                      # rebuilt each time: never cached past the outage


def test_memo_keeps_a_value_for_min_ttl_5s(clock):
    cache = TwoTierCache()
    calls = []
    build = lambda: calls.append(1) or len(calls)   # noqa: E731
    assert [cache.memo("health", 5, build) for _ in range(3)] == [1, 1, 1]
    clock[0] += 5.1
    assert cache.memo("health", 5, build) == 2 and len(calls) == 2
