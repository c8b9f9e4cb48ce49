"""Shared venue helpers: number parsing, symbol mapping, validation, time helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core.models import MarketSnapshot, Reject
from chalicelib.venues import edgex, grvt, hyperliquid, lighter, paradex
from chalicelib.venues.base import (
    BadValue,
    build_snapshot,
    interval_from_gaps,
    interval_hours,
    last_per_hour,
    next_full_hour_ms,
    normalize_symbol,
    ns_to_ms,
    to_decimal,
    validate_record,
)

D = Decimal


def test_to_decimal_uses_the_raw_text():
    assert to_decimal("0.0000125") == D("0.0000125")
    assert str(to_decimal(9.599999999999999e-05)) == "0.00009599999999999999"   # repr of the float, not its binary
    assert to_decimal(0.1) == D("0.1")                                           # not 0.1000000000000000055...
    assert to_decimal(8) == D(8)
    assert to_decimal(None) is None and to_decimal("") is None and to_decimal("  ") is None
    assert to_decimal("NaN").is_nan()
    for bad in ("abc", True, [1], {"a": 1}):
        with pytest.raises(BadValue):
            to_decimal(bad)


@pytest.mark.parametrize(("raw", "spec", "expected"), [
    ("kPEPE", hyperliquid.SPEC, ("PEPE", D(1000))),
    ("BTC", hyperliquid.SPEC, ("BTC", D(1))),
    ("KAVA", lighter.SPEC, ("KAVA", D(1))),             # capital K is part of the name, not a prefix
    ("1000PEPE", lighter.SPEC, ("PEPE", D(1000))),
    ("1MBABYDOGE", lighter.SPEC, ("BABYDOGE", D(1000000))),
    ("1000000MOG", lighter.SPEC, ("MOG", D(1000000))),
    ("1INCH", lighter.SPEC, ("1INCH", D(1))),
    ("BTC-USD-PERP", paradex.SPEC, ("BTC", D(1))),
    ("kBONK-USD-PERP", paradex.SPEC, ("BONK", D(1000))),
    ("BTC_USDT_Perp", grvt.SPEC, ("BTC", D(1))),
    ("1000PEPE_USDT_Perp", grvt.SPEC, ("PEPE", D(1000))),
    ("BTCUSDT", edgex.SPEC, ("BTC", D(1))),
    ("ETHUSD", edgex.SPEC, ("ETH", D(1))),
    ("1000PEPEUSDT", edgex.SPEC, ("PEPE", D(1000))),
])
def test_normalize_symbol(raw, spec, expected):
    assert normalize_symbol(raw, spec) == expected


def test_validate_record_reasons():
    spec = paradex.SPEC
    ok = validate_record(spec, "BTC-USD-PERP", D("0.0008"), D(8), D("100"))
    assert ok is None
    cases = {
        "missing funding rate": (None, D(8), D(1)),
        "NaN": (D("NaN"), D(8), D(1)),
        "Infinity": (D("Infinity"), D(8), D(1)),
        "absurd": (D("0.41"), D(8), D(1)),            # 0.41 / 8 = 0.05125 per hour > 5 %
        "missing mark": (D("0.0001"), D(8), None),
        "mark price is 0": (D("0.0001"), D(8), D(0)),
    }
    for reason, (rate, hours, mark) in cases.items():
        reject = validate_record(spec, "BTC-USD-PERP", rate, hours, mark)
        assert isinstance(reject, Reject) and reason in reject.reason and reject.dex == "paradex"
    assert validate_record(spec, "X", D("0.4"), D(8), D(1)) is None        # 0.05 per hour exactly is allowed


def test_build_snapshot_rejects_non_numeric_optional_fields_instead_of_zero_filling():
    r = build_snapshot(hyperliquid.SPEC, "BTC", now_ms=0, rate="0.00001", mark="100", oi_base="lots")
    assert isinstance(r, Reject) and "open interest" in r.reason
    r = build_snapshot(hyperliquid.SPEC, "BTC", now_ms=0, rate="0.00001", mark="100", bid="Infinity")
    assert isinstance(r, Reject) and "best bid" in r.reason
    s = build_snapshot(hyperliquid.SPEC, "BTC", now_ms=0, rate="0.00001", mark="100")
    assert isinstance(s, MarketSnapshot) and s.open_interest_usd is None and s.volume_24h_usd is None


def test_time_helpers():
    assert next_full_hour_ms(1764774730025) == 1764777600000          # 15:12:10 -> 16:00:00
    assert next_full_hour_ms(1764777600000) == 1764777600000 + 3600000  # exactly on the hour -> the next one
    assert ns_to_ms("1764777600000000000") == 1764777600000
    assert interval_hours("8", D(1)) == 8 and interval_hours(4, D(1)) == 4
    assert interval_hours("0", D(8)) == 8 and interval_hours(None, D(8)) == 8 and interval_hours("x", D(8)) == 8


def test_interval_from_gaps():
    h = 3600000
    assert interval_from_gaps([0, 8 * h + 388, 16 * h + 253, 17 * h, 18 * h - 50], D(1)) == [D(8), D(8), D(8), D(1), D(1)]
    assert interval_from_gaps([5], D(1)) == [D(1)]
    assert interval_from_gaps([], D(1)) == []


def test_last_per_hour_keeps_the_last_reading_per_clock_hour():
    h = 3600000
    readings = [(h + 1000, "a"), (h + 3599000, "c"), (h + 2000, "b"), (2 * h, "d")]
    assert last_per_hour(readings) == [(h, "c"), (2 * h, "d")]


def test_min_order_size_helper_takes_the_larger_and_never_returns_zero():
    from chalicelib.venues.base import min_order_size
    D = Decimal
    # 12 USD at mark 4 = 3 units, lot 0.5 -> 3.0; quantity minimum 2 -> 3.0
    assert min_order_size("2", "12", "0.5", D(4)) == D(3)
    # 10 USD at mark 3 = 3.333..., lot 0.5 -> 3.5; in listed units of 1000 tokens -> 3500 tokens
    assert min_order_size(None, "10", "0.5", D(3), D(1000)) == D(3500)
    assert min_order_size("abc", None, None, D(1)) is None          # not a number: unknown, not a reject
    assert min_order_size("0", None, None, D(1)) is None            # 0 is "no minimum published", never 0
    assert min_order_size(None, None, None, D(1)) is None


def test_build_snapshot_makes_the_frozen_record_field_by_field():
    """build_snapshot fills MarketSnapshot through a same-layout builder (speed): every field lands in its place."""
    import dataclasses

    from chalicelib.venues import lighter
    snap = build_snapshot(lighter.SPEC, "kPEPE", now_ms=7, rate=Decimal("0.0008"), mark="2", index="4", oi_base="3",
                          volume_usd="5", bid="1", ask="6", next_funding_ms=8, venue_ts_ms=9, market_id=10,
                          min_size="1")
    expected = MarketSnapshot(
        dex="lighter", symbol="PEPE", dex_symbol="kPEPE", funding_rate=Decimal("0.0001"),   # 0.0008 per 8 h / 8
        funding_interval_hours=Decimal(1), mark_price=Decimal("0.002"), fetched_at_ms=7,     # 2 per 1000 tokens
        index_price=Decimal("0.004"), open_interest_usd=Decimal(6), open_interest_base=Decimal(3000),   # 3 x 2; 3 x 1000
        volume_24h_usd=Decimal(5), best_bid=Decimal("0.001"), best_ask=Decimal("0.006"), next_funding_time_ms=8,
        venue_ts_ms=9, multiplier=Decimal(1000), quote="USDC", collection_latency_ms=None,
        min_order_size=Decimal(1000), market_id="10")                                         # 1 kPEPE = 1000 PEPE
    assert type(snap) is MarketSnapshot and snap == expected and hash(snap) == hash(expected)
    assert dataclasses.asdict(snap) == dataclasses.asdict(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.symbol = "X"   # type: ignore[misc]
