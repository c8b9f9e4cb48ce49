"""Webhook events and who receives them: pure functions over plain data (no clock, no I/O).

Producers hand `emit()` a list of `{"type", "data"[, "id", "occurred_at_ms"]}` dicts: the analysis
its opportunity lifecycle events and its changed funding rates (`funding_rate.changed`, an input
only: each webhook turns it into `funding_rate.threshold` against its own threshold), the venue
state tracker its `venue.*` events. `plan()` decides, per active webhook, which events it gets.

Filters are the REST opportunity filter (chalicelib.core.filters, same names and defaults) plus
event thresholds: `min_apy_change` (percentage points of annualized_apy) and `min_divergence_change`
(8 h fraction) make `opportunity.updated` material; `rate_threshold_apr` (percent, absolute
annualized rate) is the level whose crossing sends `funding_rate.threshold`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from chalicelib.core.filters import FilterError, OpportunityFilter, predicates
from chalicelib.core.models import Opportunity

OPPORTUNITY_TYPES = ("opportunity.opened", "opportunity.updated", "opportunity.closed")
VENUE_TYPES = ("venue.degraded", "venue.recovered", "venue.unit_suspect",
               "venue.unit_mismatch", "venue.verified", "venue.unverified")   # the last three: services/settle.py
THRESHOLD_TYPE = "funding_rate.threshold"
EVENT_TYPES = (*OPPORTUNITY_TYPES, *VENUE_TYPES, THRESHOLD_TYPE)   # what a webhook may subscribe to
RATE_CHANGED = "funding_rate.changed"     # producer input, never delivered as such
TEST_TYPE = "webhook.test"
# REST filter parameters that rank or price rather than select: meaningless for a push
NOT_FILTERS = ("limit", "sort_by", "sort_desc", "hold_hours", "fee_type")   # REST parameters that are not filters
THRESHOLDS = ("min_apy_change", "min_divergence_change", "rate_threshold_apr")  # webhook-only filter numbers >= 0
DEFAULT_MIN_APY_CHANGE = Decimal(5)            # percentage points of annualized_apy
DEFAULT_MIN_DIVERGENCE_CHANGE = Decimal("0.0001")   # per 8 h, fraction (1 bp)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    occurred_at_ms: int
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookFilter:
    opportunity: OpportunityFilter = field(default_factory=OpportunityFilter)
    min_apy_change: Decimal = DEFAULT_MIN_APY_CHANGE
    min_divergence_change: Decimal = DEFAULT_MIN_DIVERGENCE_CHANGE
    rate_threshold_apr: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    event_types: frozenset[str]
    filters: WebhookFilter


def event_id(*parts: Any) -> str:
    """A stable id from what identifies the event (the same inputs give the same id)."""
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return "evt_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def parse_filters(raw: Mapping[str, Any] | None) -> WebhookFilter:
    """The body's `filters` object -> WebhookFilter; FilterError names `filters.<name>`."""
    raw = dict(raw or {})
    thresholds: dict[str, Decimal] = {}
    for name in THRESHOLDS:
        if name in raw:
            value = _dec(raw.pop(name))
            if value is None or value < 0:
                raise FilterError(f"filters.{name}", "must be a number >= 0")
            thresholds[name] = value
    for name in NOT_FILTERS:
        if name in raw:
            raise FilterError(f"filters.{name}", "ranks or prices results; not a webhook filter")
    params: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, dict) or value is None:
            raise FilterError(f"filters.{key}", "must be a string, number or list")
        params[str(key)] = ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    # the REST API's own parser (its query model and defaults), so the two cannot drift
    from chalicelib.api.errors import ApiError
    from chalicelib.api.opps import to_filter
    from chalicelib.api.params import OpportunityQuery, parse_query

    try:
        opp = to_filter(parse_query(OpportunityQuery, params))
    except ApiError as err:
        raise FilterError(f"filters.{err.parameter}", err.detail) from None
    return WebhookFilter(opportunity=opp, **thresholds)


def filters_to_json(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """What is stored and shown: the client's filters, lists kept as lists."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(raw or {}).items()}


def normalize(raw_events: Iterable[Mapping[str, Any]], now_ms: int) -> list[Event]:
    """Producer dicts -> Events; an event without an id gets one from its type and data."""
    out = []
    for raw in raw_events:   # {"type", "data"}; a flat {"event": ..., fields...} record is accepted too
        etype = str(raw.get("type") or raw.get("event"))
        data = dict(raw["data"]) if isinstance(raw.get("data"), Mapping) else {
            k: v for k, v in raw.items() if k not in ("type", "event", "id", "occurred_at_ms")}
        eid = raw.get("id") or event_id(etype, json.dumps(data, sort_keys=True, default=str))
        out.append(Event(str(eid), etype, int(raw.get("occurred_at_ms") or now_ms), data))
    return out


_TEXT_FIELDS = ("id", "symbol", "long_dex", "short_dex", "oi_imbalance", "fee_type")
_RECORD_FIELDS = tuple(f.name for f in fields(Opportunity))


def _record(data: Mapping[str, Any]) -> SimpleNamespace:
    """An opportunity event's data as core.filters reads it: every field present (None when absent),
    numbers as Decimal. Built once per event, whatever the number of webhooks."""
    values: dict[str, Any] = dict.fromkeys(_RECORD_FIELDS)
    for name, value in data.items():
        values[name] = value if name in _TEXT_FIELDS or isinstance(value, Decimal) else _dec(value)
    return SimpleNamespace(**values)


def _dex_ok(f: OpportunityFilter, dexes: Sequence[str]) -> bool:
    if f.include_dexes is not None and not all(d in f.include_dexes for d in dexes):
        return False
    return f.exclude_dexes is None or not any(d in f.exclude_dexes for d in dexes)


def _symbol_ok(f: OpportunityFilter, symbol: Any) -> bool:
    return f.symbol is None or f.symbol == symbol


def _material(data: Mapping[str, Any], before: tuple[Decimal | None, Decimal | None], f: WebhookFilter) -> bool:
    apy, div = _dec(data.get("annualized_apy")), _dec(data.get("divergence"))
    last_apy, last_div = before
    if apy is not None and last_apy is not None and abs(apy - last_apy) >= f.min_apy_change:
        return True
    return div is not None and last_div is not None and abs(div - last_div) >= f.min_divergence_change


def threshold_event(changed: Event, threshold: Decimal) -> Event | None:
    """`funding_rate.threshold` when |annualized rate| crossed `threshold` (percent) between two cycles."""
    prev, now = _dec(changed.data.get("previous_annualized_rate")), _dec(changed.data.get("annualized_rate"))
    if prev is None or now is None or (abs(prev) >= threshold) == (abs(now) >= threshold):
        return None
    direction = "above" if abs(now) >= threshold else "below"
    d = changed.data
    dex = d.get("dex_name") or d.get("dex")   # the venue field is dex_name; "dex" is still read from older emitters
    data = {"dex_name": dex, "symbol": d.get("symbol"), "annualized_rate": now,
            "previous_annualized_rate": prev, "rate_8h": d.get("rate_8h"), "threshold_apr": threshold,
            "direction": direction, "basis": "annualized_rate and threshold_apr: percent per year; rate_8h: fraction"}
    return Event(event_id(THRESHOLD_TYPE, dex, d.get("symbol"), threshold, direction, changed.id),
                 THRESHOLD_TYPE, changed.occurred_at_ms, data)


Notified = Mapping[tuple[str, str], tuple[Decimal | None, Decimal | None]]


@dataclass
class Plan:
    deliveries: list[tuple[str, Event]] = field(default_factory=list)   # (webhook id, event) in order
    notified: dict[tuple[str, str], tuple[Decimal | None, Decimal | None] | None] = field(default_factory=dict)


def plan(events: Sequence[Event], subs: Sequence[Subscription], notified: Notified) -> Plan:
    """Which webhook gets which event (in event order per webhook), and the new 'last told' values
    (None = forget). Events are prepared once and bucketed by type (rate changes also by symbol), so a
    webhook only looks at the events it could receive."""
    out = Plan()
    told: dict[tuple[str, str], tuple[Decimal | None, Decimal | None] | None] = dict(notified)
    by_type: dict[str, list[int]] = {}
    changes_by_symbol: dict[Any, list[int]] = {}
    opps_by_symbol: dict[Any, list[int]] = {}
    records: dict[int, SimpleNamespace] = {}
    levels: dict[int, tuple[Decimal, Decimal]] = {}     # |previous|, |now| annualized rate of a change
    for i, e in enumerate(events):
        by_type.setdefault(e.type, []).append(i)
        if e.type == RATE_CHANGED:
            prev, now = _dec(e.data.get("previous_annualized_rate")), _dec(e.data.get("annualized_rate"))
            if prev is not None and now is not None:
                levels[i] = (abs(prev), abs(now))
                changes_by_symbol.setdefault(e.data.get("symbol"), []).append(i)
        elif e.type in OPPORTUNITY_TYPES:
            opps_by_symbol.setdefault(e.data.get("symbol"), []).append(i)
            if e.type != "opportunity.closed":
                records[i] = _record(e.data)
    crossed: dict[tuple[Decimal, Any], list[tuple[int, Event]]] = {}   # webhooks share round thresholds

    def crossings(threshold: Decimal, symbol: Any) -> list[tuple[int, Event]]:
        if (threshold, symbol) not in crossed:
            candidates = changes_by_symbol.get(symbol, []) if symbol is not None else sorted(levels)
            crossed[(threshold, symbol)] = [
                (i, e) for i in candidates if (levels[i][0] >= threshold) != (levels[i][1] >= threshold)
                and (e := threshold_event(events[i], threshold)) is not None]
        return crossed[(threshold, symbol)]

    for sub in subs:
        f, types = sub.filters, sub.event_types
        mine: list[tuple[int, Event]] = []
        if THRESHOLD_TYPE in types and f.rate_threshold_apr is not None:
            mine.extend((i, e) for i, e in crossings(f.rate_threshold_apr, f.opportunity.symbol)
                        if _dex_ok(f.opportunity, [str(e.data.get("dex_name"))]))
        preds = predicates(f.opportunity)
        if f.opportunity.symbol is not None:   # most webhooks name a symbol: look at its events only
            opp_idx = [i for i in opps_by_symbol.get(f.opportunity.symbol, ()) if events[i].type in types]
        else:
            opp_idx = [i for t in OPPORTUNITY_TYPES if t in types for i in by_type.get(t, ())]
        other = [i for t in types if t != THRESHOLD_TYPE and t not in OPPORTUNITY_TYPES for i in by_type.get(t, ())]
        for i in sorted(opp_idx + other):
            ev, d = events[i], events[i].data
            if ev.type in VENUE_TYPES:
                if _dex_ok(f.opportunity, [str(d.get("dex_name") or d.get("dex"))]):
                    mine.append((i, ev))
                continue
            if ev.type not in OPPORTUNITY_TYPES:
                mine.append((i, ev))
                continue
            key = (sub.id, str(d.get("id")))
            if ev.type == "opportunity.closed":
                if told.get(key) is not None:
                    mine.append((i, ev))
                    told[key] = out.notified[key] = None
                continue
            record = records[i]
            if not all(pred(record) for pred in preds):
                continue
            before = told.get(key)
            if ev.type == "opportunity.updated" and before is not None and not _material(d, before, f):
                continue
            mine.append((i, ev))
            told[key] = out.notified[key] = (record.annualized_apy, record.divergence)
        mine.sort(key=lambda pair: pair[0])
        out.deliveries.extend((sub.id, e) for _, e in mine)
    return out


# ---- retry schedule and rate limit ----------------------------------------------------------
BASE_DELAY_S = 5.0
FACTOR = 4.0
MAX_DELAY_S = 36_000.0      # 10 h
MAX_ATTEMPTS = 10           # nominal waits 5 s, 20 s, 80 s, 320 s, 1280 s, 5120 s, 20480 s, 10 h, 10 h = 27.6 h
JITTER = 0.2                # each wait drawn from [0.8, 1.2] x nominal


def retry_delay_s(failed_attempts: int, rand: float) -> float:
    """Wait before the next attempt after `failed_attempts` failures; `rand` uniform in [0, 1)."""
    nominal = min(BASE_DELAY_S * FACTOR ** (failed_attempts - 1), MAX_DELAY_S)
    return nominal * (1 - JITTER + 2 * JITTER * rand)


def take_token(tokens: float | None, updated_ms: int | None, now_ms: int, *, per_minute: int,
               burst: int) -> tuple[bool, float, int]:
    """Token bucket: (allowed, tokens left, ms until the next token when refused)."""
    rate_per_ms = per_minute / 60_000
    level = float(burst) if tokens is None or updated_ms is None else \
        min(float(burst), tokens + max(0, now_ms - updated_ms) * rate_per_ms)
    if level >= 1:
        return True, level - 1, 0
    return False, level, int((1 - level) / rate_per_ms) + 1
