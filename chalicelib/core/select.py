"""A filtered opportunity query, built only for the rows it returns (REST's path; issue 18).

`select(table, f, ...)` returns exactly what `apply_filter(find_opportunities(...), f)` returns (a
property test checks it) from the same engine (`opportunities.leg_table` + `pair_row`), but:

- every condition of `f` that a single leg decides (dexes, volume, open interest, spread bounds)
  drops legs before any pair is formed; divergence bounds the pair loop (legs are sorted by
  rate_8h); the net after fees is the only per-pair arithmetic before the pair is counted;
- when `f` sorts on the net (`net_profit_percent`, `annualized_apy` = net x a positive factor) and
  has no pair-level condition left (`oi_ratio_*`, `oi_imbalance`), a pair becomes a row only if it
  can still be among the first `f.limit`: a matching pair costs four Decimal operations;
- otherwise each matching pair is built as a row and kept in a top-k buffer; only the returned
  rows become `Opportunity` records.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, getcontext, localcontext
from operator import attrgetter

from chalicelib.core.filters import OpportunityFilter, predicates, rank
from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity
from chalicelib.core.opportunities import (
    DEFAULT_VALID_FOR_MS,
    L_DEX,
    L_FEE2,
    L_OI,
    L_R1,
    L_SNAP,
    L_VOL,
    PERSISTENCE_FIELDS,
    Leg,
    PairMath,
    check_hold,
    leg_table,
    pair_row,
    to_opportunity,
)

NET_SORTS = ("net_profit_percent", "annualized_apy")   # increasing functions of the net alone


def leg_test(f: OpportunityFilter) -> Callable[[Leg], bool] | None:
    """The conditions of `f` one leg decides: a pair matches them iff both of its legs pass.

    (min of two >= X iff both >= X; max of two <= X iff both <= X; an unknown value fails a volume
    or OI bound and passes the spread bound, as core.filters has it.) None when `f` sets none.
    """
    checks: list[Callable[[Leg], bool]] = []
    if f.include_dexes is not None:
        inc = frozenset(f.include_dexes)
        checks.append(lambda g: g[L_DEX] in inc)
    if f.exclude_dexes:
        exc = frozenset(f.exclude_dexes)
        checks.append(lambda g: g[L_DEX] not in exc)
    if f.min_volume_24h is not None and f.min_volume_24h > 0:
        min_vol = f.min_volume_24h
        checks.append(lambda g: (v := g[L_VOL]) is not None and v >= min_vol)
    if f.max_volume_24h is not None:
        max_vol = f.max_volume_24h
        checks.append(lambda g: (v := g[L_VOL]) is not None and v <= max_vol)
    if f.min_oi_usd is not None:
        min_oi = f.min_oi_usd
        checks.append(lambda g: (v := g[L_OI]) is not None and v >= min_oi)
    if f.max_oi_usd is not None:
        max_oi = f.max_oi_usd
        checks.append(lambda g: (v := g[L_OI]) is not None and v <= max_oi)
    if f.max_spread_bps is not None:
        max_sp = f.max_spread_bps
        checks.append(lambda g: (v := g[L_SNAP].spread_bps) is None or v <= max_sp)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda g: all(c(g) for c in checks)


def _pair_level(f: OpportunityFilter) -> OpportunityFilter | None:
    """What is left of `f` after the leg test, the dex names, divergence and net: a filter on rows, or None."""
    if f.oi_ratio_min is None and f.oi_ratio_max is None and f.oi_imbalance is None:
        return None
    return OpportunityFilter(min_divergence=None, min_profit_percent=None, min_volume_24h=None,
                             oi_ratio_min=f.oi_ratio_min, oi_ratio_max=f.oi_ratio_max, oi_imbalance=f.oi_imbalance)


def select(table: dict[str, list[Leg]], f: OpportunityFilter, *, now_ms: int,
           valid_for_ms: int = DEFAULT_VALID_FOR_MS) -> tuple[list[Opportunity], int]:
    """(the first `f.limit` matches in `f`'s order, how many matched) over a leg table built for `f.fee_type`."""
    if f.sort_by in PERSISTENCE_FIELDS or f.min_alive_hours is not None or f.min_avg_divergence_24h is not None \
            or f.max_cv is not None:
        raise ValueError("core.select ranks leg-table rows: persistence fields need the rows attached first "
                         "(api.opps._select builds, attaches, then filters)")
    pm = PairMath(check_hold(f.hold_hours), f.fee_type, now_ms, now_ms + valid_for_ms)
    rows = select_rows(table, f, pm)
    return [to_opportunity(r) for r in rows[0]], rows[1]


def select_rows(table: dict[str, list[Leg]], f: OpportunityFilter, pm: PairMath) -> tuple[list[tuple], int]:
    ok = leg_test(f)
    rest = _pair_level(f)
    row_preds = predicates(rest) if rest is not None else []
    by_net = f.sort_by in NET_SORTS and not row_preds
    desc, limit = f.sort_desc, f.limit
    hold, apy_factor = pm.hold, pm.apy_factor
    min_div, min_net = f.min_divergence, f.min_profit_percent
    want_long, want_short = f.long_dex, f.short_dex
    get = attrgetter(f.sort_by)
    room = 4 * limit
    total = 0
    cut: Decimal | None = None
    cands: list[tuple] = []   # by_net: (net, symbol, long leg, short leg); else rows
    exact = _exact(table, hold, min_net, min_div)
    arrays = _arrays(table, hold, by_net and exact)
    symbols: Iterable[str] = table if f.symbol is None else ((f.symbol,) if f.symbol in table else ())
    for symbol in symbols:
        legs = table[symbol]
        r8s, a, b = arrays[symbol]
        n = len(legs)
        okl = [True] * n if ok is None else [ok(g) for g in legs]
        for i in range(n - 1):
            lg = legs[i]
            if not okl[i] or (want_long is not None and lg[L_DEX] != want_long):
                continue
            if min_div is None:
                first = i + 1
            elif exact:   # l8 + min_div is exact, so bisect's answer is the row's own test
                first = bisect_left(r8s, r8s[i] + min_div, i + 1, n)
            else:
                first = _first_at_least(r8s, i, min_div)
            if a is not None and b is not None:   # net = a[j] - b[i] exactly: a comparison decides (_exact)
                bi = b[i]
                floor = None if min_net is None else bi + min_net
                for j in range(first, n):
                    aj = a[j]
                    if (floor is not None and aj < floor) or not okl[j] or \
                            (want_short is not None and legs[j][L_DEX] != want_short):
                        continue
                    total += 1
                    if cut is None or (aj - bi >= cut if desc else aj - bi <= cut):
                        cands.append((aj - bi, symbol, lg, legs[j]))
                        if len(cands) > room:
                            cands, cut = _cut_back(cands, limit, desc)
                continue
            l1, lf2 = lg[L_R1], lg[L_FEE2]
            for j in range(first, n):
                sg = legs[j]
                if not okl[j] or (want_short is not None and sg[L_DEX] != want_short):
                    continue
                div1h = sg[L_R1] - l1
                est = lf2 + sg[L_FEE2]
                net = div1h * hold - est
                if min_net is not None and net < min_net:
                    continue
                if by_net:
                    total += 1
                    if cut is None or (net >= cut if desc else net <= cut):
                        cands.append((net, symbol, lg, sg))
                        if len(cands) > room:
                            cands, cut = _cut_back(cands, limit, desc)
                    continue
                row = pair_row(symbol, lg, sg, div1h, est, net, pm, apy_factor)
                if row_preds and not all(p(row) for p in row_preds):
                    continue
                total += 1
                v = get(row)
                if cut is None or (v is not None and (v >= cut if desc else v <= cut)):
                    cands.append(row)
                    if len(cands) > room:
                        cands = rank(cands, f)
                        last = get(cands[-1])
                        cut = last if last is not None and len(cands) == limit else cut
    if by_net:   # the few kept become rows through the one row builder, with the engine's own arithmetic
        out = []
        for _, sym, lg, sg in cands:
            div1h = sg[L_R1] - lg[L_R1]
            est = lg[L_FEE2] + sg[L_FEE2]
            out.append(pair_row(sym, lg, sg, div1h, est, div1h * hold - est, pm, apy_factor))
        cands = out
    return rank(cands, f), total


Arrays = dict[str, tuple[list[Decimal], list[Decimal] | None, list[Decimal] | None]]


def _arrays(table: dict[str, list[Leg]], hold: Decimal, split: bool) -> Arrays:
    """symbol -> (rate_8h of each leg, and when `split`: rate_1h x hold - 2 fee, rate_1h x hold + 2 fee),
    kept in the table's memo when it has one (a LegTable), per hold period."""
    memo: dict[object, object] | None = getattr(table, "memo", None)
    key = ("select.arrays", hold, split)
    if memo is not None and key in memo:
        return memo[key]   # type: ignore[return-value]
    out: Arrays = {}
    for symbol, legs in table.items():
        r8s = [g[0] for g in legs]
        if split:
            out[symbol] = (r8s, [g[L_R1] * hold - g[L_FEE2] for g in legs], [g[L_R1] * hold + g[L_FEE2] for g in legs])
        else:
            out[symbol] = (r8s, None, None)
    if memo is not None:
        memo[key] = out
    return out


def _cut_back(cands: list[tuple], limit: int, desc: bool) -> tuple[list[tuple], Decimal]:
    cands.sort(key=_net, reverse=desc)
    cut = cands[limit - 1][0]   # ties with the limit-th stay: the id decides between them
    return [c for c in cands if (c[0] >= cut if desc else c[0] <= cut)], cut


def _first_at_least(r8s: list[Decimal], i: int, min_div: Decimal) -> int:
    """The first j > i with r8s[j] - r8s[i] >= min_div (len if none), decided by the row's own subtraction."""
    l8, n = r8s[i], len(r8s)
    j = bisect_left(r8s, l8 + min_div, i + 1, n)   # a guess in C; the two loops make it exact
    while j > i + 1 and r8s[j - 1] - l8 >= min_div:
        j -= 1
    while j < n and r8s[j] - l8 < min_div:
        j += 1
    return j


def _exact(table: dict[str, list[Leg]], hold: Decimal, min_net: Decimal | None, min_div: Decimal | None) -> bool:
    """Whether every step of the net (s1 - l1, x hold, 2 fees summed, minus), of its split form
    (s1 x hold - fee_s, l1 x hold + fee_l, + min_net) and of the divergence bound (l8 + min_div,
    l8 = 8 x l1) is exact in the decimal context for these legs (memoized in a LegTable).

    Decimal rounds only a result with more significant digits than the precision; a sum's result
    spans at most from the lowest exponent of its terms to one above the highest adjusted
    exponent, a product's from the sum of exponents to the sum of adjusted exponents plus one. When
    the widest such span fits, net = (s1 x hold - fee_s) - (l1 x hold + fee_l) holds exactly, so
    comparing the two sides decides `net >= min_net` exactly as the row's arithmetic would (and a
    comparison with the top-k cut never rounds). One bound for the whole table: an exact sum's
    exponent is the lowest of its terms' (computed unrounded), the largest magnitude gives the top.
    """
    memo: dict[object, object] | None = getattr(table, "memo", None)
    key = ("select.exact", hold, min_net, min_div)
    if memo is not None and key in memo:
        return bool(memo[key])
    exact = _exact_now(table, hold, min_net, min_div)
    if memo is not None:
        memo[key] = exact
    return exact


def _exact_now(table: dict[str, list[Leg]], hold: Decimal, min_net: Decimal | None, min_div: Decimal | None) -> bool:
    rates = [g[L_R1] for legs in table.values() for g in legs]
    fees = [g[L_FEE2] for legs in table.values() for g in legs]
    extra = [hold] + [x for x in (min_net, min_div) if x is not None]
    with localcontext(Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)):   # unrounded sums
        r_sum, f_sum = sum(rates, _ZERO), sum(fees, _ZERO)
    if not all(v.is_finite() for v in (r_sum, f_sum, *extra)):
        return False
    values = rates + fees + extra
    top = max(max(values), -min(values))
    if not top:
        return True
    low = min(_exp(r_sum), _exp(r_sum) + _exp(hold), _exp(f_sum), *(_exp(x) for x in extra[1:]))
    high = top.adjusted() + max(hold.adjusted(), 0) + 5   # a product, then up to three sums
    return high - low + 1 <= getcontext().prec


def _exp(d: Decimal) -> int:
    e = d.as_tuple().exponent
    assert isinstance(e, int)   # finite values only (checked by the caller)
    return e


_ZERO = Decimal(0)


def _net(c: tuple) -> Decimal:
    return c[0]


def select_opportunities(snapshots: Iterable[MarketSnapshot], fees: Mapping[str, FeeSchedule],
                         f: OpportunityFilter, *, now_ms: int, volume_30d: Mapping[str, Decimal] | None = None,
                         valid_for_ms: int = DEFAULT_VALID_FOR_MS, max_age_ms: int | None = None,
                         ) -> tuple[list[Opportunity], int]:
    """Same result as apply_filter(find_opportunities(...), f): the leg table and `select` in one call."""
    table = leg_table(snapshots, fees, now_ms=now_ms, fee_type=f.fee_type, volume_30d=volume_30d,
                      max_age_ms=max_age_ms)
    return select(table, f, now_ms=now_ms, valid_for_ms=valid_for_ms)
