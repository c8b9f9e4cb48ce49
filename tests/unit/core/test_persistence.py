"""core/persistence.py: divergence statistics by hand, the incremental roll against a rebuild, realized returns."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from pytest import approx

from chalicelib.core import persistence as p
from chalicelib.core.models import Opportunity

H = p.HOUR_MS
D = Decimal


def opp(long_dex: str, short_dex: str, symbol: str = "BTC") -> Opportunity:
    z = D(0)
    return Opportunity(f"{symbol}:{long_dex}:{short_dex}", symbol, long_dex, short_dex, z, z, z, z, z, z, z, z, None,
                       D(8), "maker", 0, 0)


def test_hourly_divergence_statistics_by_hand() -> None:
    end = 100 * H
    # hours end-1 .. end-4: rate_8h a = 0.0001 always; b = 0.0003, 0.0005, 0.0003, 0.00005 -> d = b - a:
    # 0.0002, 0.0004, 0.0002, -0.00005
    b = [0.0003, 0.0005, 0.0003, 0.00005]
    hours = {end - (k + 1) * H: {("BTC", "a"): 0.0001, ("BTC", "b"): rate} for k, rate in enumerate(b)}
    stats = p.Table.load(p.rebuild(hours, end).dump())    # as REST and the analysis read it
    assert list(stats.index) == ["BTC:a:b"]
    row = stats.row("BTC:a:b")
    assert row is not None
    # mean = (0.0002 + 0.0004 + 0.0002 - 0.00005) / 4 = 0.00075 / 4 = 0.0001875
    # E[d^2] = (4e-8 + 16e-8 + 4e-8 + 0.25e-8) / 4 = 24.25e-8 / 4 = 6.0625e-8; var = 6.0625e-8 - 3.515625e-8 = 2.546875e-8
    # cv = sqrt(2.546875e-8) / 0.0001875 = 1.595893e-4 / 1.875e-4 = 0.851143
    mean, cv = 0.0001875, math.sqrt(2.546875e-8) / 0.0001875
    assert row[0] == pytest.approx(mean, rel=1e-11) and row[1] == pytest.approx(cv, rel=1e-5)
    assert row[2:4] == [pytest.approx(3 / 24, abs=1e-6), pytest.approx(1 / 24, abs=1e-6)]     # 3 hours > 0, 1 < 0, of the window's 24
    assert row[4] == pytest.approx(mean, rel=1e-11) and row[6] == pytest.approx(3 / 168, abs=1e-6)
    # seen from the other direction (long b, short a) the sign flips and the hours held swap
    f = opp("b", "a")
    p.attach([f], stats, {}, end)
    assert f.avg_divergence_24h == pytest.approx(-mean) and f.sign_held_24h == pytest.approx(1 / 24, abs=1e-6)
    assert f.cv_24h == pytest.approx(cv, rel=1e-5)


def test_rolling_hour_by_hour_equals_rebuilding() -> None:
    rng = random.Random(7)
    venues = ["a", "b", "c", "d"]
    # 200 hours of three symbols, with gaps (a venue missing an hour) so pairs come and go
    hours = {k * H: {(sym, v): rng.uniform(-0.001, 0.001) for sym in ("BTC", "ETH", "SOL") for v in venues
                     if rng.random() > 0.15} for k in range(200)}
    sums = p.rebuild(hours, 170 * H)
    for end in range(171, 201):
        done = (end - 1) * H
        p.roll(sums, hours.get(done, {}), hours.get(done - 24 * H, {}), hours.get(done - 168 * H, {}))
        assert sums.end_ms == end * H
    fresh = p.rebuild(hours, 200 * H)
    loaded = p.Sums.load(sums.dump())                                     # the Redis round trip is lossless
    assert (loaded.end_ms, loaded.pairs, loaded.markets) == (sums.end_ms, sums.pairs, sums.markets)
    rolled, built = p.Table.load(loaded.dump()), p.Table.load(fresh.dump())   # REST reads the summary's bytes
    assert rolled.index.keys() == built.index.keys() and len(built.index) == 18   # 3 symbols x C(4, 2) pairs
    for key in built.index:
        row = built.row(key)
        assert row is not None
        assert rolled.row(key) == [pytest.approx(x, rel=1e-6, abs=1e-12) if x is not None else None for x in row], key
    assert loaded.markets.keys() == fresh.markets.keys()
    for key, m in fresh.markets.items():
        assert loaded.markets[key] == [pytest.approx(x, rel=1e-9) for x in m]


def test_attach_sets_opened_alive_and_statistics() -> None:
    o = opp("a", "b")
    from array import array

    # the pair's ten sums: 24 h: n = 24, sum 0.0048, sum of squares 1.2e-6, 18 hours > 0, 6 < 0 -> mean 0.0002,
    # E[d^2] = 5e-8, var = 5e-8 - 4e-8 = 1e-8, std 1e-4, cv = 1e-4 / 2e-4 = 0.5; held 18/24 = 0.75, against 6/24 = 0.25.
    # 7 d: n = 100, sum 0.01, squares 3.25e-6, 84 > 0, 14 < 0 -> mean 1e-4, var = 3.25e-8 - 1e-8 = 2.25e-8,
    # std 1.5e-4, cv 1.5; held 84/168 = 0.5, against 14/168 = 1/12.
    stats = p.Table(0, {"BTC:a:b": 0}, array("d", [24, 0.0048, 1.2e-6, 18, 6, 100, 0.01, 3.25e-6, 84, 14]), 1)
    p.attach([o], stats, {"BTC:a:b": 1 * H}, 3 * H + 1_800_000)
    assert (o.opened_at_ms, o.alive_hours) == (H, 2.5)                 # (3.5 h - 1 h) = 2.5 h
    assert (o.avg_divergence_24h, o.cv_24h, o.sign_held_24h) == (approx(0.0002), approx(0.5), 0.75)
    assert (o.avg_divergence_7d, o.cv_7d, o.sign_held_7d) == (approx(0.0001), approx(1.5), 0.5)
    unknown = opp("a", "c")
    p.attach([unknown], stats, {}, 0)
    assert unknown.opened_at_ms is None and unknown.alive_hours is None and unknown.cv_24h is None
    flipped = opp("b", "a")                                            # long b, short a: the pair seen reversed
    p.attach([flipped], stats, {}, 0)
    assert (flipped.avg_divergence_24h, flipped.sign_held_24h, flipped.cv_24h) == (approx(-0.0002), 0.25, approx(0.5))
    assert (flipped.avg_divergence_7d, flipped.sign_held_7d) == (approx(-0.0001), approx(1 / 12))


def test_a_window_emptied_by_the_roll_is_exactly_zero_and_the_pair_leaves_the_summary() -> None:
    # one hour of data at 0 h; rolled until that hour leaves the 7 d window: the pair's sums go back to exact
    # zeros (no rounding residue) and the pair is no longer dumped
    hours = {0: {("BTC", "a"): 0.0001, ("BTC", "b"): 0.0004}}
    sums = p.rebuild(hours, H)
    assert sums.pairs["BTC:a:b"] == [1, 0.0004 - 0.0001, (0.0004 - 0.0001) ** 2, 1, 0] * 2
    for end in range(2, 170):
        done = (end - 1) * H
        p.roll(sums, hours.get(done, {}), hours.get(done - 24 * H, {}), hours.get(done - 168 * H, {}))
        if end == 25:   # the hour left the 24 h window: that half is exact zeros, the 7 d half unchanged
            assert [c[0] for c in sums.cols[:5]] == [0.0] * 5 and sums.cols[5][0] == 1
    assert sums.end_ms == 169 * H and [c[0] for c in sums.cols] == [0.0] * 10
    assert sums.pairs == {} and p.Table.load(sums.dump()).index == {} and sums.markets == {}


def test_realized_returns_by_hand_on_a_small_settlement_set() -> None:
    # long BTC on a 1 h venue, settled 0.00001, 0.00002, -0.00001 in the window: the long leg PAID 0.00002;
    # short BTC on an 8 h venue, settled 0.0004 once: received 0.0004. Fees 0.0002 + 0.0001 per side.
    settled = {("hl", "BTC"): (D("0.00001") + D("0.00002") + D("-0.00001"), 3), ("px", "BTC"): (D("0.0004"), 1)}
    legs = {"24h": p.leg_sums(settled, {}, 0)}
    from dataclasses import replace

    out = p.realized_for(replace(opp("hl", "px"), long_interval_hours=D(1), short_interval_hours=D(8)), legs,
                         D("0.0002"), D("0.0001"))
    r = out["realized_24h"]
    # funding = 0.0004 - 0.00002 = 0.00038; round trip 2 x (0.0002 + 0.0001) = 0.0006; net = -0.00022;
    # APY = -0.00022 x 8760 / 24 x 100 = -8.03 %
    assert (r["long_funding"], r["short_funding"], r["funding_return"]) == (D("-0.00002"), D("0.0004"), D("0.00038"))
    assert (r["fees"], r["net_return"], r["apy_percent"]) == (D("0.0006"), D("-0.00022"), D("-8.03"))
    assert (r["long_settlements"], r["short_settlements"], r["source"]) == (3, 1, "settlements")
    # coverage: long 3 settlements x 1 h / 24 h = 0.125, short 1 x 8 h / 24 h = 0.3333: the smaller, 0.125
    assert r["coverage"] == 0.125
    assert out["realized_7d"] is None and out["realized_source"] == "settlements"


def test_realized_falls_back_to_collected_rates_and_says_so() -> None:
    # px has no settlements: its collected hours accrue. 24 h window: 12 hours, sum of hourly rate_8h 0.0048
    # -> 0.0048 / 8 = 0.0006 accrued over those hours
    collected = {"BTC:px": [12.0, 0.0048, 30.0, 0.012]}
    settled = {("hl", "BTC"): (D("0.0001"), 2)}
    legs = {"24h": p.leg_sums(settled, collected, 0), "7d": p.leg_sums({}, collected, 1)}
    out = p.realized_for(opp("hl", "px"), legs, D(0), D(0))
    r = out["realized_24h"]
    assert r["source"] == "mixed" and r["short_funding"] == D("0.0006") and r["short_settlements"] == 12
    assert r["net_return"] == D("0.0005")                                 # 0.0006 - 0.0001, no fees
    assert r["coverage"] is None                                          # hl settled, its interval unknown here
    assert out["realized_7d"] is None                                     # hl has neither in the 7 d legs given
    short_only = p.realized_for(opp("px", "hl"), {"7d": {"BTC:px": ["0.0015", 30, "collected_rates"],
                                                          "BTC:hl": ["0.0002", 7, "collected_rates"]}}, D(0), D(0))
    assert short_only["realized_source"] == "collected_rates"
    assert short_only["realized_7d"]["net_return"] == D("-0.0013")        # short hl 0.0002 - long px 0.0015
    # both legs collected: 30 h and 7 h of 168 -> the smaller, 7 / 168 = 0.0417
    assert short_only["realized_7d"]["coverage"] == round(7 / 168, 4)


def test_a_delisted_market_leaves_with_its_pairs_and_the_rest_matches_a_rebuild() -> None:
    # venue c quotes BTC only in hour 0; a and b every hour (a = 0.0001, b = 0.0001 + k * 1e-6 in hour k)
    hours = {k * H: {("BTC", "a"): 0.0001, ("BTC", "b"): 0.0001 + k * 1e-6} for k in range(200)}
    hours[0][("BTC", "c")] = 0.0009
    sums = p.rebuild(hours, H)
    assert sorted(sums.index) == ["BTC:a:b", "BTC:a:c", "BTC:b:c"]
    for end in range(2, 201):
        done = (end - 1) * H
        p.roll(sums, hours.get(done, {}), hours.get(done - 24 * H, {}), hours.get(done - 168 * H, {}))
    loaded = p.Sums.load(sums.dump())
    assert loaded.mkeys == ["BTC:a", "BTC:b"] and loaded.keys == ["BTC:a:b"]       # c and its two pairs gone
    # hours 32..199 in the 7 d window: d = k * 1e-6, mean = (32 + 199) / 2 * 1e-6 = 115.5e-6; 24 h: hours 176..199
    row = p.Table.load(sums.dump()).row("BTC:a:b")
    assert row is not None and row[4] == pytest.approx(115.5e-6) and row[0] == pytest.approx((176 + 199) / 2 * 1e-6)
    assert row[6] == 1.0 and row[2] == 1.0                                          # every hour of both windows > 0
    built = p.Table.load(p.rebuild(hours, 200 * H).dump()).row("BTC:a:b")
    assert built is not None
    assert p.Table.load(loaded.dump()).row("BTC:a:b") == [approx(x, rel=1e-9) if x is not None else None for x in built]
