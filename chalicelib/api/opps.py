"""Queries behind /opportunities*: computed from the latest snapshots and the CURRENT fees.

Always computed here (not read from the analysis' Redis list) so any hold_hours/fee_type is
exact and a fee update shows on the very next request. Cost stays off the hot path: the full
list per (hold_hours, fee_type) and each rendered response are memory-tier entries derived from
the snapshot entry (so they refresh with it, at most every min(5 s, CACHE_TTL_SECONDS)).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from chalicelib.api import data
from chalicelib.api.cache import CACHE, Cached
from chalicelib.api.errors import bad_parameter
from chalicelib.api.params import CompareQuery, OpportunityQuery
from chalicelib.api.rates import with_meta
from chalicelib.core.models import Opportunity
from chalicelib.core.serialize import dumps, iso_ms

PREFIX = "opportunities"
_DROP = {"discovered_at_ms", "valid_until_ms", "metadata", "long_mark_price", "short_mark_price"}


def computed(parent: Cached, hold_hours: Decimal, fee_type: str) -> Cached:
    """Every pair of every symbol (unfiltered) of the snapshot entry `parent`, for this hold period and fee type."""
    from chalicelib.core.opportunities import find_opportunities

    fees = data.fee_schedules()

    def build() -> tuple[tuple[list[Opportunity], int], int]:
        now_ms = int(time.time() * 1000)
        opps = find_opportunities(list(parent.value.snapshots), fees, now_ms=now_ms, hold_hours=hold_hours,
                                  fee_type=fee_type)
        return (list(opps), now_ms), 1500 * len(opps)

    return CACHE.derived(f"{PREFIX}:computed:{hold_hours}:{fee_type}", parent, build, data.ttl())


def public(o: Opportunity) -> dict[str, Any]:
    out = {name: getattr(o, name) for name in o.__dataclass_fields__ if name not in _DROP}
    out["discovered_at"] = iso_ms(o.discovered_at_ms)
    out["valid_until"] = iso_ms(o.valid_until_ms)
    return out


def _keep(o: Opportunity, q: OpportunityQuery) -> bool:
    legs = (o.long_dex, o.short_dex)
    vols = [v for v in (o.long_volume_24h, o.short_volume_24h)]
    checks = (
        q.symbol is None or o.symbol == q.symbol,
        q.long_dex is None or o.long_dex == q.long_dex,
        q.short_dex is None or o.short_dex == q.short_dex,
        q.include_dexes is None or all(d in q.include_dexes for d in legs),
        q.exclude_dexes is None or not any(d in q.exclude_dexes for d in legs),
        o.divergence >= q.min_divergence,
        o.net_profit_percent >= q.min_profit,
        q.min_volume <= 0 or (o.min_volume_24h is not None and o.min_volume_24h >= q.min_volume),
        q.max_volume is None or (None not in vols and max(vols) <= q.max_volume),  # type: ignore[type-var]
        q.min_oi_usd is None or (o.min_oi_usd is not None and o.min_oi_usd >= q.min_oi_usd),
        q.max_oi_usd is None or (o.max_oi_usd is not None and o.max_oi_usd <= q.max_oi_usd),
        q.oi_ratio_min is None or (o.oi_ratio is not None and o.oi_ratio >= q.oi_ratio_min),
        q.oi_ratio_max is None or (o.oi_ratio is not None and o.oi_ratio <= q.oi_ratio_max),
        q.oi_imbalance is None or o.oi_imbalance == q.oi_imbalance,
        q.max_spread_bps is None or (o.avg_spread_bps is not None and o.avg_spread_bps <= q.max_spread_bps),
    )
    return all(checks)


def select(opps: list[Opportunity], q: OpportunityQuery) -> tuple[list[Opportunity], int]:
    kept = [o for o in opps if _keep(o, q)]
    present = [o for o in kept if getattr(o, q.sort_by) is not None]
    present.sort(key=lambda o: (getattr(o, q.sort_by), o.id), reverse=q.sort_desc)
    ordered = present + [o for o in kept if getattr(o, q.sort_by) is None]   # unknowns last
    return ordered[: q.limit], len(kept)


def filters_applied(q: OpportunityQuery) -> dict[str, Any]:
    names = {"min_profit": "min_profit_percent", "min_volume": "min_volume_24h", "max_volume": "max_volume_24h"}
    return {names.get(k, k): v for k, v in q.model_dump().items() if v is not None}


def _validate(q: OpportunityQuery) -> Cached:
    """Check names, then return the snapshot entry this request works on."""
    snaps = data.snapshots()
    data.require_symbol(q.symbol, index=snaps.value)
    data.require_dex(q.long_dex, "long_dex")
    data.require_dex(q.short_dex, "short_dex")
    data.require_dexes(q.include_dexes, "include_dexes")
    data.require_dexes(q.exclude_dexes, "exclude_dexes")
    return snaps


def _key(q: OpportunityQuery, kind: str) -> str:
    return f"{PREFIX}:{kind}:" + "&".join(f"{k}={v}" for k, v in sorted(q.model_dump().items()))


def opportunities(q: OpportunityQuery) -> str:
    parent = computed(_validate(q), q.hold_hours, q.fee_type)

    def build() -> tuple[str, int]:
        opps, generated_ms = parent.value
        chosen, total = select(opps, q)
        text = dumps({"opportunities": [public(o) for o in chosen], "total_count": total,
                      "filters_applied": filters_applied(q), "generated_at": iso_ms(generated_ms)})
        return text, len(text)

    return with_meta(CACHE.derived(_key(q, "list"), parent, build, data.ttl()))


def best(q: OpportunityQuery) -> str:
    parent = computed(_validate(q), q.hold_hours, q.fee_type)

    def build() -> tuple[str, int]:
        opps, generated_ms = parent.value
        chosen, total = select(opps, q.model_copy(update={"limit": 1}))
        text = dumps({"opportunity": public(chosen[0]) if chosen else None, "rank": 1 if chosen else None,
                      "total_opportunities": total, "generated_at": iso_ms(generated_ms)})
        return text, len(text)

    return with_meta(CACHE.derived(_key(q, "best"), parent, build, data.ttl()))


def compare(q: CompareQuery) -> str:
    if q.dex1 == q.dex2:
        raise bad_parameter("dex2", "dex2 must differ from dex1")
    data.require_dex(q.dex1, "dex1")
    data.require_dex(q.dex2, "dex2")
    snaps = data.snapshots()
    data.require_symbol(q.symbol, index=snaps.value)
    parent = computed(snaps, q.hold_hours, q.fee_type)

    def build() -> tuple[str, int]:
        opps, generated_ms = parent.value
        pair = {q.dex1, q.dex2}
        rows = []
        for o in opps:
            if {o.long_dex, o.short_dex} != pair or (q.symbol and o.symbol != q.symbol):
                continue
            r1 = o.long_rate if o.long_dex == q.dex1 else o.short_rate
            r2 = o.long_rate if o.long_dex == q.dex2 else o.short_rate
            rows.append({"symbol": o.symbol, "rate_diff": r2 - r1, "better_on": o.short_dex,
                         "recommendation": f"short_on_{o.short_dex}_long_on_{o.long_dex}",
                         "net_profit_percent": o.net_profit_percent, "annualized_apy": o.annualized_apy,
                         "dex1_rate": r1, "dex2_rate": r2, "divergence": o.divergence,
                         "estimated_fees": o.estimated_fees})
        rows.sort(key=lambda r: (-r["net_profit_percent"], r["symbol"]))
        text = dumps({"dex1": q.dex1, "dex2": q.dex2, "basis": "8h", "hold_hours": q.hold_hours,
                      "fee_type": q.fee_type, "opportunities": rows, "generated_at": iso_ms(generated_ms)})
        return text, len(text)

    key = f"{PREFIX}:compare:{q.dex1}:{q.dex2}:{q.symbol}:{q.hold_hours}:{q.fee_type}"
    return with_meta(CACHE.derived(key, parent, build, data.ttl()))
