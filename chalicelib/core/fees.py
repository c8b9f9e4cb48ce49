"""Trading fees: the fee one venue charges for one order, 30-day-volume tiers, and the stored form.

Fees are fractions of notional (0.00015 = 0.015 %); a negative maker fee is a rebate. Nothing is
cached here: the engine receives the current schedules on every run, so an admin update shows on
the next computation without a restart (SPEC FR2.5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.core.models import FeeSchedule, FeeTier

FEE_TYPES = ("maker", "taker")
MIN_FEE = Decimal("-0.01")   # a 1 % rebate or a 1 % fee is already far outside any venue we know
MAX_FEE = Decimal("0.01")
ZERO = Decimal(0)


def fee_for(schedule: FeeSchedule, fee_type: str = "maker", volume_30d: Decimal = ZERO) -> Decimal:
    """Fee of one order. Tier with min <= volume_30d < max (max None = unbounded), else the base fee."""
    if fee_type not in FEE_TYPES:
        raise ValueError(f"fee_type must be one of {FEE_TYPES}, got {fee_type!r}")
    maker = fee_type == "maker"
    for tier in schedule.tiers:
        if tier.min_volume_30d <= volume_30d and (tier.max_volume_30d is None or volume_30d < tier.max_volume_30d):
            return tier.maker_fee if maker else tier.taker_fee
    return schedule.maker if maker else schedule.taker


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


def _tiers_from(raw: Any) -> tuple[FeeTier, ...]:
    items = raw.get("tiers") if isinstance(raw, Mapping) else raw
    if items is None:
        return ()
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ValueError("fee_metadata.tiers: expected a list of tiers")
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


def fee_schedule_from_metadata(maker: Any, taker: Any, has_fee_tiers: bool = False,
                               fee_metadata_json: str | Mapping[str, Any] | Sequence[Any] | None = None,
                               ) -> FeeSchedule:
    """The `dexes` row form (SPEC columns) -> a validated FeeSchedule.

    `fee_metadata_json` is the JSON text or the decoded value (psycopg returns jsonb decoded):
    `{"tiers": [{min_volume_30d, max_volume_30d|null, maker_fee, taker_fee}, ...]}` or the bare list.
    Tiers are ignored when `has_fee_tiers` is false (the SPEC flag wins over leftover metadata).
    """
    raw = json.loads(fee_metadata_json) if isinstance(fee_metadata_json, str | bytes) else fee_metadata_json
    tiers = _tiers_from(raw) if has_fee_tiers else ()
    if has_fee_tiers and not tiers:
        raise ValueError("fee_tiers: has_fee_tiers is true but no tiers were given")
    schedule = FeeSchedule(maker=_dec(maker, "maker_fee_percent"), taker=_dec(taker, "taker_fee_percent"),
                           tiers=tiers)
    validate_fee_schedule(schedule)
    return schedule


def fee_metadata(schedule: FeeSchedule) -> dict[str, Any] | None:
    """FeeSchedule -> the `fee_metadata` jsonb value (None without tiers). Decimals as strings: lossless."""
    if not schedule.tiers:
        return None
    return {"tiers": [{
        "min_volume_30d": str(t.min_volume_30d),
        "max_volume_30d": None if t.max_volume_30d is None else str(t.max_volume_30d),
        "maker_fee": str(t.maker_fee),
        "taker_fee": str(t.taker_fee),
    } for t in schedule.tiers]}


def _check_fee(value: Decimal, name: str) -> None:
    if not value.is_finite() or not MIN_FEE <= value <= MAX_FEE:
        raise ValueError(f"{name}: fee must be between {MIN_FEE} and {MAX_FEE} (a fraction), got {value}")


def validate_fee_schedule(schedule: FeeSchedule) -> FeeSchedule:
    """Raise ValueError naming the field unless fees are in range and tiers sorted, non-overlapping."""
    _check_fee(schedule.maker, "maker_fee_percent")
    _check_fee(schedule.taker, "taker_fee_percent")
    previous: FeeTier | None = None
    for i, tier in enumerate(schedule.tiers):
        name = f"fee_tiers[{i}]"
        _check_fee(tier.maker_fee, f"{name}.maker_fee")
        _check_fee(tier.taker_fee, f"{name}.taker_fee")
        if not tier.min_volume_30d.is_finite() or tier.min_volume_30d < 0:
            raise ValueError(f"{name}.min_volume_30d: must be >= 0, got {tier.min_volume_30d}")
        if tier.max_volume_30d is not None and not tier.max_volume_30d > tier.min_volume_30d:
            raise ValueError(f"{name}.max_volume_30d: must exceed min_volume_30d, got {tier.max_volume_30d}")
        if previous is not None:
            if previous.max_volume_30d is None:
                raise ValueError(f"{name}.min_volume_30d: follows an unbounded tier (tiers overlap)")
            if tier.min_volume_30d < previous.max_volume_30d:
                raise ValueError(f"{name}.min_volume_30d: {tier.min_volume_30d} overlaps the previous tier "
                                 f"(ends at {previous.max_volume_30d}); tiers must be sorted and non-overlapping")
        previous = tier
    return schedule
