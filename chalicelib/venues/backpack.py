"""Backpack Exchange perps: https://docs.backpack.exchange/#tag/Markets"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="backpack",
    display_name="Backpack",
    base_url_env="BACKPACK_API_URL",
    default_base_url="https://api.backpack.exchange",
    funding_interval_hours=Decimal(1),   # hourly since 2025-08-20 08:00 UTC (learn.backpack.exchange announcement) [C]
    rate_scale=Decimal(1),               # markPrices.fundingRate: fraction "for the current interval" (OpenAPI) [C]
    quote="USDC",                        # markets.quoteSymbol of every perp
    fees=FeeSchedule(maker=Decimal("0.0002"), taker=Decimal("0.0005")),  # base tier (ccxt backpack fees) [M]
    rate_limit=vb.RateLimit(requests_per_minute=60, source="not documented publicly; 4 bulk calls per cycle"),
    symbol_suffixes=("_USDC_PERP",),
    docs_url="https://docs.backpack.exchange/#tag/Markets",
    notes="fundingRate = fraction per markets.fundingInterval (ms; 3600000 on every perp since 2025-08-20 08:00 UTC, "
          "28800000 before). History rows carry no interval: those ending at or before the switch are 8 h rates, "
          "later ones 1 h (INTERVAL_SWITCH). The newest history row is the interval still accruing (its end = "
          "nextFundingTimestamp): dropped. OI in base units x mark. Tokenized stocks (MU.US) keep their ticker.",
)
INTERVAL_SWITCH = (1755676800000, Decimal(8), Decimal(1))  # 2025-08-20T08:00Z: 8 h before (incl.), 1 h after
HISTORY_PAGE_ROWS = 1000   # newest first, one page (no time filter in the API) ~= 41 days of hourly rows


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("markPrices", "GET", "/api/v1/markPrices"), Request("openInterest", "GET", "/api/v1/openInterest"),
            Request("tickers", "GET", "/api/v1/tickers"), Request("markets", "GET", "/api/v1/markets")]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire (arrays): markPrices [{symbol, fundingRate, markPrice, indexPrice, nextFundingTimestamp ms}],
    openInterest [{symbol, openInterest (base)}], tickers [{symbol, quoteVolume (USDC)}], markets [{symbol,
    marketType PERP/..., orderBookState Open/..., visible, fundingInterval ms, filters: {quantity: {minQuantity,
    stepSize}}}]."""
    by = {k: {str(r.get("symbol")): r for r in vb.rows({k: payloads.get(k)}, k, spec, k)}
          for k in ("markPrices", "openInterest", "tickers", "markets")}
    if not by["markPrices"] or not by["markets"]:
        raise vb.ParseError(f"{spec.id}: markPrices/markets: empty list")
    results: list[MarketSnapshot | Reject] = []
    skipped = 0
    for sym, m in sorted(by["markPrices"].items()):
        market = by["markets"].get(sym, {})
        if market.get("marketType") != "PERP" or market.get("orderBookState") != "Open" or not market.get("visible"):
            skipped += 1   # closed, post-only, hidden or not a perp
            continue
        quantity = (market.get("filters") or {}).get("quantity") or {}   # {minQuantity, stepSize} in base units
        interval_ms = vb.finite_or_none(market.get("fundingInterval")) or Decimal(0)   # ms; null on spot
        results.append(vb.build_snapshot(
            spec, sym, base=sym.replace(".US_", "_"), now_ms=now_ms, rate=m.get("fundingRate"),
            mark=m.get("markPrice"), index=m.get("indexPrice"),
            interval=interval_ms / vb.HOUR_MS if interval_ms > 0 else spec.funding_interval_hours,
            oi_base=by["openInterest"].get(sym, {}).get("openInterest"),
            volume_usd=by["tickers"].get(sym, {}).get("quoteVolume"), next_funding_ms=vb.ms(m.get("nextFundingTimestamp")),
            min_size=quantity.get("minQuantity"), size_step=quantity.get("stepSize")))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    if cursor is not None or start_ms >= end_ms:
        return None
    return Request("fundingRates", "GET", "/api/v1/fundingRates", params={"symbol": dex_symbol, "limit": str(HISTORY_PAGE_ROWS)})


def _end_ms(raw: Any) -> int | None:
    """intervalEndTimestamp: naive ISO date-time in UTC ("2026-09-13T23:00:00")."""
    try:
        return int(datetime.fromisoformat(str(raw)).replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        return None


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: [{symbol, fundingRate, intervalEndTimestamp}] newest first; row 0 still accrues (dropped).
    Each row is stamped at its interval's end, with the interval in force then."""
    items = vb.rows({"fundingRates": payload}, "fundingRates", spec, "fundingRates")[1:]
    switch, before, after = INTERVAL_SWITCH
    points = [vb.HistoryPoint(time_ms=t, funding_rate=r, funding_interval_hours=before if t <= switch else after)
              for row in items if (t := _end_ms(row.get("intervalEndTimestamp"))) is not None
              and (r := vb.finite_or_none(row.get("fundingRate"))) is not None]
    return sorted(points, key=lambda p: p.time_ms), None
