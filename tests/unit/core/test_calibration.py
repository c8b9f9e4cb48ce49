"""Calibration verdicts and forecast accuracy, checked by hand on small pair sets."""

from __future__ import annotations

from decimal import Decimal as D

from chalicelib.core.calibration import Pair, accuracy, calibrate, report, robust_slope

H = 3_600_000


def pairs(dex: str, published: list[str], settled: list[str], *, start_ms: int = 0) -> list[Pair]:
    return [Pair(dex, "BTC", start_ms + i * H, D(s), D(p)) for i, (p, s) in enumerate(zip(published, settled, strict=True))]


def test_units_that_agree_are_verified():
    pub = ["0.0000125"] * 12
    sett = ["0.0000125"] * 6 + ["0.0000150"] * 6      # ratios 1.0 (x6) and 1.2 (x6): median = (1.0 + 1.2) / 2 = 1.1
    v = calibrate("hyperliquid", pairs("hyperliquid", pub, sett), window_hours=72)
    assert v.status == "verified" and v.factor == D("1.1") and v.sign_agreement == 1 and v.samples == 12
    assert v.suspected is None


def test_a_venue_paying_eight_times_what_it_published_is_a_unit_mismatch_x8():
    pub = [f"0.00001{i:02d}" for i in range(12)]           # 0.0000100 .. 0.0000111
    sett = [str(D(p) * 8) for p in pub]                    # settled at exactly 8x
    v = calibrate("lighter", pairs("lighter", pub, sett), window_hours=72)
    assert v.status == "unit_mismatch" and v.factor == D(8) and v.suspected == "x8"


def test_hundredth_and_sign_flip_are_named():
    pub = ["0.001"] * 12
    v = calibrate("grvt", pairs("grvt", pub, ["0.00001"] * 12), window_hours=72)
    assert v.status == "unit_mismatch" and v.factor == D("0.01") and v.suspected == "x1/100"
    v = calibrate("edgex", pairs("edgex", pub, ["-0.001"] * 12), window_hours=72)
    assert v.status == "unit_mismatch" and v.factor == D(-1) and v.sign_agreement == 0
    assert v.suspected == "sign flipped"


def test_too_few_pairs_above_the_noise_floor_is_unverified():
    pub = ["0.000001"] * 30 + ["0.00002"] * 11           # 1e-6/h is under the 2e-6 floor: 11 usable < 12
    v = calibrate("paradex", pairs("paradex", pub, pub), window_hours=72)
    assert v.status == "unverified" and v.factor is None and v.samples == 11 and v.pairs == 41


def test_accuracy_by_hand():
    #  published   settled     diff (pub - set)
    #  0.00002     0.00001     +0.00001
    #  0.00001     0.00003     -0.00002
    # -0.00001     0.00001     -0.00002   (sign miss)
    #  0.00004     0.00004      0
    a = accuracy(pairs("x", ["0.00002", "0.00001", "-0.00001", "0.00004"], ["0.00001", "0.00003", "0.00001", "0.00004"]))
    assert a.samples == 4
    assert a.bias_1h == D("-0.0000075")                   # (+1 - 2 - 2 + 0) e-5 / 4
    assert a.mae_1h == D("0.0000125")                     # (1 + 2 + 2 + 0) e-5 / 4
    assert a.bias_apr_points == D("-6.570")               # -0.0000075 x 8760 x 100
    assert a.mae_apr_points == D("10.950")                # 0.0000125 x 8760 x 100
    assert a.sign_hit_rate == D("0.75")                   # 3 of 4 signs agree


def test_report_windows_select_by_age():
    now = 100 * H
    old = pairs("x", ["0.00002"] * 12, ["0.00002"] * 12, start_ms=now - 60 * H)   # 60 h .. 49 h ago
    recent = pairs("x", ["0.00002"], ["0.00004"], start_ms=now - 2 * H)          # 2 h ago, published half
    r = report("x", old + recent, now_ms=now, windows_h=(24, 168))
    assert r["accuracy"]["24h"]["samples"] == 1 and r["accuracy"]["24h"]["bias_1h"] == D("-0.00002")
    assert r["accuracy"]["168h"]["samples"] == 13
    assert r["verdict"]["status"] == "verified" and r["verdict"]["samples"] == 13   # median ratio stays 1
    assert r["markets"]["BTC"]["24h"]["samples"] == 1


def test_the_factor_is_a_robust_slope_small_published_rates_count_least():
    # 7 pairs published near the floor (0.000003/h) that settled 6x (a quantised rate: 0.0000035 written as 0.000003)
    # and 5 pairs published 0.00004/h that settled exactly 8x.
    pub = ["0.000003"] * 7 + ["0.00004"] * 5
    sett = ["0.000018"] * 7 + ["0.00032"] * 5
    # plain median of the 12 ratios (seven 6s, five 8s) would be 6; weighted by |published|: the 6s weigh
    # 7 x 0.000003 = 0.000021, the 8s 5 x 0.00004 = 0.0002 of 0.000221 -> past half (0.0001105) only at 8
    v = calibrate("lighter", pairs("lighter", pub, sett), window_hours=72)
    assert v.factor == 8 and v.suspected == "x8" and v.samples == 12


def test_robust_slope_by_hand():
    # (published, settled): ratios 0 (w 4), 8 (w 10), 8 (w 20), 100 (w 3) in units of 1e-6; half of 37 = 18.5:
    # cumulative 4, 14, 34 -> the slope is 8 (the outlier at 100 and the zero do not move it)
    pts = [(4e-6, 0.0), (1e-5, 8e-5), (2e-5, 1.6e-4), (3e-6, 3e-4)]
    assert robust_slope(pts) == 8.0
    # equal weights, cumulative weight exactly half at the second of four: mean of the 2nd and 3rd ratios
    assert robust_slope([(1.0, 1.0), (1.0, 2.0), (1.0, 3.0), (1.0, 10.0)]) == 2.5


def test_paying_a_hundredth_is_measured_although_settled_values_are_under_the_floor():
    # the floor applies to the published side: settled 0.0000002/h (under 0.000002) still gives ratio 0.01
    v = calibrate("grvt", pairs("grvt", ["0.00002"] * 12, ["0.0000002"] * 12), window_hours=72)
    assert v.status == "unit_mismatch" and v.factor == D("0.01") and v.suspected == "x1/100" and v.samples == 12
