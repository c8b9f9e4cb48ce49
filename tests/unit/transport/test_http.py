"""Transport: retries, Retry-After, deadline, malformed bodies and budget, over httpx.MockTransport."""

from __future__ import annotations

from decimal import Decimal
from email.utils import formatdate

import httpx
import pytest

from chalicelib.transport.budget import TokenBucket
from chalicelib.transport.http import Deadline, Fetcher, FetchError, RetryPolicy, retry_after_seconds
from chalicelib.venues.base import Request

BASE = "http://venue.test/api"
WALL = 1_700_000_000.0
REQ = Request("markets", "GET", "/v1/markets", params={"market": "ALL"})


class MaxRng:
    """Full jitter draws uniform(0, cap); returning the cap makes the backoff schedule exact."""

    def uniform(self, low: float, high: float) -> float:
        return high


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fetcher(responses, *, deadline_s: float = 30.0, policy: RetryPolicy | None = None, budget=None, clock=None):
    """A Fetcher whose transport answers from `responses` (callables or httpx.Response) in order."""
    clock = clock or FakeTime()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses[min(len(seen) - 1, len(responses) - 1)]
        return item(request) if callable(item) else item

    client = httpx.Client(transport=httpx.MockTransport(handler))
    f = Fetcher(client, BASE, deadline=Deadline(deadline_s, clock.monotonic), policy=policy or RetryPolicy(),
                budget=budget, sleep=clock.sleep, wall=lambda: WALL, rng=MaxRng())
    return f, seen, clock


def test_retries_500_then_succeeds_with_backoff():
    f, seen, clock = fetcher([httpx.Response(500), httpx.Response(200, json={"results": [1]})])
    assert f.get_json(REQ) == {"results": [1]}
    assert len(seen) == 2 and f.requests_made == 2
    assert str(seen[0].url) == "http://venue.test/api/v1/markets?market=ALL"   # path appended verbatim
    assert clock.slept == [0.25]                      # base 0.25 * 2**0, jitter at its cap


def test_backoff_doubles_and_gives_up_after_the_attempts():
    f, seen, clock = fetcher([httpx.Response(503)], policy=RetryPolicy(attempts=4, base_delay_s=0.5, max_delay_s=1.5))
    with pytest.raises(FetchError) as err:
        f.get_json(REQ)
    assert clock.slept == [0.5, 1.0, 1.5]             # 0.5, 1.0, then capped at max 1.5
    assert len(seen) == 4
    assert err.value.reason == "HTTP 503 from http://venue.test/api/v1/markets after 4 attempts"


def test_retry_after_seconds_is_honoured():
    f, seen, clock = fetcher([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=[])])
    assert f.get_json(REQ) == []
    assert clock.slept == [7.0] and len(seen) == 2


def test_retry_after_http_date_is_honoured():
    when = formatdate(WALL + 12, usegmt=True)          # e.g. "Tue, 14 Nov 2023 22:13:32 GMT"
    f, _, clock = fetcher([httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200, json={})])
    assert f.get_json(REQ) == {}
    assert clock.slept == [12.0]


def test_retry_after_beyond_the_deadline_is_not_waited():
    f, seen, clock = fetcher([httpx.Response(429, headers={"Retry-After": "60"})], deadline_s=5)
    with pytest.raises(FetchError, match="Retry-After 60 s would pass the collection deadline"):
        f.get_json(REQ)
    assert clock.slept == [] and len(seen) == 1


def test_no_retry_on_404():
    f, seen, clock = fetcher([httpx.Response(404, text="not found")])
    with pytest.raises(FetchError) as err:
        f.get_json(REQ)
    assert len(seen) == 1 and clock.slept == []
    assert err.value.status == 404 and err.value.reason.startswith("HTTP 404 from http://venue.test/api/v1/markets")


def test_deadline_stops_retries_and_caps_each_timeout():
    timeouts: list[float] = []
    clock = FakeTime()

    def slow(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        clock.now += 0.5                               # each attempt takes half a second
        return httpx.Response(502)

    policy = RetryPolicy(attempts=10, base_delay_s=0.2, max_delay_s=0.2, request_timeout_s=10)
    f, seen, _ = fetcher([slow], deadline_s=1.6, policy=policy, clock=clock)
    with pytest.raises(FetchError, match="deadline"):
        f.get_json(REQ)
    # t=0 attempt (to 0.5), sleep 0.2; t=0.7 attempt (to 1.2), sleep 0.2; t=1.4 attempt with 0.2 s left;
    # at t=1.9 the deadline has passed, so the third backoff is not started
    assert len(seen) == 3 and clock.slept == [0.2, 0.2]
    assert timeouts == pytest.approx([1.6, 0.9, 0.2])   # per attempt: min(10 s, time left)


def test_connect_errors_are_retried():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    f, seen, clock = fetcher([refuse, httpx.Response(200, json={"ok": True})])
    assert f.get_json(REQ) == {"ok": True}
    assert len(seen) == 2 and clock.slept == [0.25]


def test_malformed_json_is_a_clear_error_and_not_retried():
    f, seen, _ = fetcher([httpx.Response(200, content=b'{"result": [{"a": 0.0')])
    with pytest.raises(FetchError) as err:
        f.get_json(REQ)
    assert err.value.reason.startswith("malformed JSON from http://venue.test/api/v1/markets: ")
    assert len(seen) == 1


def test_budget_caps_requests_and_reports_the_rest():
    bucket = TokenBucket(3, 0, clock=lambda: 0.0)
    f, seen, _ = fetcher([httpx.Response(200, json={"x": 1})], budget=bucket)
    reqs = [Request(f"ticker:{i}", "POST", "/full/v1/ticker", json={"instrument": str(i)}) for i in range(5)]
    payloads, errors = f.fetch_many(reqs)
    assert len(payloads) == 3 and len(errors) == 2 and len(seen) == 3
    assert all(e.budget for e in errors.values())


def test_retries_spend_budget_too():
    bucket = TokenBucket(2, 0, clock=lambda: 0.0)
    f, seen, _ = fetcher([httpx.Response(500)], budget=bucket)
    with pytest.raises(FetchError) as err:
        f.get_json(REQ)
    assert len(seen) == 2 and err.value.budget


def test_token_bucket_refills_at_the_published_rate():
    now = [0.0]
    bucket = TokenBucket(60, 1.0, clock=lambda: now[0])   # 60 requests per minute
    assert all(bucket.take() for _ in range(60))
    assert not bucket.take()
    now[0] = 2.5                                            # 2.5 s later: 2 whole tokens back
    assert bucket.take() and bucket.take() and not bucket.take()


def test_retry_after_parsing():
    assert retry_after_seconds("3", WALL) == 3.0
    assert retry_after_seconds(formatdate(WALL - 5, usegmt=True), WALL) == 0.0   # a date in the past: now
    assert retry_after_seconds("soon", WALL) is None
    assert retry_after_seconds(None, WALL) is None


def test_json_fractions_decode_as_decimal_from_their_own_text():
    # Lighter's /funding-rates sends the rate as a JSON number; 0.00009599999999999999 (20 significant digits,
    # ccxt's recorded example) survives as written, not as the float 9.6e-05; integers stay int
    body = b'{"funding_rates": [{"market_id": 0, "rate": 0.00009599999999999999, "big": 850015955.986308}]}'
    f, _, _ = fetcher([httpx.Response(200, content=body)])
    (row,) = f.get_json(REQ)["funding_rates"]
    assert row == {"market_id": 0, "rate": Decimal("0.00009599999999999999"), "big": Decimal("850015955.986308")}
    assert type(row["market_id"]) is int
