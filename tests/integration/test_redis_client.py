"""cache/resp.RespKV against the real redis-server the test session starts: the same answers as redis-py,
one round trip per pipeline, and a server stopped and restarted is an outage and then a recovery."""

from __future__ import annotations

import time

import pytest
import redis

from chalicelib.cache.resp import RespKV, ResponseError
from chalicelib.cache.store import is_outage
from tests.integration.test_redis_outage import own_redis

__all__ = ["own_redis"]   # the fixture, used by name below


def test_read_path_commands_match_redis_py(redis_url: str) -> None:
    kv = RespKV(redis_url)
    ref = redis.Redis.from_url(redis_url)
    payload = "é" * 40_000 + "\r\n$-1\r\n"   # 40,000 x 2 + 7 = 80,007 UTF-8 bytes with RESP-looking text: lengths count bytes
    assert kv.set("frs:a", payload, ex=60) is True
    assert ref.get("frs:a") == payload.encode() == kv.get("frs:a")
    assert kv.get("frs:missing") is None
    assert kv.set("frs:a", "other", nx=True) is None           # NX refused: None, as redis-py says
    assert kv.set("frs:lock", "t", nx=True, px=5000) is True
    assert 0 < ref.pttl("frs:lock") <= 5000
    assert kv.mget(["frs:a", "frs:missing", "frs:lock"]) == ref.mget(["frs:a", "frs:missing", "frs:lock"])
    assert kv.incrbyfloat("frs:m", 2.5) == 2.5 and kv.incrbyfloat("frs:m", 0.25) == 2.75   # 2.5 + 0.25
    assert kv.incr("frs:n") == 1 and kv.incr("frs:n", 4) == 5                               # 0 + 1, then + 4
    assert kv.expire("frs:m", 100) is True and kv.expire("frs:none", 100) is False
    assert kv.ttl("frs:m") == ref.ttl("frs:m") and kv.ttl("frs:none") == -2
    assert kv.exists("frs:a", "frs:none", "frs:m") == 2
    ref.sadd("frs:set", "c1", "c2", "c3")
    assert kv.scard("frs:set") == 3
    ref.rpush("frs:buf", "first", "second")
    assert (kv.llen("frs:buf"), kv.lindex("frs:buf", 0), kv.lindex("frs:buf", 5)) == (2, b"first", None)
    assert kv.llen("frs:nolist") == 0
    assert kv.ping() is True
    assert kv.delete("frs:a", "frs:none") == 1
    with pytest.raises(ResponseError, match="WRONGTYPE"):     # a bad command: raised, not an outage
        kv.get("frs:set")
    assert kv.get("frs:n") == b"5"                              # and the connection is still good
    ref.close()
    kv.close()


def test_pipeline_and_delegated_commands(redis_url: str) -> None:
    kv = RespKV(redis_url)
    pipe = kv.pipeline(transaction=False)
    pipe.set("frs:p1", "x", ex=30).incrbyfloat("frs:p2", 1.5).expire("frs:p2", 180).get("frs:p1")
    assert pipe.execute() == [True, 1.5, True, b"x"]
    # not spoken here: redis-py, built on first use, on the same server
    assert kv._redis_py is None
    assert kv.rpush("frs:list", "a", "b") == 2 and kv.lpop("frs:list") == b"a"
    assert kv._redis_py is not None
    with kv.pipeline() as tx:                                   # transactional: redis-py's MULTI/EXEC
        tx.set("frs:t", "1").incr("frs:t")
        assert tx.execute() == [True, 2]
    assert sorted(kv.scan_iter(match="frs:p*")) == [b"frs:p1", b"frs:p2"]
    kv.close()


def test_threads_share_the_client(redis_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    kv = RespKV(redis_url)
    kv.set("frs:shared", "v")

    def work(i: int) -> tuple[bytes | None, float]:
        return kv.get("frs:shared"), kv.incrbyfloat("frs:count", 1)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(200)))
    assert {r[0] for r in results} == {b"v"}
    assert sorted(r[1] for r in results) == [float(i) for i in range(1, 201)]   # 200 increments, each seen once
    kv.close()


def test_stopped_server_is_an_outage_and_a_restart_recovers(own_redis) -> None:
    kv = RespKV(own_redis.url, socket_timeout=1.0, socket_connect_timeout=1.0)
    assert kv.set("frs:k", "1") is True
    own_redis.stop()
    started = time.perf_counter()
    with pytest.raises((ConnectionError, TimeoutError)) as info:
        kv.get("frs:k")
    assert is_outage(info.value)
    assert time.perf_counter() - started < 3.0                  # refused at once (a retry at most), no long hang
    own_redis.start()
    assert kv.set("frs:k", "2") is True                         # a fresh connection, no restart of the client
    assert kv.get("frs:k") == b"2"
    kv.close()
