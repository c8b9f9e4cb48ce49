"""The fast path behind a filtered query: the engine skips the pairs a filter is sure to drop.

`select_opportunities(snapshots, fees, f, now_ms=...)` returns exactly what
`apply_filter(find_opportunities(...), f)` returns (a property test checks it), but pairs the
filter must drop are skipped before the pair math, rows stream through a top-k buffer instead of
being held, and only the returned ones become `Opportunity` objects (bench/opportunities.py: about
6-8x faster than the full path on 10 venues x 500 symbols).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from operator import attrgetter

from chalicelib.core.filters import OpportunityFilter, predicates, rank
from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity
from chalicelib.core.opportunities import DEFAULT_VALID_FOR_MS, Prune, opportunity_rows, to_opportunity


def prune_for(f: OpportunityFilter) -> Prune:
    """The conditions of `f` the engine can check before the pair math (see opportunities.Prune)."""
    dexes: set[str] | None = None
    if f.include_dexes is not None:
        dexes = set(f.include_dexes)
    if f.long_dex is not None and f.short_dex is not None:
        dexes = {f.long_dex, f.short_dex} & (dexes if dexes is not None else {f.long_dex, f.short_dex})
    if f.exclude_dexes is not None and dexes is not None:
        dexes -= set(f.exclude_dexes)
    exclude = frozenset(f.exclude_dexes or ())
    min_vol = f.min_volume_24h if f.min_volume_24h and f.min_volume_24h > 0 else None
    min_oi, max_oi, max_vol = f.min_oi_usd, f.max_oi_usd, f.max_volume_24h

    def leg(s: MarketSnapshot) -> bool:   # a pair's min (max) passes only if both legs do
        v, oi = s.volume_24h_usd, s.open_interest_usd
        return (s.dex not in exclude
                and (min_vol is None or (v is not None and v >= min_vol))
                and (max_vol is None or (v is not None and v <= max_vol))
                and (min_oi is None or (oi is not None and oi >= min_oi))
                and (max_oi is None or (oi is not None and oi <= max_oi)))

    return Prune(symbols=None if f.symbol is None else frozenset((f.symbol,)),
                 dexes=None if dexes is None else frozenset(dexes), leg=leg,
                 min_divergence=f.min_divergence, min_net=f.min_profit_percent)


def select_opportunities(snapshots: Iterable[MarketSnapshot], fees: Mapping[str, FeeSchedule],
                         f: OpportunityFilter, *, now_ms: int, volume_30d: Mapping[str, Decimal] | None = None,
                         valid_for_ms: int = DEFAULT_VALID_FOR_MS, max_age_ms: int | None = None,
                         ) -> tuple[list[Opportunity], int]:
    """Same result as apply_filter(find_opportunities(...), f), without building what `f` drops.

    Rows stream from the engine; each is tested against `f` and kept only while it can still be
    in the top `f.limit` (a buffer cut back to the limit whenever it grows past 4 x limit).
    """
    rows = opportunity_rows(snapshots, fees, now_ms=now_ms, hold_hours=f.hold_hours, fee_type=f.fee_type,
                            volume_30d=volume_30d, valid_for_ms=valid_for_ms, max_age_ms=max_age_ms,
                            prune=prune_for(f))
    preds = predicates(f)
    get = attrgetter(f.sort_by)
    desc, room = f.sort_desc, 4 * f.limit
    total = 0
    buf: list[tuple] = []
    cut = None
    for row in rows:
        for pred in preds:
            if not pred(row):
                break
        else:
            total += 1
            v = get(row)
            if cut is None or (v is not None and (v >= cut if desc else v <= cut)):
                buf.append(row)
                if len(buf) > room:
                    buf = rank(buf, f)
                    last = get(buf[-1])
                    cut = last if last is not None and len(buf) == f.limit else cut
    return [to_opportunity(r) for r in rank(buf, f)], total
