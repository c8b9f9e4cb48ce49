"""core.select returns what the full path (find_opportunities + apply_filter) returns, for any filter.

The full path is the specification (its numbers are pinned by hand in test_opportunities.py and
test_filters.py); here generated venues, fees and filters check that skipping work never changes
the answer: the rows, their order and the total.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.filters import SORTABLE_FIELDS, OpportunityFilter, apply_filter
from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.core.opportunities import PERSISTENCE_FIELDS, find_opportunities, leg_table
from chalicelib.core.select import _exact, leg_mask, select, select_opportunities
from tests.unit.core.helpers import NOW_MS
from tests.unit.core.test_properties import SETTINGS, a_filter, fee_schedules, snapshot

# the leg table has no persistence fields (api.opps attaches them to the rows a query returns)
ROW_SORTS = tuple(s for s in SORTABLE_FIELDS if s not in PERSISTENCE_FIELDS)

# fewer examples than the shared 150: each one runs the full path as the oracle (a loaded box took minutes)
SETTINGS = settings(SETTINGS, max_examples=60)


def full(snaps, fees, f, max_age=None):
    return apply_filter(find_opportunities(snaps, fees, now_ms=NOW_MS, hold_hours=f.hold_hours, fee_type=f.fee_type,
                                           max_age_ms=max_age), f)


@SETTINGS
@given(st.lists(snapshot(), min_size=4, max_size=30), fee_schedules, a_filter(ROW_SORTS), st.integers(0, 3))
def test_select_returns_what_the_full_path_returns(snaps, fees, f, max_age_choice):
    max_age = (None, 60_000, 150_000, 400_000)[max_age_choice]
    assert select_opportunities(snaps, fees, f, now_ms=NOW_MS, max_age_ms=max_age) == full(snaps, fees, f, max_age)
    small = replace(f, limit=1)   # exercises the top-k buffer cut-back hardest
    assert select_opportunities(snaps, fees, small, now_ms=NOW_MS, max_age_ms=max_age) == \
        full(snaps, fees, small, max_age)


@SETTINGS
@given(st.lists(snapshot(), min_size=8, max_size=40), fee_schedules, st.sampled_from(ROW_SORTS),
       st.booleans(), st.integers(1, 5))
def test_top_k_buffer_with_many_matches(snaps, fees, sort_by, desc, limit):
    f = OpportunityFilter(min_divergence=None, min_profit_percent=None, min_volume_24h=None, sort_by=sort_by,
                          sort_desc=desc, limit=limit)
    assert select_opportunities(snaps, fees, f, now_ms=NOW_MS) == full(snaps, fees, f)


@SETTINGS
@given(st.lists(snapshot(), min_size=4, max_size=30), fee_schedules, a_filter(ROW_SORTS))
def test_one_table_serves_every_hold_period(snaps, fees, f):
    table = leg_table(snaps, fees, now_ms=NOW_MS, fee_type=f.fee_type)
    for hold in (Decimal(1), Decimal("7.5"), Decimal(24)):
        g = replace(f, hold_hours=hold)
        assert select(table, g, now_ms=NOW_MS) == full(snaps, fees, g)


@SETTINGS
@given(st.lists(snapshot(intervals=(1, 3, 7, 8)), min_size=4, max_size=30), fee_schedules, a_filter(ROW_SORTS))
def test_select_when_rates_do_not_terminate(snaps, fees, f):
    # a 3 h or 7 h rate per hour (funding_rate / 3) has 28 significant digits: the comparison shortcut
    # is off (_exact is False) and the pair arithmetic decides, with the same answer
    assert select_opportunities(snaps, fees, f, now_ms=NOW_MS) == full(snaps, fees, f)


def test_exactness_bound():
    def table(interval):
        return leg_table([MarketSnapshot(dex=d, symbol="BTC", dex_symbol="BTC", funding_rate=Decimal(r),
                                         funding_interval_hours=Decimal(interval), mark_price=Decimal(100),
                                         fetched_at_ms=NOW_MS) for d, r in (("a", "0.0001"), ("b", "0.0004"))],
                         {"a": FeeSchedule(Decimal("0.0002"), Decimal("0.0005"))} | {"b": FeeSchedule(Decimal(0), Decimal(0))},
                         now_ms=NOW_MS)
    # 0.0001 / 8 = 0.0000125: a handful of digits, every step exact at 28 digits
    assert _exact(table(8), Decimal(8), Decimal(0), Decimal("0.0001"))
    # 0.0001 / 3 = 0.00003333... (28 digits): x 8 h and minus a fee would round
    assert not _exact(table(3), Decimal(8), Decimal(0), Decimal("0.0001"))


def test_leg_mask_decides_the_bounds_one_leg_at_a_time():
    snap = MarketSnapshot(dex="a", symbol="BTC", dex_symbol="BTC", funding_rate=Decimal("0.0001"),
                          funding_interval_hours=Decimal(8), mark_price=Decimal(100), fetched_at_ms=NOW_MS,
                          volume_24h_usd=Decimal(200_000), best_bid=Decimal("99.94"), best_ask=Decimal("100.06"))
    # spread = (100.06 - 99.94) / 100 x 10,000 = 12 bps; OI unknown
    # (rate_8h, dex, rate_1h, volume, OI, snapshot)
    leg = (Decimal("0.0001"), "a", Decimal("0.0000125"), Decimal(200_000), None, snap)

    def passes(f):
        mask = leg_mask(f)
        return mask([leg])[0]

    assert leg_mask(OpportunityFilter(min_volume_24h=None)) is None             # nothing a leg decides
    assert passes(OpportunityFilter())                                          # volume 200,000 >= 100,000
    assert not passes(OpportunityFilter(min_volume_24h=Decimal(200_001)))
    assert not passes(OpportunityFilter(min_oi_usd=Decimal(0)))                 # unknown OI fails an OI bound
    assert passes(OpportunityFilter(max_spread_bps=Decimal(12)))                # 12 <= 12
    assert not passes(OpportunityFilter(max_spread_bps=Decimal("11.9")))
    assert not passes(OpportunityFilter(exclude_dexes=("a",)))
    assert not passes(OpportunityFilter(include_dexes=("b", "c")))
    # several conditions: a leg passes only if it passes each; one mask over many legs, in their order
    quiet = (leg[0], "b", leg[2], Decimal(50_000), *leg[4:])   # 50,000 USD
    other = (leg[0], "c", leg[2], None, *leg[4:])              # volume unknown
    both = leg_mask(OpportunityFilter(min_volume_24h=Decimal(40_000), exclude_dexes=("a",)))
    assert both([leg, quiet, other]) == [False, True, False]   # a excluded; 50,000 >= 40,000; unknown fails
