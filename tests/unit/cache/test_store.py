"""The in-memory KV fallback (what `wiring.kv()` returns without Redis)."""

from __future__ import annotations

import logging

import pytest

from chalicelib.cache.store import MemoryKV, make_kv
from chalicelib.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_strings_expire_on_their_ttl() -> None:
    clock = Clock()
    kv = MemoryKV(clock)
    kv.set("a", "1", ex=10)
    kv.set("b", b"2")
    assert kv.mget(["a", "b", "c"]) == [b"1", b"2", None] and kv.ttl("a") == 10 and kv.ttl("b") == -1
    clock.now += 10
    assert kv.get("a") is None and kv.ttl("a") == -2 and kv.get("b") == b"2"
    assert kv.set("b", "3", nx=True) is None and kv.get("b") == b"2"


def test_sets_counters_scan_pipeline_and_publish() -> None:
    kv = MemoryKV()
    assert kv.sadd("s", "x", "y", "x") == 2 and kv.srem("s", "y", "z") == 1 and kv.smembers("s") == {b"x"}
    assert kv.incr("n") == 1 and kv.incr("n", 4) == 5 and kv.incrbyfloat("f", 1.5) == 1.5
    kv.set("frs:v1:opportunities:symbol:BTC", "[]")
    kv.set("frs:v1:opportunities:all", "[]")
    assert list(kv.scan_iter(match="frs:v1:opportunities:symbol:*")) == [b"frs:v1:opportunities:symbol:BTC"]
    seen = []
    kv.listeners.append(lambda channel, message: seen.append((channel, message)))
    pipe = kv.pipeline(transaction=False)
    pipe.set("p", "1", ex=5).delete("frs:v1:opportunities:all")
    assert pipe.execute() == [True, 1] and kv.get("p") == b"1" and kv.get("frs:v1:opportunities:all") is None
    assert kv.publish("ch", "hello") == 1 and seen == [("ch", b"hello")]


def test_make_kv_says_when_it_falls_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chalicelib.cache.store"):
        kv = make_kv(Settings.from_env({}))
    assert isinstance(kv, MemoryKV)
    assert "Redis disabled (REDIS_URL is not set): using the in-memory key-value fallback" in caplog.text
