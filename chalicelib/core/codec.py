"""Every record <-> dict shape in one place: snapshot, rate record, opportunity, fee schedule.

Two audiences, one shape each:
- storage form (Redis, JSON lines): lossless, Decimals as strings (`snapshot_to_dict`,
  `fees_to_json`); read back with the matching `*_from_*`.
- public form (REST, WebSocket, pub/sub, `frs collect --json`): `rate_record`,
  `opportunity_to_dict`, `fee_to_dict`. Decimals stay Decimal; `serialize.dumps` writes them as
  JSON numbers.

Units policy (DESIGN.md §7): a public rate record states its basis: `funding_rate` is the rate in
the record's `basis`, `native_rate` is one funding interval of that market, `rate_1h` / `rate_8h`
and `annualized_rate` (percent per year) are named by their unit. Definitions: core/units.py.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.core import units
from chalicelib.core.models import FeeSchedule, FeeTier, MarketSnapshot, Opportunity
from chalicelib.core.serialize import iso_ms

# ---- snapshot (storage form) --------------------------------------------------------------------
_SNAPSHOT_FIELDS = tuple(f.name for f in fields(MarketSnapshot))
_DECIMAL_FIELDS = frozenset(_SNAPSHOT_FIELDS) - {
    "dex", "symbol", "dex_symbol", "fetched_at_ms", "next_funding_time_ms", "venue_ts_ms", "quote",
    "collection_latency_ms",
}


def snapshot_to_dict(s: MarketSnapshot) -> dict[str, Any]:
    """Lossless: Decimals as strings. snapshot_from_dict(snapshot_to_dict(s)) == s."""
    out: dict[str, Any] = {}
    for name in _SNAPSHOT_FIELDS:
        v = getattr(s, name)
        out[name] = str(v) if isinstance(v, Decimal) else v
    return out


def snapshot_from_dict(d: Mapping[str, Any]) -> MarketSnapshot:
    kwargs: dict[str, Any] = {k: (Decimal(v) if k in _DECIMAL_FIELDS and v is not None else v)
                              for k, v in d.items() if k in MarketSnapshot.__dataclass_fields__}
    return MarketSnapshot(**kwargs)


# ---- rate record (public form) ------------------------------------------------------------------
def rate_fields(s: MarketSnapshot, basis: str = units.DEFAULT_BASIS) -> dict[str, Any]:
    """The rate members every public rate record carries, with `basis` stated beside `funding_rate`."""
    return {
        "basis": basis,
        "funding_rate": s.rate_in(basis),
        "native_rate": s.funding_rate,
        "rate_1h": s.rate_1h,
        "rate_8h": s.rate_8h,
        "annualized_rate": s.annualized_rate,
        "funding_interval_hours": s.funding_interval_hours,
    }


def rate_record(s: MarketSnapshot, basis: str = units.DEFAULT_BASIS) -> dict[str, Any]:
    """One market's latest rate: REST /funding-rates/*, WebSocket funding_rate_update data, CLI --json."""
    return {
        "dex_name": s.dex,
        "symbol": s.symbol,
        "dex_symbol": s.dex_symbol,
        **rate_fields(s, basis),
        "next_funding_time": iso_ms(s.next_funding_time_ms),
        "timestamp": iso_ms(s.venue_ts_ms or s.fetched_at_ms),
        "fetched_at": iso_ms(s.fetched_at_ms),
        "mark_price": s.mark_price,
        "index_price": s.index_price,
        "open_interest_usd": s.open_interest_usd,
        "volume_24h_usd": s.volume_24h_usd,
        "best_bid": s.best_bid,
        "best_ask": s.best_ask,
        "multiplier": s.multiplier,
    }


# ---- opportunity (public form) ------------------------------------------------------------------
_OPP_FIELDS = tuple(f.name for f in fields(Opportunity) if f.name not in ("discovered_at_ms", "valid_until_ms",
                                                                          "metadata", "opened_at_ms"))
REALIZED_FIELDS = ("realized_24h", "realized_7d", "realized_source")   # core.persistence.realized_for, via metadata


def opportunity_to_dict(o: Opportunity, suspect: Collection[str] = ()) -> dict[str, Any]:
    """REST /opportunities*, WebSocket opportunity_update data and pub/sub: one shape.

    Rates are on the 8 h basis (`long_rate`, `short_rate`, `divergence`; `basis` says so), and so are the
    persistence averages (`avg_divergence_24h`, `avg_divergence_7d`); `opened_at` / `alive_hours` come from
    the lifecycle, `realized_*` from the metadata core.persistence.realized_for filled (None: not known).
    `unit_suspect_dexes`: legs on a venue the cross-venue unit check flags (`suspect`, or the analysis'
    marking in metadata) - such opportunities are marked, never silently dropped.
    """
    out: dict[str, Any] = {name: getattr(o, name) for name in _OPP_FIELDS}
    out["basis"] = "8h"
    out["discovered_at"] = iso_ms(o.discovered_at_ms)
    out["valid_until"] = iso_ms(o.valid_until_ms)
    out["opened_at"] = iso_ms(o.opened_at_ms)
    meta = o.metadata
    for name in REALIZED_FIELDS:
        out[name] = meta.get(name)
    marked = set(suspect) | set(o.metadata.get("unit_suspect_dexes", ()))
    out["unit_suspect_dexes"] = [d for d in (o.long_dex, o.short_dex) if d in marked]
    return out


# ---- fee schedule -------------------------------------------------------------------------------
def _dec(value: Any, name: str) -> Decimal:
    """Decimal from a stored/JSON value (number or string); ValueError naming the field otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name}: expected a number, got {value!r}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name}: not a number: {value!r}") from None
    if not out.is_finite():
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return out


def _tiers_from(items: Any) -> tuple[FeeTier, ...]:
    if items is None:
        return ()
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ValueError("fee_tiers: expected a list of tiers")
    tiers = []
    for i, item in enumerate(items):
        name = f"fee_tiers[{i}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{name}: expected an object")
        missing = [k for k in ("min_volume_30d", "maker_fee", "taker_fee") if k not in item]
        if missing:
            raise ValueError(f"{name}.{missing[0]}: missing")
        upper = item.get("max_volume_30d")
        tiers.append(FeeTier(
            min_volume_30d=_dec(item["min_volume_30d"], f"{name}.min_volume_30d"),
            max_volume_30d=None if upper is None else _dec(upper, f"{name}.max_volume_30d"),
            maker_fee=_dec(item["maker_fee"], f"{name}.maker_fee"),
            taker_fee=_dec(item["taker_fee"], f"{name}.taker_fee"),
        ))
    return tuple(tiers)


def fee_to_dict(schedule: FeeSchedule) -> dict[str, Any]:
    """SPEC DEXFeeStructure: fractions of notional (0.0002 = 0.02 %) despite the *_percent names."""
    return {
        "maker_fee_percent": schedule.maker,
        "taker_fee_percent": schedule.taker,
        "has_fee_tiers": schedule.has_fee_tiers,
        "fee_tiers": [{"min_volume_30d": t.min_volume_30d, "max_volume_30d": t.max_volume_30d,
                       "maker_fee": t.maker_fee, "taker_fee": t.taker_fee} for t in schedule.tiers] or None,
    }


def fee_from_dict(d: Mapping[str, Any]) -> FeeSchedule:
    """fee_to_dict's shape (or a `dexes` row: the same names) -> FeeSchedule; ValueError naming the field.

    Numbers may be Decimal, str, int or float (Decimal(str(0.00015)) == Decimal("0.00015")).
    Tiers are ignored when `has_fee_tiers` is false (the SPEC flag wins over leftover tiers); a
    missing `has_fee_tiers` means "tiers if any are given".
    """
    raw = d.get("fee_tiers")
    tiers = _tiers_from(raw) if d.get("has_fee_tiers", bool(raw)) else ()
    if d.get("has_fee_tiers") and not tiers:
        raise ValueError("fee_tiers: has_fee_tiers is true but no tiers were given")
    return FeeSchedule(maker=_dec(d.get("maker_fee_percent"), "maker_fee_percent"),
                       taker=_dec(d.get("taker_fee_percent"), "taker_fee_percent"), tiers=tiers)


def fees_to_json(fees: Mapping[str, FeeSchedule]) -> str:
    """dex -> fee_to_dict, Decimals as strings (lossless; the Redis fee cache)."""
    return json.dumps({dex: fee_to_dict(f) for dex, f in fees.items()}, default=str)


def fees_from_json(raw: bytes | str) -> dict[str, FeeSchedule]:
    return {dex: fee_from_dict(d) for dex, d in json.loads(raw).items()}
