"""Aster perps (Binance-style fapi): https://github.com/asterdex/api-docs/blob/master/V3(Recommended)/EN/aster-finance-futures-api-v3.md"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="aster",
    display_name="Aster",
    base_url_env="ASTER_API_URL",
    default_base_url="https://fapi.asterdex.com",
    funding_interval_hours=Decimal(8),   # only a fallback: fundingInfo.fundingIntervalHours is per symbol (1/2/4/8) [C]
    rate_scale=Decimal(1),               # lastFundingRate: fraction per the symbol's own interval (docs F = .../(8/N)) [C]
    quote="USDT",                        # exchangeInfo quoteAsset/marginAsset (USD-quoted markets are skipped)
    fees=FeeSchedule(maker=Decimal("0.0001"), taker=Decimal("0.00035")),  # base tier (ccxt aster fees) [M]
    rate_limit=vb.RateLimit(requests_per_minute=180, weight_per_minute=2400,  # 4 bulk calls (~43 weight) + OI calls
                            source="api-docs v3: REQUEST_WEIGHT 2400/min per IP; ccxt: 3 req/s free tier"),
    symbol_suffixes=("USDT",),
    docs_url="https://docs.asterdex.com/product/aster-perpetual-pro/fees-and-specs/funding-rate",
    notes="lastFundingRate = live ESTIMATE for the settlement at nextFundingTime (Binance semantics), a fraction per "
          "the symbol's interval, read from fundingInfo EVERY cycle (intervals change: 1/2/4/8 h). interestRate is "
          "not rescaled on 1 h markets: never infer the interval from it. OI only per symbol (base units x mark): "
          "fetched for the OI_TOP busiest markets. No BBO (bookTicker unused: no recorded payload). History rows "
          "carry no interval: implied by gaps. Fees [M].",
)
OI_TOP = 20          # per-symbol /openInterest calls per cycle (weight 1 each), busiest markets by quoteVolume
HISTORY_PAGE_ROWS = 1000  # fundingRate limit max; ascending, page forward from the last fundingTime + 1


def requests(spec: VenueSpec) -> list[Request]:
    return [Request(k, "GET", f"/fapi/v1/{k}") for k in ("premiumIndex", "fundingInfo", "exchangeInfo")] + [
        Request("ticker24hr", "GET", "/fapi/v1/ticker/24hr")]


def _live(spec: VenueSpec, payloads: dict[str, Any]) -> dict[str, dict[str, Any]]:
    info = vb.rows(vb.need(payloads, "exchangeInfo", dict, spec, "payloads"), "symbols", spec, "exchangeInfo")
    return {str(m.get("symbol")): m for m in info if m.get("status") == "TRADING"
            and m.get("contractType") == "PERPETUAL" and m.get("quoteAsset") == spec.quote}


def follow_up(spec: VenueSpec, payloads: dict[str, Any]) -> list[Request]:
    """GET /fapi/v1/openInterest?symbol= for the OI_TOP live markets with the largest 24 h quote volume."""
    try:
        live = _live(spec, payloads)
        tickers = vb.rows({"t": payloads.get("ticker24hr")}, "t", spec, "ticker24hr")
    except vb.ParseError:
        return []
    volume = {t.get("symbol"): vb.finite_or_none(t.get("quoteVolume")) or 0 for t in tickers}
    top = sorted(live, key=lambda s: volume.get(s, 0), reverse=True)[:OI_TOP]
    return [Request(f"oi:{s}", "GET", "/fapi/v1/openInterest", params={"symbol": s}) for s in top]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire (arrays): premiumIndex [{symbol, markPrice, indexPrice, lastFundingRate, nextFundingTime ms}],
    fundingInfo [{symbol, fundingIntervalHours int}], ticker24hr [{symbol, quoteVolume (USDT)}], exchangeInfo {symbols: [{symbol, status, contractType, quoteAsset,
    filters: [{filterType LOT_SIZE, minQty, stepSize}, {filterType MIN_NOTIONAL, notional (USDT)}]}]},
    oi:<symbol> {openInterest (base)}."""
    live = _live(spec, payloads)
    by = {k: {str(r.get("symbol")): r for r in vb.rows({k: payloads.get(k)}, k, spec, k)}
          for k in ("premiumIndex", "fundingInfo", "ticker24hr")}
    results: list[MarketSnapshot | Reject] = []
    skipped = len(by["premiumIndex"]) - len(set(by["premiumIndex"]) & set(live))  # USD-quoted, settling, ...
    for sym in sorted(set(by["premiumIndex"]) & set(live)):
        p, oi = by["premiumIndex"][sym], payloads.get(f"oi:{sym}")
        interval = vb.interval_hours(by["fundingInfo"].get(sym, {}).get("fundingIntervalHours"), Decimal(0))
        if interval == 0:
            results.append(Reject(dex=spec.id, dex_symbol=sym, reason="no fundingIntervalHours in fundingInfo"))
            continue
        results.append(vb.build_snapshot(
            spec, sym, now_ms=now_ms, rate=p.get("lastFundingRate"), mark=p.get("markPrice"), interval=interval,
            index=p.get("indexPrice"), oi_base=oi.get("openInterest") if isinstance(oi, dict) else None,
            volume_usd=by["ticker24hr"].get(sym, {}).get("quoteVolume"), next_funding_ms=vb.ms(p.get("nextFundingTime")),
            venue_ts_ms=vb.ms(p.get("time")), **vb.lot_filters(live[sym])))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    start = int(cursor) if cursor is not None else start_ms
    if start >= end_ms:
        return None
    params = {"symbol": dex_symbol, "startTime": str(start), "endTime": str(end_ms), "limit": str(HISTORY_PAGE_ROWS)}
    return Request("fundingRate", "GET", "/fapi/v1/fundingRate", params=params)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: [{symbol, fundingRate, fundingTime ms}] ascending; the interval of each row = gap to its neighbour."""
    items = vb.rows({"fundingRate": payload}, "fundingRate", spec, "fundingRate")
    good = sorted((t, r) for row in items if (t := vb.ms(row.get("fundingTime"))) is not None
                  and (r := vb.finite_or_none(row.get("fundingRate"))) is not None)
    hours = vb.interval_from_gaps([t for t, _ in good], spec.funding_interval_hours)
    points = [vb.HistoryPoint(time_ms=t, funding_rate=r, funding_interval_hours=h) for (t, r), h in zip(good, hours, strict=True)]
    return points, (good[-1][0] + 1 if len(items) >= HISTORY_PAGE_ROWS and good else None)
