"""Lighter (zkLighter) perps: https://apidocs.lighter.xyz/reference (order_api orderBookDetails, funding-rates, fundings)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="lighter",
    display_name="Lighter",
    base_url_env="LIGHTER_API_URL",
    default_base_url="https://mainnet.zklighter.elliot.ai",
    funding_interval_hours=Decimal(1),   # "Funding payments occur at each hour mark" (docs.lighter.xyz funding) [C]
    rate_scale=Decimal(1),               # /funding-rates `rate` is a fraction (JSON float) [C schema]
    rate_period_hours=Decimal(8),        # ...expressed over 8 h: funding_rate (1 h) = rate / 8 (its `hyperliquid` row = 8 x HL's)
    quote="USDC",                        # quote/settle USDC (DEX_APIS §2)
    fees=FeeSchedule(maker=Decimal(0), taker=Decimal(0)),  # Standard account 0/0 (apidocs account-types)
    rate_limit=vb.RateLimit(requests_per_minute=60, source="apidocs.lighter.xyz/docs/rate-limits (Standard)"),
    docs_url="https://apidocs.lighter.xyz/reference",
    notes="/funding-rates `rate` = 8 h-equivalent fraction: its relayed `hyperliquid` BTC row 0.0000655 = 7.8 x HL's "
          "hourly 0.0000084 the same minute; Lighter rows are multiples of 8e-7 (0.0001 %/h x 8) (recorded 2026-09-11) -> "
          "rate_1h = rate/8. Other exchanges' rows dropped. REST open_interest in base units -> USD via mark_price. "
          "/fundings: unsigned percent per hour, sign from `direction` (long pays -> positive); windows <= 720 h.",
)
HISTORY_PAGE_ROWS = 720   # hourly rows per /fundings call: "Maximum 750 fundings will be returned per call" (SDK
WINDOW_MS = HISTORY_PAGE_ROWS * 3_600_000   # candlestick_api.py) and a wider window may keep only its newest 750 (LDATA)


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("orderBookDetails", "GET", "/api/v1/orderBookDetails"),
            Request("funding-rates", "GET", "/api/v1/funding-rates")]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: orderBookDetails {"order_book_details": [{"symbol", "market_id": int, "status", "market_type"?,
    "mark_price"? str, "index_price"? str, "open_interest" num (base), "daily_quote_token_volume" num,
    "market_config"?: {"hidden"?}, "is_frozen"?, "min_base_amount" str (base), "min_quote_amount" str (USDC),
    "size_decimals" int}]}; funding-rates {"funding_rates": [{"market_id": int,
    "exchange", "symbol", "rate": float}]}."""
    markets = vb.rows(payloads.get("orderBookDetails"), "order_book_details", spec, "orderBookDetails")
    funding = vb.rows(payloads.get("funding-rates"), "funding_rates", spec, "funding-rates")
    rates = {r.get("market_id"): r.get("rate") for r in funding if r.get("exchange") == "lighter"}
    results: list[MarketSnapshot | Reject] = []
    skipped = len(funding) - len(rates)        # other exchanges' rows (binance, bybit, hyperliquid)
    next_hour = vb.next_full_hour_ms(now_ms)
    for m in markets:
        get, config, symbol = m.get, m.get("market_config") or {}, str(m.get("symbol"))
        if (get("status") != "active" or get("market_type", "perp") != "perp" or get("is_frozen")
                or (isinstance(config, dict) and config.get("hidden")) or "/" in symbol):
            skipped += 1
            continue
        results.append(vb.build_snapshot(
            spec, symbol, now_ms=now_ms, rate=rates.get(market_id := get("market_id")), mark=get("mark_price"),
            index=get("index_price"), oi_base=get("open_interest"), volume_usd=get("daily_quote_token_volume"),
            next_funding_ms=next_hour, market_id=market_id, min_size=get("min_base_amount"),
            min_notional=get("min_quote_amount"), size_step=vb.size_decimals(get("size_decimals"))))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    """Windows of <= 720 h (<= 721 hourly rows, under the 750 cap), walking back from end_ms; cursor: the earliest
    time (ms) already fetched. Timestamps are sent in seconds (df-lighter-core)."""
    end = end_ms if cursor is None else int(cursor) - 1
    if end < start_ms:
        return None
    params = {"market_id": vb.history_id(spec, dex_symbol, "market_id"), "resolution": "1h", "count_back": "0",
              "start_timestamp": str((max(start_ms, end - WINDOW_MS) + 999) // 1000), "end_timestamp": str(end // 1000)}
    return Request("fundings", "GET", "/api/v1/fundings", params=params)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: {"fundings": [{"timestamp": int (s or vb.ms), "rate": str percent/h unsigned, "direction": "long"|"short"}]}."""
    items = vb.rows(payload, "fundings", spec, "fundings")
    sign = {"long": Decimal(1), "short": Decimal(-1)}   # the paying side; longs pay -> positive
    points = [
        vb.HistoryPoint(time_ms=t, funding_rate=sign[r["direction"]] * abs(rate) / 100, funding_interval_hours=Decimal(1))
        for r in items
        if (t := vb.ms(r.get("timestamp"))) is not None and r.get("direction") in sign
        and (rate := vb.finite_or_none(r.get("rate"))) is not None
    ]
    points.sort(key=lambda p: p.time_ms)
    return points, points[0].time_ms if points else None      # an empty window: nothing older (not listed yet)
