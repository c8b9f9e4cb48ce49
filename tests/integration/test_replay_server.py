"""The replay server over real loopback HTTP: routes, control endpoints, faults, and what the parsers make of it."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from chalicelib.services.collect import Runtime, collect_venue
from chalicelib.settings import Settings
from chalicelib.transport.breaker import CircuitBreaker, DictStore
from chalicelib.transport.budget import TokenBucket
from chalicelib.venues import REGISTRY, grvt, hyperliquid
from frs_local.replay import ReplayServer
from frs_local.replay_data import DIVERGENT

NOW_MS = 1_764_774_730_025


@pytest.fixture
def server():
    with ReplayServer(port=0, seed=3, clock=lambda: NOW_MS) as s:
        yield s


def collect(module, s: ReplayServer, now_ms: int = NOW_MS):
    settings = Settings.from_env(s.base_urls())
    breaker = CircuitBreaker(module.SPEC.id, DictStore(), threshold=3, reset_seconds=60)
    return collect_venue(module, settings, now_ms=now_ms, breaker=breaker, budget=TokenBucket(10_000, 0),
                         runtime=Runtime(sleep=lambda s: None))


def test_base_urls_and_health(server):
    urls = server.base_urls()
    assert urls["PARADEX_API_URL"] == f"http://127.0.0.1:{server.port}/paradex"
    assert urls["EDGEX_API_URL"] == f"http://127.0.0.1:{server.port}/edgex/api/v2"   # EdgeX: version in the base
    assert set(urls) == {f"{m.SPEC.id.upper()}_API_URL" for m in REGISTRY}   # every registered venue is served
    health = httpx.get(f"{server.url}/_control/health").json()
    assert health["status"] == "ok" and health["source"] == "replay" and health["seed"] == 3
    assert health["edgex_api"] == "v2"
    assert all(n >= 100 for n in health["venues"].values())


def test_every_venue_parses_to_at_least_100_markets(server):
    for module in REGISTRY:
        result = collect(module, server)
        # HIP-3: the recorded flx dex has funding multiplier 0 on every asset: rejected with that reason, never 0
        disabled = [r for r in result.rejects if r.reason == "funding disabled (multiplier 0)"]
        # a few rejected records (here: the disabled ones, counted below) leave a venue `success` (venue_state)
        assert result.status == "success", (module.SPEC.id, result.error)
        assert bool(disabled) == (module.SPEC.id == "hip3")
        assert len(result.snapshots) >= 100
        assert result.skipped > 0            # delisted / inactive / options / disabled / futures rows dropped
        assert list(result.rejects) == disabled and {r.dex for r in disabled} <= {"hyperliquid-flx"}


def test_multiplier_listings_compare_per_token(server):
    pepe = {}
    for module in REGISTRY:
        for s in collect(module, server).snapshots:
            if s.symbol == "PEPE":
                pepe[s.dex_symbol] = s
    assert set(pepe) == {"kPEPE", "1000PEPE", "PEPE-USD-PERP", "KPEPE_USDT_Perp", "1000PEPEUSDC",
                         "1000PEPEUSDT", "1000PEPE-USD", "kPEPE_USDC_PERP"}   # + Aster, Extended, Backpack
    # generated listings only: the recorded Extended/Backpack rows carry 2026-09 PEPE (~0.0000034 per token)
    marks = [s.mark_price for s in pepe.values() if s.dex not in ("extended", "backpack")]
    assert max(marks) / min(marks) < Decimal("1.01")    # same token price within 1 % after / 1000


def test_persistent_divergence_beats_round_trip_fees(server):
    asset, venue, extra_1h = DIVERGENT[0]             # WIF on hyperliquid, +0.0003 per hour
    by_dex = {}
    for module in REGISTRY:
        for s in collect(module, server).snapshots:
            if s.symbol == asset:
                by_dex[s.dex] = s.rate_8h
    others = [r for d, r in by_dex.items() if d != venue]
    assert others and min(by_dex[venue] - r for r in others) > Decimal("0.0014")   # 8 h gap vs ~0.0007 fees
    assert extra_1h * 8 > 0.0014


def test_rates_drift_between_cycles():
    with ReplayServer(port=0, seed=3, clock=lambda: NOW_MS + 300_000) as later, \
            ReplayServer(port=0, seed=3, clock=lambda: NOW_MS) as now:
        a = {s.dex_symbol: s.funding_rate for s in collect(hyperliquid, now).snapshots}
        b = {s.dex_symbol: s.funding_rate for s in collect(hyperliquid, later).snapshots}
    assert a.keys() == b.keys() and sum(a[k] != b[k] for k in a) > 100


def test_control_endpoint_sets_and_clears_faults(server):
    r = httpx.post(f"{server.url}/_control/faults", json={"grvt": "500", "edgex": "429:3", "lighter": "latency:50"})
    assert r.json() == {"faults": {"grvt": "500", "edgex": "429:3", "lighter": "latency:50"}}
    ticker = httpx.post(f"{server.url}/grvt/full/v1/ticker", json={"instrument": "BTC_USDT_Perp"})
    assert ticker.status_code == 500
    meta = httpx.get(f"{server.url}/edgex/api/v2/public/meta/getMetaData")
    assert meta.status_code == 429 and meta.headers["Retry-After"] == "3"
    assert httpx.get(f"{server.url}/lighter/api/v1/funding-rates").json()["code"] == 200
    assert httpx.delete(f"{server.url}/_control/faults").json() == {"faults": {}}
    assert httpx.post(f"{server.url}/grvt/full/v1/ticker", json={"instrument": "BTC_USDT_Perp"}).status_code == 200
    assert httpx.post(f"{server.url}/_control/faults", json={"grvt": "teapot"}).status_code == 400


def test_garbage_and_wrong_shape_faults_degrade_the_venue(server):
    server.set_fault("grvt", "garbage")
    r = collect(grvt, server)
    assert r.status == "failed"
    assert r.error.startswith(f"malformed JSON from {server.url}/grvt/full/v1/all_instruments: ")
    server.set_fault("hyperliquid", "shape")
    r = collect(hyperliquid, server)
    assert r.status == "failed" and r.error.startswith("parse error: hyperliquid:")


def test_transient_500_is_retried_to_success(server):
    server.set_fault("hyperliquid", "503", times=1)
    r = collect(hyperliquid, server)
    assert r.status == "success" and r.requests_made == 2


def test_responses_say_they_are_replayed(server):
    r = httpx.post(f"{server.url}/hyperliquid/info", json={"type": "metaAndAssetCtxs"})
    assert r.headers["X-Data-Source"] == "replay seed=3"


def test_frs_replay_server_command_serves_with_cli_faults():
    import re
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "replay-server", "--port", "0", "--seed", "4",
                             "--fault", "grvt=500", "--fault", "paradex=latency:10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = re.search(r"replay server on (http://127\.0\.0\.1:\d+)", first)
        assert url, first
        health = httpx.get(f"{url.group(1)}/_control/health", timeout=5).json()
        assert health["seed"] == 4 and health["faults"] == {"grvt": "500", "paradex": "latency:10"}
        assert httpx.post(f"{url.group(1)}/grvt/full/v1/all_instruments", json={}, timeout=5).status_code == 500
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_edgex_speaks_v2_and_its_v1_paths_answer_like_live_v1(server):
    v2 = f"{server.url}/edgex/api/v2/public"
    contracts = httpx.get(f"{v2}/meta/getMetaData").json()["data"]["contractList"]
    assert contracts[0]["contractId"].startswith("3000000") and contracts[0]["contractName"].endswith("USDC")
    ids = ",".join(c["contractId"] for c in contracts[:3])
    latest = httpx.get(f"{v2}/funding/getLatestFundingRate", params={"contractId": ids}).json()["data"]
    assert [r["contractId"] for r in latest] == ids.split(",")              # many contracts in one call
    assert httpx.get(f"{v2}/quote/getTicker").json()["data"] == []          # bulk getTicker: [] in V2
    assert httpx.get(f"{v2}/quote/getTicker", params={"contractId": ids}).json()["data"] == []
    assert len(httpx.get(f"{v2}/quote/getTicker", params={"contractId": contracts[0]["contractId"]}).json()["data"]) == 1
    v1 = f"{server.url}/edgex/api/v1/public"
    assert httpx.get(f"{v1}/meta/getMetaData").json()["data"]["contractList"][0]["contractId"].startswith("1000000")
    for path in ("/funding/getLatestFundingRate", "/quote/getTicker", "/funding/getFundingRatePage"):
        body = httpx.get(f"{v1}{path}", params={"contractId": "10000001"}).json()
        assert (body["code"], body["data"]) == ("SUCCESS", [])


def test_edgex_v1_mode_points_the_collector_at_v1_and_it_fails_saying_why():
    from chalicelib.venues import edgex

    with ReplayServer(port=0, seed=3, clock=lambda: NOW_MS, edgex_api="v1") as v1:
        assert v1.base_urls()["EDGEX_API_URL"].endswith("/edgex/api/v1")
        r = collect(edgex, v1)
    assert r.status == "failed"
    assert r.error.startswith("parse error: edgex: getLatestFundingRate answered SUCCESS with no data for ")
    assert "deprecated V1 API" in r.error and r.requests_made == 2     # metadata + the one funding call, no tickers


def test_paradex_backfill_chains_funding_index_over_hour_boundaries(server):
    """frs backfill's paging (services/backfill.fetch_history) hands Paradex's parse_history the cursor of each
    page, so each point is funding_index(B) - funding_index(B - 1 h) over the spot: the accrued funding."""
    import httpx as _httpx

    from chalicelib.services.backfill import fetch_history
    from chalicelib.transport.http import Deadline, Fetcher
    from chalicelib.venues import paradex

    hour = 3_600_000
    end = NOW_MS // hour * hour
    fetcher = Fetcher(_httpx.Client(), server.base_url("paradex"), deadline=Deadline(30))
    pages, points = fetch_history(paradex, "BTC-USD-PERP", end - 6 * hour, end, fetcher=fetcher)
    assert pages == 7 and fetcher.requests_made == 7                  # one small request per boundary
    assert [p.time_ms for p in points] == [end - h * hour for h in range(5, 0, -1)]   # [start, end): end excluded
    u = server.universe
    for p in points:
        # what the generator's index accrued in that hour, per 1 BTC, over its spot (the anchor price)
        accrued = u.paradex_funding_index("BTC", p.time_ms) - u.paradex_funding_index("BTC", p.time_ms - hour)
        assert p.funding_interval_hours == 1
        # spot comes from the wire's premium / rate, and the rate is written with 10 decimals: 1e-5 relative
        assert float(p.funding_rate) == pytest.approx(accrued / u.assets["BTC"].price, rel=1e-5)
        assert 0 < float(p.funding_rate) < 0.0001                     # an hourly fraction near the baseline


def test_lighter_backfill_of_40_days_keeps_every_hour(server):
    """The replay's /fundings keeps only the NEWEST 750 rows of a wider window (as observed live). 40 days = 960 h:
    one wide request would return 750 and lose the 210 oldest hours; <= 720 h windows get all 960 hours of
    [start, end) (fetch_history's windows are half-open: the end instant belongs to the next window)."""
    import httpx as _httpx

    from chalicelib.services.backfill import fetch_history
    from chalicelib.transport.http import Deadline, Fetcher
    from chalicelib.venues import lighter

    hour = 3_600_000
    end = NOW_MS // hour * hour
    start = end - 960 * hour
    btc_id = server.universe._lighter_ids()["BTC"]
    fetcher = Fetcher(_httpx.Client(), server.base_url("lighter"), deadline=Deadline(30))
    pages, points = fetch_history(lighter, f"BTC#{btc_id}", start, end, fetcher=fetcher)
    assert [p.time_ms for p in points] == list(range(start, end, hour))      # 960 hours, none missing
    assert pages == 2                       # [end-720h, end], then [start, end-720h-1s] (240 h) which reached start


def test_rate_scale_serves_one_venues_rates_multiplied(server):
    import argparse

    from frs_local import replay

    with ReplayServer(port=0, seed=3, clock=lambda: NOW_MS, rate_scales={"hyperliquid": 8}) as scaled:
        assert httpx.get(f"{scaled.url}/_control/health").json()["rate_scales"] == {"hyperliquid": 8.0}
        plain = {s.symbol: s.funding_rate for s in collect(hyperliquid, server).snapshots}
        times8 = {s.symbol: s.funding_rate for s in collect(hyperliquid, scaled).snapshots}
        other = {s.symbol: s.funding_rate for s in collect(grvt, scaled).snapshots}
    assert set(plain) == set(times8)
    # the wire carries 10 decimals: 8 x a rounded rate and the rounded 8 x rate differ by at most 8 x 0.5e-10
    assert all(abs(times8[k] - 8 * plain[k]) <= Decimal("4.5e-10") for k in plain)
    assert other == {s.symbol: s.funding_rate for s in collect(grvt, server).snapshots}   # other venues untouched
    args = argparse.Namespace(port=0, host="127.0.0.1", seed=1, fault=[], rate_scale=["hyperliquid=eight"])
    assert replay.run(args) == 2
