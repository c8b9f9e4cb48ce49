"""Worked examples for find_opportunities: every expected number is computed by hand from the inputs."""

from __future__ import annotations

from dataclasses import fields

import pytest

from chalicelib.core import units
from chalicelib.core.models import Opportunity, opportunity_id
from chalicelib.core.opportunities import (
    L_DEX,
    L_R1,
    L_R8,
    OpportunityRow,
    find_opportunities,
    latest_snapshots,
    leg_table,
    oi_imbalance,
    opportunity_rows,
    to_opportunity,
)
from tests.unit.core.helpers import NOW_MS, TIERED, D, flat, snap

HL_FEES = flat("0.00015", "0.00045")
PX_FEES = flat("0.00003", "0.0002")


def only(opps: list[Opportunity]) -> Opportunity:
    assert len(opps) == 1, opps
    return opps[0]


def test_hourly_venue_against_8h_venue_uses_normalized_rates_not_raw():
    # Raw rates point the wrong way: 0.00002 (per 1 h) < 0.0001 (per 8 h) ...
    hl = snap("hyperliquid", "0.00002", 1)
    px = snap("paradex", "0.0001", 8)
    o = only(find_opportunities([hl, px], {"hyperliquid": HL_FEES, "paradex": PX_FEES}, now_ms=NOW_MS))
    # ... but per 8 h Hyperliquid pays 0.00002 * 8 = 0.00016 > 0.0001: short Hyperliquid, long Paradex.
    assert (o.long_dex, o.short_dex) == ("paradex", "hyperliquid")
    assert o.id == opportunity_id("BTC", "paradex", "hyperliquid") == "BTC:paradex:hyperliquid"
    assert o.long_rate == D("0.0001") and o.short_rate == D("0.00016")
    assert o.divergence == D("0.00006")                       # 0.00016 - 0.0001
    assert o.divergence_1h == D("0.0000075")                  # 0.00002 - 0.0001 / 8 = 0.00002 - 0.0000125
    assert o.estimated_fees == D("0.00036")                   # 2 * (0.00003 + 0.00015)
    assert o.net_profit_percent == D("-0.0003")               # 0.0000075 * 8 - 0.00036 = 0.00006 - 0.00036
    assert o.annualized_apy == D("-32.85")                    # -0.0003 * (8760 / 8) * 100 = -0.0003 * 109500
    assert o.gross_apr == D("6.57")                           # 0.0000075 * 8760 * 100
    assert o.breakeven_hours == D(48)                         # 0.00036 / 0.0000075
    assert (o.long_interval_hours, o.short_interval_hours) == (D(8), D(1))
    assert o.hold_hours == D(8) and o.fee_type == "maker"
    assert o.discovered_at_ms == NOW_MS and o.valid_until_ms == NOW_MS + 60_000


def test_zero_fee_venue_and_a_pair_of_zero_fee_venues():
    lighter = snap("lighter", "0.0000375", 1)    # rate_8h 0.0000375 * 8 = 0.0003
    edgex = snap("edgex", "0.0001", 4)           # rate_8h 0.0001 / 4 * 8 = 0.0002
    o = only(find_opportunities([lighter, edgex], {"lighter": flat("0", "0"), "edgex": flat("0.0002", "0.0005")},
                                now_ms=NOW_MS))
    assert (o.long_dex, o.short_dex) == ("edgex", "lighter")
    assert o.divergence == D("0.0001")                        # 0.0003 - 0.0002
    assert o.divergence_1h == D("0.0000125")                  # 0.0000375 - 0.0001 / 4
    assert o.estimated_fees == D("0.0004")                    # 2 * (0.0002 + 0)
    assert o.net_profit_percent == D("-0.0003")               # 0.0000125 * 8 - 0.0004
    assert o.breakeven_hours == D(32)                         # 0.0004 / 0.0000125

    free = only(find_opportunities([lighter, edgex], {"lighter": flat("0", "0"), "edgex": flat("0", "0")},
                                   now_ms=NOW_MS))
    assert free.estimated_fees == 0
    assert free.net_profit_percent == D("0.0001")             # all of 0.0000125 * 8: nothing to pay
    assert free.breakeven_hours == 0                          # no cost to earn back


def test_rebate_makes_net_exceed_gross_and_breakeven_zero():
    a, b = snap("a", "0.0001"), snap("b", "0.0003")
    o = only(find_opportunities([a, b], {"a": flat("-0.0001", "0.0005"), "b": flat("0", "0.0005")}, now_ms=NOW_MS))
    assert o.estimated_fees == D("-0.0002")                   # 2 * (-0.0001 + 0): a rebate
    assert o.net_profit_percent == D("0.0004")                # 0.0002 / 8 * 8 + 0.0002
    assert o.breakeven_hours == 0


@pytest.mark.parametrize(("volume", "maker"), [(D(500_000), D("0.0002")), (D(5_000_000), D("0.00015"))])
def test_tiered_venue_fee_depends_on_30d_volume(volume, maker):
    tiered, other = snap("tiered", "0.0001"), snap("flat", "0.0005")
    o = only(find_opportunities([tiered, other], {"tiered": TIERED, "flat": flat("0.0001", "0.0003")},
                                now_ms=NOW_MS, volume_30d={"tiered": volume}))
    assert o.estimated_fees == 2 * (maker + D("0.0001"))      # tier [0, 1M) -> 0.0002; [1M, 10M) -> 0.00015
    # divergence 0.0004 over 8 h held 8 h = 0.0004; at 500k: 0.0004 - 0.0006; at 5M: 0.0004 - 0.0005
    assert o.net_profit_percent == {D(500_000): D("-0.0002"), D(5_000_000): D("-0.0001")}[volume]


def test_oi_fields_and_imbalance_label():
    low = snap("low", "0.0001", oi="3000000")                # long leg (lower rate)
    high = snap("high", "0.0003", oi="2000000")              # short leg
    o = only(find_opportunities([low, high], {"low": PX_FEES, "high": PX_FEES}, now_ms=NOW_MS))
    assert (o.long_oi_usd, o.short_oi_usd) == (D(3_000_000), D(2_000_000))
    assert (o.min_oi_usd, o.max_oi_usd) == (D(2_000_000), D(3_000_000))
    assert o.oi_ratio == D("1.5")                             # 3M / 2M
    assert o.oi_imbalance == "long_heavy"                     # 1.5 > 1.2
    spec = only(find_opportunities([snap("lighter", "0.0001", oi="850000"), snap("edgex", "0.0003", oi="1200000")],
                                   {"lighter": PX_FEES, "edgex": PX_FEES}, now_ms=NOW_MS))
    assert spec.oi_ratio == D(850_000) / D(1_200_000)         # SPEC Q4 example: 0.708...
    assert spec.oi_imbalance == "short_heavy"


def test_oi_label_boundaries_and_unknowns():
    assert oi_imbalance(D("1.2")) == "balanced" and oi_imbalance(D("0.8")) == "balanced"
    assert oi_imbalance(D("1.2001")) == "long_heavy" and oi_imbalance(D("0.7999")) == "short_heavy"
    fees = {"a": PX_FEES, "b": PX_FEES}
    zero = only(find_opportunities([snap("a", "0.0001", oi="100"), snap("b", "0.0002", oi="0")], fees, now_ms=NOW_MS))
    assert zero.oi_ratio is None and zero.oi_imbalance is None            # short OI 0: no ratio
    assert (zero.min_oi_usd, zero.max_oi_usd) == (D(0), D(100))
    missing = only(find_opportunities([snap("a", "0.0001", oi=None), snap("b", "0.0002")], fees, now_ms=NOW_MS))
    assert missing.oi_ratio is None and missing.min_oi_usd is None and missing.max_oi_usd is None


def test_taker_costs_more_than_maker():
    hl, px = snap("hyperliquid", "0.00005", 1), snap("paradex", "0.0001", 8)   # rate_8h 0.0004 vs 0.0001
    fees = {"hyperliquid": HL_FEES, "paradex": PX_FEES}
    maker = only(find_opportunities([hl, px], fees, now_ms=NOW_MS))
    taker = only(find_opportunities([hl, px], fees, now_ms=NOW_MS, fee_type="taker"))
    assert maker.estimated_fees == D("0.00036")               # 2 * (0.00003 + 0.00015)
    assert taker.estimated_fees == D("0.0013")                # 2 * (0.0002 + 0.00045)
    assert taker.net_profit_percent == D("-0.001")            # 0.0003 / 8 * 8 - 0.0013
    assert maker.net_profit_percent == D("-0.00006")          # 0.0003 - 0.00036
    assert taker.fee_type == "taker"


def test_hold_24_hours():
    hl, px = snap("hyperliquid", "0.00005", 1), snap("paradex", "0.0001", 8)
    o = only(find_opportunities([hl, px], {"hyperliquid": HL_FEES, "paradex": PX_FEES}, now_ms=NOW_MS,
                                hold_hours=D(24)))
    # divergence_1h = 0.00005 - 0.0000125 = 0.0000375; over 24 h: 0.0009; fees 0.00036
    assert o.net_profit_percent == D("0.00054")
    assert o.annualized_apy == D("19.71")                     # 0.00054 * (8760 / 24) * 100 = 0.00054 * 36500
    assert o.hold_hours == 24
    assert o.breakeven_hours == D("9.6")                      # 0.00036 / 0.0000375


def test_spreads_and_mark_spread():
    long_ = snap("a", "0.0001", mark="100", bid="99.9", ask="100.1")     # (0.2 / 100) * 1e4 = 20 bps
    short = snap("b", "0.0003", mark="101", bid="100.95", ask="101.05")  # (0.1 / 101) * 1e4
    o = only(find_opportunities([long_, short], {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS))
    assert o.long_spread_bps == D(20)
    assert o.short_spread_bps == D("0.1") / D(101) * 10000
    assert o.avg_spread_bps == (D(20) + D("0.1") / D(101) * 10000) / 2
    assert o.mark_spread_bps == D(1) / D("100.5") * 10000                # (101 - 100) / mid 100.5 * 1e4
    assert (o.long_mark_price, o.short_mark_price) == (D(100), D(101))
    nobook = only(find_opportunities([snap("a", "0.0001"), short], {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS))
    assert nobook.long_spread_bps is None and nobook.avg_spread_bps is None


def test_volumes():
    o = only(find_opportunities([snap("a", "0.0001", volume="250000"), snap("b", "0.0002", volume="900000")],
                                {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS))
    assert (o.long_volume_24h, o.short_volume_24h, o.min_volume_24h) == (D(250_000), D(900_000), D(250_000))
    unknown = only(find_opportunities([snap("a", "0.0001", volume=None), snap("b", "0.0002")],
                                      {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS))
    assert unknown.min_volume_24h is None


def test_every_pair_once_across_three_venues_and_symbols_need_two_venues():
    snaps = [snap("a", "0.0001"), snap("b", "0.0003"), snap("c", "0.0002"), snap("a", "0.0001", symbol="SOLO")]
    fees = {d: PX_FEES for d in "abc"}
    opps = find_opportunities(snaps, fees, now_ms=NOW_MS)
    # 3 venues -> 3 * 2 / 2 = 3 pairs; SOLO is on one venue only; order: long rate, then short rate
    assert [o.id for o in opps] == ["BTC:a:c", "BTC:a:b", "BTC:c:b"]


def test_equal_rates_break_ties_by_dex_name():
    opps = find_opportunities([snap("zeta", "0.0001"), snap("alpha", "0.0001")], {"zeta": PX_FEES, "alpha": PX_FEES},
                              now_ms=NOW_MS)
    o = only(opps)
    assert (o.long_dex, o.short_dex) == ("alpha", "zeta")
    assert o.divergence == 0 and o.breakeven_hours is None


def test_duplicate_dex_keeps_freshest_and_stale_snapshots_are_skipped():
    old = snap("a", "0.0009", fetched_at_ms=NOW_MS - 50_000)
    new = snap("a", "0.0001", fetched_at_ms=NOW_MS - 1_000)
    other = snap("b", "0.0002", fetched_at_ms=NOW_MS - 1_000)
    assert latest_snapshots([new, old], now_ms=NOW_MS)["BTC"]["a"] is new
    o = only(find_opportunities([old, other, new], {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS))
    assert o.long_rate == D("0.0001")
    stale_b = snap("b", "0.0002", fetched_at_ms=NOW_MS - 120_001)
    assert find_opportunities([new, stale_b], {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS, max_age_ms=120_000) == []
    assert len(find_opportunities([new, stale_b], {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS)) == 1


def test_venue_without_fee_schedule_is_left_out():
    assert find_opportunities([snap("a", "0.0001"), snap("b", "0.0002")], {"a": PX_FEES}, now_ms=NOW_MS) == []


def test_fee_changes_apply_on_the_next_call():
    snaps = [snap("a", "0.0001"), snap("b", "0.0003")]
    before = only(find_opportunities(snaps, {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS))
    after = only(find_opportunities(snaps, {"a": flat("0", "0"), "b": flat("0", "0")}, now_ms=NOW_MS))
    assert before.estimated_fees == D("0.00012") and after.estimated_fees == 0   # 2 * (0.00003 * 2), then 0


@pytest.mark.parametrize("kwargs", [{"fee_type": "vip"}, {"hold_hours": D(0)}, {"hold_hours": D(-8)},
                                    {"hold_hours": D("NaN")}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        find_opportunities([snap("a", "0.0001"), snap("b", "0.0002")], {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS,
                           **kwargs)


def test_rows_mirror_the_opportunity_record():
    # the persistence fields come last and are set afterwards (core.persistence.attach), not by the engine
    from chalicelib.core.opportunities import PERSISTENCE_FIELDS

    names = tuple(f.name for f in fields(Opportunity) if f.name != "metadata")
    assert OpportunityRow._fields + PERSISTENCE_FIELDS == names


def test_fast_construction_builds_the_same_record():
    assert not hasattr(Opportunity, "__post_init__")   # to_opportunity bypasses __init__: nothing to skip
    rows = list(opportunity_rows([snap("a", "0.0001", bid="99", ask="101"), snap("b", "0.0003", oi=None)],
                                 {"a": PX_FEES, "b": PX_FEES}, now_ms=NOW_MS))
    built = to_opportunity(rows[0])
    assert built == Opportunity(*rows[0]) and type(built) is Opportunity and built.metadata == {}
    assert built.opened_at_ms is None and built.cv_7d is None   # persistence unknown until attached
    with pytest.raises(AttributeError):
        built.symbol = "ETH"   # still frozen


def test_duplicate_with_the_same_fetch_time_is_chosen_independently_of_order():
    # found by the shuffle property: same market, same fetched_at_ms, only OI differs
    one, two = snap("a", "0.0001", oi="100"), snap("a", "0.0001", oi="200")
    other = snap("b", "0.0003")
    fees = {"a": PX_FEES, "b": PX_FEES}
    assert find_opportunities([one, two, other], fees, now_ms=NOW_MS) == \
        find_opportunities([other, two, one], fees, now_ms=NOW_MS)


@pytest.mark.parametrize("interval", [1, 3, 4, 8, 24])
def test_legs_carry_the_units_rates(interval):
    # the build writes units.rate_1h / rate_8h out (no call per leg): they must stay the same values
    s = snap("a", "0.00024", interval)
    other = snap("b", "0.00048", interval)
    table = leg_table([s, other], {"a": flat("0.0001", "0.0003"), "b": flat("0", "0")}, now_ms=NOW_MS)
    leg = table["BTC"][0]
    assert leg[L_DEX] == "a" and leg[L_R1] == units.rate_1h(s.funding_rate, s.funding_interval_hours) == s.rate_1h
    assert str(leg[L_R8]) == str(units.rate_8h(s.funding_rate, s.funding_interval_hours))   # same digits too
    assert table.fee2[leg[L_DEX]] == D("0.0002")   # 2 x maker 0.0001
    # by hand: 0.00024 per 1 h is 0.00192 per 8 h; per 4 h 0.00048; per 8 h 0.00024; per 24 h 0.00008
    expected_8h = {1: "0.00192", 4: "0.00048", 8: "0.00024", 24: "0.00008"}.get(interval)
    if expected_8h is not None:
        assert leg[L_R8] == D(expected_8h)


def test_equal_rates_are_ordered_by_venue_name_whatever_the_input_order():
    # three venues at 0.0001 per 8 h (one hourly: 0.0000125 x 8), one below: long = lower rate, ties by name
    snaps = [snap("zeta", "0.0001"), snap("alpha", "0.0000125", 1), snap("mid", "0.0001"), snap("low", "0.00005")]
    fees = {d: flat("0", "0") for d in ("zeta", "alpha", "mid", "low")}
    for order in (snaps, snaps[::-1], snaps[1:] + snaps[:1]):
        assert [g[L_DEX] for g in leg_table(order, fees, now_ms=NOW_MS)["BTC"]] == ["low", "alpha", "mid", "zeta"]


def test_leg_table_from_rated_markets_equals_the_one_from_snapshots() -> None:
    # REST passes its snapshot entry's rated markets (RatesIndex.rated: one per market, rated, sorted): same
    # legs, the age rule and a venue left out (dexes) applied the same way
    from chalicelib.api.data import RatesIndex
    from chalicelib.core.opportunities import leg_table

    now = NOW_MS
    snaps = [snap("a", "0.0001", 8, fetched_at_ms=now - 1_000), snap("b", "0.0003", 1, fetched_at_ms=now - 2_000),
             snap("c", "0.0002", 4, fetched_at_ms=now - 600_000),        # older than max_age below: left out
             snap("a", "0.0004", 8, symbol="ETH", fetched_at_ms=now), snap("b", "-0.0001", 8, symbol="ETH",
                                                                         fetched_at_ms=now)]
    fees = {d: flat("0.0001", "0.0004") for d in ("a", "b", "c")}
    rated = RatesIndex.build(snaps).rated
    for kwargs in ({}, {"max_age_ms": 300_000}, {"dexes": frozenset({"a", "c"})}):
        want = leg_table(snaps, fees, now_ms=now, **kwargs)   # type: ignore[arg-type]
        got = leg_table((), fees, now_ms=now, rated=rated, **kwargs)   # type: ignore[arg-type]
        assert got == want and got.fee2 == want.fee2, kwargs
    aged = leg_table((), fees, now_ms=now, rated=rated, max_age_ms=300_000)
    assert [leg[1] for leg in aged["BTC"]] == ["a", "b"]                # c's snapshot is 600 s old
