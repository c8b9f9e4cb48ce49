"""Queries behind /opportunities*: computed from the latest snapshots and the CURRENT fees.

Always computed here (not read from the analysis' Redis list) so any hold_hours/fee_type is
exact and a fee update shows on the very next request. Cost stays off the hot path: the full
list per (hold_hours, fee_type) and each rendered response are memory-tier entries derived from
the snapshot entry (so they refresh with it, at most every min(5 s, CACHE_TTL_SECONDS)).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chalicelib import wiring
from chalicelib.api import data
from chalicelib.api.cache import CACHE, Cached
from chalicelib.api.errors import bad_parameter
from chalicelib.api.params import CompareQuery, OpportunityQuery
from chalicelib.api.rates import with_meta
from chalicelib.api.system import excluded_dexes, suspect_dexes
from chalicelib.core import units
from chalicelib.core.codec import opportunity_to_dict
from chalicelib.core.filters import FilterError, OpportunityFilter, filters_applied
from chalicelib.core.models import Opportunity
from chalicelib.core.serialize import dumps, iso_ms

PREFIX = "opportunities"
log = logging.getLogger(__name__)


def legs(parent: Cached, fee_type: str) -> Cached:
    """The leg table (core.opportunities.leg_table) of the snapshot entry `parent` for this fee type,
    with the time it was built: every query and hold period works from it (core.select), so a
    request builds only the rows it returns."""
    from chalicelib.core.opportunities import leg_table

    fees = data.fee_schedules()
    # a stale venue is left out, as the analysis and /health treat it (core.units)
    stale_ms = units.stale_after_ms(wiring.settings().collection_interval_seconds)

    excluded = excluded_dexes()   # unit_mismatch venues (settlements disagree with their rates): left out

    def build() -> tuple[tuple[Any, int], int]:
        now_ms = int(time.time() * 1000)
        # the snapshot entry's own rated markets (RatesIndex.rated: one per market, rates per 1 h / 8 h, sorted),
        # an excluded venue left out through the fee map (a venue without fees has no legs)
        table = leg_table((), fees, now_ms=now_ms, fee_type=fee_type, max_age_ms=stale_ms,
                          rated=parent.value.rated,
                          dexes=frozenset(fees).difference(excluded) if excluded else None)
        return (table, now_ms), 400 * sum(len(v) for v in table.values())

    return CACHE.derived(f"{PREFIX}:legs:{fee_type}:{','.join(sorted(excluded))}", parent, build, data.ttl())


def _select(parent: Cached, f: OpportunityFilter) -> tuple[list[Opportunity], int]:
    """(the first `f.limit` matches, how many matched) with the persistence fields attached to the rows returned.

    Persistence is not in the leg table: a query that filters or sorts on it builds its candidate rows
    (pruned by what the legs decide), attaches persistence to them, then filters.
    """
    from chalicelib.core.opportunities import PERSISTENCE_FIELDS
    from chalicelib.core.persistence import attach

    table, generated_ms = parent.value
    stats, _, opened = _persistence()
    if f.min_alive_hours is None and f.min_avg_divergence_24h is None and f.max_cv is None \
            and f.sort_by not in PERSISTENCE_FIELDS:
        from chalicelib.core.select import select

        chosen, total = select(table, f, now_ms=generated_ms)
        attach(chosen, stats, opened, generated_ms)   # records just built, not shared yet
        return chosen, total
    from chalicelib.core.filters import apply_filter
    from chalicelib.core.opportunities import (
        DEFAULT_VALID_FOR_MS,
        PairMath,
        Prune,
        check_hold,
        pair_rows,
        to_opportunity,
    )
    from chalicelib.core.select import leg_mask

    pm = PairMath(check_hold(f.hold_hours), f.fee_type, generated_ms, generated_ms + DEFAULT_VALID_FOR_MS)
    prune = Prune(symbols=None if f.symbol is None else frozenset((f.symbol,)), leg=leg_mask(f),
                  min_divergence=f.min_divergence, min_net=f.min_profit_percent)
    rows = [to_opportunity(r) for r in pair_rows(table, prune, pm)]
    attach(rows, stats, opened, generated_ms)
    return apply_filter(rows, f)


def _persistence() -> tuple[Any, dict[str, Any], dict[str, int]]:
    """(pair statistics (core.persistence.Table), legs' realized sums, opened_at per id); empty when unknown
    (never fails a request)."""
    try:
        value: tuple[Any, dict[str, Any], dict[str, int]] = data.persistence().value
        return value
    except Exception as exc:   # no summary and no database: the opportunities come without persistence
        from chalicelib.core.persistence import EMPTY

        log.warning("persistence unavailable: %s", exc)
        return EMPTY, {}, {}


def _render(chosen: list[Opportunity], fee_type: str) -> list[dict[str, Any]]:
    """The public records of the opportunities a response carries, realized returns at `fee_type` included."""
    from chalicelib.core.fees import fee_for
    from chalicelib.core.persistence import realized_for

    _, legs, _ = _persistence()
    fees = data.fee_schedules()
    suspect = suspect_dexes()
    out = []
    for o in chosen:
        fl, fs = fees.get(o.long_dex), fees.get(o.short_dex)
        if fl is not None and fs is not None:
            o.metadata.update(realized_for(o, legs, fee_for(fl, fee_type), fee_for(fs, fee_type)))
        out.append(opportunity_to_dict(o, suspect))
    return out


_QUERY_NAMES = {"min_profit_percent": "min_profit", "min_volume_24h": "min_volume", "max_volume_24h": "max_volume"}


def to_filter(q: OpportunityQuery) -> OpportunityFilter:
    """The validated query as core.filters' OpportunityFilter (the same filter WebSocket subscribers use)."""
    values = q.model_dump()
    kw = {model: values[query] for model, query in _QUERY_NAMES.items()}
    kw.update({k: v for k, v in values.items() if k not in _QUERY_NAMES.values()})
    for name in ("include_dexes", "exclude_dexes"):
        kw[name] = None if kw[name] is None else tuple(dict.fromkeys(kw[name]))
    try:
        return OpportunityFilter(**kw)
    except FilterError as err:   # cross-field checks (min > max, long_dex == short_dex)
        raise bad_parameter(_QUERY_NAMES.get(err.parameter, err.parameter), err.detail) from None


# the thresholds a client may not know it is applying (defaults), as the query names them, with units
_THRESHOLDS = (("min_divergence", "min_divergence", "fraction per 8 h"),
               ("min_volume_24h", "min_volume", "USD, both legs"),
               ("min_profit_percent", "min_profit", "fraction of notional over hold_hours"),
               ("min_alive_hours", "min_alive_hours", "hours"),
               ("min_avg_divergence_24h", "min_avg_divergence_24h", "fraction per 8 h"),
               ("max_cv", "max_cv", "unitless"))


def hidden_hint(count: Callable[[OpportunityFilter], int], f: OpportunityFilter) -> str | None:
    """Why an empty result is empty: how many rows the numeric thresholds hid, and which ones did.

    `count(filter)` is how many opportunities match a filter (REST passes one over its leg table).
    """
    active = [(field, name, unit) for field, name, unit in _THRESHOLDS if getattr(f, field) is not None]
    if not active:
        return None
    relaxed = replace(f, min_divergence=None, min_volume_24h=None, min_profit_percent=None, min_alive_hours=None,
                      min_avg_divergence_24h=None, max_cv=None, limit=1)
    hidden = count(relaxed)
    if not hidden:
        return None
    by = [f"{name}={getattr(f, field)} ({unit})" for field, name, unit in active
          if count(replace(relaxed, **{field: getattr(f, field)})) < hidden]
    return (f"{hidden} opportunit{'y' if hidden == 1 else 'ies'} matched everything but "
            f"{' and '.join(by) or 'the thresholds together'}; lower them (e.g. min_divergence=0&min_volume=0"
            f"&min_profit=-1) to see {'it' if hidden == 1 else 'them'}")


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
    f = to_filter(q)
    parent = legs(_validate(q), q.fee_type)

    def build() -> tuple[str, int]:
        generated_ms = parent.value[1]
        chosen, total = _select(parent, f)
        body = {"opportunities": _render(chosen, q.fee_type), "total_count": total,
                "filters_applied": filters_applied(f), "generated_at": iso_ms(generated_ms)}
        if not total:
            hint = hidden_hint(lambda g: _select(parent, g)[1], f)
            if hint:
                body["hint"] = hint
        text = dumps(body)
        return text, len(text)

    return with_meta(CACHE.derived(_key(q, "list"), parent, build, data.ttl()))


def best(q: OpportunityQuery) -> str:
    f = to_filter(q)
    parent = legs(_validate(q), q.fee_type)

    def build() -> tuple[str, int]:
        generated_ms = parent.value[1]
        chosen, total = _select(parent, replace(f, limit=1))   # SPEC /opportunities/best: the top one, rank 1
        top = chosen[0] if chosen else None
        text = dumps({"opportunity": _render([top], q.fee_type)[0] if top else None,
                      "rank": 1 if top else None,
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
    parent = legs(snaps, q.fee_type)

    def build() -> tuple[str, int]:
        from chalicelib.core.compare import compare_rows
        from chalicelib.core.opportunities import DEFAULT_VALID_FOR_MS, PairMath, Prune, check_hold, pair_rows

        table, generated_ms = parent.value
        pm = PairMath(check_hold(q.hold_hours), q.fee_type, generated_ms, generated_ms + DEFAULT_VALID_FOR_MS)
        pairs = pair_rows(table, Prune(symbols=frozenset((q.symbol,)) if q.symbol else None,
                                       dexes=frozenset((q.dex1, q.dex2))), pm)
        rows = compare_rows(pairs, q.dex1, q.dex2, symbol=q.symbol or None)
        text = dumps({"dex1": q.dex1, "dex2": q.dex2, "basis": "8h", "hold_hours": q.hold_hours,
                      "fee_type": q.fee_type, "opportunities": rows, "generated_at": iso_ms(generated_ms)})
        return text, len(text)

    key = f"{PREFIX}:compare:{q.dex1}:{q.dex2}:{q.symbol}:{q.hold_hours}:{q.fee_type}"
    return with_meta(CACHE.derived(key, parent, build, data.ttl()))
