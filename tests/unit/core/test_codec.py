"""core.codec: one shape per record and audience (snapshot, rate record, opportunity, fee schedule)."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.codec import (
    fee_from_dict,
    fee_to_dict,
    fees_from_json,
    fees_to_json,
    opportunity_to_dict,
    rate_record,
    snapshot_from_dict,
    snapshot_to_dict,
)
from chalicelib.core.fees import validate_fee_schedule
from chalicelib.core.opportunities import find_opportunities
from tests.unit.core.helpers import NOW_MS, TIERED, D, flat, snap


def test_snapshot_round_trip_is_lossless_through_json() -> None:
    s = snap("hyperliquid", "0.0000123456789012345678901", 1, bid="99.5", ask="100.5")
    assert snapshot_from_dict(json.loads(json.dumps(snapshot_to_dict(s)))) == s


@pytest.mark.parametrize(("basis", "expected"), [
    # 0.0003 per 4 h interval: rate_1h 0.0003 / 4 = 0.000075, rate_8h 0.000075 * 8 = 0.0006,
    # APR 0.000075 * 8760 * 100 = 65.7 percent
    ("native", D("0.0003")), ("1h", D("0.000075")), ("8h", D("0.0006")), ("apr", D("65.7")),
])
def test_rate_record_states_its_basis_and_names_every_unit(basis: str, expected: D) -> None:
    r = rate_record(snap("edgex", "0.0003", 4), basis)
    assert r["basis"] == basis and r["funding_rate"] == expected
    assert (r["native_rate"], r["rate_1h"], r["rate_8h"], r["annualized_rate"], r["funding_interval_hours"]) == (
        D("0.0003"), D("0.000075"), D("0.0006"), D("65.7"), D(4))


def test_opportunity_dict_has_one_shape_with_iso_times_and_the_8h_basis() -> None:
    (o,) = find_opportunities([snap("a", "0.0001", 8), snap("b", "0.0003", 8)],
                              {"a": flat("0", "0"), "b": flat("0", "0")}, now_ms=NOW_MS)
    d = opportunity_to_dict(o)
    assert d["basis"] == "8h" and d["long_rate"] == D("0.0001") and d["short_rate"] == D("0.0003")
    assert d["discovered_at"].endswith("Z") and "discovered_at_ms" not in d and "metadata" not in d


def test_fee_dict_and_json_round_trips() -> None:
    d = fee_to_dict(TIERED)
    assert d["maker_fee_percent"] == D("0.00025") and d["has_fee_tiers"] is True
    assert d["fee_tiers"][2]["max_volume_30d"] is None
    assert fee_from_dict(d) == TIERED
    assert fee_to_dict(flat("0.0001", "0.0002"))["fee_tiers"] is None
    fees = {"x": TIERED, "y": flat("-0.00002", "0.0002")}
    assert fees_from_json(fees_to_json(fees)) == fees
    assert '"0.00015"' in fees_to_json(fees)          # Decimals stored as strings: lossless


def test_spec_example_with_json_numbers() -> None:
    spec = {"maker_fee_percent": 0.00025, "taker_fee_percent": 0.0006, "has_fee_tiers": True, "fee_tiers": [
        {"min_volume_30d": 0, "max_volume_30d": 1000000, "maker_fee": 0.0002, "taker_fee": 0.0005},
        {"min_volume_30d": 1000000, "max_volume_30d": 10000000, "maker_fee": 0.00015, "taker_fee": 0.0004},
        {"min_volume_30d": 10000000, "max_volume_30d": None, "maker_fee": 0.0001, "taker_fee": 0.0003},
    ]}
    assert fee_from_dict(spec) == TIERED   # Decimal(str(0.00015)) == Decimal("0.00015"): no float noise


def test_has_fee_tiers_false_ignores_leftover_tiers() -> None:
    row = {"maker_fee_percent": "0.0001", "taker_fee_percent": "0.0002", "has_fee_tiers": False,
           "fee_tiers": [{"bogus": 1}]}
    assert fee_from_dict(row) == flat("0.0001", "0.0002")


@pytest.mark.parametrize(("d", "field"), [
    ({"maker_fee_percent": "0.02", "taker_fee_percent": "0.0002"}, "maker_fee_percent"),      # out of range
    ({"maker_fee_percent": "0.0001", "taker_fee_percent": "-0.011"}, "taker_fee_percent"),
    ({"maker_fee_percent": "0.0001", "taker_fee_percent": "abc"}, "taker_fee_percent"),
    ({"maker_fee_percent": "0.0001"}, "taker_fee_percent"),
    ({"maker_fee_percent": "0.0001", "taker_fee_percent": "0.0002", "has_fee_tiers": True}, "fee_tiers"),
    ({"maker_fee_percent": "0.0001", "taker_fee_percent": "0.0002", "has_fee_tiers": True,
      "fee_tiers": [{"min_volume_30d": 0, "maker_fee": 0.0001}]}, "fee_tiers[0].taker_fee"),
    ({"maker_fee_percent": "0.0001", "taker_fee_percent": "0.0002", "has_fee_tiers": True,
      "fee_tiers": [{"min_volume_30d": 0, "max_volume_30d": 10, "maker_fee": 0.5, "taker_fee": 0.0001}]},
     "fee_tiers[0].maker_fee"),
])
def test_invalid_fees_name_the_field(d: dict, field: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_fee_schedule(fee_from_dict(d))
    assert str(err.value).startswith(field + ":")
