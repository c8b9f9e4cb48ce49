"""The gateway's inline path for the real app on a real PostgreSQL and Redis: repeat GETs the app's fast
lane (chalicelib/api/fastlane.py) holds are answered on the event loop, and must be what the Lambda
path (app(event) on a worker) answers for the same request, byte for byte on the wire.

Market data (rates normalized per DESIGN.md §3), as in tests/integration/test_rest.py:
  hyperliquid BTC 0.00002 per 1 h  -> rate_8h 0.00002 * 8 = 0.00016
  paradex     BTC 0.0001  per 8 h  -> rate_8h 0.0001
  hyperliquid ETH 0.00005 per 1 h  -> rate_8h 0.0004
  paradex     ETH -0.0002 per 8 h  -> rate_8h -0.0002
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from chalicelib import wiring
from chalicelib.api import fastlane
from chalicelib.api.cache import CACHE
from chalicelib.cache import keys
from chalicelib.settings import Settings
from frs_local.gateway import Gateway, GatewayThread
from tests.integration.test_rest import seed, snap

WAIT = 10.0   # waits, not timing assertions
HOUR_MS = 3_600_000
TARGETS = [
    "/api/v1/funding-rates",
    "/api/v1/funding-rates?symbol=BTC&basis=1h",
    "/api/v1/funding-rates/paradex",
    "/api/v1/opportunities",
    "/api/v1/opportunities?min_volume=0&limit=5",
]


@pytest.fixture
def stack(db_url: str, redis_url: str) -> Iterator[tuple[Any, redis.Redis, Any]]:
    from chalicelib.storage.repository import PgStorage

    storage = PgStorage(db_url)
    kv = redis.Redis.from_url(redis_url)
    wiring.override(settings=Settings.from_env({"DATABASE_URL": db_url, "REDIS_URL": redis_url,
                                                "CACHE_TTL_SECONDS": "60"}), storage=storage, kv=kv)
    CACHE.clear()
    fastlane.clear()
    seed(storage)   # tests/integration/test_rest.py's market data (the module docstring)
    from app import app

    try:
        yield app, kv, storage
    finally:
        wiring.reset()
        CACHE.clear()
        fastlane.clear()
        kv.close()
        close = getattr(storage, "close", None)
        if close:
            close()


@contextlib.contextmanager
def gateway(app: Any, **kw: Any) -> Iterator[GatewayThread]:
    """A local gateway on a free port serving `app` for the block, stopped after it."""
    runner = GatewayThread(Gateway(app, "127.0.0.1", 0, **kw)).start()
    try:
        yield runner
    finally:
        runner.stop()


def get(port: int, target: str, extra: str = "") -> tuple[list[str], bytes]:
    """One GET over a fresh socket: (status line + header lines as sent, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n{extra}"
                     f"Connection: close\r\n\r\n".encode())
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n"), body


def comparable(lines: list[str], body: bytes) -> tuple[list[str], bytes]:
    """Per-request values blanked: the Date and request id headers, the data age (ms since the data time) and
    so the length (each reply's Content-Length is checked against its own body)."""
    masked = [re.sub(r"^(Date|x-amzn-RequestId|Content-Length): .*$", r"\1: *", line) for line in lines]
    return masked, re.sub(rb'"data_age_seconds":[0-9.]+', b'"data_age_seconds":*', body)


def test_inline_answers_are_the_lambda_paths_bytes(stack) -> None:
    app, _, _ = stack
    with gateway(app) as fast, gateway(app, fast_lane=False) as plain:
        for target in TARGETS:
            served = fast.gateway.inline_served
            first = get(fast.gateway.port, target)      # the Lambda path; the gateway learns the target
            assert first[0][0] == "HTTP/1.1 200 OK", (target, first)
            assert fast.gateway.inline_served == served
            inline = get(fast.gateway.port, target)     # the same request again: answered on the loop
            assert fast.gateway.inline_served == served + 1, target
            lambda_path = get(plain.gateway.port, target)   # app(event) on a worker, same app and cache
            assert comparable(*inline) == comparable(*lambda_path), target
            assert int(next(v for v in inline[0] if v.startswith("Content-Length:"))[16:]) == len(inline[1])
        assert plain.gateway.inline_served == 0
        # the one value the masks hide is real: BTC at 1 h basis is hyperliquid 0.00002, paradex 0.0001 / 8
        body = json.loads(get(fast.gateway.port, "/api/v1/funding-rates?symbol=BTC&basis=1h")[1])
        assert body["data"]["BTC"] == {"hyperliquid": pytest.approx(0.00002), "paradex": pytest.approx(0.0000125)}
        assert 0 <= body["data_age_seconds"] < 60 and body["source"] == "memory"


def test_inline_requests_are_counted_as_the_endpoint_wrapper_counts_them(stack) -> None:
    from chalicelib.api.metrics import METRICS

    app, _, _ = stack
    with gateway(app) as runner:
        get(runner.gateway.port, "/api/v1/funding-rates")
        before, inline = METRICS.totals["requests"], runner.gateway.inline_served
        for _ in range(3):
            get(runner.gateway.port, "/api/v1/funding-rates")
        assert runner.gateway.inline_served == inline + 3
        assert METRICS.totals["requests"] == before + 3     # /metrics still sees every request


def test_a_content_type_on_a_get_takes_the_lambda_path(stack) -> None:
    app, _, _ = stack
    with gateway(app) as runner:
        get(runner.gateway.port, "/api/v1/funding-rates")
        inline = runner.gateway.inline_served
        # Chalice refuses a Content-Type the route does not accept (415) before the view runs
        lines, body = get(runner.gateway.port, "/api/v1/funding-rates", "Content-Type: text/plain\r\n")
        assert lines[0] == "HTTP/1.1 415 Unsupported Media Type", (lines, body)
        assert runner.gateway.inline_served == inline


def test_new_data_is_never_answered_from_the_old_entry(stack) -> None:
    app, kv, storage = stack
    target = "/api/v1/funding-rates?symbol=BTC"
    with gateway(app) as runner:
        get(runner.gateway.port, target)
        assert json.loads(get(runner.gateway.port, target)[1])["data"]["BTC"]["hyperliquid"] == pytest.approx(0.00016)
        served, inline = runner.gateway.requests_served, runner.gateway.inline_served
        # a collector cycle: hyperliquid BTC now 0.00003 per 1 h -> 0.00003 * 8 = 0.00024 per 8 h
        storage.ingest([snap("hyperliquid", "BTC", "0.00003", 1, at_ms=int(time.time() * 1000))])
        CACHE.clear()                                  # what the cycle's invalidation does to the memory tier
        kv.delete(keys.latest_rates())
        body = json.loads(get(runner.gateway.port, target)[1])
        assert body["data"]["BTC"]["hyperliquid"] == pytest.approx(0.00024)
        assert runner.gateway.inline_served == inline                  # the miss went through app(event)
        assert runner.gateway.requests_served == served + 1
        body = json.loads(get(runner.gateway.port, target)[1])       # and the rebuilt entry is answered inline
        assert body["data"]["BTC"]["hyperliquid"] == pytest.approx(0.00024)
        assert runner.gateway.inline_served == inline + 1


def test_requests_arriving_during_a_rebuild_wait_for_it_instead_of_rebuilding(stack) -> None:
    app, _, _ = stack
    target = "/api/v1/opportunities"
    release = threading.Event()
    with gateway(app, workers=1) as runner, contextlib.ExitStack() as done:
        done.callback(release.set)                     # the held worker is let go however the test ends
        gw = runner.gateway
        get(gw.port, target)
        get(gw.port, target)
        CACHE.clear()                                  # the entry expired: the next request must rebuild it

        async def hold() -> Any:                       # the only worker busy: the rebuild waits its turn
            return gw.pool.submit(release.wait, WAIT)

        asyncio.run_coroutine_threadsafe(hold(), runner.loop).result(WAIT)
        served, inline = gw.requests_served, gw.inline_served
        with ThreadPoolExecutor(6) as pool:
            replies = [pool.submit(get, gw.port, target) for _ in range(6)]
            deadline = time.monotonic() + WAIT
            while gw.coalesced < 5 or gw.pool.pending < 2:   # one leader queued behind the held worker, five waiting
                assert time.monotonic() < deadline, f"coalesced {gw.coalesced}, pending {gw.pool.pending}"
                time.sleep(0.01)
            assert gw.pool.pending == 2 and gw.coalesced == 5   # the held job + the one rebuild, not six
            release.set()
            results = [r.result(WAIT) for r in replies]
        assert {lines[0] for lines, _ in results} == {"HTTP/1.1 200 OK"}
        bodies = [comparable(*r)[1] for r in results]
        # the leader says where it read the data from (Redis); the five answered from its entry say memory
        assert sorted(re.findall(rb'^\{"source":"(\w+)"', b)[0] for b in bodies) == [b"memory"] * 5 + [b"redis"]
        assert len({re.sub(rb'^\{"source":"\w+"', b"", b) for b in bodies}) == 1
        assert gw.requests_served == served + 6
        assert gw.inline_served == inline + 5          # 6 requests = 1 through app(event) + 5 from its entry
