"""Paradex perps: https://docs.paradex.trade/api/prod/markets/get-markets-summary (and get-markets, get-funding-data)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="paradex",
    display_name="Paradex",
    base_url_env="PARADEX_API_URL",
    default_base_url="https://api.prod.paradex.trade",
    funding_interval_hours=Decimal(8),   # default reference period; per market `funding_period_hours` (docs:
                                         # risk/funding-mechanism; some markets 24 h per ccxt)
    rate_scale=Decimal(1),               # fraction per funding_period_hours [U: docs/schema imply fraction]
    quote="USD",                         # quoted in USD, settled in USDC (markets: settlement_currency)
    fees=FeeSchedule(maker=Decimal("0.00003"), taker=Decimal("0.0002")),  # API Standard (docs: trading-fee)
    rate_limit=vb.RateLimit(requests_per_minute=1500, source="docs.paradex.trade rate-limits/api (public)"),
    symbol_suffixes=("-USD-PERP",),
    docs_url="https://docs.paradex.trade/api/prod/markets/get-markets-summary",
    notes="Continuous funding: `funding_rate` is the rate for the market's funding_period_hours (schema: "
          "'not a normalized 8h funding rate'); [U] that it is a fraction, not percent (ccxt example "
          "0.0163 for BTC is large) - tests/online compares it with /funding/data. A summary market missing "
          "from /v1/markets gets the 8 h default. No next funding time (continuous).",
)
HISTORY_PAGE = "5000"  # /funding/data page_size max (ccxt)


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("markets", "GET", "/v1/markets", cache_seconds=3600),   # ~4 MB, changes rarely: once an hour
            Request("summary", "GET", "/v1/markets/summary", params={"market": "ALL"})]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: markets {"results": [{"symbol", "base_currency", "asset_kind", "funding_period_hours": num}]};
    summary {"results": [{"symbol", "funding_rate", "mark_price", "underlying_price", "bid", "ask",
    "open_interest" (base), "volume_24h" (USD), "created_at": int vb.ms}]} - numbers as strings."""
    static = {m.get("symbol"): m for m in vb.rows(payloads.get("markets"), "results", spec, "markets")}
    results: list[MarketSnapshot | Reject] = []
    skipped = 0
    for row in vb.rows(payloads.get("summary"), "results", spec, "markets/summary"):
        symbol = str(row.get("symbol", ""))
        market = static.get(symbol)
        if (market is not None and market.get("asset_kind") != "PERP") or not symbol.endswith("-PERP"):
            skipped += 1                  # options, PERP_OPTION and anything that is not a perpetual
            continue
        market = market or {}
        results.append(vb.build_snapshot(
            spec, symbol, now_ms=now_ms, rate=row.get("funding_rate"), mark=row.get("mark_price"),
            interval=vb.interval_hours(market.get("funding_period_hours"), spec.funding_interval_hours),
            base=market.get("base_currency"), index=row.get("underlying_price"), oi_base=row.get("open_interest"),
            volume_usd=row.get("volume_24h"), bid=row.get("bid"), ask=row.get("ask"),
            venue_ts_ms=vb.ms(row.get("created_at"))))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    """cursor: the opaque `next` of the previous page."""
    params = {"market": dex_symbol, "start_at": str(start_ms), "end_at": str(end_ms), "page_size": HISTORY_PAGE}
    if cursor:
        params["cursor"] = str(cursor)
    return Request("funding_data", "GET", "/v1/funding/data", params=params)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: {"next", "results": [{"created_at": vb.ms, "funding_rate": str, "funding_period_hours": num}]}.
    Rows are per-second readings of a period rate: one point per clock hour (its last reading), never summed.
    A clock hour split across two pages yields that hour twice (same time_ms; the later page wins on upsert)."""
    items = vb.rows(payload, "results", spec, "funding/data")
    readings = [(t, (rate, r.get("funding_period_hours"))) for r in items
                if (t := vb.ms(r.get("created_at"))) is not None and (rate := vb.finite_or_none(r.get("funding_rate"))) is not None]
    points = [vb.HistoryPoint(time_ms=hour, funding_rate=rate,
                           funding_interval_hours=vb.interval_hours(period, spec.funding_interval_hours))
              for hour, (rate, period) in vb.last_per_hour(readings)]
    return points, (payload.get("next") or None) if items else None
