"""Transport cache: a `Request.cache_seconds` answer is reused while fresh, per process, without HTTP or budget."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from chalicelib.transport.budget import TokenBucket
from chalicelib.transport.http import Deadline, Fetcher, FetchError, ResponseCache
from chalicelib.venues.base import Request

MARKETS = Request("markets", "GET", "/v1/markets", cache_seconds=3600)   # Paradex: ~4 MB, changes rarely
SUMMARY = Request("summary", "GET", "/v1/markets/summary", params={"market": "ALL"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(cache: ResponseCache, clock: Clock, answers: list[httpx.Response], seen: list[str], *, budget=None,
         base: str = "http://venue.test"):
    """A fresh Fetcher (= one collection cycle) sharing `cache` with the previous cycles."""
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return answers[min(len(seen) - 1, len(answers) - 1)]

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Fetcher(client, base, deadline=Deadline(30, clock), budget=budget, cache=cache, monotonic=clock,
                   sleep=lambda s: None)


def test_cached_request_is_fetched_once_per_hour_across_cycles():
    cache, clock, seen = ResponseCache(), Clock(), []
    ok = [httpx.Response(200, json={"results": ["v1"]}), httpx.Response(200, json={"results": ["v2"]})]
    first = make(cache, clock, ok, seen)
    assert first.get_json(MARKETS) == {"results": ["v1"]} and first.requests_made == 1
    clock.now += 59 * 60                                  # 59 minutes later: 59 cycles, still fresh
    second = make(cache, clock, ok, seen, budget=TokenBucket(0, 0))
    assert second.get_json(MARKETS) == {"results": ["v1"]}
    assert (second.requests_made, second.cache_hits, len(seen)) == (0, 1, 1)   # no HTTP, no budget token
    clock.now += 60                                       # 3600 s after the fetch: expired (expiry is exclusive)
    third = make(cache, clock, ok, seen)
    assert third.get_json(MARKETS) == {"results": ["v2"]} and len(seen) == 2


def test_uncached_requests_and_other_base_urls_are_not_shared():
    cache, clock, seen = ResponseCache(), Clock(), []
    ok = [httpx.Response(200, json={"n": 1}), httpx.Response(200, json={"n": 2}), httpx.Response(200, json={"n": 3})]
    f = make(cache, clock, ok, seen)
    assert f.get_json(SUMMARY) == {"n": 1} and f.get_json(SUMMARY) == {"n": 2}   # cache_seconds 0: always fetched
    other = make(cache, clock, ok, seen, base="http://other.test")
    assert other.get_json(MARKETS) == {"n": 3}            # a different venue URL is a different key
    assert len(seen) == 3


def test_failures_are_not_cached():
    cache, clock, seen = ResponseCache(), Clock(), []
    f = make(cache, clock, [httpx.Response(404), httpx.Response(200, json={"ok": True})], seen)
    try:
        f.get_json(MARKETS)
    except FetchError as exc:
        assert exc.status == 404
    else:
        raise AssertionError("404 must raise")
    assert f.get_json(MARKETS) == {"ok": True} and len(seen) == 2


def test_reuse_unchanged_is_fetched_every_cycle_and_decoded_only_when_its_bytes_change():
    meta = Request("getMetaData", "GET", "/public/meta/getMetaData", reuse_unchanged=True)   # EdgeX
    cache, clock, seen = ResponseCache(), Clock(), []
    same, changed = b'{"contracts": [{"minOrderSize": "0.001", "tick": 0.1}]}', b'{"contracts": []}'
    answers = [httpx.Response(200, content=same), httpx.Response(200, content=same), httpx.Response(200, content=changed)]
    first = make(cache, clock, answers, seen).get_json(meta)
    second = make(cache, clock, answers, seen).get_json(meta)
    assert len(seen) == 2                                  # fetched both times: never stale
    assert second is first                                 # same bytes: the previous decoding, not a new one
    assert first == {"contracts": [{"minOrderSize": "0.001", "tick": Decimal("0.1")}]}
    assert make(cache, clock, answers, seen).get_json(meta) == {"contracts": []}   # changed bytes: decoded anew
    broken = make(cache, clock, [httpx.Response(200, content=b"{not json")], seen)
    with pytest.raises(FetchError, match="malformed JSON"):
        broken.get_json(meta)
