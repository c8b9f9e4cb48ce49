"""Queries behind /opportunities*: computed from the latest snapshots and the CURRENT fees.

Always computed here (not read from the analysis' Redis list) so any hold_hours/fee_type is
exact and a fee update shows on the very next request. Cost stays off the hot path: the full
list per (hold_hours, fee_type) and each rendered response are memory-tier entries derived from
the snapshot entry (so they refresh with it, at most every min(5 s, CACHE_TTL_SECONDS)).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from decimal import Decimal
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
from chalicelib.core.filters import FilterError, OpportunityFilter, apply_filter, filters_applied
from chalicelib.core.filters import best as best_of
from chalicelib.core.models import Opportunity
from chalicelib.core.serialize import dumps, iso_ms

PREFIX = "opportunities"
log = logging.getLogger(__name__)


def computed(parent: Cached, hold_hours: Decimal, fee_type: str) -> Cached:
    """Every pair of every symbol (unfiltered) of the snapshot entry `parent`, for this hold period and fee type."""
    from chalicelib.core.opportunities import find_opportunities

    fees = data.fee_schedules()
    # a stale venue is left out, as the analysis and /health treat it (core.units)
    stale_ms = units.stale_after_ms(wiring.settings().collection_interval_seconds)

    excluded = excluded_dexes()   # unit_mismatch venues (settlements disagree with their rates): left out

    pairs, _, opened = _persistence()

    def build() -> tuple[tuple[list[Opportunity], int], int]:
        from chalicelib.core.persistence import attach

        now_ms = int(time.time() * 1000)
        snapshots = [s for s in parent.value.snapshots if s.dex not in excluded]
        opps = find_opportunities(snapshots, fees, now_ms=now_ms, hold_hours=hold_hours,
                                  fee_type=fee_type, max_age_ms=stale_ms)
        attach(opps, pairs, opened, now_ms)   # persistence fields (records just built, not shared yet)
        return (list(opps), now_ms), 1500 * len(opps)

    return CACHE.derived(f"{PREFIX}:computed:{hold_hours}:{fee_type}:{','.join(sorted(excluded))}", parent, build,
                         data.ttl())


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


def hidden_hint(opps: list[Opportunity], f: OpportunityFilter) -> str | None:
    """Why an empty result is empty: how many rows the numeric thresholds hid, and which ones did."""
    active = [(field, name, unit) for field, name, unit in _THRESHOLDS if getattr(f, field) is not None]
    if not active:
        return None
    relaxed = replace(f, min_divergence=None, min_volume_24h=None, min_profit_percent=None, min_alive_hours=None,
                      min_avg_divergence_24h=None, max_cv=None)
    _, hidden = apply_filter(opps, relaxed)
    if not hidden:
        return None
    by = [f"{name}={getattr(f, field)} ({unit})" for field, name, unit in active
          if apply_filter(opps, replace(relaxed, **{field: getattr(f, field)}))[1] < hidden]
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
    parent = computed(_validate(q), q.hold_hours, q.fee_type)

    def build() -> tuple[str, int]:
        opps, generated_ms = parent.value
        chosen, total = apply_filter(opps, f)
        body = {"opportunities": _render(chosen, q.fee_type), "total_count": total,
                "filters_applied": filters_applied(f), "generated_at": iso_ms(generated_ms)}
        if not total:
            hint = hidden_hint(opps, f)
            if hint:
                body["hint"] = hint
        text = dumps(body)
        return text, len(text)

    return with_meta(CACHE.derived(_key(q, "list"), parent, build, data.ttl()))


def best(q: OpportunityQuery) -> str:
    f = to_filter(q)
    parent = computed(_validate(q), q.hold_hours, q.fee_type)

    def build() -> tuple[str, int]:
        opps, generated_ms = parent.value
        top, rank, total = best_of(opps, f)
        text = dumps({"opportunity": _render([top], q.fee_type)[0] if top else None, "rank": rank,
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
        from chalicelib.core.compare import compare_rows

        opps, generated_ms = parent.value
        rows = compare_rows(opps, q.dex1, q.dex2, symbol=q.symbol or None)
        text = dumps({"dex1": q.dex1, "dex2": q.dex2, "basis": "8h", "hold_hours": q.hold_hours,
                      "fee_type": q.fee_type, "opportunities": rows, "generated_at": iso_ms(generated_ms)})
        return text, len(text)

    key = f"{PREFIX}:compare:{q.dex1}:{q.dex2}:{q.symbol}:{q.hold_hours}:{q.fee_type}"
    return with_meta(CACHE.derived(key, parent, build, data.ttl()))
