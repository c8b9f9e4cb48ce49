"""SPEC /opportunities/compare view: normalized rates, signed rate_diff (dex2 - dex1), short the higher venue."""

from __future__ import annotations

import pytest

from chalicelib.core.compare import compare_rows
from chalicelib.core.opportunities import find_opportunities
from tests.unit.core.helpers import NOW_MS, D, flat, snap

FEES = {"lighter": flat("0", "0"), "edgex": flat("0.0002", "0.0005"), "paradex": flat("0.00003", "0.0002")}
SNAPS = [
    snap("lighter", "0.0000375", 1),                      # BTC rate_8h 0.0003
    snap("edgex", "0.0001", 4),                           # BTC rate_8h 0.0002
    snap("paradex", "0.0005", 8),                         # BTC on a third venue: not in this comparison
    snap("lighter", "0.00001", 1, symbol="ETH"),          # ETH rate_8h 0.00008
    snap("edgex", "0.0002", 4, symbol="ETH"),             # ETH rate_8h 0.0004
    snap("lighter", "0.0001", 1, symbol="SOL"),           # SOL only on lighter
]


def test_compare_by_hand():
    rows = compare_rows(find_opportunities(SNAPS, FEES, now_ms=NOW_MS), "lighter", "edgex")
    # ETH: divergence 0.0004 - 0.00008 = 0.00032, fees 2 * (0.0002 + 0) = 0.0004 -> net -0.00008
    # BTC: divergence 0.0003 - 0.0002 = 0.0001, fees 0.0004 -> net -0.0003; ETH ranks first
    assert [r["symbol"] for r in rows] == ["ETH", "BTC"]
    eth, btc = rows
    assert btc == {"symbol": "BTC", "dex1_rate": D("0.0003"), "dex2_rate": D("0.0002"), "rate_diff": D("-0.0001"),
                   "better_on": "lighter", "recommendation": "short_on_lighter_long_on_edgex",
                   "net_profit_percent": D("-0.0003"), "annualized_apy": D("-32.85"),   # -0.0003 * 109500
                   "divergence": D("0.0001"), "estimated_fees": D("0.0004")}   # rate_diff 0.0002 - 0.0003
    assert (eth["dex1_rate"], eth["dex2_rate"], eth["rate_diff"]) == (D("0.00008"), D("0.0004"), D("0.00032"))
    assert eth["better_on"] == "edgex" and eth["recommendation"] == "short_on_edgex_long_on_lighter"
    assert eth["net_profit_percent"] == D("-0.00008")


def test_compare_one_symbol_and_the_same_venue_twice():
    opps = find_opportunities(SNAPS, FEES, now_ms=NOW_MS)
    only_btc = compare_rows(opps, "edgex", "lighter", symbol="BTC")
    assert [(r["dex1_rate"], r["dex2_rate"]) for r in only_btc] == [(D("0.0002"), D("0.0003"))]
    with pytest.raises(ValueError, match="dex2"):
        compare_rows(opps, "edgex", "edgex")
