"""Queries behind /funding-rates*: latest rates normalized to the requested basis.

`funding_rate` is in the requested `basis` (core.units: native = one funding interval of that
market, 1h, 8h = default, apr = percent per year); every record also names native_rate, rate_1h,
rate_8h and annualized_rate by their unit. Records come from core.codec.rate_record, the same shape
WebSocket frames and `frs collect --json` carry.
Responses are rendered once per (query, snapshot generation) and kept in the memory tier.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from chalicelib.api import data
from chalicelib.api.cache import CACHE, Cached
from chalicelib.api.errors import ApiError
from chalicelib.api.fastlane import note
from chalicelib.api.params import RatesQuery
from chalicelib.api.system import fee_structure
from chalicelib.core.codec import rate_record
from chalicelib.core.serialize import dumps, iso_ms

RATES = "rates"


def meta_prefix(cached: Cached, source: str | None = None) -> str:
    """Leading JSON members every cached response carries: updated_at, data_age_seconds, source."""
    return _prefix(cached.updated_ms, source or cached.source, cached.stale)


def _prefix(updated: int | None, source: str, stale_data: bool) -> str:
    now_ms = int(time.time() * 1000)
    # whole ms / 1000 is already the nearest double to a 3-decimal value: no round() needed
    age = "null" if updated is None else repr((now_ms - updated) / 1000 if now_ms > updated else 0.0)
    stamp = _stamp(updated) if updated is not None else iso_ms(now_ms)
    stale = '"stale":true,' if stale_data else ""   # the source is down: the last known data (issue 12)
    return f'{{"source":"{source}",{stale}"updated_at":"{stamp}","data_age_seconds":{age},'


_last_stamp: tuple[int, str | None] = (-1, None)


def _stamp(updated_ms: int) -> str | None:
    """iso_ms(updated_ms), remembered for the last value (every cached response of one snapshot shares it)."""
    global _last_stamp
    ms, text = _last_stamp
    if ms != updated_ms:
        text = iso_ms(updated_ms)
        _last_stamp = (updated_ms, text)
    return text


def with_meta(body: Cached) -> str:
    """body.value is a rendered JSON object; splice the freshness members in front of its members."""
    note(body)
    return render_tail(body.value[1:], body.updated_ms, body.source, body.stale)


def render_tail(tail: str, updated_ms: int | None, source: str, stale: bool = False) -> str:
    """A rendered JSON object given without its leading "{" (its members and "}"), with the freshness members
    spliced in front of its members."""
    meta = _prefix(updated_ms, source, stale)
    return meta + tail if tail != "}" else meta[:-1] + "}"


def _rendered(key: str, build: Any, parent: Cached | None = None) -> str:
    parent = parent or data.snapshots()
    body = CACHE.derived(key, parent, lambda: _sized(build(parent.value)), data.ttl())
    return with_meta(body)


def _sized(obj: Any) -> tuple[str, int]:
    text = dumps(obj)
    return text, len(text)


def all_rates(q: RatesQuery) -> str:
    data.require_dex(q.dex)
    parent = data.snapshots()
    data.require_symbol(q.symbol, index=parent.value)
    metadata = _metadata() if q.include_metadata else None

    def build(index: data.RatesIndex) -> dict[str, Any]:
        out: dict[str, dict[str, Decimal]] = {}
        symbols = [q.symbol] if q.symbol else list(index.by_symbol)
        for symbol in symbols:
            row = {dex: s.rate_in(q.basis) for dex, s in index.by_symbol.get(symbol, {}).items()
                   if q.dex is None or dex == q.dex}
            if row:
                out[symbol] = row
        body: dict[str, Any] = {"basis": q.basis, "data": out}
        if metadata is not None:
            body["dex_metadata"] = metadata
        return body

    return _rendered(f"{RATES}:all:{q.dex}:{q.symbol}:{q.basis}:{q.include_metadata}", build, parent)


def _metadata() -> dict[str, Any]:
    out = {}
    for name, row in sorted(data.dex_rows().value.items()):
        fs = fee_structure(row)
        out[name] = {"name": name, "dex_name": name, "display_name": row.get("display_name") or name,
                     "maker_fee_percent": fs.get("maker_fee_percent"), "taker_fee_percent": fs.get("taker_fee_percent"),
                     "has_fee_tiers": bool(fs.get("has_fee_tiers"))}
    return out


def dex_rates(dex: str, basis: str) -> str:
    data.require_dex(dex)

    def build(index: data.RatesIndex) -> dict[str, Any]:
        rates = {sym: rate_record(s, basis) for sym, s in sorted(index.by_dex.get(dex, {}).items())}
        return {"dex_name": dex, "basis": basis, "rates": rates}

    return _rendered(f"{RATES}:dex:{dex}:{basis}", build)


def dex_symbol_rate(dex: str, symbol: str, basis: str) -> str:
    data.require_dex(dex)
    parent = data.snapshots()
    data.require_symbol(symbol, index=parent.value)
    snap = parent.value.by_dex.get(dex, {}).get(symbol)
    if snap is None:
        raise ApiError(404, f"no current funding rate for {symbol!r} on {dex!r}", "symbol", "unknown_symbol")
    body = rate_record(snap, basis)
    return meta_prefix(parent) + dumps(body)[1:]
