"""Backtests computed by hand: a 1 h, a 4 h and an 8 h venue settling at different instants, with fees."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chalicelib.core.backtest import Settlement, backtest

H = 3_600_000
T = 1_795_132_800_000            # 2026-11-20T00:00Z (a multiple of 8 h)
N = D(10_000)                    # notional, USD


def rows(interval: int, rates: dict[int, str]) -> list[Settlement]:
    return [Settlement(T + h * H, D(r), D(interval)) for h, r in rates.items()]


def test_hold_long_hourly_short_four_hourly():
    # long lighter (1 h): settles at +1..+8 h, 0.00001 each except +3 h 0.00002 -> sum 0.00009;
    # a settlement AT entry (+0 h) and one after the end (+9 h) are not in the position
    lighter = rows(1, {0: "0.5", **{h: "0.00001" for h in range(1, 9)}, 3: "0.00002", 9: "0.5"})
    # short grvt (4 h): +4 h 0.0004, +8 h 0.0002 -> sum 0.0006
    grvt = rows(4, {4: "0.0004", 8: "0.0002"})
    r = backtest(long_dex="lighter", short_dex="grvt", long_rows=lighter, short_rows=grvt, start_ms=T,
                 end_ms=T + 8 * H, notional=N, fee_long=D("0.0002"), fee_short=D("0.0003"))
    long_leg, short_leg = r.legs
    assert long_leg.settlements == 8 and long_leg.funding_usd == D("-0.9")     # -0.00009 x 10,000
    assert short_leg.settlements == 2 and short_leg.funding_usd == D("6")       # +0.0006 x 10,000
    assert r.fees_usd == D("10")                                                # 2 x (0.0002 + 0.0003) x 10,000
    assert r.net_pnl_usd == D("-4.9")                                           # 5.1 - 10
    assert r.net_return == D("-0.00049")
    assert r.hours_in_position == 8
    assert r.apy_percent == D("-53.655")                                        # -0.00049 x 8760 / 8 x 100
    assert long_leg.expected_settlements == 8 and long_leg.coverage == 1
    assert short_leg.expected_settlements == 2 and r.round_trips == 1


def test_hold_equity_curve_and_drawdown_with_an_eight_hour_long_leg():
    grvt8 = rows(8, {8: "0.0001"})                       # long pays 0.0001 x 10,000 = 1 USD at +8 h
    edgex = rows(4, {4: "0.0003", 8: "0.0001"})          # short receives 3 USD at +4 h, 1 USD at +8 h
    r = backtest(long_dex="grvt", short_dex="edgex", long_rows=grvt8, short_rows=edgex, start_ms=T,
                 end_ms=T + 8 * H, notional=N, fee_long=D("0.00025"), fee_short=D("0.00025"))
    # entry fee 5 -> -5; +4 h: +3 -> -2; +8 h long -1 -> -3, short +1 -> -2; exit fee 5 -> -7
    assert [(p.time_ms - T, p.equity_usd, p.event) for p in r.equity] == [
        (0, D(-5), "enter"), (4 * H, D(-2), "settle"), (8 * H, D(-3), "settle"), (8 * H, D(-2), "settle"),
        (8 * H, D(-7), "exit")]
    assert r.max_drawdown_usd == D(7) and r.net_pnl_usd == D(-7) and r.funding_usd == D(3)


def test_rule_mode_enters_and_exits_on_the_divergence():
    long_rows = rows(1, dict.fromkeys(range(1, 6), "0"))
    # short hourly: 0.0001 (= 0.0008 per 8 h), 0.0001, 0.00001 (0.00008 / 8 h), 0.0001, 0.0001
    short_rows = rows(1, {1: "0.0001", 2: "0.0001", 3: "0.00001", 4: "0.0001", 5: "0.0001"})
    r = backtest(long_dex="a", short_dex="b", long_rows=long_rows, short_rows=short_rows, start_ms=T, end_ms=T + 5 * H,
                 notional=N, fee_long=D("0.0001"), fee_short=D("0.0001"), mode="rule",
                 enter_divergence_8h=D("0.0005"), exit_divergence_8h=D("0.0002"))
    # enter at +1 h (0.0008 >= 0.0005; that settlement is not earned), earn +1 (+2 h) and +0.1 (+3 h),
    # exit at +3 h (0.00008 < 0.0002); re-enter at +4 h, earn +1 at +5 h, exit at the end
    assert r.round_trips == 2
    assert r.funding_usd == D("2.1")
    assert r.fees_usd == D(8)                                                   # 4 x (0.0001 + 0.0001) x 10,000
    assert r.net_pnl_usd == D("-5.9")
    assert r.hours_in_position == 3                                             # (+1 h .. +3 h) + (+4 h .. +5 h)
    assert [p.event for p in r.equity if p.event != "settle"] == ["enter", "exit", "enter", "exit"]


def test_bad_windows_and_missing_thresholds_are_refused():
    with pytest.raises(ValueError, match="end must be after start"):
        backtest(long_dex="a", short_dex="b", long_rows=[], short_rows=[], start_ms=T, end_ms=T, notional=N,
                 fee_long=D(0), fee_short=D(0))
    with pytest.raises(ValueError, match="rule mode needs"):
        backtest(long_dex="a", short_dex="b", long_rows=[], short_rows=[], start_ms=T, end_ms=T + H, notional=N,
                 fee_long=D(0), fee_short=D(0), mode="rule")


def test_coverage_counts_missing_settlements():
    lighter = rows(1, {h: "0.00001" for h in (1, 2, 4, 5, 6, 8)})    # +3 h and +7 h missing: 6 of 8
    r = backtest(long_dex="lighter", short_dex="x", long_rows=lighter, short_rows=rows(8, {8: "0"}), start_ms=T,
                 end_ms=T + 8 * H, notional=N, fee_long=D(0), fee_short=D(0))
    assert r.legs[0].coverage == D("0.75") and r.legs[1].coverage == 1


def test_realized_return_over_a_day_by_hand():
    from chalicelib.core.backtest import realized

    # long venue settled 24 x 0.00001 = 0.00024 in the day; short venue 3 x 0.0004 = 0.0012 (8 h)
    r = realized(long_sum=D("0.00024"), short_sum=D("0.0012"), settlements=(24, 3), fee_long=D("0.0002"),
                 fee_short=D("0.0003"), window_hours=24)
    assert r.funding_return == D("0.00096")                 # 0.0012 - 0.00024
    assert r.net_return == D("-0.00004")                    # 0.00096 - 2 x 0.0005
    assert r.apy_percent == D("-1.46")                      # -0.00004 x 8760 / 24 x 100
