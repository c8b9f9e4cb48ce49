"""collect_venue / collect_all over httpx.MockTransport answering with the replay generator (no sockets)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest

from chalicelib.services.collect import Runtime, collect_all, collect_venue
from chalicelib.settings import Settings
from chalicelib.transport.breaker import CircuitBreaker, DictStore
from chalicelib.transport.budget import TokenBucket
from chalicelib.transport.http import RetryPolicy
from chalicelib.venues import edgex, grvt, hyperliquid, lighter, paradex
from frs_local.replay import route
from frs_local.replay_data import Universe

NOW_MS = 1_764_774_730_025
D = Decimal


class Venues:
    """A MockTransport that routes http://replay.test/<dex>/... into the replay generator."""

    def __init__(self, universe: Universe) -> None:
        self.universe = universe
        self.calls: list[str] = []
        self.broken: dict[str, httpx.Response] = {}   # path -> canned response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        dex, _, rest = request.url.path.lstrip("/").partition("/")
        self.calls.append(request.url.path)
        if request.url.path in self.broken:
            return self.broken[request.url.path]
        body = json.loads(request.content) if request.content else None
        status, payload = route(self.universe, dex, request.method, "/" + rest,
                                dict(parse_qsl(request.url.query.decode())), body, NOW_MS)
        return httpx.Response(status, json=payload)


@pytest.fixture
def venues() -> Venues:
    return Venues(Universe(seed=7))


def settings() -> Settings:
    env = {f"{d.upper()}_API_URL": f"http://replay.test/{d}" for d in ("hyperliquid", "lighter", "paradex", "grvt")}
    env["EDGEX_API_URL"] = "http://replay.test/edgex/api/v2"     # EdgeX's base carries its API version
    return Settings.from_env({**env, "COLLECTION_TIMEOUT_SECONDS": "5"})


def runtime(venues: Venues) -> Runtime:
    return Runtime(client=httpx.Client(transport=httpx.MockTransport(venues)), sleep=lambda s: None,
                   rng=random.Random(0), policy=RetryPolicy(attempts=2, base_delay_s=0.01))


def breaker(store: dict | None = None) -> CircuitBreaker:
    return CircuitBreaker("x", DictStore({} if store is None else store), threshold=3, reset_seconds=60,
                          clock=lambda: 1_700_000_000.0)


def grvt_one_hour_market(u: Universe) -> str:
    return next(u.grvt_instrument_name(n) for n in u.listings["grvt"] if u.grvt_interval(n) == 1)


def test_grvt_collects_every_instrument_and_converts_percentage_points(venues):
    u = venues.universe
    name = grvt_one_hour_market(u)
    u.pin("grvt", name, "funding_rate", "0.01")            # 0.01 percentage points per 1 h interval
    result = collect_venue(grvt, settings(), now_ms=NOW_MS, breaker=breaker(), budget=TokenBucket(600, 10),
                           runtime=runtime(venues))
    assert result.status == "success" and result.error is None
    assert len(result.snapshots) == len(u.listings["grvt"])
    assert result.requests_made == 1 + len(u.listings["grvt"])    # all_instruments + one ticker each
    s = next(s for s in result.snapshots if s.dex_symbol == name)
    assert s.funding_interval_hours == 1
    assert s.funding_rate == D("0.0001")                    # 0.01 % = 0.0001
    assert s.rate_8h == D("0.0008")
    assert s.annualized_rate == D("87.6")                   # 0.0001 * 8760 * 100 (percent)


def test_budget_that_cannot_cover_every_ticker_collects_what_fits(venues):
    n = len(venues.universe.listings["grvt"])
    result = collect_venue(grvt, settings(), now_ms=NOW_MS, breaker=breaker(), budget=TokenBucket(11, 0),
                           runtime=runtime(venues))
    assert result.status == "degraded"
    assert len(result.snapshots) == 10 and result.requests_made == 11
    assert len(result.rejects) == n - 10                    # instruments without a ticker: rejected, not zeroed
    # 11 tokens: all_instruments + 10 tickers; the other n - 10 of the n per-market tickers never went out
    assert result.unfetched == n - 10 and result.follow_ups == n
    assert f"budget: {n - 10} of {n} markets not fetched (rate limit 600/min)" in result.error


def test_failed_first_stage_request_fails_the_venue(venues):
    venues.broken["/edgex/api/v2/public/meta/getMetaData"] = httpx.Response(503)
    r = collect_venue(edgex, settings(), now_ms=NOW_MS, breaker=breaker(), budget=TokenBucket(100, 0),
                      runtime=runtime(venues))
    assert r.status == "failed"                              # first stage: the venue cannot be parsed
    assert r.error == "HTTP 503 from http://replay.test/edgex/api/v2/public/meta/getMetaData after 2 attempts"
    assert r.requests_made == 2                              # metadata twice (retry); nothing else without it


def test_a_failing_ticker_rejects_only_that_instrument(venues):
    u = venues.universe
    name = u.grvt_instrument_name(u.listings["grvt"][0])
    client = runtime(venues)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ticker") and json.loads(request.content)["instrument"] == name:
            return httpx.Response(404, json={"code": 3000, "message": "instrument not found"})
        return venues(request)

    client.client = httpx.Client(transport=httpx.MockTransport(handler))
    r = collect_venue(grvt, settings(), now_ms=NOW_MS, breaker=breaker(), budget=TokenBucket(600, 0), runtime=client)
    assert r.status == "degraded"
    assert [x.dex_symbol for x in r.rejects] == [name]
    assert "1 follow-up requests failed (first: HTTP 404 from http://replay.test/grvt/full/v1/ticker" in r.error


def test_wrong_shape_fails_the_venue_and_counts_for_the_breaker(venues):
    venues.broken["/hyperliquid/info"] = httpx.Response(200, json={"error": None, "data": "maintenance"})
    store: dict = {}
    r = collect_venue(hyperliquid, settings(), now_ms=NOW_MS, breaker=breaker(store), budget=TokenBucket(60, 0),
                      runtime=runtime(venues))
    assert r.status == "failed" and r.error.startswith("parse error: hyperliquid: payloads: 'metaAndAssetCtxs' is dict")
    assert store["x"]["failures"] == 1


def test_open_breaker_short_circuits_without_requests(venues):
    store = {"x": {"state": "open", "failures": 3, "since": 1_700_000_000.0 - 10}}
    r = collect_venue(paradex, settings(), breaker=breaker(store), runtime=runtime(venues))
    assert r.status == "failed" and r.error == "circuit open until 2023-11-14T22:14:10Z"
    assert venues.calls == []


class RecordingStorage:
    def __init__(self) -> None:
        self.ingested: dict[str, int] = {}
        self.outcomes: list = []

    def ingest(self, snapshots) -> int:
        self.ingested[snapshots[0].dex] = len(snapshots)
        return len(snapshots)

    def log_collection(self, outcome) -> None:
        self.outcomes.append(outcome)


def test_collect_all_isolates_a_failing_venue_and_stores_the_rest(venues):
    venues.broken["/grvt/full/v1/all_instruments"] = httpx.Response(500)
    venues.broken["/lighter/api/v1/funding-rates"] = httpx.Response(200, content=b"{garbage")
    storage = RecordingStorage()
    modules = [hyperliquid, lighter, paradex, grvt, edgex]
    breakers = {m.SPEC.id: breaker() for m in modules}
    results = collect_all(modules, settings(), storage, runtime=runtime(venues), breakers=breakers)
    status = {r.dex: r.status for r in results}
    assert status == {"hyperliquid": "success", "lighter": "failed", "paradex": "success", "grvt": "failed",
                      "edgex": "success"}
    u = venues.universe
    assert storage.ingested == {"hyperliquid": len(u.listings["hyperliquid"]), "paradex": len(u.listings["paradex"]),
                                "edgex": sum(not u.edgex_disabled(n) for n in u.listings["edgex"])}
    logged = {o.dex: (o.status, o.markets) for o in storage.outcomes}
    assert logged["grvt"] == ("failed", 0) and logged["hyperliquid"] == ("success", len(u.listings["hyperliquid"]))
    lighter_result = next(r for r in results if r.dex == "lighter")
    assert lighter_result.error.startswith("malformed JSON from http://replay.test/lighter/api/v1/funding-rates: ")
    assert all(r.store_ms is not None for r in results)


def test_collect_all_reports_every_venue_while_a_slow_one_is_still_fetching(venues):
    import threading

    release = threading.Event()
    transport = venues

    def slow_grvt(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/grvt/"):
            release.wait(10)   # released by the other venues' results, not by the clock (unless broken)
        return transport(request)

    rt = runtime(venues)
    rt.client = httpx.Client(transport=httpx.MockTransport(slow_grvt))
    modules = [hyperliquid, lighter, paradex, grvt, edgex]
    order: list[tuple[str, bool]] = []

    def on_result(result) -> None:
        order.append((result.dex, release.is_set()))
        if len(order) == 4:
            release.set()

    results = collect_all(modules, settings(), runtime=rt, breakers={m.SPEC.id: breaker() for m in modules},
                          on_result=on_result)
    assert sorted(dex for dex, _ in order[:4]) == ["edgex", "hyperliquid", "lighter", "paradex"]
    assert all(not released for _, released in order[:4])
    assert order[4] == ("grvt", True)
    assert {r.dex: r.status for r in results} == {m.SPEC.id: "success" for m in modules}
