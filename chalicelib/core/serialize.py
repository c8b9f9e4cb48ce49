"""Snapshot <-> plain dict (Redis, JSON lines), and JSON encoding of Decimal/datetime."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.models import MarketSnapshot

_DECIMAL_FIELDS = {f.name for f in fields(MarketSnapshot)} - {
    "dex", "symbol", "dex_symbol", "fetched_at_ms", "next_funding_time_ms", "venue_ts_ms", "quote",
    "collection_latency_ms",
}


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def snapshot_to_dict(s: MarketSnapshot) -> dict[str, Any]:
    """Lossless: Decimals as strings. snapshot_from_dict(snapshot_to_dict(s)) == s."""
    out: dict[str, Any] = {}
    for f in fields(MarketSnapshot):
        v = getattr(s, f.name)
        out[f.name] = str(v) if isinstance(v, Decimal) else v
    return out


def snapshot_from_dict(d: dict[str, Any]) -> MarketSnapshot:
    kwargs: dict[str, Any] = {k: (Decimal(v) if k in _DECIMAL_FIELDS and v is not None else v) for k, v in d.items()
              if k in MarketSnapshot.__dataclass_fields__}
    return MarketSnapshot(**kwargs)


def snapshot_record(s: MarketSnapshot) -> dict[str, Any]:
    """The public record (`frs collect --json`, funding_rate_update data): derived rates included."""
    return {
        "dex": s.dex,
        "symbol": s.symbol,
        "dex_symbol": s.dex_symbol,
        "funding_rate": s.funding_rate,
        "funding_interval_hours": s.funding_interval_hours,
        "rate_1h": s.rate_1h,
        "rate_8h": s.rate_8h,
        "annualized_rate": s.annualized_rate,
        "mark_price": s.mark_price,
        "index_price": s.index_price,
        "open_interest_usd": s.open_interest_usd,
        "volume_24h_usd": s.volume_24h_usd,
        "best_bid": s.best_bid,
        "best_ask": s.best_ask,
        "next_funding_time": iso_ms(s.next_funding_time_ms),
        "fetched_at": iso_ms(s.fetched_at_ms),
        "multiplier": s.multiplier,
    }


def json_default(obj: Any) -> Any:
    """json.dumps(default=...): Decimal -> JSON number, datetime -> ISO 8601 UTC 'Z'."""
    if isinstance(obj, Decimal):
        if obj == obj.to_integral_value() and abs(obj) < Decimal(10) ** 15:
            return int(obj)
        return float(obj)
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=UTC)
        return obj.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=json_default, separators=(",", ":"))
