"""The analysis run a collector chains: latest rates -> opportunities -> PostgreSQL, Redis, pub/sub, WebSocket.

Inputs: each venue's latest snapshots from Redis (keys.latest_rates_dex, written by its
collector), falling back to the database for venues Redis has nothing for; fee schedules
re-read every run (cached in Redis under the current fees_version, so an admin fee change
applies on the next run without a restart).

Outputs: opportunities with a positive net stored (storage.write_opportunities); Redis hot keys
(SPEC "Cache Keys") with TTLs; opened/updated/closed labels from a diff against
keys.opportunity_state(); one pub/sub message per channel; frames to matching WebSocket
subscribers (only markets whose rate or next funding time changed since the last run).

Redis unreachable (cache.store.is_outage): the run degrades instead of failing: rates and fees
come from the database, opportunities are still stored, hot keys / pub/sub / push are skipped
and the summary says "redis": "unavailable".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any

from chalicelib.cache import keys
from chalicelib.cache.store import is_outage
from chalicelib.core.models import FeeSchedule, FeeTier, MarketSnapshot, Opportunity
from chalicelib.core.serialize import dumps, iso_ms, snapshot_from_dict, snapshot_to_dict

log = logging.getLogger(__name__)
STATE_TTL_S = 3600            # forgetting the state re-announces every open opportunity as "opened"
_OPP_FIELDS = tuple(f.name for f in fields(Opportunity) if f.name != "metadata")


def hot_ttl(settings: Any) -> int:
    """Hot keys outlive two collection intervals, so readers never fall through between cycles."""
    return max(2 * settings.cache_ttl_seconds, 2 * settings.collection_interval_seconds, 60)


def venue_ids(settings: Any) -> list[str]:
    from chalicelib.venues import REGISTRY

    ids = [module.SPEC.id for module in REGISTRY]
    return [d for d in ids if d in settings.enabled_dexes] if settings.enabled_dexes else ids


# ---- records ----------------------------------------------------------------------------------
def rate_update(s: MarketSnapshot) -> dict[str, Any]:
    """`data` of SPEC's funding_rate_update, plus the normalized rates (DESIGN.md §3)."""
    return {"dex_name": s.dex, "symbol": s.symbol, "funding_rate": s.funding_rate,
            "next_funding_time": iso_ms(s.next_funding_time_ms), "rate_1h": s.rate_1h, "rate_8h": s.rate_8h,
            "annualized_rate": s.annualized_rate, "funding_interval_hours": s.funding_interval_hours,
            "mark_price": s.mark_price}


def opportunity_record(o: Opportunity) -> dict[str, Any]:
    out = {name: getattr(o, name) for name in _OPP_FIELDS}
    out["discovered_at"] = iso_ms(o.discovered_at_ms)
    out["valid_until"] = iso_ms(o.valid_until_ms)
    return out


def _fingerprint(o: Opportunity) -> str:
    return f"{o.long_rate}|{o.short_rate}|{o.net_profit_percent}"


# ---- fees -------------------------------------------------------------------------------------
def _fees_to_json(fees: Mapping[str, FeeSchedule]) -> str:
    return json.dumps({dex: {"maker": str(f.maker), "taker": str(f.taker), "tiers": [
        [str(t.min_volume_30d), None if t.max_volume_30d is None else str(t.max_volume_30d),
         str(t.maker_fee), str(t.taker_fee)] for t in f.tiers]} for dex, f in fees.items()})


def _fees_from_json(raw: bytes | str) -> dict[str, FeeSchedule]:
    def tier(t: list[Any]) -> FeeTier:
        return FeeTier(Decimal(t[0]), None if t[1] is None else Decimal(t[1]), Decimal(t[2]), Decimal(t[3]))

    return {dex: FeeSchedule(Decimal(f["maker"]), Decimal(f["taker"]), tuple(tier(t) for t in f["tiers"]))
            for dex, f in json.loads(raw).items()}


def load_fees(kv: Any, storage: Any, ttl: int) -> tuple[dict[str, FeeSchedule], str]:
    """Fee schedules under the current fees_version: Redis when this version is cached, else the database."""
    raw_version = kv.get(keys.fees_version())
    version = raw_version.decode() if isinstance(raw_version, bytes) else str(raw_version or 0)
    key = f"{keys.dex_metadata('fees')}:v{version}"
    cached = kv.get(key)
    if cached:
        return _fees_from_json(cached), "redis"
    fees = storage.fee_schedules()
    kv.set(key, _fees_to_json(fees), ex=ttl)
    return fees, "database"


# ---- rates ------------------------------------------------------------------------------------
def _decode(raw: bytes | str | None) -> list[MarketSnapshot]:
    return [snapshot_from_dict(d) for d in json.loads(raw)] if raw else []


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
        from_db = [s for s in storage.latest_snapshots() if s.dex in missing]
        snapshots.extend(from_db)
        found = {s.dex for s in from_db}
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


# ---- the run ----------------------------------------------------------------------------------
LOCK_KEY = f"{keys.PREFIX}:analysis:lock"
PENDING_KEY = f"{keys.PREFIX}:analysis:pending"
LOCK_MS = 55_000      # under the analysis Lambda's 60 s timeout: a crashed holder frees it by expiry
MAX_RERUNS = 2


def run(event: Mapping[str, Any], *, settings: Any, storage: Any, kv: Any, pusher: Any,
        now_ms: int | None = None) -> dict[str, Any]:
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
        summary = run_once(event, settings=settings, storage=storage, kv=_NO_CACHE, pusher=pusher, now_ms=now_ms)
        summary["reruns"] = 0
        return summary
    if not acquired:
        kv.set(PENDING_KEY, "1", ex=LOCK_MS // 1000)
        return {"trigger": event.get("dex") or event.get("source") or "manual",
                "correlation_id": event.get("correlation_id"), "coalesced": True}
    try:
        kv.delete(PENDING_KEY)
        summary = run_once(event, settings=settings, storage=storage, kv=kv, pusher=pusher, now_ms=now_ms)
        reruns = 0
        while reruns < MAX_RERUNS and summary["redis"] == "ok" and kv.delete(PENDING_KEY):
            reruns += 1
            summary = run_once(event, settings=settings, storage=storage, kv=kv, pusher=pusher)
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


def run_once(event: Mapping[str, Any], *, settings: Any, storage: Any, kv: Any, pusher: Any,
             now_ms: int | None = None) -> dict[str, Any]:
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

    stale_ms = 3 * settings.collection_interval_seconds * 1000   # a venue three cycles behind is left out
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

    written = storage.write_opportunities(open_now) if open_now else 0
    lap("store")

    timestamp = iso_ms(now_ms) or ""
    changed: list[MarketSnapshot] = []
    events: list[tuple[str, dict[str, Any]]] = []
    published = {"funding_rates": 0, "opportunities": 0}
    ws = {"connections": 0, "recipients": 0, "messages": 0, "frames_delivered": 0, "frames_failed": 0, "pruned": 0}
    try:
        if redis_ok:
            previous_rates = _decode(kv.get(keys.latest_rates()))
            previous_state = json.loads(kv.get(keys.opportunity_state()) or "{}")
            changed = changed_rates(previous_rates, snapshots)
            events, state = diff_state(previous_state, open_now)
            _write_hot_keys(kv, snapshots, sources, open_now, previous_state, state, ttl)
            lap("cache")

            updates = Updates(timestamp, [rate_update(s) for s in changed], events)
            if updates.rates:
                published["funding_rates"] = int(kv.publish(keys.channel("funding_rates"), dumps(
                    {"type": "funding_rate_batch", "timestamp": timestamp, "data": updates.rates})))
            if events:
                published["opportunities"] = int(kv.publish(keys.channel("opportunities"), dumps(
                    {"type": "opportunity_batch", "timestamp": timestamp,
                     "events": [{"event": e, "data": d} for e, d in events]})))
            ws = fan_out(kv, pusher, updates)
            lap("push")
    except Exception as exc:
        if not is_outage(exc):
            raise
        _redis_down("cache", exc)
        redis_ok = False
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)

    counts = {"opened": 0, "updated": 0, "closed": 0}
    for name, _ in events:
        counts[name] += 1
    return {"trigger": event.get("dex") or event.get("source") or "manual",
            "correlation_id": event.get("correlation_id"), "generated_at": timestamp,
            "snapshots": len(snapshots), "sources": sources, "fees_source": fees_source,
            "opportunities": pairs, "open": len(open_now), "written": written, "events": counts,
            "rates_changed": len(changed), "published": published, "ws": ws,
            "redis": "ok" if redis_ok else "unavailable", "timings_ms": timings}


def _write_hot_keys(kv: Any, snapshots: Sequence[MarketSnapshot], sources: Mapping[str, str],
                    open_now: Sequence[Opportunity], previous_state: Mapping[str, Mapping[str, str]],
                    state: Mapping[str, Any], ttl: int) -> None:
    """SPEC "Cache Keys" in one pipeline round trip.

    A venue's own list (latest_rates:{dex}) is its collector's to write: rewritten here only when
    it came from the database, so a run never overwrites a fresher list a collector just stored.
    """
    by_dex: dict[str, list[dict[str, Any]]] = {}
    pipe = kv.pipeline(transaction=False)
    for s in snapshots:
        record = snapshot_to_dict(s)
        by_dex.setdefault(s.dex, []).append(record)
        pipe.set(keys.latest_rate(s.dex, s.symbol), dumps(record), ex=ttl)
    pipe.set(keys.latest_rates(), dumps([r for records in by_dex.values() for r in records]), ex=ttl)
    for dex, records in by_dex.items():
        if sources.get(dex) == "database":
            pipe.set(keys.latest_rates_dex(dex), dumps(records), ex=ttl)
    by_symbol: dict[str, list[dict[str, Any]]] = {}
    for o in open_now:
        by_symbol.setdefault(o.symbol, []).append(opportunity_record(o))
    pipe.set(keys.opportunities_all(), dumps([opportunity_record(o) for o in open_now]), ex=ttl)  # net desc
    for symbol, records in by_symbol.items():
        pipe.set(keys.opportunities_symbol(symbol), dumps(records), ex=ttl)
    for symbol in {str(p.get("symbol")) for p in previous_state.values()} - set(by_symbol):
        pipe.delete(keys.opportunities_symbol(symbol))
    pipe.set(keys.opportunity_state(), json.dumps(state), ex=STATE_TTL_S)
    pipe.execute()
