"""Opportunity filters and ranking (SPEC `OpportunityFilter`), and query-string validation.

Semantics where SPEC.md is loose (each documented on its field below):
- include_dexes: BOTH legs in the set; exclude_dexes: NEITHER leg in the set.
- min_volume_24h on the thinner leg (`min_volume_24h`), max_volume_24h on the thicker leg; an
  unknown volume fails a volume bound (a minimum of 0 or less is no bound).
- min_oi_usd on the smaller leg (`min_oi_usd >= X`: both legs at least X); max_oi_usd on the larger
  leg (`max_oi_usd <= X`: both legs at most X, SPEC Q4 "both DEXs have < $X OI"). Unknown OI fails.
- max_spread_bps on the wider KNOWN leg; an unknown bid/ask spread passes (most venues give none).
- Sort: None values last in either direction; ties by id ascending; `limit` after the sort.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar

from chalicelib.core.models import Opportunity

T = TypeVar("T")

SORTABLE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Opportunity) if str(f.type).split(" ")[0] in ("Decimal", "int", "float"))
OI_IMBALANCES = ("long_heavy", "short_heavy", "balanced")
MAX_LIMIT = 100


class FilterError(ValueError):
    """A bad filter value; `parameter` is the query-string name the client sent."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter = parameter
        self.detail = detail


@dataclass(frozen=True, slots=True)
class OpportunityFilter:
    symbol: str | None = None
    long_dex: str | None = None
    short_dex: str | None = None
    include_dexes: tuple[str, ...] | None = None    # both legs must be in it
    exclude_dexes: tuple[str, ...] | None = None    # neither leg may be in it
    min_divergence: Decimal | None = Decimal("0.0001")
    min_profit_percent: Decimal | None = Decimal(0)  # a fraction, like net_profit_percent
    min_volume_24h: Decimal | None = Decimal(100000)
    max_volume_24h: Decimal | None = None
    min_oi_usd: Decimal | None = None
    max_oi_usd: Decimal | None = None
    oi_ratio_min: Decimal | None = None
    oi_ratio_max: Decimal | None = None
    oi_imbalance: str | None = None                 # SPEC Q4: long_heavy | short_heavy | balanced
    max_spread_bps: Decimal | None = None
    # persistence (core/persistence.py); an unknown value (no lifecycle / no history yet) fails these bounds
    min_alive_hours: Decimal | None = None          # alive_hours at least this (hours)
    min_avg_divergence_24h: Decimal | None = None   # avg_divergence_24h at least this (fraction per 8 h)
    max_cv: Decimal | None = None                   # cv_24h at most this (unitless)
    limit: int = 10
    sort_by: str = "net_profit_percent"
    sort_desc: bool = True
    hold_hours: Decimal = Decimal(8)                # pass-through to find_opportunities
    fee_type: str = "maker"                         # pass-through to find_opportunities

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise FilterError("limit", f"must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if self.sort_by not in SORTABLE_FIELDS:
            raise FilterError("sort_by", f"unknown field {self.sort_by!r}; one of {', '.join(SORTABLE_FIELDS)}")
        if self.oi_imbalance is not None and self.oi_imbalance not in OI_IMBALANCES:
            raise FilterError("oi_imbalance", f"must be one of {', '.join(OI_IMBALANCES)}")
        if self.fee_type not in ("maker", "taker"):
            raise FilterError("fee_type", "must be maker or taker")
        for low, high in (("oi_ratio_min", "oi_ratio_max"), ("min_oi_usd", "max_oi_usd"),
                          ("min_volume_24h", "max_volume_24h")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise FilterError(low, f"{lo} is greater than {high} {hi}")
        if self.long_dex is not None and self.long_dex == self.short_dex:
            raise FilterError("short_dex", "must differ from long_dex")


def _equals(name: str, want: object) -> Callable[[Any], bool]:
    get = attrgetter(name)
    return lambda o: get(o) == want


def _at_least(name: str, low: Decimal) -> Callable[[Any], bool]:   # an unknown value fails a bound
    get = attrgetter(name)
    return lambda o: (v := get(o)) is not None and v >= low


def _at_most(name: str, high: Decimal) -> Callable[[Any], bool]:
    get = attrgetter(name)
    return lambda o: (v := get(o)) is not None and v <= high


def predicates(f: OpportunityFilter) -> list[Callable[[Any], bool]]:
    """Only the active conditions (the default filter costs three comparisons per opportunity).

    Work on an Opportunity and on an engine row alike: both expose the same attribute names.
    """
    p: list[Callable[[Any], bool]] = []
    for name, want in (("symbol", f.symbol), ("long_dex", f.long_dex), ("short_dex", f.short_dex),
                       ("oi_imbalance", f.oi_imbalance)):
        if want is not None:
            p.append(_equals(name, want))
    if f.include_dexes is not None:
        inc = frozenset(f.include_dexes)
        p.append(lambda o: o.long_dex in inc and o.short_dex in inc)
    if f.exclude_dexes is not None:
        exc = frozenset(f.exclude_dexes)
        p.append(lambda o: o.long_dex not in exc and o.short_dex not in exc)
    lows = (("divergence", f.min_divergence), ("net_profit_percent", f.min_profit_percent),
            ("min_volume_24h", f.min_volume_24h if f.min_volume_24h and f.min_volume_24h > 0 else None),
            ("min_oi_usd", f.min_oi_usd), ("oi_ratio", f.oi_ratio_min), ("alive_hours", f.min_alive_hours),
            ("avg_divergence_24h", f.min_avg_divergence_24h))
    for name, low in lows:
        if low is not None:
            p.append(_at_least(name, low))
    for name, high in (("max_oi_usd", f.max_oi_usd), ("oi_ratio", f.oi_ratio_max), ("cv_24h", f.max_cv)):
        if high is not None:
            p.append(_at_most(name, high))
    if f.max_volume_24h is not None:
        hv = f.max_volume_24h
        p.append(lambda o: o.long_volume_24h is not None and o.short_volume_24h is not None
                 and o.long_volume_24h <= hv and o.short_volume_24h <= hv)
    if f.max_spread_bps is not None:   # an unknown spread passes: most venues publish no book here
        hs = f.max_spread_bps
        p.append(lambda o: (o.long_spread_bps is None or o.long_spread_bps <= hs)
                 and (o.short_spread_bps is None or o.short_spread_bps <= hs))
    return p


def matches(o: Any, f: OpportunityFilter) -> bool:
    return all(pred(o) for pred in predicates(f))


def apply_filter(opps: Iterable[T], f: OpportunityFilter) -> tuple[list[T], int]:
    """(the first `limit` matches in sort order, how many matched before the limit)."""
    kept = opps if isinstance(opps, list) else list(opps)
    for pred in predicates(f):   # one pass per active condition: cheaper than all() per item
        kept = [o for o in kept if pred(o)]
    return rank(kept, f), len(kept)


def rank(items: list[T], f: OpportunityFilter) -> list[T]:
    """The first `f.limit` of `items` sorted on `f.sort_by`: None last either way, ties by id ascending."""
    get = attrgetter(f.sort_by)
    present = [o for o in items if get(o) is not None]
    top: list[T] = []
    if present:   # the limit-th best value bounds the candidates; sorting only those is cheap
        cut = (heapq.nlargest if f.sort_desc else heapq.nsmallest)(f.limit, map(get, present))[-1]
        cand = [o for o in present if (get(o) >= cut if f.sort_desc else get(o) <= cut)]
        cand.sort(key=attrgetter("id"))
        cand.sort(key=get, reverse=f.sort_desc)   # stable: equal values stay in id order
        top = cand[: f.limit]
    if len(top) < f.limit:
        missing = sorted((o for o in items if get(o) is None), key=attrgetter("id"))
        top.extend(missing[: f.limit - len(top)])
    return top


def best(opps: Iterable[T], f: OpportunityFilter) -> tuple[T | None, int | None, int]:
    """SPEC /opportunities/best: (the top opportunity or None, rank 1 or None, total matching)."""
    top, total = apply_filter(opps, _with_limit(f, 1))
    return (top[0], 1, total) if top else (None, None, total)


def _with_limit(f: OpportunityFilter, limit: int) -> OpportunityFilter:
    return replace(f, limit=limit)


def filters_applied(f: OpportunityFilter) -> dict[str, object]:
    """SPEC `filters_applied`: the non-None fields under their model names."""
    return {x.name: getattr(f, x.name) for x in fields(f) if getattr(f, x.name) is not None}

