"""Pacifica (Solana) perps: https://docs.pacifica.fi/api-documentation/api/rest-api/markets/get-prices"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="pacifica",
    display_name="Pacifica",
    base_url_env="PACIFICA_API_URL",
    default_base_url="https://api.pacifica.fi",
    funding_interval_hours=Decimal(1),   # "At the end of each 1-hour interval ... applied" (pacifica gitbook funding) [C]
    rate_scale=Decimal(1),               # fraction per hour: quiet markets print 0.0000125 = 0.01 %/8 [C]
    quote="USDC",                        # settlement USDC
    fees=FeeSchedule(maker=Decimal("0.00015"), taker=Decimal("0.0004")),  # base tier (ccxt pacifica, docs) [M]
    rate_limit=vb.RateLimit(requests_per_minute=10, source="docs: 100 credits/min unauthenticated; /info/prices = "
                            "10 credits (measured by ai-rates)"),
    docs_url="https://docs.pacifica.fi/api-documentation/api/rest-api/markets/get-prices",
    notes="[M] `funding` = the rate ALREADY FIXED for the coming top of the hour (sampled across settlements by "
          "ai-rates; docs call it the past epoch's) -> the predicted rate; `next_funding` = estimate for the hour "
          "after. [M] open_interest is in BASE units although the docs say USD (WS example 0.00524 BTC at "
          "105,473; the app and ccxt multiply by mark) -> USD = open_interest x mark. volume_24h is USD. "
          "/info instrument_type filters perps (SOL-USDC is spot). kBONK = 1000 BONK.",
)
HISTORY_PAGE_ROWS = 4000  # /funding_rate/history limit max; newest first, cursor paging, no time filter


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("prices", "GET", "/api/v1/info/prices"), Request("info", "GET", "/api/v1/info")]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: prices {"success": true, "data": [{symbol, funding, next_funding, mark, oracle, open_interest (base),
    volume_24h (USD), timestamp ms}]}; info {"success": true, "data": [{symbol, instrument_type, lot_size (base), min_order_size (USD notional!)}]}."""
    prices = vb.rows(payloads.get("prices"), "data", spec, "info/prices")
    info = {r.get("symbol"): r for r in vb.rows(payloads.get("info"), "data", spec, "info")}
    results: list[MarketSnapshot | Reject] = []
    skipped = 0
    for p in prices:
        market = info.get(p.get("symbol")) or {}
        if market.get("instrument_type") != "perpetual":
            skipped += 1   # spot (SOL-USDC) or not listed in /info
            continue
        results.append(vb.build_snapshot(
            spec, str(p.get("symbol")), now_ms=now_ms, rate=p.get("funding"), mark=p.get("mark"),
            index=p.get("oracle"), oi_base=p.get("open_interest"), volume_usd=p.get("volume_24h"),
            next_funding_ms=vb.next_full_hour_ms(now_ms), venue_ts_ms=vb.ms(p.get("timestamp")),
            min_size=market.get("lot_size"), min_notional=market.get("min_order_size"), size_step=market.get("lot_size")))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    """cursor: (next_cursor, oldest row ms) from parse_history; stops once the oldest row is before start_ms."""
    if cursor is not None and int(cursor[1]) < start_ms:
        return None
    params = {"symbol": dex_symbol, "limit": str(HISTORY_PAGE_ROWS)} | ({"cursor": str(cursor[0])} if cursor else {})
    return Request("funding_history", "GET", "/api/v1/funding_rate/history", params=params)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: {"data": [{funding_rate (settled at created_at), next_funding_rate, oracle_price, created_at ms}],
    "next_cursor", "has_more"} newest first; created_at lands ~0.4 s after the hour: stamped on the hour."""
    items = vb.rows(payload, "data", spec, "funding_rate/history")
    points = sorted((vb.HistoryPoint(time_ms=t // vb.HOUR_MS * vb.HOUR_MS, funding_rate=f, funding_interval_hours=Decimal(1))
                     for r in items if (t := vb.ms(r.get("created_at"))) is not None
                     and (f := vb.finite_or_none(r.get("funding_rate"))) is not None), key=lambda p: p.time_ms)
    more = payload.get("has_more") and payload.get("next_cursor") and points
    return points, ((payload["next_cursor"], points[0].time_ms) if more else None)
