"""GRVT perps: https://api-docs.grvt.io/market_data_api/ (full/v1 all_instruments, ticker, funding)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="grvt",
    display_name="GRVT",
    base_url_env="GRVT_API_URL",
    default_base_url="https://market-data.grvt.io",
    funding_interval_hours=Decimal(8),   # used only when an instrument lacks funding_interval_hours (legacy 8 h)
    rate_scale=Decimal(100),             # funding fields are percentage points: "0.0037" = 0.0037 % (pysdk) [C]
    quote="USDT",
    fees=FeeSchedule(maker=Decimal("0.00027"), taker=Decimal("0.00055")),  # help.grvt.io Level 1 (conservative)
    rate_limit=vb.RateLimit(requests_per_minute=600, source="[U] not published; ccxt weights 4 per ticker call"),
    symbol_suffixes=("_USDT_Perp",),
    multiplier_names=tuple((f"K{a}", a, Decimal(1000)) for a in ("PEPE", "BONK", "SHIB")),  # KPEPE = 1000 PEPE; KAITO stays
    max_concurrency=8,                   # one ticker call per instrument (no bulk ticker REST endpoint found)
    docs_url="https://api-docs.grvt.io/market_data_api/",
    notes="Ticker funding_rate == funding_rate_8h_curr (despite the name): both percentage points per the "
          "instrument's own funding_interval_hours (4 h perps rest at 0.005, 8 h at 0.01; recorded 2026-09-13). "
          "History rows with funding_interval_hours 0 (before 2025-10-10) are per-minute readings of an 8 h-basis "
          "rate: downsampled to one 1 h observation per clock hour (rate/8), never stored as 8 h settlements.",
)
HISTORY_PAGE_ROWS = 1000  # /full/v1/funding limit max (pysdk ApiFundingRateRequest)


def _perps(spec: VenueSpec, payloads: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in vb.rows(payloads.get("all_instruments"), "result", spec, "all_instruments")
            if i.get("kind") == "PERPETUAL" and isinstance(i.get("instrument"), str)]


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("all_instruments", "POST", "/full/v1/all_instruments", json={"is_active": True}, reuse_unchanged=True)]


def follow_up(spec: VenueSpec, payloads: dict[str, Any]) -> list[Request]:
    """One ticker per perpetual instrument, key "ticker:<instrument>" (only those not fetched yet)."""
    return [Request(f"ticker:{i['instrument']}", "POST", "/full/v1/ticker", json={"instrument": i["instrument"]})
            for i in _perps(spec, payloads) if f"ticker:{i['instrument']}" not in payloads]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: all_instruments {"result": [{"instrument", "base", "kind": "PERPETUAL", "funding_interval_hours", "min_size" (base,
    also the lot), "min_notional"? (USDT)}]}; ticker:<instrument> {"result": {"funding_rate", "mark_price", "index_price",
    "best_bid_price", "best_ask_price", "open_interest" (base), "buy_volume_24h_q", "sell_volume_24h_q", "event_time" ns,
    "next_funding_time" ns}} - all strings. A missing/failed ticker rejects that instrument only."""
    instruments = vb.rows(payloads.get("all_instruments"), "result", spec, "all_instruments")
    results: list[MarketSnapshot | Reject] = []
    for inst in _perps(spec, payloads):
        body = payloads.get(f"ticker:{(name := inst['instrument'])}")
        t = body.get("result") if isinstance(body, dict) else None
        if not isinstance(t, dict):
            results.append(Reject(spec.id, name, f"no ticker result (got {str(body)[:80]})"))
            continue
        results.append(vb.build_snapshot(
            spec, name, now_ms=now_ms, rate=t.get("funding_rate"), mark=t.get("mark_price"),
            interval=vb.interval_hours(inst.get("funding_interval_hours"), spec.funding_interval_hours),
            base=inst.get("base"), index=t.get("index_price"), oi_base=t.get("open_interest"),
            volume_usd=vb.total(t.get("buy_volume_24h_q"), t.get("sell_volume_24h_q")),
            bid=t.get("best_bid_price"), ask=t.get("best_ask_price"),
            next_funding_ms=vb.ns_to_ms(t.get("next_funding_time")), venue_ts_ms=vb.ns_to_ms(t.get("event_time")),
            min_size=(lot := inst.get("min_size")), min_notional=inst.get("min_notional"), size_step=lot))
    return vb.collect(spec, results, len(instruments) - len(_perps(spec, payloads)))


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    """cursor: the opaque `next` of the previous page."""
    body = {"instrument": dex_symbol, "start_time": str(start_ms * 1_000_000),
            "end_time": str(end_ms * 1_000_000), "limit": HISTORY_PAGE_ROWS}
    if cursor:
        body["cursor"] = cursor
    return Request("funding", "POST", "/full/v1/funding", json=body)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: {"result": [{"funding_rate" pct, "funding_time" ns, "mark_price", "funding_interval_hours"}], "next"}.
    Settlement rows (interval > 0) as they are; legacy per-minute rows (interval 0): last reading per clock hour, 1 h."""
    items, multiplier = vb.rows(payload, "result", spec, "funding"), vb.normalize_symbol(dex_symbol, spec)[1]
    settled: list[tuple[int, vb.HistoryPoint]] = []
    legacy: list[tuple[int, vb.HistoryPoint]] = []
    for r in items:
        time_ms, rate, mark = vb.ns_to_ms(r.get("funding_time")), vb.finite_or_none(r.get("funding_rate")), vb.finite_or_none(r.get("mark_price"))
        if time_ms is not None and rate is not None:
            raw = r.get("funding_interval_hours")            # explicit 0 = legacy; absent = the 8 h default
            hours = Decimal(0) if vb.finite_or_none(raw) == 0 else vb.interval_hours(raw, spec.funding_interval_hours)
            point = vb.HistoryPoint(time_ms, rate / spec.rate_scale, hours, None if mark is None else mark / multiplier)
            (settled if hours > 0 else legacy).append((time_ms, point))
    hourly = [vb.HistoryPoint(hour, p.funding_rate / spec.funding_interval_hours, Decimal(1), p.mark_price)
              for hour, p in vb.last_per_hour(legacy)]
    points = sorted([p for _, p in settled] + hourly, key=lambda p: p.time_ms)
    return points, (payload.get("next") or None) if items else None
