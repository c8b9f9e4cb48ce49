"""Persistence and lifecycle for the analysis run (core/lifecycle.py, core/persistence.py wire-up).

Lifecycle: the open spells live in PostgreSQL (`opportunity_open`, sql/0010), so a Redis flush or a cold
start neither re-opens nor forgets an opportunity; each run diffs against them and stores only events.

Divergence statistics: an INCREMENTALLY MAINTAINED summary (core.persistence.Sums) in Redis, rolled once
per clock hour from ONE query of three clock hours of funding_rates (the hour just completed and the two
that left the 24 h / 7 d windows). Why not one SQL query per run over 7 days: at 10 venues x 500
symbols that is ~50 M stored rows aggregated every minute (and 840 k hourly values moved), where the
roll reads three hours once an hour and a run in between only reads the finished table back. A missing
or stale summary (first run, Redis flushed, the analysis stopped for over an hour) is rebuilt from 168
hours in one query. Realized sums (storage.realized_sums) are refreshed at the same roll, and at the first run
after the settlement run stored new settlements (it bumps keys.settlements_version): settlements land at :07,
after the :00 roll, and would otherwise show an hour late.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.cache import keys
from chalicelib.cache.store import is_outage
from chalicelib.core import lifecycle
from chalicelib.core import persistence as core
from chalicelib.core.fees import fee_for
from chalicelib.core.models import FeeSchedule, Opportunity
from chalicelib.core.serialize import dumps

log = logging.getLogger(__name__)
HOUR_MS = core.HOUR_MS
TABLE_TTL_S = 3 * 3600     # outlives two rolls: readers never fall through between them
SUMS_TTL_S = 8 * 24 * 3600


def record_lifecycle(storage: Any, open_now: Sequence[Opportunity], now_ms: int) -> tuple[int, dict[str, int], dict[str, int]]:
    """Diff against the stored open spells, store the events. (rows written, {event: count}, {id: opened_at_ms})."""
    spells = storage.open_spells()
    events, after = lifecycle.diff(spells, open_now, now_ms)
    written = storage.write_lifecycle(events, after)
    counts = dict.fromkeys(lifecycle.EVENTS, 0)
    for e in events:
        counts[e.event] += 1
    return written, counts, {k: s.opened_at_ms for k, s in after.items()}


def refresh(kv: Any, storage: Any, now_ms: int) -> tuple[core.Table, dict[str, Any], str]:
    """(the statistics of the last completed hour, the legs' realized sums, how they were obtained:
    cached | realized_refreshed | rolled | rebuilt). The realized sums are recomputed at the roll and whenever the
    settlement run stored new settlements since (keys.settlements_version), not only once an hour. The statistics are read from the summary's own bytes (core.persistence.Table:
    derived per row read), so a roll writes one summary, not a summary and a derived table."""
    end = core.hour_start(now_ms)
    raw_sums, raw_legs, raw_version = kv.mget([keys.persistence_sums(), keys.persistence_legs(),
                                               keys.settlements_version()])
    version = int(raw_version or 0)   # bumped by the settlement run when it stored new settlements
    sums = None
    if raw_sums and raw_legs:
        current = core.Table.load(raw_sums)
        if current.end_ms == end:
            legs = json.loads(raw_legs)
            if legs.get("settled_version", 0) == version:
                return current, legs, "cached"
            # new settlements since the realized sums were computed: those again, the statistics as they are
            sums = core.Sums.load(raw_sums)
            legs = _legs(storage, sums, end, version)
            kv.set(keys.persistence_legs(), dumps(legs), ex=TABLE_TTL_S)
            return current, legs, "realized_refreshed"
    sums = core.Sums.load(raw_sums) if raw_sums else None
    if sums is not None and sums.end_ms == end - HOUR_MS:
        done, left24, left7 = end - HOUR_MS, end - HOUR_MS - 24 * HOUR_MS, end - HOUR_MS - 168 * HOUR_MS
        hours = storage.hourly_rates([done, left24, left7])
        core.roll(sums, hours.get(done, {}), hours.get(left24, {}), hours.get(left7, {}))
        how = "rolled"
    else:
        sums = core.rebuild(storage.hourly_rates([end - i * HOUR_MS for i in range(1, 169)]), end)
        how = "rebuilt"
    legs = _legs(storage, sums, end, version)
    raw = sums.dump()
    pipe = kv.pipeline(transaction=False)
    pipe.set(keys.persistence_sums(), raw, ex=SUMS_TTL_S)
    pipe.set(keys.persistence_legs(), dumps(legs), ex=TABLE_TTL_S)
    pipe.execute()
    return core.Table.load(raw), legs, how


def _legs(storage: Any, sums: core.Sums, end: int, version: int) -> dict[str, Any]:
    """The legs' realized sums per window (settled, else collected), tagged with the settlements version."""
    markets = sums.markets
    legs: dict[str, Any] = {name: core.leg_sums(storage.realized_sums(since=_dt(end - hours * HOUR_MS)), markets, w)
                            for w, (name, hours) in enumerate(core.WINDOWS)}
    legs["settled_version"] = version
    return legs


def _dt(ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def decorate(opps: Sequence[Opportunity], stats: core.Table, legs: Mapping[str, Any], opened: Mapping[str, int],
             fees: Mapping[str, FeeSchedule], now_ms: int, fee_type: str = "maker") -> None:
    """Persistence fields and realized returns on the analysis' open opportunities (records it just built)."""
    core.attach(opps, stats, opened, now_ms)
    for o in opps:
        fl, fs = fees.get(o.long_dex), fees.get(o.short_dex)
        if fl is not None and fs is not None:
            o.metadata.update(core.realized_for(o, legs, fee_for(fl, fee_type), fee_for(fs, fee_type)))


def run(kv: Any, storage: Any, open_now: Sequence[Opportunity], fees: Mapping[str, FeeSchedule], now_ms: int,
        redis_ok: bool) -> dict[str, Any]:
    """The analysis' step: lifecycle stored, fields attached. Never fails the run: a failure is logged and
    said in the summary (the opportunities then carry no persistence fields)."""
    out: dict[str, Any] = {"written": 0, "events": {}, "persistence": "unavailable"}
    try:
        out["written"], out["events"], opened = record_lifecycle(storage, open_now, now_ms)
    except Exception as exc:
        log.warning("analysis: lifecycle not recorded (%s: %s)", type(exc).__name__, exc)
        out["lifecycle_error"] = f"{type(exc).__name__}: {exc}"[:300]
        opened = {}
    stats: core.Table = core.EMPTY
    legs: dict[str, Any] = {}
    if redis_ok:
        try:
            kv.set(keys.opportunity_opened(), json.dumps(opened), ex=TABLE_TTL_S)
            stats, legs, out["persistence"] = refresh(kv, storage, now_ms)
        except Exception as exc:   # Redis or the database hiccuped: this run's fields stay unknown
            log.warning("analysis: persistence summary unavailable (%s: %s)", type(exc).__name__, exc,
                        exc_info=not is_outage(exc))
            out["persistence_error"] = f"{type(exc).__name__}: {exc}"[:300]
    decorate(open_now, stats, legs, opened, fees, now_ms)
    return out

