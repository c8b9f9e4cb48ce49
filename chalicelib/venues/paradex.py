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
    rate_scale=Decimal(1),               # fraction per funding_period_hours (DEX_APIS_2026-12 §1.1, H)
    quote="USD",                         # quoted in USD, settled in USDC (markets: settlement_currency)
    fees=FeeSchedule(maker=Decimal("0.00003"), taker=Decimal("0.0002")),  # API Standard (docs: trading-fee)
    rate_limit=vb.RateLimit(requests_per_minute=1500, source="docs.paradex.trade rate-limits/api (public)"),
    symbol_suffixes=("-USD-PERP",),
    docs_url="https://docs.paradex.trade/api/prod/markets/get-markets-summary",
    notes="Continuous funding: `funding_rate` is a fraction for the market's funding_period_hours (8 h; openapi: "
          "'not a normalized 8h funding rate'; SDK portfolio margin uses it as fr8h; BTC 0.0000769 on 2026-09-11). "
          "History = delta funding_index between hour boundaries (settlement-grade). /v1/markets cached 1 h.",
)
STEP_MS, WINDOW_MS, HISTORY_PAGE_ROWS, HISTORY_ROW_HOURS = 3_600_000, 300_000, 1, 1   # 1 request/hour boundary (5 min)


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("markets", "GET", "/v1/markets", cache_seconds=3600),   # ~4 MB, changes rarely: once an hour
            Request("summary", "GET", "/v1/markets/summary", params={"market": "ALL"})]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: markets {"results": [{"symbol", "base_currency", "asset_kind", "funding_period_hours": num, "order_size_increment" (lot),
    "min_notional" (USD)}]}; summary {"results": [{"symbol", "funding_rate", "mark_price", "underlying_price", "bid", "ask",
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
            venue_ts_ms=vb.ms(row.get("created_at")), min_size=(lot := market.get("order_size_increment")), size_step=lot, min_notional=market.get("min_notional")))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    """One small /funding/data request per hour boundary B (its first 5 minutes). cursor: see parse_history."""
    at = int(str(cursor).split(":")[0]) if cursor else -(-start_ms // STEP_MS) * STEP_MS
    if at > end_ms:
        return None
    return Request("funding_data", "GET", "/v1/funding/data", params={
        "market": dex_symbol, "start_at": str(at), "end_at": str(at + WINDOW_MS), "page_size": "100"})


def index_reading(spec: VenueSpec, payload: Any) -> tuple[int, Decimal, Decimal | None] | None:
    """The earliest (created_at ms, funding_index USDC per 1 base, spot = funding_premium / funding_rate) of a page."""
    good = [(t, idx, r) for r in vb.rows(payload, "results", spec, "funding/data")
            if (t := vb.ms(r.get("created_at"))) is not None and (idx := vb.finite_or_none(r.get("funding_index"))) is not None]
    if not good:
        return None
    t, idx, row = min(good, key=lambda g: g[0])
    premium, rate = vb.finite_or_none(row.get("funding_premium")), vb.finite_or_none(row.get("funding_rate"))
    return t, idx, premium / rate if premium is not None and rate else None


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str, cursor: Any = None) -> tuple[list[vb.HistoryPoint], Any]:
    """Settlement-grade: accrued between boundaries A and B = funding_index(B) - funding_index(A) USDC per base (docs:
    PnL = -size x delta index) -> a point at B: rate = delta / spot at A, interval (B - A) h. Wire: {"results":
    [{"created_at" ms, "funding_index", "funding_premium", "funding_rate"}]}. cursor = what this page was requested
    with (None first), "B[:A:index_A:spot_A]". A window without readings (outage) is skipped: the next point spans it."""
    parts = str(cursor).split(":") if cursor else []
    at, prev, reading = (int(parts[0]) if parts else None), parts[1:], index_reading(spec, payload)
    if reading is None:
        if at is None:
            raise vb.ParseError(f"{spec.id}: funding/data: no funding_index reading at the first boundary (listed later?)")
        return [], ":".join([str(at + STEP_MS), *prev])
    t, index, spot = reading
    boundary = at if at is not None else t // STEP_MS * STEP_MS
    points = []
    if prev:
        a, index_a, spot_a = int(prev[0]), Decimal(prev[1]), Decimal(prev[2]) if prev[2] else spot
        if spot_a:
            points.append(vb.HistoryPoint(boundary, (index - index_a) / spot_a, Decimal(boundary - a) / vb.HOUR_MS))
    return points, f"{boundary + STEP_MS}:{boundary}:{index}:{'' if spot is None else spot}"
