"""REST API end to end through chalice.test.Client on a real PostgreSQL and a real Redis.

Every expected number is computed by hand below from the snapshots the test inserts.
Fees are set explicitly first (storage.update_fees), so the expectations do not depend on seeds:
hyperliquid maker 0.00015 / taker 0.00045, paradex maker 0.00003 / taker 0.0002.

Market data (rates normalized per DESIGN.md §3):
  hyperliquid BTC 0.00002 per 1 h  -> rate_1h 0.00002,   rate_8h 0.00016
  paradex     BTC 0.0001  per 8 h  -> rate_1h 0.0000125, rate_8h 0.0001
  hyperliquid ETH 0.00005 per 1 h  -> rate_8h 0.0004
  paradex     ETH -0.0002 per 8 h  -> rate_8h -0.0002
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import redis
from chalice.test import Client

from chalicelib import wiring
from chalicelib.api.cache import CACHE
from chalicelib.cache import keys
from chalicelib.core.codec import snapshot_to_dict
from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.core.serialize import iso_ms
from chalicelib.settings import Settings

ADMIN_KEY = "test-admin-key-123"
HOUR_MS = 3_600_000


def the_app():
    """The real app (app.py registers the `rest` blueprint next to the schedules and WebSocket handlers)."""
    from app import app

    return app


def snap(dex: str, symbol: str, rate: str, interval: int, *, at_ms: int, volume: str = "5000000",
         oi: str | None = "2000000", mark: str = "100") -> MarketSnapshot:
    return MarketSnapshot(
        dex=dex, symbol=symbol, dex_symbol=f"{symbol}-PERP" if dex == "paradex" else symbol,
        funding_rate=Decimal(rate), funding_interval_hours=Decimal(interval), mark_price=Decimal(mark),
        fetched_at_ms=at_ms, index_price=Decimal(mark), volume_24h_usd=Decimal(volume),
        open_interest_usd=None if oi is None else Decimal(oi), next_funding_time_ms=at_ms + HOUR_MS,
    )


@dataclass
class Api:
    client: Client
    storage: Any
    kv: redis.Redis
    now_ms: int

    def get(self, path: str, **headers: str) -> tuple[int, Any]:
        r = self.client.http.get(path, headers=headers)
        return r.status_code, json.loads(r.body)

    def put(self, path: str, body: Any, **headers: str) -> tuple[int, Any]:
        return self.request("PUT", path, body, **headers)

    def post(self, path: str, body: Any, **headers: str) -> tuple[int, Any]:
        return self.request("POST", path, body, **headers)

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        raw = body if body is None or isinstance(body, str | bytes) else json.dumps(body)
        r = self.client.http.request(method, path, body=raw, headers={"Content-Type": "application/json", **headers})
        return r.status_code, json.loads(r.body)


def seed(storage: Any) -> int:
    """The module docstring's market data and base-tier fees, stored; returns the time they were stored at (ms)."""
    now_ms = int(time.time() * 1000)
    storage.update_fees("hyperliquid", FeeSchedule(maker=Decimal("0.00015"), taker=Decimal("0.00045")))
    storage.update_fees("paradex", FeeSchedule(maker=Decimal("0.00003"), taker=Decimal("0.0002")))
    storage.ingest([
        snap("hyperliquid", "BTC", "0.00002", 1, at_ms=now_ms - 2000),
        snap("paradex", "BTC", "0.0001", 8, at_ms=now_ms - 1000),
        snap("hyperliquid", "ETH", "0.00005", 1, at_ms=now_ms - 2000),
        snap("paradex", "ETH", "-0.0002", 8, at_ms=now_ms - 1000),
    ])
    return now_ms


def make_api(db_url: str, redis_url: str, ttl: str = "60") -> Iterator[Api]:
    from chalicelib.storage.repository import PgStorage

    settings = Settings.from_env({"DATABASE_URL": db_url, "REDIS_URL": redis_url, "ADMIN_API_KEY": ADMIN_KEY,
                                  "CACHE_TTL_SECONDS": ttl})
    storage = PgStorage(db_url)
    kv = redis.Redis.from_url(redis_url)
    wiring.override(settings=settings, storage=storage, kv=kv)
    CACHE.clear()
    now_ms = seed(storage)
    try:
        with Client(the_app()) as client:
            yield Api(client, storage, kv, now_ms)
    finally:
        wiring.reset()
        CACHE.clear()
        kv.close()
        close = getattr(storage, "close", None)
        if close:
            close()


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[Api]:
    yield from make_api(db_url, redis_url)


def approx(x: float) -> Any:
    return pytest.approx(x, rel=1e-9, abs=1e-15)


# ---- funding rates -------------------------------------------------------------------------
def test_funding_rates_default_basis_is_8h(api: Api) -> None:
    status, body = api.get("/api/v1/funding-rates?symbol=BTC")
    assert status == 200
    assert body["basis"] == "8h"
    assert body["data"] == {"BTC": {"hyperliquid": approx(0.00016), "paradex": approx(0.0001)}}
    assert body["source"] in ("database", "redis", "memory")
    assert body["updated_at"].startswith(time.strftime("%Y-%m-%d", time.gmtime(api.now_ms / 1000)))
    assert 0 <= body["data_age_seconds"] < 60


@pytest.mark.parametrize(("basis", "hl", "paradex"), [
    ("native", 0.00002, 0.0001),
    ("1h", 0.00002, 0.0000125),
    ("8h", 0.00016, 0.0001),
    ("apr", 0.00002 * 8760 * 100, 0.0000125 * 8760 * 100),   # 17.52 %, 10.95 %
])
def test_funding_rates_every_basis(api: Api, basis: str, hl: float, paradex: float) -> None:
    status, body = api.get(f"/api/v1/funding-rates?symbol=btc&basis={basis}")
    assert status == 200 and body["basis"] == basis
    assert body["data"]["BTC"] == {"hyperliquid": approx(hl), "paradex": approx(paradex)}


def test_funding_rates_filters_and_metadata(api: Api) -> None:
    _, body = api.get("/api/v1/funding-rates?dex=paradex&include_metadata=true")
    assert body["data"] == {"BTC": {"paradex": approx(0.0001)}, "ETH": {"paradex": approx(-0.0002)}}
    meta = body["dex_metadata"]["paradex"]
    assert meta["maker_fee_percent"] == approx(0.00003) and meta["taker_fee_percent"] == approx(0.0002)


def test_dex_rates_and_market_rate(api: Api) -> None:
    status, body = api.get("/api/v1/funding-rates/hyperliquid")
    assert status == 200 and body["dex_name"] == "hyperliquid" and set(body["rates"]) == {"BTC", "ETH"}
    btc = body["rates"]["BTC"]
    assert btc["funding_rate"] == approx(0.00016)               # basis 8h
    assert btc["annualized_rate"] == approx(17.52)
    status, one = api.get("/api/v1/funding-rates/paradex/BTC?basis=native")
    assert status == 200
    assert (one["dex_name"], one["symbol"], one["basis"]) == ("paradex", "BTC", "native")
    assert one["funding_rate"] == approx(0.0001)
    assert one["rate_1h"] == approx(0.0000125) and one["rate_8h"] == approx(0.0001)
    assert one["funding_interval_hours"] == 8
    assert one["annualized_rate"] == approx(10.95)
    assert one["mark_price"] == 100 and one["open_interest_usd"] == 2000000 and one["volume_24h_usd"] == 5000000
    assert {"source", "updated_at", "data_age_seconds", "next_funding_time", "timestamp"} <= set(one)


# ---- opportunities -------------------------------------------------------------------------
def test_opportunities_hand_computed(api: Api) -> None:
    status, body = api.get("/api/v1/opportunities?min_volume=0&min_divergence=0&min_profit=-1")
    assert status == 200
    assert body["total_count"] == 2
    eth, btc = body["opportunities"]                              # sorted by net profit, desc
    # ETH: long paradex (-0.0002), short hyperliquid (0.0004): divergence 0.0006 per 8 h
    #      fees 2 * (0.00003 + 0.00015) = 0.00036; net = 0.0006 - 0.00036 = 0.00024; APY 0.00024*1095*100
    assert (eth["symbol"], eth["long_dex"], eth["short_dex"]) == ("ETH", "paradex", "hyperliquid")
    assert eth["divergence"] == approx(0.0006) and eth["estimated_fees"] == approx(0.00036)
    assert eth["net_profit_percent"] == approx(0.00024) and eth["annualized_apy"] == approx(26.28)
    # BTC: long paradex (0.0001), short hyperliquid (0.00016): divergence 0.00006; net 0.00006 - 0.00036
    assert (btc["long_dex"], btc["short_dex"]) == ("paradex", "hyperliquid")
    assert btc["divergence"] == approx(0.00006) and btc["net_profit_percent"] == approx(-0.0003)
    assert btc["annualized_apy"] == approx(-32.85)
    assert body["filters_applied"]["min_volume_24h"] == 0 and body["filters_applied"]["limit"] == 10
    assert {"generated_at", "source", "updated_at", "data_age_seconds"} <= set(body)


def test_opportunities_default_filters(api: Api) -> None:
    # defaults: min_divergence 0.0001 drops BTC (0.00006); min_profit 0 keeps ETH (0.00024)
    _, body = api.get("/api/v1/opportunities")
    assert [o["symbol"] for o in body["opportunities"]] == ["ETH"] and body["total_count"] == 1
    _, body = api.get("/api/v1/opportunities?min_volume=6000000")
    assert body["opportunities"] == [] and body["total_count"] == 0


def test_opportunities_hold_hours_and_taker_fees(api: Api) -> None:
    # hold 24 h: 0.0006/8*24 - 0.00036 = 0.00144; APY = 0.00144 * 8760/24 * 100 = 52.56
    _, body = api.get("/api/v1/opportunities?hold_hours=24&symbol=ETH")
    (eth,) = body["opportunities"]
    assert eth["net_profit_percent"] == approx(0.00144) and eth["annualized_apy"] == approx(52.56)
    # taker: fees 2 * (0.0002 + 0.00045) = 0.0013; net 0.0006 - 0.0013 = -0.0007
    _, body = api.get("/api/v1/opportunities?fee_type=taker&symbol=ETH&min_profit=-1")
    (eth,) = body["opportunities"]
    assert eth["estimated_fees"] == approx(0.0013) and eth["net_profit_percent"] == approx(-0.0007)


def test_best_symbol_and_compare(api: Api) -> None:
    status, best = api.get("/api/v1/opportunities/best?min_volume=0&min_divergence=0&min_profit=-1")
    assert status == 200 and best["rank"] == 1 and best["total_opportunities"] == 2
    assert best["opportunity"]["symbol"] == "ETH"
    _, none = api.get("/api/v1/opportunities/best?min_profit=0.05")   # 5 % over 8 h: none
    assert none["opportunity"] is None and none["total_opportunities"] == 0
    _, by_symbol = api.get("/api/v1/opportunities/symbol/btc?min_divergence=0&min_profit=-1")
    assert [o["symbol"] for o in by_symbol["opportunities"]] == ["BTC"]
    status, cmp = api.get("/api/v1/opportunities/compare?dex1=paradex&dex2=hyperliquid")
    assert status == 200 and (cmp["dex1"], cmp["dex2"]) == ("paradex", "hyperliquid")
    rows = {r["symbol"]: r for r in cmp["opportunities"]}
    assert rows["ETH"]["rate_diff"] == approx(0.0006) and rows["ETH"]["better_on"] == "hyperliquid"
    assert rows["ETH"]["recommendation"] == "short_on_hyperliquid_long_on_paradex"
    assert rows["BTC"]["rate_diff"] == approx(0.00006) and rows["BTC"]["net_profit_percent"] == approx(-0.0003)
    # swapped: rate_diff is rate_8h(dex2) - rate_8h(dex1), so the sign flips and the advice does not
    _, swapped = api.get("/api/v1/opportunities/compare?dex1=hyperliquid&dex2=paradex")
    eth = {r["symbol"]: r for r in swapped["opportunities"]}["ETH"]
    assert eth["rate_diff"] == approx(-0.0006) and eth["better_on"] == "hyperliquid"



def test_stale_venue_is_left_out_of_opportunities_and_compare(api: Api) -> None:
    # Lighter ETH was last collected 10 min ago: more than 3 collection intervals (3 x 60 s), so the
    # venue is stale (as /health and the analysis treat it) and its old rate must not make an opportunity.
    # Were it used: rate_8h 0.0001 * 8 = 0.0008, long paradex (-0.0002) -> divergence 0.001.
    api.storage.update_fees("lighter", FeeSchedule(maker=Decimal(0), taker=Decimal(0)))
    api.storage.ingest([snap("lighter", "ETH", "0.0001", 1, at_ms=api.now_ms - 600_000)])
    _, body = api.get("/api/v1/opportunities?symbol=ETH&min_volume=0&min_divergence=0&min_profit=-1")
    pairs = [(o["long_dex"], o["short_dex"]) for o in body["opportunities"]]
    assert pairs == [("paradex", "hyperliquid")] and body["total_count"] == 1
    _, cmp = api.get("/api/v1/opportunities/compare?dex1=paradex&dex2=lighter")
    assert cmp["opportunities"] == []
    _, rates = api.get("/api/v1/funding-rates/lighter/ETH")                  # the rate itself stays readable
    assert rates["rate_8h"] == approx(0.0008)

# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "parameter"), [
    ("/api/v1/opportunities?limit=0", "limit"),
    ("/api/v1/opportunities?limit=abc", "limit"),
    ("/api/v1/opportunities?sort_by=bogus", "sort_by"),
    ("/api/v1/opportunities?min_profti=0.1", "min_profti"),
    ("/api/v1/history/funding-rates/hyperliquid/BTC?start_time=garbage", "start_time"),
    ("/api/v1/stats/funding-rates/BTC?period=7x", "period"),
    ("/api/v1/funding-rates?basis=weekly", "basis"),
    ("/api/v1/dexes?verbose=1", "verbose"),
    ("/api/v1/opportunities/compare?dex1=paradex", "dex2"),
    ("/api/v1/opportunities/compare?dex1=paradex&dex2=paradex", "dex2"),
    ("/api/v1/history/funding-rates/hyperliquid/BTC?page_size=5000", "page_size"),
])
def test_bad_parameters_are_400_naming_them(api: Api, path: str, parameter: str) -> None:
    status, body = api.get(path)
    assert status == 400, body
    assert body["parameter"] == parameter and body["error"] and body["detail"]


@pytest.mark.parametrize(("path", "parameter", "value"), [
    ("/api/v1/funding-rates/nodex", "dex", "nodex"),
    ("/api/v1/funding-rates/paradex/NOPE", "symbol", "NOPE"),
    ("/api/v1/funding-rates?symbol=NOPE", "symbol", "NOPE"),
    ("/api/v1/dexes/nodex", "dex", "nodex"),
    ("/api/v1/dexes/nodex/symbols", "dex", "nodex"),
    ("/api/v1/opportunities?long_dex=nodex", "long_dex", "nodex"),
    ("/api/v1/opportunities/symbol/NOPE", "symbol", "NOPE"),
    ("/api/v1/opportunities/compare?dex1=paradex&dex2=nodex", "dex2", "nodex"),
    ("/api/v1/history/funding-rates/nodex/BTC", "dex", "nodex"),
    ("/api/v1/stats/funding-rates/NOPE", "symbol", "NOPE"),
])
def test_unknown_dex_or_symbol_is_404_naming_it(api: Api, path: str, parameter: str, value: str) -> None:
    status, body = api.get(path)
    assert status == 404, body
    assert body["parameter"] == parameter and value in body["detail"]


# ---- admin fees ----------------------------------------------------------------------------
FEES = {"maker_fee_percent": 0.0001, "taker_fee_percent": 0.0005, "has_fee_tiers": False, "fee_tiers": None}


def test_admin_requires_a_key(api: Api) -> None:
    status, body = api.put("/api/v1/admin/dexes/paradex/fees", FEES)
    assert status == 401 and body["parameter"] == "X-API-Key"
    status, body = api.put("/api/v1/admin/dexes/paradex/fees", FEES, **{"X-API-Key": "wrong"})
    assert status == 403
    status, body = api.put("/api/v1/admin/dexes/paradex/fees", {"maker_fee_percent": "x"}, **{"X-API-Key": ADMIN_KEY})
    assert status == 422 and body["parameter"] == "maker_fee_percent"
    status, body = api.put("/api/v1/admin/dexes/nodex/fees", FEES, **{"X-API-Key": ADMIN_KEY})
    assert status == 404 and body["parameter"] == "dex"


def test_fee_update_shows_in_next_opportunities_and_metadata(api: Api) -> None:
    _, before = api.get("/api/v1/opportunities?symbol=ETH")
    assert before["opportunities"][0]["estimated_fees"] == approx(0.00036)
    api.get("/api/v1/dexes")                       # the dex_metadata list is now cached in Redis
    assert api.kv.get(keys.dex_metadata("all")) is not None
    status, body = api.put("/api/v1/admin/dexes/paradex/fees", FEES, **{"X-API-Key": ADMIN_KEY})
    assert status == 200 and body["status"] == "success" and body["fees_version"] == 1
    assert int(api.kv.get(keys.fees_version())) == 1
    assert api.kv.get(keys.dex_metadata("all")) is None
    # fees now 2 * (0.0001 + 0.00015) = 0.0005; net 0.0006 - 0.0005 = 0.0001
    _, after = api.get("/api/v1/opportunities?symbol=ETH")
    (eth,) = after["opportunities"]
    assert eth["estimated_fees"] == approx(0.0005) and eth["net_profit_percent"] == approx(0.0001)
    _, dex = api.get("/api/v1/dexes/paradex")
    assert dex["fee_structure"]["maker_fee_percent"] == approx(0.0001)
    assert api.storage.fee_schedules()["paradex"].maker == Decimal("0.0001")


# ---- cache tiers ---------------------------------------------------------------------------
def test_cache_source_database_then_memory_then_redis(api: Api) -> None:
    _, first = api.get("/api/v1/funding-rates")
    assert first["source"] == "database"
    stored = json.loads(api.kv.get(keys.latest_rates()))              # written back for other containers
    assert {(d["dex"], d["symbol"]) for d in stored} == {("hyperliquid", "BTC"), ("paradex", "BTC"),
                                                          ("hyperliquid", "ETH"), ("paradex", "ETH")}
    _, second = api.get("/api/v1/funding-rates")
    assert second["source"] == "memory" and second["data"] == first["data"]
    CACHE.clear()                                                    # a new container: Redis answers
    _, third = api.get("/api/v1/funding-rates")
    assert third["source"] == "redis" and third["data"] == first["data"]


def test_analysis_write_to_redis_is_served_after_invalidation(api: Api) -> None:
    api.get("/api/v1/funding-rates")
    # the analysis publishes a new cycle: HL BTC now 0.00003 per hour -> 0.00024 per 8 h
    fresh = [snap("hyperliquid", "BTC", "0.00003", 1, at_ms=api.now_ms + 500),
             snap("paradex", "BTC", "0.0001", 8, at_ms=api.now_ms + 500)]
    api.kv.set(keys.latest_rates(), json.dumps([snapshot_to_dict(s) for s in fresh]))
    _, stale = api.get("/api/v1/funding-rates?symbol=BTC")
    assert stale["source"] == "memory" and stale["data"]["BTC"]["hyperliquid"] == approx(0.00016)
    CACHE.invalidate("snapshots")                                     # (or memory TTL min(5 s, CACHE_TTL) elapsing)
    _, new = api.get("/api/v1/funding-rates?symbol=BTC")
    assert new["source"] == "redis" and new["data"]["BTC"]["hyperliquid"] == approx(0.00024)
    assert new["updated_at"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((api.now_ms + 500) // 1000)) \
        + f".{(api.now_ms + 500) % 1000:03d}000Z"


def test_memory_tier_never_outlives_redis_for_long(db_url: str, redis_url: str) -> None:
    """CACHE_TTL_SECONDS=1 -> memory TTL min(5 s, 1 s): a new analysis cycle in Redis shows within a second."""
    for api in make_api(db_url, redis_url, ttl="1"):
        assert api.get("/api/v1/funding-rates?symbol=ETH")[1]["source"] == "database"
        newer = [snap("hyperliquid", "ETH", "0.0001", 1, at_ms=api.now_ms + 100),
                 snap("paradex", "ETH", "-0.0002", 8, at_ms=api.now_ms + 100)]
        api.kv.set(keys.latest_rates(), json.dumps([snapshot_to_dict(s) for s in newer]))
        time.sleep(1.1)
        _, body = api.get("/api/v1/funding-rates?symbol=ETH")
        assert body["source"] == "redis" and body["data"]["ETH"]["hyperliquid"] == approx(0.0008)
        # the opportunities derived from the refreshed snapshots follow: divergence 0.0008 + 0.0002
        _, opps = api.get("/api/v1/opportunities?symbol=ETH")
        assert opps["opportunities"][0]["divergence"] == approx(0.001)


def test_memory_tier_disabled_with_zero_ttl(db_url: str, redis_url: str) -> None:
    for api in make_api(db_url, redis_url, ttl="0"):
        assert api.get("/api/v1/funding-rates")[1]["source"] == "database"
        assert api.get("/api/v1/funding-rates")[1]["source"] == "database"   # nothing kept anywhere


# ---- dexes, health, metrics -----------------------------------------------------------------
def test_dexes_and_symbols(api: Api) -> None:
    status, body = api.get("/api/v1/dexes")
    assert status == 200
    names = [d["name"] for d in body["dexes"]]
    assert {"hyperliquid", "paradex"} <= set(names) and names == sorted(names)
    para = next(d for d in body["dexes"] if d["name"] == "paradex")
    assert para["fee_structure"]["maker_fee_percent"] == approx(0.00003)
    assert set(para["supported_symbols"]) >= {"BTC", "ETH"}
    status, one = api.get("/api/v1/dexes/paradex")
    assert status == 200 and one["name"] == "paradex" and "consecutive_errors" in one
    status, syms = api.get("/api/v1/dexes/paradex/symbols")
    assert status == 200 and syms["dex_name"] == "paradex"
    rows = {s["symbol"]: s for s in syms["symbols"]}
    assert rows["BTC"]["dex_symbol_format"] == "BTC-PERP" and rows["BTC"]["volume_24h"] == 5000000
    # freshness of these volumes/OI: paradex was last collected at now - 1 s (not "now, age 0")
    assert syms["updated_at"] == iso_ms(api.now_ms - 1000) and syms["data_age_seconds"] >= 1


def test_health_reflects_breaker_and_freshness(api: Api) -> None:
    status, body = api.get("/api/v1/health")
    assert status == 200
    by = {d["dex_name"]: d for d in body["dex_health"]}
    assert by["paradex"]["is_healthy"] and by["hyperliquid"]["is_healthy"]
    # venues with no data at all (lighter, grvt, edgex seeded but never collected) are unhealthy -> degraded
    assert body["status"] == ("healthy" if len(by) == 2 else "degraded")
    assert 0 <= body["oldest_data_age_seconds"] < 60
    c = body["components"]
    assert (c["database"]["status"], c["redis"]["status"], c["ingest_buffer"]["status"]) == ("up", "up", "empty")
    assert c["ingest_buffer"]["batches_waiting"] == 0 and c["ingest_buffer"]["snapshots_lost"] == 0
    assert c["websocket_push"]["status"] == "unknown"              # no analysis ran: no push recorded yet
    api.kv.set(keys.breaker("paradex"), json.dumps({"state": "open"}))
    CACHE.invalidate("health")                                       # /health is cached 5 s (system.HEALTH_TTL_S)
    _, body = api.get("/api/v1/health")
    para = next(d for d in body["dex_health"] if d["dex_name"] == "paradex")
    assert para["is_healthy"] is False and "circuit breaker open" in para["problems"]
    assert body["status"] == "degraded"
    assert {"uptime_seconds", "total_requests", "cache_hit_rate", "last_collection_time", "timestamp"} <= set(body)


def test_health_is_cached_for_a_few_seconds_and_shows_the_push_path(api: Api, monkeypatch) -> None:
    from chalicelib.api import system

    calls = []
    storage = wiring.storage()
    real = storage.collection_health
    monkeypatch.setattr(storage, "collection_health", lambda *a: calls.append(1) or real(*a))
    CACHE.invalidate("health")
    api.kv.set(keys.push_status(), json.dumps({"at_ms": int(time.time() * 1000), "connections": 2,
                                               "frames_delivered": 0, "frames_failed": 6}))
    first = [api.get("/api/v1/health") for _ in range(20)]
    assert system.HEALTH_TTL_S == 5.0 and len(calls) == 1          # 20 calls within 5 s: the database read once
    assert {status for status, _ in first} == {200}
    push = first[-1][1]["components"]["websocket_push"]
    assert (push["status"], push["frames_failed"]) == ("degraded", 6)
    assert push["reason"] == "last push: 6 frames failed, none delivered"


def test_metrics(api: Api) -> None:
    api.get("/api/v1/funding-rates")
    api.get("/api/v1/funding-rates")
    api.kv.sadd(keys.ws_connections(), "conn-a", "conn-b")
    status, body = api.get("/api/v1/metrics")
    assert status == 200
    assert body["active_websockets"] == 2
    assert body["database_connections"] is None or body["database_connections"] >= 1
    assert 0 < body["cache_hit_rate"] <= 1 and body["requests_per_minute"] >= 2
    assert body["cache_size_mb"] > 0 and body["avg_response_time_ms"] > 0


def test_openapi_and_docs_are_served(api: Api) -> None:
    status, doc = api.get("/api/v1/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0" and "/api/v1/opportunities" in doc["paths"]
    for path in ("/docs", "/api/v1/docs"):
        r = api.client.http.get(path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        assert b"/api/v1/history/funding-rates/{dex}/{symbol}" in r.body


# ---- history and statistics ----------------------------------------------------------------
def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _history(api: Api) -> int:
    """Four hyperliquid BTC samples (1 h interval) in three clock hours starting at H0; returns H0.

    rate_8h: H0+10m 0.00008, H0+40m 0.00024, H0+65m 0.00016, H0+150m -0.00008.
    """
    h0 = (api.now_ms // HOUR_MS - 4) * HOUR_MS
    api.storage.ingest([
        snap("hyperliquid", "BTC", "0.00001", 1, at_ms=h0 + 10 * 60_000),
        snap("hyperliquid", "BTC", "0.00003", 1, at_ms=h0 + 40 * 60_000),
        snap("hyperliquid", "BTC", "0.00002", 1, at_ms=h0 + 65 * 60_000),
        snap("hyperliquid", "BTC", "-0.00001", 1, at_ms=h0 + 150 * 60_000),
    ])
    return h0


def test_history_raw_pagination(api: Api) -> None:
    h0 = _history(api)
    window = f"start_time={_iso(h0)}&end_time={_iso(h0 + 3 * HOUR_MS)}"
    status, body = api.get(f"/api/v1/history/funding-rates/hyperliquid/BTC?{window}&interval=raw&page_size=3")
    assert status == 200
    assert body["pagination"] == {"page": 1, "page_size": 3, "total": 4, "total_pages": 2}
    assert [p["rate"] for p in body["data_points"]] == [approx(0.00008), approx(0.00024), approx(0.00016)]
    assert body["data_points"][0]["time"].startswith(_iso(h0 + 10 * 60_000)[:-1])
    _, page2 = api.get(f"/api/v1/history/funding-rates/hyperliquid/BTC?{window}&interval=raw&page_size=3&page=2")
    assert [p["rate"] for p in page2["data_points"]] == [approx(-0.00008)]
    _, page3 = api.get(f"/api/v1/history/funding-rates/hyperliquid/BTC?{window}&interval=raw&page_size=3&page=3")
    assert page3["data_points"] == [] and page3["pagination"]["total"] == 4
    # statistics of the raw 8 h rates over the whole range, whatever the page:
    # mean 0.0004/4 = 0.0001; median (0.00008+0.00016)/2; sample std sqrt(5.6e-8/3)
    stats = page2["statistics"]
    assert stats["avg_rate"] == approx(0.0001) and stats["median_rate"] == approx(0.00012)
    assert stats["min_rate"] == approx(-0.00008) and stats["max_rate"] == approx(0.00024)
    assert stats["std_dev"] == pytest.approx((5.6e-8 / 3) ** 0.5, rel=1e-6)
    assert (body["dex_name"], body["symbol"], body["basis"], body["interval"]) == ("hyperliquid", "BTC", "8h", "raw")
    assert body["source"] == "database" and body["period_start"].startswith(_iso(h0)[:-1])


def test_history_hourly_buckets_in_every_basis(api: Api) -> None:
    h0 = _history(api)
    window = f"start_time={_iso(h0)}&end_time={_iso(h0 + 3 * HOUR_MS)}"
    _, body = api.get(f"/api/v1/history/funding-rates/hyperliquid/BTC?{window}&interval=1h")
    points = body["data_points"]
    assert [p["time"][:19] for p in points] == [_iso(h0 + i * HOUR_MS)[:19] for i in range(3)]
    assert [p["rate"] for p in points] == [approx(0.00016), approx(0.00016), approx(-0.00008)]  # H0: avg of two
    assert [p["samples"] for p in points] == [2, 1, 1]
    assert body["pagination"] == {"page": 1, "page_size": 100, "total": 3, "total_pages": 1}
    # freshness is the newest SAMPLE (H0+150m), not the start of its bucket (H0+120m)
    assert body["updated_at"].startswith(_iso(h0 + 150 * 60_000)[:-1])
    _, one_h = api.get(f"/api/v1/history/funding-rates/hyperliquid/BTC?{window}&interval=1h&basis=1h")
    assert one_h["data_points"][0]["rate"] == approx(0.00002) and one_h["statistics"]["avg_rate"] == approx(0.0000125)
    _, apr = api.get(f"/api/v1/history/funding-rates/hyperliquid/BTC?{window}&interval=1h&basis=apr")
    assert apr["data_points"][0]["rate"] == approx(17.52)                    # 0.00002 * 8760 * 100
    _, native = api.get(f"/api/v1/history/funding-rates/hyperliquid/BTC?{window}&interval=1d&basis=native")
    assert native["pagination"]["total"] in (1, 2)                            # one or two UTC days
    assert sum(p["samples"] for p in native["data_points"]) == 4


def test_history_default_window_is_7d_and_includes_live_point(api: Api) -> None:
    _history(api)
    status, body = api.get("/api/v1/history/funding-rates/hyperliquid/BTC?interval=raw")
    assert status == 200 and body["pagination"]["total"] == 5               # 4 history + the live snapshot
    status, body = api.get("/api/v1/history/funding-rates/hyperliquid/BTC?period=24h&interval=raw&page_size=1")
    assert body["pagination"]["total_pages"] == 5


def test_stats_hand_computed(api: Api) -> None:
    _history(api)
    status, body = api.get("/api/v1/stats/funding-rates/BTC?dex=hyperliquid&period=24h")
    assert status == 200
    # rate_8h samples: 0.00008, 0.00024, 0.00016, -0.00008 and the live 0.00016
    assert body["samples"] == 5 and body["period_days"] == 1 and body["dex_name"] == "hyperliquid"
    assert body["avg_funding_rate"] == approx(0.000112)
    assert body["median_funding_rate"] == approx(0.00016)
    assert body["min_rate"] == approx(-0.00008) and body["max_rate"] == approx(0.00024)
    assert body["percentile_25"] == approx(0.00008) and body["percentile_75"] == approx(0.00016)
    assert body["std_dev"] == pytest.approx((5.888e-8 / 4) ** 0.5, rel=1e-6)
    assert body["volatility"] == pytest.approx((5.888e-8 / 4) ** 0.5 / 0.000112, rel=1e-6)
    assert body["avg_annualized_apy"] == approx(0.000112 * 3 * 365 * 100)   # 12.264 %
    assert body["positive_rate_frequency"] == approx(0.8)
    _, all_venues = api.get("/api/v1/stats/funding-rates/BTC")               # default 30d, every venue
    assert all_venues["samples"] == 6 and all_venues["period_days"] == 30 and all_venues["dex_name"] is None
    assert all_venues["avg_funding_rate"] == approx((0.00056 + 0.0001) / 6)


def test_opportunity_history(api: Api) -> None:
    from chalicelib.core.models import Opportunity

    def opp(symbol: str, net: str, minutes_ago: int) -> Opportunity:
        at = api.now_ms - minutes_ago * 60_000
        return Opportunity(
            id=f"{symbol}:paradex:hyperliquid", symbol=symbol, long_dex="paradex", short_dex="hyperliquid",
            long_rate=Decimal("0.0001"), short_rate=Decimal("0.0002"), divergence=Decimal("0.0001"),
            divergence_1h=Decimal("0.0000125"), estimated_fees=Decimal("0.00001"),
            net_profit_percent=Decimal(net), annualized_apy=Decimal(net) * 109500, gross_apr=Decimal("10.95"),
            breakeven_hours=Decimal("0.8"), hold_hours=Decimal(8), fee_type="maker", discovered_at_ms=at,
            valid_until_ms=at + 60_000)

    api.storage.write_opportunities([opp("BTC", "0.0002", 30), opp("ETH", "0.00005", 20), opp("BTC", "0.0003", 10)])
    status, body = api.get("/api/v1/history/opportunities?period=24h")
    assert status == 200 and body["total_count"] == 3
    assert [o["net_profit_percent"] for o in body["opportunities"]] == [approx(0.0003), approx(0.00005),
                                                                        approx(0.0002)]   # newest first
    _, btc = api.get("/api/v1/history/opportunities?symbol=BTC&min_profit=0.00025")
    assert btc["total_count"] == 1 and btc["opportunities"][0]["symbol"] == "BTC"
    _, paged = api.get("/api/v1/history/opportunities?limit=2&page=2")
    assert paged["pagination"] == {"page": 2, "page_size": 2, "total": 3, "total_pages": 2}
    assert len(paged["opportunities"]) == 1


# ---- input edges (issue 12) -----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/opportunities?hold_hours=1e-999999", "/api/v1/opportunities/compare?dex1=hyperliquid&dex2=paradex&hold_hours=1e-999999",
                                  "/api/v1/backtest?symbol=BTC&long_dex=hyperliquid&short_dex=paradex&start_time=2026-01-01T00:00:00Z&notional=1e-999999"])
def test_absurdly_small_decimals_are_400_naming_the_parameter(api: Api, path: str) -> None:
    status, body = api.get(path)     # was 500: decimal.Overflow in the arithmetic below the validation
    assert status == 400, body
    assert body["parameter"] in ("hold_hours", "notional") and body["error"] == "invalid_parameter"


def test_a_deeply_nested_admin_body_is_400_not_500(api: Api) -> None:
    deep = "[" * 100_000 + "]" * 100_000          # deeper than the JSON parser's recursion limit
    status, body = api.put("/api/v1/admin/dexes/hyperliquid/fees", deep, **{"X-API-Key": ADMIN_KEY})
    assert status == 400 and body["parameter"] == "body", body
    nested = {"maker_fee_percent": 0.0001, "taker_fee_percent": 0.0002, "fee_tiers": json.loads("[" * 500 + "]" * 500)}
    status, body = api.put("/api/v1/admin/dexes/hyperliquid/fees", nested, **{"X-API-Key": ADMIN_KEY})
    assert status in (400, 422) and body["error"] in ("invalid_body", "unprocessable_entity"), body


def test_the_openapi_document_states_the_constraints_across_parameters(api: Api) -> None:
    _, doc = api.get("/api/v1/openapi.json")
    compare = doc["paths"]["/api/v1/opportunities/compare"]["get"]
    assert {"kind": "distinct", "parameters": ["dex1", "dex2"]} in compare["x-constraints"]
    assert "dex1 and dex2 must differ" in compare["description"]
    history = doc["paths"]["/api/v1/history/funding-rates/{dex}/{symbol}"]["get"]
    assert {"kind": "exclusive", "parameters": ["period", "start_time"]} in history["x-constraints"]
    assert any(c.get("max_days") == 366 for c in history["x-constraints"])
    fees = doc["components"]["schemas"]["FeeStructureBody"]["properties"]["maker_fee_percent"]
    assert all(branch.get("type") != "string" for branch in fees["anyOf"])          # "" is no fee
    status, body = api.get("/api/v1/opportunities/compare?dex1=hyperliquid&dex2=hyperliquid")
    assert status == 400 and body["parameter"] == "dex2"                              # what the document says
