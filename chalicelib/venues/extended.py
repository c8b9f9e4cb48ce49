"""Extended (Starknet) perps: https://api.docs.extended.exchange/#get-markets"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="extended",
    display_name="Extended",
    base_url_env="EXTENDED_API_URL",
    default_base_url="https://api.starknet.extended.exchange",
    funding_interval_hours=Decimal(1),   # "funding payments are charged every hour" (docs.x10.exchange funding) [C]
    rate_scale=Decimal(1),               # marketStats.fundingRate: fraction per hour, ROUNDED to 6 decimals [C]
    quote="USDC",                        # API says collateral "USD"; "All Extended markets are settled in USDC"
    fees=FeeSchedule(maker=Decimal("0.0002"), taker=Decimal("0.0005")),  # [U] no public schedule found; SDK taker
                                         # ceiling 0.0005, maker assumed 0.0002: CONSERVATIVE, update via the admin API
    rate_limit=vb.RateLimit(requests_per_minute=1000, source="api.docs.extended.exchange: 1000 req/min per IP"),
    symbol_suffixes=("-USD",),
    docs_url="https://api.docs.extended.exchange/#get-markets",
    notes="One call (/info/markets) carries funding, mark, index, bid/ask, OI (USD and base) and 24 h volume (USD). "
          "fundingRate is hourly and rounded to 1e-6 (the 0.0000125 baseline prints 0.000012/0.000013). "
          "marketStats.nextFundingRate is the next payment TIME (epoch ms), not a rate. A User-Agent is required "
          "(403 without; transport always sends one). Equities carry a session suffix (MU_24_5): symbol from uiName. "
          "[U] fees: no public schedule in the corpus.",
)
HISTORY_PAGE_ROWS = 1000  # /info/{market}/funding: newest first, <= 1000 rows; page by moving endTime back


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("markets", "GET", "/api/v1/info/markets")]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: {"status": "OK", "data": [{name "BTC-USD", uiName, type PERPETUAL, status ACTIVE, marketStats:
    {fundingRate, nextFundingRate (ms!), markPrice, indexPrice, bidPrice, askPrice, openInterestBase, dailyVolume},
    tradingConfig: {minOrderSize (base), minOrderSizeChange (size step)}}]}."""
    body = vb.need(payloads, "markets", dict, spec, "payloads")
    if body.get("status") != "OK":
        raise vb.ParseError(f"{spec.id}: info/markets: status is {body.get('status')!r}, expected 'OK'")
    results: list[MarketSnapshot | Reject] = []
    skipped = 0
    for m in vb.rows(body, "data", spec, "info/markets"):
        stats = m.get("marketStats")
        if m.get("type") != "PERPETUAL" or m.get("status") != "ACTIVE" or not isinstance(stats, dict):
            skipped += 1   # delisted, prelisted, reduce-only, spot
            continue
        name, config = str(m.get("name")), m.get("tradingConfig") or {}
        results.append(vb.build_snapshot(
            spec, name, base=str(m.get("uiName") or name), now_ms=now_ms, rate=stats.get("fundingRate"),
            mark=stats.get("markPrice"), index=stats.get("indexPrice"), oi_base=stats.get("openInterestBase"),
            volume_usd=stats.get("dailyVolume"), bid=stats.get("bidPrice"), ask=stats.get("askPrice"),
            next_funding_ms=vb.ms(stats.get("nextFundingRate")), min_size=config.get("minOrderSize"),
            size_step=config.get("minOrderSizeChange")))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    """cursor: the next endTime (ms) = oldest row's T - 1, from parse_history."""
    end = int(cursor) if cursor is not None else end_ms
    if end <= start_ms:
        return None
    params = {"startTime": str(start_ms), "endTime": str(end), "limit": str(HISTORY_PAGE_ROWS)}
    return Request("funding", "GET", f"/api/v1/info/{dex_symbol}/funding", params=params)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: {"status": "OK", "data": [{m, f (hourly fraction), T (ms, ~1 s after the hour)}]} newest first."""
    items = vb.rows(payload, "data", spec, "funding")
    points = sorted((vb.HistoryPoint(time_ms=t, funding_rate=f, funding_interval_hours=Decimal(1))
                     for r in items if (t := vb.ms(r.get("T"))) is not None
                     and (f := vb.finite_or_none(r.get("f"))) is not None), key=lambda p: p.time_ms)
    return points, (points[0].time_ms - 1 if len(items) >= HISTORY_PAGE_ROWS and points else None)
