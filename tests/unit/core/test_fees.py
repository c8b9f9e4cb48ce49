"""Fee lookup by 30-day volume tier and validation of a fee update (the dict forms: test_codec.py)."""

from __future__ import annotations

import pytest

from chalicelib.core.fees import fee_for, validate_fee_schedule
from chalicelib.core.models import FeeSchedule, FeeTier
from tests.unit.core.helpers import TIERED, D, flat


@pytest.mark.parametrize(("volume", "maker", "taker"), [
    (D(0), D("0.0002"), D("0.0005")),                 # first tier starts at 0 (min <= v)
    (D(999_999), D("0.0002"), D("0.0005")),
    (D(1_000_000), D("0.00015"), D("0.0004")),        # the boundary belongs to the upper tier (v < max)
    (D(10_000_000), D("0.0001"), D("0.0003")),
    (D(10) ** 12, D("0.0001"), D("0.0003")),          # max None: unbounded
])
def test_tiers(volume, maker, taker):
    assert fee_for(TIERED, "maker", volume) == maker
    assert fee_for(TIERED, "taker", volume) == taker


def test_no_matching_tier_falls_back_to_base_and_flat_schedules():
    gap = FeeSchedule(D("0.0003"), D("0.0007"), (FeeTier(D(1_000_000), None, D("0.0001"), D("0.0002")),))
    assert fee_for(gap, "maker", D(5)) == D("0.0003")
    assert fee_for(gap, "taker") == D("0.0007")
    assert fee_for(flat("0", "0"), "taker") == 0
    assert fee_for(flat("-0.00002", "0.0002"), "maker") == D("-0.00002")   # rebate
    with pytest.raises(ValueError, match="fee_type"):
        fee_for(TIERED, "vip")


def tier(lo, hi, maker="0.0001"):
    return FeeTier(D(lo), None if hi is None else D(hi), D(maker), D("0.0002"))


@pytest.mark.parametrize(("tiers", "field"), [
    ((tier(0, 100), tier(50, None)), "fee_tiers[1].min_volume_30d"),      # overlap
    ((tier(100, None), tier(0, 100)), "fee_tiers[1].min_volume_30d"),     # unsorted (after an unbounded tier)
    ((tier(0, 100), tier(200, 100)), "fee_tiers[1].max_volume_30d"),      # max below min
    ((tier(-1, 100),), "fee_tiers[0].min_volume_30d"),
])
def test_tier_order_and_overlap(tiers, field):
    with pytest.raises(ValueError) as err:
        validate_fee_schedule(FeeSchedule(D("0.0001"), D("0.0002"), tiers))
    assert str(err.value).startswith(field + ":")


def test_valid_edges_accepted():
    ok = FeeSchedule(D("-0.01"), D("0.01"), (tier(0, 100), tier(100, None, "-0.0001")))  # touching tiers: fine
    assert validate_fee_schedule(ok) is ok
