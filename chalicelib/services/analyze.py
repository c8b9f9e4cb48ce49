"""The analysis run a collector chains: latest rates -> opportunities -> PostgreSQL, Redis, pub/sub, WebSocket.

Inputs: each venue's latest snapshots from Redis (keys.latest_rates_dex, written by its
collector), falling back to the database for venues Redis has nothing for; fee schedules
re-read every run (cached in Redis under the current fees_version, so an admin fee change
applies on the next run without a restart).

Outputs: lifecycle events of the opportunities with a positive net stored (services/persistence.py:
opened / material change / closed, not one row per cycle), persistence fields and realized returns on
each opportunity (core/persistence.py); Redis hot keys
(SPEC "Cache Keys") with TTLs; opened/updated/closed labels from a diff against
keys.opportunity_state(); one pub/sub message per channel; frames to matching WebSocket
subscribers (only markets whose rate or next funding time changed since the last run).

Venue watch (services/venue_watch.py): each cycle also runs the cross-venue unit check, marks
opportunities with a unit_suspect leg (`unit_suspect_dexes`, never dropped) and emits venue events
(degraded / failed / recovered / unit_suspect / unit_ok) on state CHANGE: `venue_event` frames to
WebSocket subscribers, the `venues` pub/sub channel, and the summary's `venue_events` list.

Redis unreachable (cache.store.is_outage): the run degrades instead of failing: rates and fees
come from the database, opportunities are still stored, hot keys / pub/sub / push are skipped
and the summary says "redis": "unavailable".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.cache import keys
from chalicelib.cache.store import is_outage
from chalicelib.core import codec, units
from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity
from chalicelib.core.ports import AnalysisStore, Pusher
from chalicelib.core.serialize import dumps, iso_ms

log = logging.getLogger(__name__)
STATE_TTL_S = 3600            # forgetting the state re-announces every open opportunity as "opened"


def hot_ttl(settings: Any) -> int:
    """Hot keys outlive two collection intervals, so readers never fall through between cycles."""
    return max(2 * settings.cache_ttl_seconds, 2 * settings.collection_interval_seconds, 60)


def venue_ids(settings: Any) -> list[str]:
    from chalicelib.venues import REGISTRY

    ids = [module.SPEC.id for module in REGISTRY]
    return [d for d in ids if d in settings.enabled_dexes] if settings.enabled_dexes else ids


# ---- records ----------------------------------------------------------------------------------
def rate_update(s: MarketSnapshot) -> dict[str, Any]:
    """`data` of SPEC's funding_rate_update: the public rate record on the 8 h basis (core.codec)."""
    return codec.rate_record(s)


opportunity_record = codec.opportunity_to_dict


def _fingerprint(o: Opportunity) -> str:
    return f"{o.long_rate}|{o.short_rate}|{o.net_profit_percent}"


# ---- fees -------------------------------------------------------------------------------------
def load_fees(kv: Any, storage: Any, ttl: int) -> tuple[dict[str, FeeSchedule], str]:
    """Fee schedules under the current fees_version: Redis when this version is cached, else the database."""
    key = keys.fee_schedules(kv.get(keys.fees_version()))
    cached = kv.get(key)
    if cached:
        return codec.fees_from_json(cached), "redis"
    fees = storage.fee_schedules()
    kv.set(key, codec.fees_to_json(fees), ex=ttl)
    return fees, "database"


# ---- rates ------------------------------------------------------------------------------------
def _decode(raw: bytes | str | None) -> list[MarketSnapshot]:
    return [codec.snapshot_from_dict(d) for d in json.loads(raw)] if raw else []


def load_latest(kv: Any, storage: Any, dexes: Sequence[str]) -> tuple[list[MarketSnapshot], dict[str, str]]:
    """Latest snapshots of every venue and where each venue's came from (redis | database | none)."""
    raws = kv.mget([keys.latest_rates_dex(d) for d in dexes]) if dexes else []
    snapshots: list[MarketSnapshot] = []
    sources: dict[str, str] = {}
    for dex, raw in zip(dexes, raws, strict=True):
        if raw:
            snapshots.extend(_decode(raw))
            sources[dex] = "redis"
    missing = [d for d in dexes if d not in sources]
    if missing:
        # a family's venues (hyperliquid-xyz) come with its collector (hip3)
        from chalicelib.venues import collector_of

        from_db = [s for s in storage.latest_snapshots() if collector_of(s.dex) in missing]
        snapshots.extend(from_db)
        found = {collector_of(s.dex) for s in from_db}
        sources.update({d: "database" if d in found else "none" for d in missing})
    return snapshots, sources


def changed_rates(previous: Iterable[MarketSnapshot], current: Iterable[MarketSnapshot]) -> list[MarketSnapshot]:
    """Markets new since the last run or whose rate / next funding time moved (what subscribers need)."""
    before = {(s.dex, s.symbol): (s.funding_rate, s.next_funding_time_ms) for s in previous}
    return [s for s in current if before.get((s.dex, s.symbol)) != (s.funding_rate, s.next_funding_time_ms)]


# ---- opportunity events -----------------------------------------------------------------------
def diff_state(previous: Mapping[str, Mapping[str, str]], current: Sequence[Opportunity]
               ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, dict[str, str]]]:
    """(events, new state): opened (new id), updated (rates/net moved), closed (id gone)."""
    events: list[tuple[str, dict[str, Any]]] = []
    state: dict[str, dict[str, str]] = {}
    for o in current:
        fp = _fingerprint(o)
        state[o.id] = {"fp": fp, "symbol": o.symbol, "long_dex": o.long_dex, "short_dex": o.short_dex}
        before = previous.get(o.id)
        if before is None:
            events.append(("opened", opportunity_record(o)))
        elif before.get("fp") != fp:
            events.append(("updated", opportunity_record(o)))
    for oid, before in previous.items():
        if oid not in state:
            events.append(("closed", {"id": oid, "symbol": before.get("symbol"), "long_dex": before.get("long_dex"),
                                      "short_dex": before.get("short_dex")}))
    return events, state


# ---- events for webhooks (the emit port) ------------------------------------------------------
Emit = Callable[[Sequence[Mapping[str, Any]]], Any]
"""Takes `[{"type", "data"[, "id"]}, ...]`; chalicelib.webhooks.service.WebhookService.emit on a deployment."""


def outbound_events(events: Sequence[tuple[str, dict[str, Any]]], previous_state: Mapping[str, Mapping[str, str]],
                    state: Mapping[str, Mapping[str, str]], previous_rates: Sequence[MarketSnapshot],
                    changed: Sequence[MarketSnapshot]) -> list[dict[str, Any]]:
    """Lifecycle events with stable ids (type + opportunity id + fingerprint: a repeated run gives the
    same id) and `funding_rate.changed` inputs (each webhook turns them into threshold events)."""
    from chalicelib.webhooks.events import RATE_CHANGED, event_id

    out: list[dict[str, Any]] = []
    for name, data in events:
        oid = str(data["id"])
        fp = (previous_state if name == "closed" else state).get(oid, {}).get("fp")
        out.append({"type": f"opportunity.{name}", "id": event_id(f"opportunity.{name}", oid, fp), "data": data})
    before = {(s.dex, s.symbol): s for s in previous_rates}
    for s in changed:
        prev = before.get((s.dex, s.symbol))
        if prev is not None:
            out.append({"type": RATE_CHANGED, "id": event_id(RATE_CHANGED, s.dex, s.symbol, s.fetched_at_ms, s.funding_rate),
                        "data": {"dex_name": s.dex, "symbol": s.symbol, "annualized_rate": s.annualized_rate,
                                 "previous_annualized_rate": prev.annualized_rate, "rate_8h": s.rate_8h}})
    return out


# venue tracker event -> the webhook type a subscriber names (webhooks.events.VENUE_TYPES); the record's
# own `event` stays in the data, so a `failed` venue reaches venue.degraded subscribers as "failed"
_VENUE_WEBHOOK_TYPES = {"degraded": "venue.degraded", "failed": "venue.degraded", "recovered": "venue.recovered",
                        "unit_suspect": "venue.unit_suspect", "unit_ok": "venue.recovered"}


def venue_webhook_events(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The venue tracker's events as typed webhook events (a flat record's `event` is not a webhook type)."""
    return [{"type": _VENUE_WEBHOOK_TYPES[str(e["event"])], "data": dict(e)} for e in events
            if str(e.get("event")) in _VENUE_WEBHOOK_TYPES]


def emit_events(emit: Emit | None, outbound: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Hand events to the sink (None: nobody listens); its failure is logged, never the run's."""
    if emit is None or not outbound:
        return {}
    try:
        return dict(emit(outbound) or {})
    except Exception as exc:
        log.warning("analysis: emitting %d events failed (%s: %s); the analysis itself is unaffected",
                    len(outbound), type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def calibration_excluded(kv: Any, storage: Any) -> dict[str, str]:
    """{dex: reason} of unit_mismatch venues from the settlement run's verdicts (Redis copy, else the database)."""
    from chalicelib.services.settle import excluded_venues

    try:
        raw = kv.get(keys.calibration())
    except Exception as exc:
        if not is_outage(exc):
            raise
        raw = None
    if raw:
        return excluded_venues(json.loads(raw))
    rows = getattr(storage, "calibrations", None)
    if rows is None:
        return {}
    try:
        return excluded_venues({r["dex"]: {"status": r["status"], "factor": r.get("factor"),
                                           "suspected": None} for r in rows()})
    except Exception as exc:   # no verdict this run (database hiccup): nothing excluded, said once in the log
        log.warning("analysis: calibration verdicts unavailable (%s): no venue excluded this run", exc)
        return {}


# ---- the run ----------------------------------------------------------------------------------
LOCK_KEY = f"{keys.PREFIX}:analysis:lock"
PENDING_KEY = f"{keys.PREFIX}:analysis:pending"
LOCK_MS = 55_000      # under the analysis Lambda's 60 s timeout: a crashed holder frees it by expiry
MAX_RERUNS = 2


def run(event: Mapping[str, Any], *, settings: Any, storage: AnalysisStore, kv: Any, pusher: Pusher,
        now_ms: int | None = None, emit: Emit | None = None) -> dict[str, Any]:
    """One analysis at a time across all containers; the five collectors' chained runs coalesce.

    Every collector of a minute chains a run. Overlapping runs would diff against the same
    opportunity state and announce the same "opened" twice, so a run that finds the lock taken
    only leaves a pending flag and returns; the holder runs once more (its collectors' lists are
    in Redis by then) while the flag keeps being set, at most MAX_RERUNS times.
    """
    token = uuid.uuid4().hex
    try:
        acquired = kv.set(LOCK_KEY, token, nx=True, px=LOCK_MS)
    except Exception as exc:
        if not is_outage(exc):
            raise
        # no lock to coordinate with: run anyway, the opportunities still reach PostgreSQL
        _redis_down("lock", exc)
        summary = run_once(event, settings=settings, storage=storage, kv=_NO_CACHE, pusher=pusher, now_ms=now_ms,
                           emit=emit)
        summary["reruns"] = 0
        return summary
    if not acquired:
        kv.set(PENDING_KEY, "1", ex=LOCK_MS // 1000)
        return {"trigger": event.get("dex_name") or event.get("dex") or event.get("source") or "manual",
                "correlation_id": event.get("correlation_id"), "coalesced": True}
    try:
        kv.delete(PENDING_KEY)
        summary = run_once(event, settings=settings, storage=storage, kv=kv, pusher=pusher, now_ms=now_ms, emit=emit)
        reruns = 0
        while reruns < MAX_RERUNS and summary["redis"] == "ok" and kv.delete(PENDING_KEY):
            reruns += 1
            summary = run_once(event, settings=settings, storage=storage, kv=kv, pusher=pusher, emit=emit)
        summary["reruns"] = reruns
        return summary
    finally:
        try:
            held = kv.get(LOCK_KEY)
            if held in (token, token.encode()):
                kv.delete(LOCK_KEY)
        except Exception as exc:   # Redis went away mid-run: the lock expires by itself (LOCK_MS)
            if not is_outage(exc):
                raise
            _redis_down("unlock", exc)


class _NoCache:
    """Redis while it is unreachable: nothing cached to read, nowhere to write."""

    def mget(self, names: Sequence[str]) -> list[None]:
        return [None] * len(names)

    def get(self, name: str) -> None:
        return None

    def set(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_CACHE = _NoCache()


def _redis_down(step: str, exc: BaseException) -> None:
    log.warning("analysis: Redis unavailable at %s (%s): opportunities are still computed and stored; "
                "no hot keys, pub/sub or WebSocket push this run", step, exc)


def metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """EMF metrics of a run (none for a run that coalesced into another)."""
    if summary.get("coalesced"):
        return {}
    return {"Opportunities": summary["open"], "WsPushes": summary["ws"]["frames_delivered"]}


def run_once(event: Mapping[str, Any], *, settings: Any, storage: AnalysisStore, kv: Any, pusher: Pusher,
             now_ms: int | None = None, emit: Emit | None = None) -> dict[str, Any]:
    from chalicelib.core.opportunities import Prune, latest_snapshots, opportunity_rows, to_opportunity
    from chalicelib.services.ws_registry import Updates, fan_out

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round((time.perf_counter() - clock) * 1000, 2)
        clock = time.perf_counter()

    started = time.perf_counter()
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    ttl = hot_ttl(settings)
    redis_ok = kv is not _NO_CACHE
    try:
        snapshots, sources = load_latest(kv, storage, venue_ids(settings))
        fees, fees_source = load_fees(kv, storage, ttl)
    except Exception as exc:
        if not is_outage(exc):
            raise
        _redis_down("load", exc)
        redis_ok = False
        snapshots, sources = load_latest(_NO_CACHE, storage, venue_ids(settings))
        fees, fees_source = load_fees(_NO_CACHE, storage, ttl)
    lap("load")

    excluded = calibration_excluded(kv if redis_ok else _NO_CACHE, storage)
    if excluded:   # settlements disagree with what these venues publish (unit_mismatch): no opportunity on them
        snapshots = [s for s in snapshots if s.dex not in excluded]
    stale_ms = units.stale_after_ms(settings.collection_interval_seconds)   # a venue that far behind is left out
    # only pairs that pay after fees are kept: prune the rest before their records are built
    # OpportunityRow namedtuples, typed `tuple` by the core
    rows: Iterable[Any] = opportunity_rows(snapshots, fees, now_ms=now_ms, max_age_ms=stale_ms,
                                           prune=Prune(min_net=Decimal(0)))
    open_now = sorted((to_opportunity(r) for r in rows if r.net_profit_percent > 0),
                      key=lambda o: (-o.net_profit_percent, o.id))
    venues_per_symbol = (sum(1 for dex in by_dex if dex in fees)
                         for by_dex in latest_snapshots(snapshots, now_ms=now_ms, max_age_ms=stale_ms).values())
    pairs = sum(n * (n - 1) // 2 for n in venues_per_symbol)   # every pair the engine evaluated
    lap("compute")

    from chalicelib.services.venue_watch import mark, watch

    fresh = [s for s in snapshots if now_ms - s.fetched_at_ms <= stale_ms]
    try:
        venues = watch(fresh, storage=storage, kv=kv, timestamp=iso_ms(now_ms) or "", ttl=ttl, redis_ok=redis_ok)
    except Exception as exc:
        if not is_outage(exc):
            raise
        _redis_down("venue watch", exc)
        redis_ok = False
        venues = watch(fresh, storage=storage, kv=_NO_CACHE, timestamp=iso_ms(now_ms) or "", ttl=ttl, redis_ok=False)
    open_now = [mark(o, venues.suspect) for o in open_now]
    lap("venues")

    # lifecycle events stored (not one row per cycle) and persistence fields attached (services/persistence.py)
    from chalicelib.services import persistence

    persisted = persistence.run(kv, storage, open_now, fees, now_ms, redis_ok)
    written = persisted["written"]
    lap("store")

    timestamp = iso_ms(now_ms) or ""
    changed: list[MarketSnapshot] = []
    events: list[tuple[str, dict[str, Any]]] = []
    published = {"funding_rates": 0, "opportunities": 0, "venues": 0}
    webhooks: dict[str, Any] = {}
    ws = {"connections": 0, "recipients": 0, "messages": 0, "frames_delivered": 0, "frames_failed": 0, "pruned": 0}
    try:
        if redis_ok:
            previous_rates = _decode(kv.get(keys.latest_rates()))
            previous_state = json.loads(kv.get(keys.opportunity_state()) or "{}")
            changed = changed_rates(previous_rates, snapshots)
            events, state = diff_state(previous_state, open_now)
            _write_hot_keys(kv, snapshots, sources, state, ttl)
            lap("cache")

            updates = Updates(timestamp, [rate_update(s) for s in changed], events, venues.events)
            if updates.rates:
                published["funding_rates"] = int(kv.publish(keys.channel("funding_rates"), dumps(
                    {"type": "funding_rate_batch", "timestamp": timestamp, "data": updates.rates})))
            if events:
                published["opportunities"] = int(kv.publish(keys.channel("opportunities"), dumps(
                    {"type": "opportunity_batch", "timestamp": timestamp,
                     "events": [{"event": e, "data": d} for e, d in events]})))
            if venues.events:
                published["venues"] = int(kv.publish(keys.channel("venues"), dumps(
                    {"type": "venue_event_batch", "timestamp": timestamp, "events": venues.events})))
            ws = fan_out(kv, pusher, updates)
            kv.set(keys.push_status(), dumps({"at_ms": now_ms, **ws}), ex=ttl)   # /health's websocket_push
            lap("push")
            outbound = outbound_events(events, previous_state, state, previous_rates, changed)
            webhooks = emit_events(emit, [*outbound, *venue_webhook_events(venues.events)])
            lap("emit")
    except Exception as exc:
        if not is_outage(exc):
            raise
        _redis_down("cache", exc)
        redis_ok = False
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)

    counts = {"opened": 0, "updated": 0, "closed": 0}
    for name, _ in events:
        counts[name] += 1
    return {"trigger": event.get("dex_name") or event.get("dex") or event.get("source") or "manual",
            "correlation_id": event.get("correlation_id"), "generated_at": timestamp,
            "snapshots": len(snapshots), "sources": sources, "fees_source": fees_source,
            "opportunities": pairs, "open": len(open_now), "written": written, "events": counts,
            "lifecycle": persisted["events"], "persistence": persisted["persistence"],
            "rates_changed": len(changed), "published": published, "ws": ws,
            "units": {d: {"status": v.status, "factor": v.factor, "ratio": v.ratio} for d, v in venues.units.items()},
            "venue_events": venues.events,
            "redis": "ok" if redis_ok else "unavailable", "webhooks": webhooks, "timings_ms": timings}


def _write_hot_keys(kv: Any, snapshots: Sequence[MarketSnapshot], sources: Mapping[str, str],
                    state: Mapping[str, Any], ttl: int) -> None:
    """The keys something reads, in one pipeline round trip: the latest rates (REST and the next
    run's change detection) and the opportunity state (the next run's opened/updated/closed).

    A venue's own list (latest_rates:{dex}) is its collector's to write: rewritten here only when
    it came from the database, so a run never overwrites a fresher list a collector just stored.
    REST computes opportunities itself, so no opportunity list is cached here.
    """
    by_dex: dict[str, list[dict[str, Any]]] = {}
    pipe = kv.pipeline(transaction=False)
    for s in snapshots:
        by_dex.setdefault(s.dex, []).append(codec.snapshot_to_dict(s))
    pipe.set(keys.latest_rates(), dumps([r for records in by_dex.values() for r in records]), ex=ttl)
    for dex, records in by_dex.items():
        if sources.get(dex) == "database":
            pipe.set(keys.latest_rates_dex(dex), dumps(records), ex=ttl)
    pipe.set(keys.opportunity_state(), json.dumps(state), ex=STATE_TTL_S)
    pipe.execute()
