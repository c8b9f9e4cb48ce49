"""Filter semantics, ranking, best(), and query-string validation that names the bad parameter."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.core.filters import (
    SORTABLE_FIELDS,
    OpportunityFilter,
    apply_filter,
    best,
    filters_applied,
)
from chalicelib.core.opportunities import find_opportunities
from tests.unit.core.helpers import NOW_MS, D, flat, snap

FEES = {d: flat("0", "0.0001") for d in ("a", "b", "c", "d")}
OPEN = OpportunityFilter(min_divergence=None, min_profit_percent=None, min_volume_24h=None, limit=100)


def ids(opps):
    return [o.id for o in opps]


def universe():
    # zero maker fees: net = divergence; rate_8h a 0.0001 < b 0.0003 < c 0.0006 < d 0.0010
    return find_opportunities([
        snap("a", "0.0001", oi="1000000", volume="50000", bid="99.99", ask="100.01"),     # 2 bps
        snap("b", "0.0003", oi="3000000", volume="2000000"),                            # no book
        snap("c", "0.0006", oi="2000000", volume="5000000", bid="99.9", ask="100.1"),     # 20 bps
        snap("d", "0.0010", oi=None, volume=None),
    ], FEES, now_ms=NOW_MS)


def test_defaults_match_spec():
    f = OpportunityFilter()
    assert (f.min_divergence, f.min_profit_percent, f.min_volume_24h) == (D("0.0001"), 0, D(100000))
    assert (f.limit, f.sort_by, f.sort_desc) == (10, "net_profit_percent", True)


def test_default_filter_needs_volume_on_both_legs():
    # a (50k) fails min_volume 100k, d has no volume: only b-c remains (divergence 0.0003)
    assert apply_filter(universe(), OpportunityFilter()) == ([o for o in universe() if o.id == "BTC:b:c"], 1)


def test_include_means_both_legs_exclude_means_neither():
    opps = universe()
    assert sorted(ids(apply_filter(opps, replace(OPEN, include_dexes=("a", "b", "c")))[0])) == \
        ["BTC:a:b", "BTC:a:c", "BTC:b:c"]
    assert sorted(ids(apply_filter(opps, replace(OPEN, exclude_dexes=("a", "d")))[0])) == ["BTC:b:c"]
    assert ids(apply_filter(opps, replace(OPEN, long_dex="b", short_dex="d"))[0]) == ["BTC:b:d"]


def test_oi_bounds_apply_to_both_legs_and_unknown_fails():
    opps = universe()
    # max_oi_usd 2.5M: both legs at most 2.5M -> a (1M) with c (2M); b has 3M; d unknown
    assert ids(apply_filter(opps, replace(OPEN, max_oi_usd=D(2_500_000)))[0]) == ["BTC:a:c"]
    # min_oi_usd 2M: both legs at least 2M -> b (3M) with c (2M)
    assert ids(apply_filter(opps, replace(OPEN, min_oi_usd=D(2_000_000)))[0]) == ["BTC:b:c"]
    # oi_ratio = long/short: a:b 1/3, a:c 1/2, b:c 3/2 -> long_heavy only b:c
    assert ids(apply_filter(opps, replace(OPEN, oi_imbalance="long_heavy"))[0]) == ["BTC:b:c"]
    assert sorted(ids(apply_filter(opps, replace(OPEN, oi_ratio_min=D("0.4"), oi_ratio_max=D(2)))[0])) == \
        ["BTC:a:c", "BTC:b:c"]


def test_max_spread_uses_wider_known_leg_and_unknown_passes():
    opps = universe()
    kept = ids(apply_filter(opps, replace(OPEN, max_spread_bps=D(10)))[0])
    assert "BTC:a:c" not in kept and "BTC:b:c" not in kept    # c's 20 bps is the wider leg
    assert {"BTC:a:b", "BTC:a:d", "BTC:b:d"} <= set(kept)     # a's 2 bps; b and d publish no book


def test_volume_bounds():
    opps = universe()
    assert ids(apply_filter(opps, replace(OPEN, min_volume_24h=D(1_000_000)))[0]) == ["BTC:b:c"]
    assert ids(apply_filter(opps, replace(OPEN, max_volume_24h=D(2_000_000)))[0]) == ["BTC:a:b"]


def test_sort_limit_total_and_none_last():
    opps = universe()
    # divergences: a:b 0.0002, a:c 0.0005, a:d 0.0009, b:c 0.0003, b:d 0.0007, c:d 0.0004
    top, total = apply_filter(opps, replace(OPEN, limit=3))
    assert ids(top) == ["BTC:a:d", "BTC:b:d", "BTC:a:c"] and total == 6
    asc, _ = apply_filter(opps, replace(OPEN, sort_by="divergence", sort_desc=False, limit=2))
    assert ids(asc) == ["BTC:a:b", "BTC:b:c"]
    # oi_ratio is unknown whenever d is a leg: those come last in both directions, by id
    for desc in (True, False):
        ranked, _ = apply_filter(opps, replace(OPEN, sort_by="oi_ratio", sort_desc=desc))
        assert ids(ranked)[3:] == ["BTC:a:d", "BTC:b:d", "BTC:c:d"]
    assert ids(apply_filter(opps, replace(OPEN, sort_by="oi_ratio"))[0])[:3] == ["BTC:b:c", "BTC:a:c", "BTC:a:b"]


def test_equal_values_tie_break_by_id():
    snaps = [snap(d, "0.0001") for d in ("b", "a")] + [snap(d, "0.0002") for d in ("d", "c")]
    opps = find_opportunities(snaps, FEES, now_ms=NOW_MS)
    # a:b and c:d divergence 0; the four cross pairs all 0.0001
    top, total = apply_filter(opps, replace(OPEN, sort_by="divergence"))
    assert ids(top) == ["BTC:a:c", "BTC:a:d", "BTC:b:c", "BTC:b:d", "BTC:a:b", "BTC:c:d"] and total == 6


def test_best():
    opp, rank, total = best(universe(), OPEN)
    assert (opp.id, rank, total) == ("BTC:a:d", 1, 6)
    assert best(universe(), replace(OPEN, symbol="ETH")) == (None, None, 0)


def test_sortable_fields_are_the_numeric_ones():
    assert {"net_profit_percent", "annualized_apy", "divergence", "min_volume_24h", "oi_ratio",
            "breakeven_hours", "mark_spread_bps"} <= set(SORTABLE_FIELDS)
    assert not {"symbol", "long_dex", "oi_imbalance", "metadata", "fee_type", "id"} & set(SORTABLE_FIELDS)


def test_filters_applied_lists_the_defaults():
    assert filters_applied(OpportunityFilter())["min_volume_24h"] == D(100000)


def test_persistence_bounds_and_sort_keys():
    from dataclasses import replace as _replace

    from chalicelib.core.models import Opportunity

    z = D(0)
    base = Opportunity("X:a:b", "X", "a", "b", z, z, z, z, z, D(1), z, z, None, D(8), "maker", 0, 0)
    steady = _replace(base, id="S:a:b", alive_hours=30.0, avg_divergence_24h=0.0004, cv_24h=0.2)
    shaky = _replace(base, id="K:a:b", alive_hours=2.0, avg_divergence_24h=0.0009, cv_24h=3.0)
    unknown = _replace(base, id="U:a:b")                       # no lifecycle, no history yet: fails every bound
    opps = [steady, shaky, unknown]
    keep = OpportunityFilter(min_divergence=None, min_volume_24h=None, min_profit_percent=None)
    assert [o.id for o in apply_filter(opps, replace(keep, min_alive_hours=D(24)))[0]] == ["S:a:b"]
    assert [o.id for o in apply_filter(opps, replace(keep, max_cv=D(1)))[0]] == ["S:a:b"]
    assert [o.id for o in apply_filter(opps, replace(keep, min_avg_divergence_24h=D("0.0005")))[0]] == ["K:a:b"]
    assert {"alive_hours", "avg_divergence_24h", "cv_24h", "sign_held_7d"} <= set(SORTABLE_FIELDS)
    ranked = apply_filter(opps, replace(keep, sort_by="cv_24h", sort_desc=False))[0]
    assert [o.id for o in ranked] == ["S:a:b", "K:a:b", "U:a:b"]   # None last
