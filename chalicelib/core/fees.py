"""Trading fees: the fee one venue charges for one order, 30-day-volume tiers, and their validation.

Fees are fractions of notional (0.00015 = 0.015 %); a negative maker fee is a rebate. Nothing is
cached here: the engine receives the current schedules on every run, so an admin update shows on
the next computation without a restart (SPEC FR2.5).
"""

from __future__ import annotations

from decimal import Decimal

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
