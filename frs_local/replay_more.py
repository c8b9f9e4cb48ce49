"""Replay data for Aster, Extended, Backpack, Pacifica and the Hyperliquid HIP-3 dexes (`frs local --replay`).

Each venue serves its RECORDED fixture rows verbatim (tests/fixtures/venues/<venue>/, sources in their
README.md: BTC and ETH there are checkable by hand), plus generated rows in the same wire shape for the rest of
the seeded universe (frs_local.replay_data), so every venue lists 100+ markets that drift with time.
Current-state timestamps of the recorded rows are moved forward by whole 8 h steps (their hour alignment and
8 h/4 h/1 h boundaries kept); history payloads are served as recorded (Backpack's straddles 2025-08-20).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from frs_local.replay_data import ASSET_NAMES, BUNDLED, HOUR_MS, Universe, _u, num, rate_str

DEXES = ("aster", "extended", "backpack", "pacifica", "hip3")
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "venues"
RECORDED_MS = 1789340400000          # 2026-09-13T23:00Z: the recordings are from 2026-09-11..14
STEP_MS = 8 * HOUR_MS
TIME_KEYS = ("nextFundingTime", "time", "nextFundingTimestamp", "nextFundingRate", "timestamp", "closeTime",
             "openTime")
RECORDED_NAMES = {"aster": {"BTC", "ETH", "SUSHI"}, "extended": {"BTC", "ETH", "PEPE", "MU", "XAU"},
                  "backpack": {"BTC", "ETH", "PEPE", "PAXG", "MU", "QQQ", "DRAM", "AMZN", "IP", "SOL"},
                  "pacifica": {"BTC", "ETH", "BONK", "XPL", "XAU", "EURUSD", "NVDA", "PAXG", "SP500", "SOL"},
                  "hip3": {"XYZ100", "AAPL", "DELISTED"}}


@cache
def fixture(dex: str, name: str) -> Any:
    path = FIXTURES / dex / name
    if not path.exists():
        raise FileNotFoundError(f"replay needs the recorded fixture {path} (run from a source checkout)")
    return json.loads(path.read_text())


def _shift(obj: Any, delta: int) -> Any:
    """A deep copy with every epoch-ms field in TIME_KEYS moved by delta."""
    if isinstance(obj, list):
        return [_shift(x, delta) for x in obj]
    if isinstance(obj, dict):
        return {k: (v + delta if k in TIME_KEYS and isinstance(v, int) and v > 10**12 else _shift(v, delta))
                for k, v in obj.items()}
    return copy.copy(obj)


def _delta(now_ms: int) -> int:
    return max(0, -(-(now_ms - RECORDED_MS) // STEP_MS) * STEP_MS)


def listing(u: Universe, dex: str) -> list[str]:
    """Generated markets of a venue: the seeded universe minus the names its recorded rows cover."""
    return [n for n in ASSET_NAMES if n not in RECORDED_NAMES[dex] and _u(u.seed, dex, n, "listed") > 0.13]


def counts(u: Universe) -> dict[str, int]:
    return {d: len(listing(u, d)) + len(RECORDED_NAMES[d]) for d in DEXES}


def _gen(u: Universe, dex: str, now_ms: int, interval: int = 1) -> list[tuple[str, int, float, float, Any]]:
    """(name, multiplier, listed-unit price, rate per interval, asset) for every generated market."""
    out = []
    for name in listing(u, dex):
        m = 1000 if name in BUNDLED else 1
        out.append((name, m, u.price(dex, name, now_ms) * m, u.rate_1h(dex, name, now_ms) * interval, u.assets[name]))
    return out


def _aster_interval(u: Universe, name: str) -> int:
    return (1, 4, 8, 8)[int(_u(u.seed, "aster", name, "interval") * 4)]


def aster(u: Universe, kind: str, now_ms: int, query: dict[str, str]) -> tuple[int, Any]:
    d = _delta(now_ms)
    rec = {"premiumIndex": "premiumIndex.ai-rates.json", "fundingInfo": "fundingInfo.ai-rates.json",
           "ticker24hr": "ticker24hr.ai-rates.json"}
    if kind == "openInterest":
        sym = query.get("symbol", "")
        if sym == "BTCUSDT":
            return 200, _shift(fixture("aster", "openInterest.BTCUSDT.binance-docs-example.json"), 0)
        names = {f"{'1000' if n in BUNDLED else ''}{n}USDT": n for n in [*listing(u, "aster"), "ETH", "SUSHI"]}
        if sym not in names:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        a = u.assets[names[sym]]
        return 200, {"openInterest": num(a.oi_usd * 0.2 / u.price("aster", a.name, now_ms)), "symbol": sym, "time": now_ms}
    if kind == "fundingRate":
        rows = fixture("aster", "fundingRate.BTCUSDT.ai-rates.json") if query.get("symbol") == "BTCUSDT" else []
        lo, hi = int(query.get("startTime") or 0), int(query.get("endTime") or now_ms)
        return 200, [r for r in rows if lo <= r["fundingTime"] <= hi][: int(query.get("limit") or 100)]
    if kind == "exchangeInfo":
        body = _shift(fixture("aster", "exchangeInfo.ai-rates.json"), d)
        for name, m, *_ in _gen(u, "aster", now_ms):
            body["symbols"].append({"symbol": f"{'1000' if m > 1 else ''}{name}USDT", "status": "TRADING",
                                    "contractType": "PERPETUAL", "baseAsset": name, "quoteAsset": "USDT",
                                    "marginAsset": "USDT"})
        body["symbols"].append({"symbol": "LUNAUSDT", "status": "SETTLING", "contractType": "PERPETUAL",
                                "baseAsset": "LUNA", "quoteAsset": "USDT", "marginAsset": "USDT"})
        return 200, body
    rows = _shift(fixture("aster", rec[kind]), d)
    for name, m, px, rate_1h, a in _gen(u, "aster", now_ms):
        sym, hours = f"{'1000' if m > 1 else ''}{name}USDT", _aster_interval(u, name)
        nxt = -(-now_ms // (hours * HOUR_MS)) * hours * HOUR_MS
        rows.append({"premiumIndex": {"symbol": sym, "markPrice": num(px), "indexPrice": num(px * 1.0001),
                                      "lastFundingRate": rate_str(rate_1h * hours), "interestRate": "0.00010000",
                                      "nextFundingTime": nxt, "time": now_ms},
                     "fundingInfo": {"symbol": sym, "interestRate": "0.00010000", "time": now_ms,
                                     "fundingIntervalHours": hours, "fundingFeeCap": 0.02, "fundingFeeFloor": -0.02},
                     "ticker24hr": {"symbol": sym, "lastPrice": num(px), "volume": num(a.volume_usd * 0.1 / px),
                                    "quoteVolume": num(a.volume_usd * 0.1), "openTime": now_ms - 86_400_000,
                                    "closeTime": now_ms}}[kind])
    return 200, rows


def extended(u: Universe, path: str, now_ms: int, query: dict[str, str]) -> tuple[int, Any]:
    if path == "/api/v1/info/markets":
        body = _shift(fixture("extended", "info-markets.ai-rates.trimmed.json"), _delta(now_ms))
        nxt = -(-now_ms // HOUR_MS) * HOUR_MS
        for name, m, px, rate, a in _gen(u, "extended", now_ms):
            sym = f"{'1000' if m > 1 else ''}{name}"
            body["data"].append({"name": f"{sym}-USD", "type": "PERPETUAL", "uiName": f"{sym}-USD", "assetName": sym,
                                 "collateralAssetName": "USD", "status": "ACTIVE", "marketStats": {
                                     "dailyVolume": num(a.volume_usd * 0.05), "markPrice": num(px),
                                     "indexPrice": num(px * 0.9999), "bidPrice": num(px * 0.9998),
                                     "askPrice": num(px * 1.0002), "fundingRate": f"{rate:.6f}",  # 6-dp rounding
                                     "nextFundingRate": nxt, "openInterest": num(a.oi_usd * 0.05),
                                     "openInterestBase": num(a.oi_usd * 0.05 / px)}})
        body["data"].append({"name": "LUNA-USD", "type": "PERPETUAL", "uiName": "LUNA-USD", "status": "DELISTED",
                             "marketStats": {}})
        return 200, body
    if path == "/api/v1/info/BTC-USD/funding":
        return 200, fixture("extended", "funding.BTC-USD.ai-rates.json")
    return 404, {"status": "ERROR", "error": {"code": 404, "message": f"no replay data for {path}"}}


def backpack(u: Universe, kind: str, now_ms: int, query: dict[str, str]) -> tuple[int, Any]:
    if kind == "fundingRates":
        if query.get("symbol") != "BTC_USDC_PERP":
            return 200, []
        return 200, (fixture("backpack", "fundingRates.BTC_USDC_PERP.ai-rates.json")
                     + fixture("backpack", "fundingRates.BTC_USDC_PERP.straddle-2025-08-20.constructed.json"))
    names = {"markPrices": "markPrices.ai-rates.json", "openInterest": "openInterest.ai-rates.json",
             "tickers": "tickers.ai-rates.json", "markets": "markets.ai-rates.trimmed.json"}
    rows = _shift(fixture("backpack", names[kind]), _delta(now_ms))
    nxt = -(-now_ms // HOUR_MS) * HOUR_MS
    for name, m, px, rate, a in _gen(u, "backpack", now_ms):
        sym = f"{'k' if m > 1 else ''}{name}_USDC_PERP"
        rows.append({"markPrices": {"fundingRate": rate_str(rate), "indexPrice": num(px * 1.0001), "markPrice": num(px),
                                    "nextFundingTimestamp": nxt, "symbol": sym},
                     "openInterest": {"openInterest": num(a.oi_usd * 0.03 / px), "symbol": sym, "timestamp": now_ms},
                     "tickers": {"symbol": sym, "lastPrice": num(px), "quoteVolume": num(a.volume_usd * 0.03),
                                 "volume": num(a.volume_usd * 0.03 / px)},
                     "markets": {"baseSymbol": f"{'k' if m > 1 else ''}{name}", "fundingInterval": 3600000,
                                 "marketType": "PERP", "orderBookState": "Open", "quoteSymbol": "USDC",
                                 "symbol": sym, "visible": True}}[kind])
    return 200, rows


def pacifica(u: Universe, path: str, now_ms: int, query: dict[str, str]) -> tuple[int, Any]:
    if path == "/api/v1/funding_rate/history":
        if query.get("symbol") != "BTC":
            return 200, {"success": True, "data": [], "next_cursor": None, "has_more": False}
        body = fixture("pacifica", "funding_rate_history.BTC.ai-rates.json")
        return 200, body if "cursor" not in query else {**body, "data": [], "has_more": False}
    prices = path == "/api/v1/info/prices"
    body = _shift(fixture("pacifica", "info_prices.ai-rates.json" if prices else "info.ai-rates.json"), _delta(now_ms))
    for name, m, px, rate, a in _gen(u, "pacifica", now_ms):
        sym = f"{'k' if m > 1 else ''}{name}"
        body["data"].append({"funding": rate_str(rate), "mark": num(px), "mid": num(px), "next_funding": rate_str(rate),
                             "open_interest": num(a.oi_usd * 0.02 / px), "oracle": num(px * 1.0001), "symbol": sym,
                             "timestamp": now_ms, "volume_24h": num(a.volume_usd * 0.02)} if prices else
                            {"symbol": sym, "instrument_type": "perpetual", "base_asset": sym})
    return 200, body


def hip3(u: Universe, body: dict[str, Any], now_ms: int) -> tuple[int, Any]:
    kind = body.get("type")
    if kind in ("perpDexs", "spotMeta"):
        return 200, fixture("hip3", f"{kind}.ai-rates.json")
    if kind == "fundingHistory":
        rows = fixture("hip3", "fundingHistory.xyz_XYZ100.ai-rates.json") if body.get("coin") == "xyz:XYZ100" else []
        return 200, [r for r in rows if r["time"] >= int(body.get("startTime") or 0)]
    if kind == "metaAndAssetCtxs" and body.get("dex") == "flx":
        return 200, fixture("hip3", "metaAndAssetCtxs.flx.constructed.json")
    if kind == "metaAndAssetCtxs" and body.get("dex") == "xyz":
        meta, ctxs = copy.deepcopy(fixture("hip3", "metaAndAssetCtxs.xyz.ai-rates.json"))
        for name, m, px, rate, a in _gen(u, "hip3", now_ms):
            if m == 1:   # HIP-3 dexes list no 1000-bundles
                meta["universe"].append({"szDecimals": 2, "name": f"xyz:{name}", "maxLeverage": 10})
                ctxs.append({"funding": rate_str(rate * 0.5), "openInterest": num(a.oi_usd * 0.01 / px),
                             "dayNtlVlm": num(a.volume_usd * 0.01), "oraclePx": num(px), "markPx": num(px)})
        return 200, [meta, ctxs]
    return 422, {"error": f"replay: no HIP-3 data for {body!r}"}


def route(u: Universe, dex: str, method: str, path: str, query: dict[str, str], body: dict[str, Any],
          now_ms: int) -> tuple[int, Any]:
    """(status, payload) for the five venues of this module; 404 for anything else."""
    if dex == "aster" and method == "GET" and path.startswith("/fapi/v1/"):
        kind = {"ticker/24hr": "ticker24hr"}.get(path[len("/fapi/v1/"):], path[len("/fapi/v1/"):])
        if kind in ("premiumIndex", "fundingInfo", "ticker24hr", "exchangeInfo", "openInterest", "fundingRate"):
            return aster(u, kind, now_ms, query)
    if dex == "extended" and method == "GET":
        return extended(u, path, now_ms, query)
    if dex == "backpack" and method == "GET" and path.startswith("/api/v1/"):
        kind = path[len("/api/v1/"):]
        if kind in ("markPrices", "openInterest", "tickers", "markets", "fundingRates"):
            return backpack(u, kind, now_ms, query)
    if dex == "pacifica" and method == "GET" and path in ("/api/v1/info/prices", "/api/v1/info",
                                                           "/api/v1/funding_rate/history"):
        return pacifica(u, path, now_ms, query)
    if dex == "hip3" and method == "POST" and path == "/info":
        return hip3(u, body, now_ms)
    return 404, {"error": f"replay: no route for {method} /{dex}{path}"}
