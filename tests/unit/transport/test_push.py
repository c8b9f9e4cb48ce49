"""The pusher's bounds: posts in flight never exceed the HTTP pool, AWS posts paced by a token bucket; what a gone
connection looks like."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.transport.push import ApiGatewayPusher, RateLimiter, _boto_client, is_gone


class SlowClient:
    """post_to_connection that holds for 5 ms and records how many calls overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = self.calls = 0

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.005)
        with self.lock:
            self.now -= 1


def test_posts_in_flight_never_exceed_max_workers_even_across_concurrent_sends() -> None:
    client = SlowClient()
    pusher = ApiGatewayPusher("http://127.0.0.1:1", max_workers=4, client_factory=lambda url, n: client)
    batches = [{f"c{b}-{i}": [b"x"] for i in range(40)} for b in range(3)]
    threads = [threading.Thread(target=pusher.send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert client.calls == 3 * 40 and client.peak <= 4


def test_the_boto_client_pool_has_exactly_max_workers_connections() -> None:
    client = _boto_client("http://127.0.0.1:1", 24)
    assert client.meta.config.max_pool_connections == 24


def test_rate_limiter_spends_the_burst_then_paces_at_the_rate() -> None:
    clock = {"t": 0.0}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["t"] += seconds

    limiter = RateLimiter(rate=100, burst=3, clock=lambda: clock["t"], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    # 3 tokens at t=0, then one every 1/100 s: the 4th and 5th wait 0.01 s each -> t = 0.02 s
    assert slept == pytest.approx([0.01, 0.01]) and clock["t"] == pytest.approx(0.02)


def test_aws_endpoints_are_paced_local_ones_are_not() -> None:
    pusher: Any = ApiGatewayPusher(None, client_factory=lambda url, n: SlowClient())
    pusher.client("https://abc.execute-api.us-east-1.amazonaws.com/ws")
    pusher.client("http://127.0.0.1:9")
    assert pusher._limiters["https://abc.execute-api.us-east-1.amazonaws.com/ws"].rate == 2000
    assert pusher._limiters["http://127.0.0.1:9"] is None


@pytest.mark.parametrize(("code", "status", "gone"), [
    ("GoneException", 410, True), ("GoneException", 400, True), ("Whatever", 410, True),
    ("LimitExceededException", 429, False), ("ForbiddenException", 403, False)])
def test_only_gone_responses_prune(code: str, status: int, gone: bool) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                        "PostToConnection")
    assert is_gone(error) is gone
