"""A filtered opportunity query, built only for the rows it returns (REST's path; issue 18).

`select(table, f, ...)` returns exactly what `apply_filter(find_opportunities(...), f)` returns (a
property test checks it) from the same engine (`opportunities.leg_table` + `pair_row`), but:

- the table is read as flat columns (every leg symbol after symbol, rate_8h, per-symbol spans),
  kept in the table's memo with what else a pass derives (per-hold net sides, exactness bounds),
  so the first query after a snapshot refresh builds them once and later ones reuse them;
- every condition of `f` that a single leg decides (dexes, volume, open interest, spread bounds)
  is one comprehension over all legs (`leg_mask`); a rejected leg takes part in no pair;
- when `f` sorts on the net (`net_profit_percent`, `annualized_apy` = net x a positive factor),
  has no pair-level condition left (`oi_ratio_*`, `oi_imbalance`) and the arithmetic is exact
  (`_exact`), the net is compared in split form (a[short] >= b[long] + min_net): descending, the
  matches are counted by a sweep with no pair loop and only the symbols that can still place a
  pair among the first `f.limit` are visited pair by pair (`_by_split_net`);
- otherwise each matching pair is built as a row and kept in a top-k buffer (`_by_rows`); only
  the returned rows become `Opportunity` records.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, getcontext, localcontext
from itertools import accumulate, chain, compress, pairwise
from operator import add, and_, attrgetter, itemgetter, sub
from typing import Any, NamedTuple

from chalicelib.core.filters import OpportunityFilter, predicates, rank
from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity
from chalicelib.core.opportunities import (
    DEFAULT_VALID_FOR_MS,
    L_DEX,
    L_OI,
    L_R1,
    L_R8,
    L_SNAP,
    L_VOL,
    PERSISTENCE_FIELDS,
    Leg,
    LegTable,
    PairMath,
    check_hold,
    leg_table,
    pair_row,
    to_opportunity,
)
from chalicelib.core.units import EIGHT

NET_SORTS = ("net_profit_percent", "annualized_apy")   # increasing functions of the net alone
_NO_FLOOR = Decimal("-Infinity")   # below every finite net: no min_net


Mask = Callable[[Sequence[Leg]], list[bool]]


def leg_mask(f: OpportunityFilter) -> Mask | None:
    """The conditions of `f` one leg decides, as a function from legs to which of them pass: a pair
    matches those conditions iff both of its legs pass.

    (min of two >= X iff both >= X; max of two <= X iff both <= X; an unknown value fails a volume
    or OI bound and passes the spread bound, as core.filters has it.) None when `f` sets none. One
    comprehension per condition over all the legs (no call per leg: this runs on every leg of a
    table per query).
    """
    parts: list[Mask] = []
    if f.include_dexes is not None:
        inc = frozenset(f.include_dexes)
        parts.append(lambda legs: [g[L_DEX] in inc for g in legs])
    if f.exclude_dexes:
        exc = frozenset(f.exclude_dexes)
        parts.append(lambda legs: [g[L_DEX] not in exc for g in legs])
    if f.min_volume_24h is not None and f.min_volume_24h > 0:
        min_vol = f.min_volume_24h
        parts.append(lambda legs: [(v := g[L_VOL]) is not None and v >= min_vol for g in legs])
    if f.max_volume_24h is not None:
        max_vol = f.max_volume_24h
        parts.append(lambda legs: [(v := g[L_VOL]) is not None and v <= max_vol for g in legs])
    if f.min_oi_usd is not None:
        min_oi = f.min_oi_usd
        parts.append(lambda legs: [(v := g[L_OI]) is not None and v >= min_oi for g in legs])
    if f.max_oi_usd is not None:
        max_oi = f.max_oi_usd
        parts.append(lambda legs: [(v := g[L_OI]) is not None and v <= max_oi for g in legs])
    if f.max_spread_bps is not None:
        max_sp = f.max_spread_bps
        parts.append(lambda legs: [(v := g[L_SNAP].spread_bps) is None or v <= max_sp for g in legs])
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]

    def every(legs: Sequence[Leg]) -> list[bool]:
        out = parts[0](legs)
        for part in parts[1:]:
            out = list(map(and_, out, part(legs)))
        return out

    return every


def _pair_level(f: OpportunityFilter) -> OpportunityFilter | None:
    """What is left of `f` after the leg test, the dex names, divergence and net: a filter on rows, or None."""
    if f.oi_ratio_min is None and f.oi_ratio_max is None and f.oi_imbalance is None:
        return None
    return OpportunityFilter(min_divergence=None, min_profit_percent=None, min_volume_24h=None,
                             oi_ratio_min=f.oi_ratio_min, oi_ratio_max=f.oi_ratio_max, oi_imbalance=f.oi_imbalance)


def select(table: LegTable, f: OpportunityFilter, *, now_ms: int,
           valid_for_ms: int = DEFAULT_VALID_FOR_MS) -> tuple[list[Opportunity], int]:
    """(the first `f.limit` matches in `f`'s order, how many matched) over a leg table built for `f.fee_type`."""
    if f.sort_by in PERSISTENCE_FIELDS or f.min_alive_hours is not None or f.min_avg_divergence_24h is not None \
            or f.max_cv is not None:
        raise ValueError("core.select ranks leg-table rows: persistence fields need the rows attached first "
                         "(api.opps._select builds, attaches, then filters)")
    pm = PairMath(check_hold(f.hold_hours), f.fee_type, now_ms, now_ms + valid_for_ms)
    rows = select_rows(table, f, pm)
    return [to_opportunity(r) for r in rows[0]], rows[1]


def select_rows(table: LegTable, f: OpportunityFilter, pm: PairMath) -> tuple[list[tuple], int]:
    """(the first `f.limit` matching rows in `f`'s order, how many matched) over a leg table."""
    cols = _columns(table)
    legs, spans, r8, f2 = cols.legs, cols.spans, cols.r8, cols.f2
    hold, min_div, min_net = pm.hold, f.min_divergence, f.min_profit_percent
    exact = _exact(table, hold, min_net, min_div)
    rest = _pair_level(f)
    row_preds = predicates(rest) if rest is not None else []
    by_net = f.sort_by in NET_SORTS and not row_preds
    split = by_net and exact and f.long_dex is None and f.short_dex is None
    mask_of = leg_mask(f)
    mask = None if mask_of is None else mask_of(legs)   # a leg it rejects takes no part in any pair
    if f.symbol is not None:
        spans = {f.symbol: spans[f.symbol]} if f.symbol in spans else {}
    if split:
        a, b = _split(table, cols, hold)
        return _by_split_net(legs, spans, r8, f2, a, b, [True] * len(legs) if mask is None else mask, f, pm)
    if mask is not None and not all(mask):   # drop the rejected legs from every column
        legs, r8, f2 = list(compress(legs, mask)), list(compress(r8, mask)), list(compress(f2, mask))
        ends = [0, *accumulate(mask)]
        spans = {symbol: (ends[lo], ends[hi]) for symbol, (lo, hi) in spans.items()}
    return _by_rows(legs, spans, r8, f2, f, pm, exact, by_net, row_preds)


def _by_split_net(legs: list[Leg], spans: dict[str, tuple[int, int]], r8: list[Decimal], f2: list[Decimal],
                  a: list[Decimal], b: list[Decimal], ok: list[bool], f: OpportunityFilter, pm: PairMath,
                  ) -> tuple[list[tuple], int]:
    """select_rows when the net decides both the match and the order and is exact in split form:
    net = a[short] - b[long] (_split), so `net >= min_net` is `a[short] >= b[long] + min_net`, one
    Decimal comparison, and a pair is remembered only if it can still be among the first `f.limit`;
    only the kept few become rows. `ok[k]`: leg k passes the leg test.

    Sorted by the net, descending (the default), the count needs no pair loop: a sweep over the long
    legs from the highest rate_8h down grows the window of their possible short legs (those at
    least min_divergence above, legs being sorted by rate_8h; the window only grows as the long leg
    falls) and keeps the window's `a` values sorted, so each long leg's matches are counted by one
    bisection. The top `limit` then come from visiting symbols pair by pair in the order of their
    best possible net (the largest `a` of a short leg minus the smallest `b` of a long one), until
    that bound falls below the limit-th net found: no symbol after it can place a pair.
    """
    desc, limit = f.sort_desc, f.limit
    # no min_divergence is min_divergence 0 here: legs are sorted, so the first leg after i is at least as high
    min_div = _ZERO if f.min_divergence is None else f.min_divergence
    # net >= min_net <=> a >= floor = b + min_net (the default min_net 0 needs no addition; None: every pair)
    min_net = f.min_profit_percent
    floors = [_NO_FLOOR] * len(b) if min_net is None else b if not min_net else [x + min_net for x in b]
    total = 0
    order: Iterable[tuple[Decimal | None, str]]
    if desc:
        bounds: list[tuple[Decimal, str]] = []
        for symbol, (lo, hi) in spans.items():
            win: list[Decimal] = []   # `a` of the legs top..hi-1 that pass the leg test, sorted
            top = hi
            low_b = None   # the smallest b of a long leg that passes the leg test
            for i in range(hi - 2, lo - 1, -1):
                # the window moves down to the first leg at least min_div above leg i (l8 + min_div is
                # exact (_exact), so this comparison is the row's own divergence test)
                low = r8[i] + min_div
                while top > i + 1 and r8[top - 1] >= low:
                    top -= 1
                    if ok[top]:
                        insort(win, a[top])
                if ok[i]:
                    total += len(win) - bisect_left(win, floors[i])
                    if low_b is None or b[i] < low_b:
                        low_b = b[i]
            if win and low_b is not None:
                bounds.append((win[-1] - low_b, symbol))
        bounds.sort(key=_net, reverse=True)
        order = bounds
    else:   # ascending: every matching pair is visited (counted and, if it can place, kept)
        order = ((None, symbol) for symbol in spans)
    cut: Decimal | None = None
    cands: list[tuple[Decimal, str, int, int]] = []   # (net, symbol, long index, short index)
    for bound, symbol in order:
        if desc and cut is not None and bound < cut:   # type: ignore[operator]
            break
        lo, hi = spans[symbol]
        for i in range(lo, hi - 1):
            if not ok[i]:
                continue
            first = bisect_left(r8, r8[i] + min_div, i + 1, hi)
            bi, floor = b[i], floors[i]
            for j in range(first, hi):
                aj = a[j]
                if aj >= floor and ok[j]:
                    net = aj - bi
                    if desc:
                        if cut is None or net >= cut:
                            cands.append((net, symbol, i, j))
                        continue
                    total += 1
                    if cut is None or net <= cut:
                        cands.append((net, symbol, i, j))
                        if len(cands) > 4 * limit:
                            cands, cut = _cut_back(cands, limit, desc)
        if desc and len(cands) >= limit:
            cands, cut = _cut_back(cands, limit, desc)
    # the few kept become rows through the one row builder, with the engine's own arithmetic
    return rank([_row(symbol, legs[i], legs[j], f2[i] + f2[j], pm) for _, symbol, i, j in cands], f), total


def _by_rows(legs: list[Leg], spans: dict[str, tuple[int, int]], r8: list[Decimal], f2: list[Decimal],
             f: OpportunityFilter, pm: PairMath, exact: bool, by_net: bool, row_preds: list[Callable[[Any], bool]],
             ) -> tuple[list[tuple], int]:
    """select_rows in general: the pair arithmetic per pair; a row built for each match unless the
    net alone orders them (`by_net`: then only the pairs that can still be among the first `f.limit`)."""
    desc, limit, min_div, min_net = f.sort_desc, f.limit, f.min_divergence, f.min_profit_percent
    hold, apy_factor = pm.hold, pm.apy_factor
    want_long, want_short = f.long_dex, f.short_dex
    get = attrgetter(f.sort_by)
    room = 4 * limit
    total = 0
    cut: Decimal | None = None
    cands: list[Any] = []   # by_net: (net, symbol, long leg, short leg); else rows
    for symbol, (lo, hi) in spans.items():
        for i in range(lo, hi - 1):
            lg = legs[i]
            if want_long is not None and lg[L_DEX] != want_long:
                continue
            if min_div is None:
                first = i + 1
            elif exact:   # l8 + min_div is exact, so bisect's answer is the row's own test
                first = bisect_left(r8, r8[i] + min_div, i + 1, hi)
            else:
                first = _first_at_least(r8, i, hi, min_div)
            l1, lf2 = lg[L_R1], f2[i]
            for j in range(first, hi):
                sg = legs[j]
                if want_short is not None and sg[L_DEX] != want_short:
                    continue
                div1h = sg[L_R1] - l1
                est = lf2 + f2[j]
                net = div1h * hold - est
                if min_net is not None and net < min_net:
                    continue
                if by_net:
                    total += 1
                    if cut is None or (net >= cut if desc else net <= cut):
                        cands.append((net, symbol, lg, sg, est))
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
    if by_net:
        cands = [_row(symbol, lg, sg, est, pm) for _, symbol, lg, sg, est in cands]
    return rank(cands, f), total


def _row(symbol: str, lg: Leg, sg: Leg, est: Decimal, pm: PairMath) -> tuple:
    """The row of a kept pair (`est`: its two legs' 2 x fee summed), with the pair loop's own arithmetic
    (opportunities.pair_rows)."""
    div1h = sg[L_R1] - lg[L_R1]
    return pair_row(symbol, lg, sg, div1h, est, div1h * pm.hold - est, pm, pm.apy_factor)


class Columns(NamedTuple):
    """A leg table flattened for a pass (kept in its memo): every leg, symbol after symbol, per
    symbol the [lo, hi) range of its legs (still sorted by rate_8h), their rate_8h and 2 x fee."""

    legs: list[Leg]
    spans: dict[str, tuple[int, int]]
    r8: list[Decimal]
    f2: list[Decimal]


def _columns(table: LegTable) -> Columns:
    memo = table.memo
    if "select.columns" in memo:
        return memo["select.columns"]   # type: ignore[return-value]
    legs = list(chain.from_iterable(table.values()))
    ends = list(accumulate(map(len, table.values())))
    spans = dict(zip(table, pairwise([0, *ends]), strict=True))
    cols = Columns(legs, spans, list(map(_R8, legs)), list(map(table.fee2.__getitem__, map(_DEX, legs))))
    memo["select.columns"] = cols
    return cols


_R8, _R1, _DEX = itemgetter(L_R8), itemgetter(L_R1), itemgetter(L_DEX)


def _split(table: LegTable, cols: Columns, hold: Decimal) -> tuple[list[Decimal], list[Decimal]]:
    """Per leg, rate_1h x hold - 2 fee and rate_1h x hold + 2 fee (the two sides of net = a[short] - b[long]),
    kept in the table's memo per hold period. Only used where _exact holds: then rate_1h x 8 is the
    leg's own rate_8h, so a hold of 8 h reuses that column."""
    memo = table.memo
    key = ("select.split", hold)
    if key in memo:
        return memo[key]   # type: ignore[return-value]
    r1h = cols.r8 if hold == EIGHT else list(map(hold.__mul__, map(_R1, cols.legs)))
    out = list(map(sub, r1h, cols.f2)), list(map(add, r1h, cols.f2))
    memo[key] = out
    return out


def _cut_back(cands: list[Any], limit: int, desc: bool) -> tuple[list[Any], Decimal]:
    cands.sort(key=_net, reverse=desc)
    cut = cands[limit - 1][0]   # ties with the limit-th stay: the id decides between them
    return [c for c in cands if (c[0] >= cut if desc else c[0] <= cut)], cut


def _first_at_least(r8s: list[Decimal], i: int, hi: int, min_div: Decimal) -> int:
    """The first j in (i, hi) with r8s[j] - r8s[i] >= min_div (hi if none), decided by the row's own subtraction."""
    l8 = r8s[i]
    j = bisect_left(r8s, l8 + min_div, i + 1, hi)   # a guess in C; the two loops make it exact
    while j > i + 1 and r8s[j - 1] - l8 >= min_div:
        j -= 1
    while j < hi and r8s[j] - l8 < min_div:
        j += 1
    return j


def _exact(table: LegTable, hold: Decimal, min_net: Decimal | None, min_div: Decimal | None) -> bool:
    """Whether every step of the net (s1 - l1, x hold, 2 fees summed, minus), of its split form
    (s1 x hold - fee_s, l1 x hold + fee_l, + min_net) and of the divergence bound (l8 + min_div,
    l8 = 8 x l1) is exact in the decimal context for these legs.

    Decimal rounds only a result with more significant digits than the precision; a sum's result
    spans at most from the lowest exponent of its terms to one above the highest adjusted
    exponent, a product's from the sum of exponents to the sum of adjusted exponents plus one. When
    the widest such span fits, net = (s1 x hold - fee_s) - (l1 x hold + fee_l) holds exactly, so
    comparing the two sides decides `net >= min_net` exactly as the row's arithmetic would (and a
    comparison with the top-k cut never rounds). One bound for the whole table: an exact sum's
    exponent is the lowest of its terms' (computed unrounded), the largest magnitude gives the top
    (what depends on the legs alone is kept in a LegTable's memo).
    """
    stats = _leg_stats(table)
    if stats is None:
        return False
    r_exp, f_exp, top = stats
    extra = [hold] + [x for x in (min_net, min_div) if x is not None]
    if not all(v.is_finite() for v in extra):
        return False
    top = max(top, max(extra), -min(extra))
    if not top:
        return True
    low = min(r_exp, r_exp + _exp(hold), f_exp, *(_exp(x) for x in extra[1:]))
    high = top.adjusted() + max(hold.adjusted(), 0) + 5   # a product, then up to three sums
    return high - low + 1 <= getcontext().prec


def _leg_stats(table: LegTable) -> tuple[int, int, Decimal] | None:
    """(lowest exponent of the legs' rate_1h, of their 2 x fee, a bound on the magnitude of either);
    None if one is not finite. Memoized in a LegTable.

    The magnitude bound is the largest |rate_8h| (at the ends of each symbol's sorted legs; |rate_1h|
    <= |rate_1h x 8| however that rounds) and |2 x fee| over the venues the table was built with
    (every leg's fee is one of them); a bound above the true largest only makes _exact say no sooner.
    """
    memo = table.memo
    if "select.stats" in memo:
        return memo["select.stats"]   # type: ignore[return-value]
    cols = _columns(table)
    fees = list(table.fee2.values())
    r8 = cols.r8
    ends = [r8[lo] for lo, _ in cols.spans.values()] + [r8[hi - 1] for _, hi in cols.spans.values()]
    stats: tuple[int, int, Decimal] | None = None
    with localcontext(Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)):   # unrounded sums
        r_sum, f_sum = sum(map(_R1, cols.legs), _ZERO), sum(fees, _ZERO)
    if r_sum.is_finite() and f_sum.is_finite():
        top = max(max(ends, default=_ZERO), -min(ends, default=_ZERO), max(fees, default=_ZERO),
                  -min(fees, default=_ZERO))
        stats = (_exp(r_sum), _exp(f_sum), top)
    memo["select.stats"] = stats
    return stats


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
