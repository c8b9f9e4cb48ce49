"""FundingRateStats shaping and the reference aggregates (hand-computed)."""

from __future__ import annotations

import pytest

from chalicelib.core.stats import AGG_KEYS, describe, funding_rate_stats, percentile_cont, volatility
from tests.unit.core.helpers import D

RATES = [D("0.0003"), D("-0.0001"), D("0.0001"), D("0.0002"), D("0.0001")]


def test_describe_by_hand():
    agg = describe(RATES)
    # sorted: -0.0001, 0.0001, 0.0001, 0.0002, 0.0003; sum 0.0006 over 5
    assert agg["avg"] == D("0.00012")
    assert agg["median"] == D("0.0001")                        # position 0.5 * 4 = 2
    assert agg["p25"] == D("0.0001")                           # position 1
    assert agg["p75"] == D("0.0002")                           # position 3
    assert (agg["min"], agg["max"]) == (D("-0.0001"), D("0.0003"))
    assert agg["positive_frequency"] == D("0.8")               # 4 of 5 above zero
    # deviations from 0.00012: 0.00018, -0.00022, -0.00002, 0.00008, -0.00002
    # squares sum: 324e-10 + 484e-10 + 4e-10 + 64e-10 + 4e-10 = 880e-10; / (5 - 1) = 220e-10
    assert agg["stddev"] == D("220e-10").sqrt()
    assert agg["samples"] == 5


def test_percentile_interpolates_like_percentile_cont():
    # four values: p25 at position 0.75 -> 1 + (2 - 1) * 0.75; p50 at 1.5 -> 2 + (4 - 2) * 0.5
    assert percentile_cont([D(1), D(2), D(4), D(8)], D("0.25")) == D("1.75")
    assert percentile_cont([D(1), D(2), D(4), D(8)], D("0.5")) == D(3)
    assert percentile_cont([D(7)], D("0.75")) == D(7)
    with pytest.raises(ValueError):
        percentile_cont([], D("0.5"))


def test_describe_edges():
    assert describe([])["samples"] == 0 and describe([])["avg"] is None
    assert describe([D("0.0001")])["stddev"] is None           # stddev_samp of one value is NULL


def test_funding_rate_stats_shape():
    agg = describe(RATES)
    out = funding_rate_stats("BTC", "lighter", 30, "2025-09-06T00:00:00Z", "2025-10-06T00:00:00Z", agg)
    assert out["avg_funding_rate"] == D("0.00012")
    assert out["volatility"] == D("220e-10").sqrt() / D("0.00012")
    assert out["avg_annualized_apy"] == D("13.14")             # 0.00012 per 8 h * 3 * 365 * 100
    assert out["positive_rate_frequency"] == 0.8 and isinstance(out["positive_rate_frequency"], float)
    assert (out["percentile_25"], out["percentile_75"]) == (D("0.0001"), D("0.0002"))
    assert (out["symbol"], out["dex_name"], out["period_days"], out["samples"]) == ("BTC", "lighter", 30, 5)
    assert {"median_funding_rate", "std_dev", "min_rate", "max_rate", "period_start", "period_end"} <= out.keys()


def test_sql_style_row_with_floats_and_no_samples():
    sql_row = {"avg": 0.0, "median": 0.0, "stddev": 0.0001, "min": -0.0001, "max": 0.0001, "p25": -0.0001,
               "p75": 0.0001, "positive_frequency": 0.5, "samples": 2}
    assert funding_rate_stats("ETH", None, 7, None, None, sql_row)["volatility"] is None   # mean 0
    empty = funding_rate_stats("ETH", None, 7, None, None, dict.fromkeys(AGG_KEYS))
    assert empty["avg_funding_rate"] is None and empty["samples"] == 0 and empty["avg_annualized_apy"] is None
    with pytest.raises(ValueError, match="samples"):
        funding_rate_stats("ETH", None, 7, None, None, {"avg": 1})


def test_volatility_uses_absolute_mean():
    assert volatility(D("0.00003"), D("-0.0001")) == D("0.3")
    assert volatility(None, D(1)) is None
