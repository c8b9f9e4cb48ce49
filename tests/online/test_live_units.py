"""Live checks of the [U] unit/period assumptions (opt-in: `pytest -m online tests/online`).

Each test would fail on a x8 (period) or x100 (percent) misreading. They talk to the real venues with
httpx (base URL from <DEX>_API_URL, else the module's default) and parse through the venue modules,
so what is checked is what the service stores.
"""

from __future__ import annotations

import os
import statistics
import time
from decimal import Decimal
from types import ModuleType
from typing import Any

import httpx
import pytest

from chalicelib.venues import edgex, grvt, hyperliquid, lighter, paradex
from chalicelib.venues.base import Request

pytestmark = pytest.mark.online
D = Decimal
HOUR_MS = 3_600_000


def call(venue: ModuleType, req: Request) -> Any:
    base = os.environ.get(venue.SPEC.base_url_env) or venue.SPEC.default_base_url
    with httpx.Client(timeout=20) as client:
        resp = client.request(req.method, base + req.path, params=req.params or None, json=req.json)
    resp.raise_for_status()
    return resp.json()


def snapshot(venue: ModuleType):
    payloads = {r.key: call(venue, r) for r in venue.requests(venue.SPEC)}
    follow = getattr(venue, "follow_up", None)
    if follow is not None:
        extra = follow(venue.SPEC, payloads)[:20]           # a sample is enough for a unit check
        payloads.update({r.key: call(venue, r) for r in extra})
    return payloads, venue.parse(venue.SPEC, payloads, now_ms=int(time.time() * 1000))


def test_lighter_funding_rates_is_8h_equivalent():
    """funding-rates `rate`/8 should be close to the latest settled hourly rate from /fundings (percent/100).
    A wrong period would put the ratio near 8 or 1/8."""
    _, result = snapshot(lighter)
    now_ms = int(time.time() * 1000)
    ratios = []
    for snap, market_id in [(s, i) for s in result.snapshots for sym, i in (("ETH", 0), ("BTC", 1)) if s.symbol == sym]:
        req = lighter.history_requests(lighter.SPEC, f"{snap.symbol}#{market_id}", now_ms - 4 * HOUR_MS, now_ms, None)
        points, _ = lighter.parse_history(lighter.SPEC, call(lighter, req), dex_symbol=f"{snap.symbol}#{market_id}")
        assert points, f"no /fundings rows for {snap.symbol}"
        if points[-1].funding_rate != 0 and snap.rate_1h != 0:
            ratios.append(abs(snap.rate_1h / points[-1].funding_rate))
    assert ratios, "no comparable market"
    assert D("0.33") < statistics.median(ratios) < D(3), f"rate_1h / settled hourly = {ratios}"


def test_grvt_funding_rate_is_per_interval_and_percent():
    """On a 1 h (or 4 h) instrument, ticker funding_rate should equal funding_rate_8h_curr x interval/8."""
    payloads, result = snapshot(grvt)
    intervals = {i["instrument"]: D(str(i.get("funding_interval_hours"))) for i in payloads["all_instruments"]["result"]
                 if i.get("kind") == "PERPETUAL"}
    short = [name for name, hours in intervals.items() if hours in (1, 4)]
    if not short:
        pytest.fail("no 1 h / 4 h GRVT instrument listed: cannot tell per-interval from 8 h-normalized")
    checked = 0
    for name in short[:5]:
        t = call(grvt, Request("t", "POST", "/full/v1/ticker", json={"instrument": name}))["result"]
        rate, rate_8h = D(t["funding_rate"]), D(t["funding_rate_8h_curr"])
        if rate_8h == 0:
            continue
        per_interval = rate_8h * intervals[name] / 8
        assert abs(rate - per_interval) < abs(rate - rate_8h), f"{name}: funding_rate {rate} vs 8h {rate_8h}"
        checked += 1
    assert checked, "every sampled short-interval instrument had a zero rate"
    median_8h = statistics.median(abs(s.rate_8h) for s in result.snapshots)
    assert median_8h < D("0.002"), f"median |rate_8h| {median_8h}: percent not divided by 100?"


def test_hyperliquid_funding_is_hourly_fraction():
    _, result = snapshot(hyperliquid)
    btc = next(s for s in result.snapshots if s.symbol == "BTC")
    assert abs(btc.funding_rate) < D("0.0005") and btc.funding_interval_hours == 1
    now_ms = int(time.time() * 1000)
    req = hyperliquid.history_requests(hyperliquid.SPEC, "BTC", now_ms - 6 * HOUR_MS, now_ms, None)
    points, _ = hyperliquid.parse_history(hyperliquid.SPEC, call(hyperliquid, req), dex_symbol="BTC")
    assert len(points) >= 3 and {p.funding_interval_hours for p in points} == {D(1)}, "settlements not hourly"
    assert abs(btc.funding_rate - points[-1].funding_rate) < D("0.0002"), "current vs last settled rate differ wildly"


def test_paradex_summary_rate_matches_funding_data():
    payloads, result = snapshot(paradex)
    btc = next(s for s in result.snapshots if s.dex_symbol == "BTC-USD-PERP")
    raw = D(next(r for r in payloads["summary"]["results"] if r["symbol"] == "BTC-USD-PERP")["funding_rate"])
    now_ms = int(time.time() * 1000)
    req = paradex.history_requests(paradex.SPEC, "BTC-USD-PERP", now_ms - HOUR_MS, now_ms, None)
    latest = paradex.parse_history(paradex.SPEC, call(paradex, req), dex_symbol="BTC-USD-PERP")[0][-1]
    assert abs(raw - latest.funding_rate) <= max(abs(latest.funding_rate) / 2, D("0.00001"))
    assert abs(btc.rate_8h) < D("0.005"), f"BTC rate_8h {btc.rate_8h}: percent read as fraction?"


def test_edgex_rate_is_fraction_per_interval_and_bulk_ticker_works():
    payloads, result = snapshot(edgex)
    assert len(payloads["getTicker"].get("data") or []) > 1, "bulk getTicker returned <= 1 contract: follow_up needed"
    contracts = {c["contractId"]: c for c in payloads["getMetaData"]["data"]["contractList"]}
    for t in payloads["getTicker"]["data"][:10]:
        c = contracts[t["contractId"]]
        gap_min = (int(t["nextFundingTime"]) - int(t["fundingTime"])) / 60000
        assert gap_min == int(c["fundingRateIntervalMin"]), f"{c['contractName']}: settlement gap {gap_min} min"
        assert abs(D(t["fundingRate"])) <= D(c["fundingMaxRate"]) * 2, "rate beyond the contract's max: units?"
    assert result.snapshots and all(s.funding_interval_hours == 4 for s in result.snapshots if s.symbol == "BTC")
