"""Live unit/period checks for Aster, Extended, Backpack, Pacifica and the HIP-3 dexes (opt-in: `pytest -m online`).

Each test would fail on a x8 (period), x100 (percent) or x2 (multiplier / interval) misreading, using the
quiet-market fingerprint of MORE_VENUES.md: the 0.01 %/8 h interest component prints 0.0001 per 8 h,
0.00005 per 4 h, 0.0000125 per 1 h. Requests go to <DEX>_API_URL, else the module's default, and are parsed
by the venue modules, so what is checked is what the service stores.
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

from chalicelib.venues import aster, backpack, extended, hip3, pacifica
from chalicelib.venues.base import Request

pytestmark = pytest.mark.online
D = Decimal
HOUR_MS = 3_600_000
BASELINE_1H = D("0.0000125")


def call(venue: ModuleType, req: Request) -> Any:
    base = os.environ.get(venue.SPEC.base_url_env) or venue.SPEC.default_base_url
    headers = {"User-Agent": "funding-rate-service/online-tests"}        # Extended answers 403 without one
    with httpx.Client(timeout=20, headers=headers) as client:
        resp = client.request(req.method, base + req.path, params=req.params or None, json=req.json)
    resp.raise_for_status()
    return resp.json()


def snapshot(venue: ModuleType, follow_limit: int = 20):
    payloads = {r.key: call(venue, r) for r in venue.requests(venue.SPEC)}
    follow = getattr(venue, "follow_up", None)
    if follow is not None:
        payloads.update({r.key: call(venue, r) for r in follow(venue.SPEC, payloads)[:follow_limit]})
    return payloads, venue.parse(venue.SPEC, payloads, now_ms=int(time.time() * 1000))


def near_baseline_share(rates_1h: list[Decimal], tolerance: Decimal = D("0.0000011")) -> float:
    """Share of markets printing the hourly interest component (within 6-dp rounding)."""
    return sum(abs(r - BASELINE_1H) <= tolerance for r in rates_1h) / max(len(rates_1h), 1)


def test_aster_rate_is_per_symbol_interval():
    _, result = snapshot(aster)
    intervals = {s.funding_interval_hours for s in result.snapshots}
    assert intervals - {D(8)}, f"only 8 h markets listed ({intervals}): the per-symbol interval is not exercised"
    # quiet markets of every interval print the same HOURLY rate once divided by their own interval
    for hours in intervals:
        rates = [s.rate_1h for s in result.snapshots if s.funding_interval_hours == hours]
        if len(rates) >= 10:
            assert near_baseline_share(rates) > 0.1, f"{hours} h markets: no quiet market at 0.0000125/h (x{hours}?)"
    btc = next(s for s in result.snapshots if s.dex_symbol == "BTCUSDT")
    now_ms = int(time.time() * 1000)
    req = aster.history_requests(aster.SPEC, "BTCUSDT", now_ms - 3 * 8 * HOUR_MS, now_ms, None)
    points, _ = aster.parse_history(aster.SPEC, call(aster, req), dex_symbol="BTCUSDT")
    assert points and points[-1].funding_interval_hours == btc.funding_interval_hours, "history gap != fundingInfo"
    assert btc.open_interest_usd is None or btc.open_interest_usd > D(1_000_000), "OI base x mark: under $1M?"


def test_backpack_hourly_and_the_accruing_row():
    _, result = snapshot(backpack)
    assert {s.funding_interval_hours for s in result.snapshots} == {D(1)}, "fundingInterval no longer 1 h everywhere"
    assert near_baseline_share([s.rate_1h for s in result.snapshots]) > 0.1, "no quiet market at 0.0000125/h"
    now_ms = int(time.time() * 1000)
    req = backpack.history_requests(backpack.SPEC, "BTC_USDC_PERP", now_ms - 48 * HOUR_MS, now_ms, None)
    raw = call(backpack, req)
    points, _ = backpack.parse_history(backpack.SPEC, raw, dex_symbol="BTC_USDC_PERP")
    btc = next(s for s in result.snapshots if s.dex_symbol == "BTC_USDC_PERP")
    assert points[-1].time_ms < (btc.next_funding_time_ms or 0), "the newest kept history row has not settled yet"
    gaps = {b.time_ms - a.time_ms for a, b in zip(points[-10:], points[-9:], strict=False)}
    assert gaps == {HOUR_MS}, f"recent history not hourly: {gaps}"


def test_extended_hourly_rounded_and_next_funding_is_a_time():
    _, result = snapshot(extended)
    rates = [s.rate_1h for s in result.snapshots]
    assert near_baseline_share(rates) > 0.1, "no market at 0.000012/0.000013 per hour: x8 / x100?"
    assert all(r == r.quantize(D("0.000001")) for r in rates), "rates no longer rounded to 6 decimals"
    now_ms = int(time.time() * 1000)
    assert all(now_ms < (s.next_funding_time_ms or 0) <= now_ms + HOUR_MS + 60_000 for s in result.snapshots[:20])
    btc = next(s for s in result.snapshots if s.symbol == "BTC")
    assert btc.open_interest_usd and btc.open_interest_usd > D(1_000_000)


def test_pacifica_open_interest_is_base_units():
    payloads, result = snapshot(pacifica)
    btc = next(s for s in result.snapshots if s.symbol == "BTC")
    raw_oi = D(next(r for r in payloads["prices"]["data"] if r["symbol"] == "BTC")["open_interest"])
    assert raw_oi < D(100_000), f"BTC open_interest {raw_oi}: now in USD? (was base units)"
    assert btc.open_interest_usd and btc.open_interest_usd > D(1_000_000)
    assert near_baseline_share([s.rate_1h for s in result.snapshots]) > 0.1, "no quiet market at 0.0000125/h"
    assert statistics.median(abs(s.rate_1h) for s in result.snapshots) < D("0.0005"), "percent read as fraction?"


def test_hip3_funding_includes_the_dex_multiplier_exactly():
    payloads, result = snapshot(hip3, follow_limit=10)
    assert len({s.dex for s in result.snapshots}) >= 2, "fewer than two HIP-3 dexes with markets"
    multipliers = {c: D(m) for d in payloads["perpDexs"][1:] if d for c, m in d.get("assetToFundingMultiplier") or []}
    exact = [s for s in result.snapshots if s.dex_symbol in multipliers and multipliers[s.dex_symbol] > 0
             and s.rate_1h == multipliers[s.dex_symbol] * BASELINE_1H]
    # a quiet market prints multiplier x 0.0000125 exactly; a doubled multiplier or a 2 h reading never would
    assert exact, "no market at multiplier x 0.0000125/h: multiplier applied twice, or not an hourly fraction?"
    assert all(r.reason == "funding disabled (multiplier 0)" or r.dex_symbol == "*" for r in result.rejects
               if "multiplier" in r.reason)
