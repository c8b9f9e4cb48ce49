"""Properties of the opportunity engine and filters over generated venues, rates, fees and filters."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.filters import SORTABLE_FIELDS, OpportunityFilter, apply_filter
from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.core.opportunities import find_opportunities
from chalicelib.core.stats import describe
from tests.unit.core.helpers import NOW_MS

DEXES = ("alpha", "beta", "gamma", "delta", "eps")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dec(lo: int, hi: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(lo, hi).map(lambda n: Decimal(n).scaleb(-places))


def optional(s: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), s)


def rarely(s: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly None, so a generated filter with many conditions still matches something."""
    return st.one_of(st.none(), st.none(), st.none(), st.none(), s)


@st.composite
def snapshot(draw, intervals=(1, 4, 8)) -> MarketSnapshot:
    mark = draw(dec(1, 10**7, 3))
    half = draw(optional(dec(1, 500, 3)))
    return MarketSnapshot(
        dex=draw(st.sampled_from(DEXES)), symbol=draw(st.sampled_from(("BTC", "ETH", "PEPE"))), dex_symbol="x",
        funding_rate=draw(dec(-2000, 2000, 6)), funding_interval_hours=Decimal(draw(st.sampled_from(intervals))),
        mark_price=mark, fetched_at_ms=NOW_MS - draw(st.integers(0, 300_000)),
        open_interest_usd=draw(optional(dec(0, 10**8, 0))), volume_24h_usd=draw(optional(dec(0, 10**8, 0))),
        best_bid=None if half is None else mark, best_ask=None if half is None else mark + half)


fee_schedules = st.fixed_dictionaries({d: st.builds(FeeSchedule, dec(-100, 1000, 6), dec(0, 1000, 6))
                                       for d in DEXES})
nonneg_fees = st.fixed_dictionaries({d: st.builds(FeeSchedule, dec(0, 1000, 6), dec(0, 1000, 6)) for d in DEXES})
holds = st.sampled_from([Decimal(1), Decimal(8), Decimal(24), Decimal("7.5")])


@st.composite
def a_filter(draw, sorts: tuple[str, ...] = SORTABLE_FIELDS) -> OpportunityFilter:
    return OpportunityFilter(
        include_dexes=draw(rarely(st.lists(st.sampled_from(DEXES), min_size=2, unique=True).map(tuple))),
        exclude_dexes=draw(rarely(st.lists(st.sampled_from(DEXES), min_size=1, max_size=2, unique=True).map(tuple))),
        symbol=draw(rarely(st.sampled_from(("BTC", "ETH")))),
        long_dex=draw(rarely(st.sampled_from(DEXES[:3]))), short_dex=draw(rarely(st.sampled_from(DEXES[3:]))),
        min_divergence=draw(optional(dec(0, 2000, 7))), min_profit_percent=draw(rarely(dec(-30000, 1000, 7))),
        min_volume_24h=draw(rarely(dec(0, 10**7, 0))), max_volume_24h=draw(rarely(dec(10**7, 10**8, 0))),
        min_oi_usd=draw(rarely(dec(0, 10**7, 0))), max_oi_usd=draw(rarely(dec(10**7, 10**8, 0))),
        oi_ratio_min=draw(rarely(dec(0, 300, 2))), oi_ratio_max=draw(rarely(dec(300, 900, 2))),
        oi_imbalance=draw(rarely(st.sampled_from(("long_heavy", "short_heavy", "balanced")))),
        max_spread_bps=draw(rarely(dec(0, 2000, 1))), limit=draw(st.integers(1, 100)),
        sort_by=draw(st.sampled_from(sorts)), sort_desc=draw(st.booleans()),
        hold_hours=draw(holds), fee_type=draw(st.sampled_from(("maker", "taker"))))


@SETTINGS
@given(st.lists(snapshot(), max_size=25), fee_schedules, holds)
def test_each_pair_once_and_long_is_the_lower_rate(snaps, fees, hold):
    opps = find_opportunities(snaps, fees, now_ms=NOW_MS, hold_hours=hold)
    pairs = [(o.symbol, frozenset((o.long_dex, o.short_dex))) for o in opps]
    assert len(pairs) == len(set(pairs))
    assert all(o.long_dex != o.short_dex and o.long_rate <= o.short_rate for o in opps)
    assert all(o.divergence == o.short_rate - o.long_rate for o in opps)
    per_symbol = {}
    for s in snaps:
        per_symbol.setdefault(s.symbol, set()).add(s.dex)
    assert len(opps) == sum(len(v) * (len(v) - 1) // 2 for v in per_symbol.values())


@SETTINGS
@given(st.lists(snapshot(), max_size=25), nonneg_fees, holds)
def test_net_never_exceeds_gross_when_fees_are_not_rebates(snaps, fees, hold):
    for o in find_opportunities(snaps, fees, now_ms=NOW_MS, hold_hours=hold):
        assert o.net_profit_percent <= o.divergence_1h * hold


@SETTINGS
@given(st.lists(snapshot(), max_size=25), fee_schedules, dec(0, 3000, 7))
def test_nothing_below_min_divergence_survives(snaps, fees, threshold):
    opps = find_opportunities(snaps, fees, now_ms=NOW_MS)
    f = OpportunityFilter(min_divergence=threshold, min_profit_percent=None, min_volume_24h=None, limit=100)
    selected, total = apply_filter(opps, f)
    assert all(o.divergence >= threshold for o in selected)
    assert total == sum(1 for o in opps if o.divergence >= threshold)


@SETTINGS
@given(st.lists(snapshot(), max_size=25), fee_schedules, st.randoms(use_true_random=False))
def test_input_order_does_not_matter(snaps, fees, rnd: random.Random):
    shuffled = list(snaps)
    rnd.shuffle(shuffled)
    assert find_opportunities(shuffled, fees, now_ms=NOW_MS) == find_opportunities(snaps, fees, now_ms=NOW_MS)


@SETTINGS
@given(st.lists(snapshot(intervals=(8,)), max_size=25), fee_schedules)
def test_apy_at_8h_is_spec_formula_exactly(snaps, fees):
    for o in find_opportunities(snaps, fees, now_ms=NOW_MS):
        assert o.annualized_apy == o.net_profit_percent * 365 * 3 * 100


@SETTINGS
@given(st.lists(snapshot(), max_size=25), fee_schedules, a_filter())
def test_filter_total_and_limit(snaps, fees, f):
    opps = find_opportunities(snaps, fees, now_ms=NOW_MS, hold_hours=f.hold_hours, fee_type=f.fee_type)
    selected, total = apply_filter(opps, f)
    assert total >= len(selected) and len(selected) <= f.limit
    assert len(selected) == min(total, f.limit)
    values = [getattr(o, f.sort_by) for o in selected]
    known = [v for v in values if v is not None]
    assert values[: len(known)] == known                      # unknowns only at the end
    assert known == sorted(known, reverse=f.sort_desc)


@SETTINGS
@given(st.lists(dec(-5000, 5000, 7), min_size=1, max_size=40))
def test_describe_orders_and_bounds(rates):
    agg = describe(rates)
    assert agg["min"] <= agg["p25"] <= agg["median"] <= agg["p75"] <= agg["max"]
    assert agg["min"] <= agg["avg"] <= agg["max"]
    assert 0 <= agg["positive_frequency"] <= 1


