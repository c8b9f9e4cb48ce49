"""Live checks of each venue's unit and period (opt-in: `pytest -m online tests/online`).

Every test would fail on a x8 (period), x100 (percent) or 2x (half/double interval) misreading, and each is
deterministic: it compares numbers published at the same moment (a venue's relayed copy of another venue's
rate, two fields of one answer, a venue's own interest baseline), never a prediction with a later settlement.
Requests go to <DEX>_API_URL (else the module's default) with httpx and are parsed by the venue modules,
so what is checked is what the service stores. Facts behind each check: shared/DEX_APIS_2026-12.md.
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
BASELINE_1H = D("0.0000125")          # the 0.01 %/8 h interest term most venues rest at, per hour


def call(venue: ModuleType, req: Request) -> Any:
    base = os.environ.get(venue.SPEC.base_url_env) or venue.SPEC.default_base_url
    with httpx.Client(timeout=20) as client:
        resp = client.request(req.method, base + req.path, params=req.params or None, json=req.json)
    resp.raise_for_status()
    return resp.json()


def snapshot(venue: ModuleType, sample: int = 20):
    """Payloads and parse result; follow-up stages are sampled (`sample` requests each) - enough for a unit check."""
    payloads = {r.key: call(venue, r) for r in venue.requests(venue.SPEC)}
    follow = getattr(venue, "follow_up", None)
    for _ in range(3):
        extra = follow(venue.SPEC, payloads)[:sample] if follow is not None else []
        if not extra:
            break
        payloads.update({r.key: call(venue, r) for r in extra})
    return payloads, venue.parse(venue.SPEC, payloads, now_ms=int(time.time() * 1000))


def hl_hourly() -> dict[str, Decimal]:
    _, result = snapshot(hyperliquid)
    return {s.symbol: s.rate_1h for s in result.snapshots}


def test_lighter_relays_hyperliquid_times_8_and_quantises_to_8e_7():
    """Lighter's /funding-rates relays Hyperliquid's current rate on Lighter's own 8 h basis: that row / 8 must match
    HL's hourly `funding` of the same minute (+-30 %, small lag). A per-hour reading of the Lighter column would be
    8x off. Lighter's own rows are 0.0001 %/h steps x 8 = multiples of 8e-7 (a percent misreading breaks that)."""
    payloads, result = snapshot(lighter)
    hl = hl_hourly()
    rows = payloads["funding-rates"]["funding_rates"]
    relayed = {r["symbol"]: D(repr(r["rate"])) for r in rows if r.get("exchange") == "hyperliquid"}
    ratios = [relayed[s] / 8 / hl[s] for s in ("BTC", "ETH", "SOL") if s in relayed and s in hl and abs(hl[s]) > D("1e-6")]
    assert ratios, f"no comparable coin: relayed {sorted(relayed)[:5]}, HL {sorted(hl)[:5]}"
    assert D("0.7") < statistics.median(ratios) < D("1.3"), f"Lighter's hyperliquid row / 8 vs HL hourly: {ratios}"
    own = [D(repr(r["rate"])) for r in rows if r.get("exchange") == "lighter"]
    assert own and all(abs(x / D("8e-7") - round(x / D("8e-7"))) < D("1e-6") for x in own), own[:10]
    btc = next(s for s in result.snapshots if s.symbol == "BTC")
    lighter_btc = next(D(repr(r["rate"])) for r in rows if r.get("exchange") == "lighter" and r["symbol"] == "BTC")
    assert btc.rate_1h == lighter_btc / 8 and btc.funding_interval_hours == 1


def test_grvt_rate_is_per_interval_percent_and_rests_at_the_prorated_floor():
    """funding_rate == funding_rate_8h_curr on every ticker (both per the instrument's interval, despite the name);
    a resting 4 h perp reads 0.005 (percent) and a resting 8 h perp 0.01 - an 8 h-normalised field would read 0.01 on
    both, a fraction would read 0.00005."""
    payloads, result = snapshot(grvt, sample=60)
    intervals = {i["instrument"]: int(i["funding_interval_hours"]) for i in payloads["all_instruments"]["result"]
                 if i.get("kind") == "PERPETUAL"}
    tickers = {k.split(":", 1)[1]: v["result"] for k, v in payloads.items() if k.startswith("ticker:") and "result" in v}
    assert tickers, "no GRVT ticker fetched"
    for name, t in tickers.items():
        assert D(t["funding_rate"]) == D(t["funding_rate_8h_curr"]), f"{name}: {t['funding_rate']} vs 8h_curr"
    rest = {h: [n for n, t in tickers.items() if intervals.get(n) == h and D(t["funding_rate"]) in (D("0.005"), D("0.01"))]
            for h in (4, 8)}
    at_4h = [D(tickers[n]["funding_rate"]) for n in rest[4]]
    at_8h = [D(tickers[n]["funding_rate"]) for n in rest[8]]
    if not at_4h and not at_8h:
        pytest.fail("no sampled GRVT perp at a resting rate (0.005 / 0.01): market too busy to tell, rerun later")
    assert at_4h.count(D("0.005")) >= at_4h.count(D("0.01")), f"4 h perps at rest: {at_4h}"
    assert at_8h.count(D("0.01")) >= at_8h.count(D("0.005")), f"8 h perps at rest: {at_8h}"
    for n in rest[4] + rest[8]:
        s = next(x for x in result.snapshots if x.dex_symbol == n)
        assert s.rate_1h == BASELINE_1H, f"{n}: resting rate_1h {s.rate_1h}, expected 0.0000125"


def test_edgex_v2_baseline_is_0_00005_per_4h_and_the_forecast_is_used():
    """predictedFundingRate is the interest-only baseline on every contract: interestRate 0.0003 / day / 6 intervals
    = 0.00005 per 240 min = 0.0000125 / h - HL's baseline. The module must read forecastFundingRate (= the ticker's
    fundingRate) per fundingRateIntervalMin, not the settled fundingRate, not the baseline."""
    payloads, result = snapshot(edgex, sample=3)
    rows = payloads["getLatestFundingRate"]["data"]
    assert len(rows) > 50, f"getLatestFundingRate returned {len(rows)} rows for all contracts"
    for r in rows:
        per_interval = D(r["interestRate"]) / (D(1440) / D(r["fundingRateIntervalMin"]))
        assert D(r["predictedFundingRate"]) == per_interval, r["contractId"]
        assert per_interval / (D(r["fundingRateIntervalMin"]) / 60) == BASELINE_1H
    by_id = {r["contractId"]: r for r in rows}
    btc = next(s for s in result.snapshots if s.symbol == "BTC")
    assert btc.funding_interval_hours == 4 and btc.quote == "USDC"
    assert btc.funding_rate == D(by_id["30000001"]["forecastFundingRate"])
    ticker = call(edgex, Request("t", "GET", "/public/quote/getTicker", params={"contractId": "30000001"}))["data"][0]
    assert abs(D(ticker["fundingRate"]) - btc.funding_rate) < D("0.00001"), "ticker fundingRate = forecast"


def test_paradex_summary_is_a_fraction_per_8h():
    """BTC summary funding_rate is a fraction per 8 h (~1e-4 at rest): the same instant's /funding/data reading says
    so in its own funding_rate_8h, and per hour it must be near HL's BTC hourly rate (a per-hour reading of the
    Paradex number would be 8x HL's, a percent reading 100x)."""
    payloads, result = snapshot(paradex)
    btc = next(s for s in result.snapshots if s.dex_symbol == "BTC-USD-PERP")
    assert btc.funding_interval_hours == 8
    raw = D(next(r for r in payloads["summary"]["results"] if r["symbol"] == "BTC-USD-PERP")["funding_rate"])
    now_ms = int(time.time() * 1000)
    data = call(paradex, Request("d", "GET", "/v1/funding/data",
                                 params={"market": "BTC-USD-PERP", "start_at": str(now_ms - 60_000), "page_size": "5"}))
    latest = data["results"][0]
    assert abs(D(latest["funding_rate_8h"]) - raw) <= abs(raw) * D("0.1") + D("0.000002"), (latest, raw)
    hl_btc = hl_hourly()["BTC"]
    assert abs(btc.rate_1h - hl_btc) < D("0.00004"), f"Paradex BTC rate_1h {btc.rate_1h} vs HL {hl_btc}"


def test_hyperliquid_funding_is_an_hourly_fraction():
    _, result = snapshot(hyperliquid)
    btc = next(s for s in result.snapshots if s.symbol == "BTC")
    assert abs(btc.funding_rate) < D("0.0005") and btc.funding_interval_hours == 1
    now_ms = int(time.time() * 1000)
    req = hyperliquid.history_requests(hyperliquid.SPEC, "BTC", now_ms - 6 * HOUR_MS, now_ms, None)
    assert req is not None
    points, _ = hyperliquid.parse_history(hyperliquid.SPEC, call(hyperliquid, req), dex_symbol="BTC")
    assert len(points) >= 3 and {p.funding_interval_hours for p in points} == {D(1)}, "settlements not hourly"
