"""Settlement run: fetch what each venue PAID since what is stored, then calibrate every venue.

Scheduled hourly a few minutes after the hour (handlers/scheduled.py `settlements`; the local
scheduler runs it like the others). Per venue, in parallel: list its markets (one listing), fetch each
market's settled history from the newest stored settlement (at most LOOKBACK_HOURS back; `frs
backfill` loads more), store it idempotently. Requests wait for the venue's budget (the same
process-wide bucket as the collectors); each settlement is paired with the last collected rate before it
as it is stored (sql/0013). Then per venue: the verdict over the last 72 h of pairs and the accuracy over
24 h / 7 d / 30 d (core.calibration; the database sums the accuracy bands), save them (venue_calibration + a Redis copy) and announce the verdict CHANGES as venue events
(unit_mismatch / verified / unverified): `venue_event` WebSocket frames, the `venues` pub/sub channel and
the webhook emit port (`venue.unit_mismatch`, `venue.verified`, `venue.unverified`), as the analysis does.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000
LOOKBACK_HOURS = 12            # a gap longer than this is for `frs backfill`
VERDICT_HOURS = 72           # the verdict looks at the last 72 h of pairs; accuracy at 24 h / 7 d / 30 d
COLLECTOR_SHARE = 0.25         # of a venue's request budget, never spent by the settlement run
RUN_SECONDS = 540.0            # stays inside the Lambda's timeout (600 s) whatever the venues do


def source_of(module: ModuleType, key: str, now_ms: int) -> str:
    """The settled-history endpoint, e.g. 'hyperliquid POST /info'."""
    request = module.history_requests(module.SPEC, key, now_ms - HOUR_MS, now_ms, None)
    kind = request.json.get("type") if isinstance(request.json, dict) else None
    return f"{module.SPEC.id} {request.method} {request.path}" + (f" {kind}" if kind else "")


def collect_venue_settlements(module: ModuleType, settings: Any, storage: Any, *, now_ms: int,
                              stop: threading.Event, rate_scale: float = 1.0,
                              on_stored: Callable[[], None] | None = None) -> dict[str, Any]:
    """Fetch and store one venue's new settlements. Never raises: failures are in the summary. `on_stored` is
    called after a market's new settlements are stored (the realized returns' refresh signal)."""
    from chalicelib.services.backfill import BackfillError, PacedBudget, fetch_history, list_markets
    from chalicelib.transport.budget import bucket_for
    from chalicelib.transport.http import Deadline, Fetcher, make_client

    spec = module.SPEC
    out: dict[str, Any] = {"dex_name": spec.id, "markets": 0, "stored": 0, "requests": 0, "errors": 0, "error": None}
    if not hasattr(module, "history_requests"):
        out["error"] = "no settled-history endpoint in the venue module"
        return out
    try:
        markets = list_markets(module, settings, None)
    except BackfillError as exc:
        out["error"], out["errors"] = str(exc), 1
        return out
    last = storage.last_settlements(spec.id, since=datetime.fromtimestamp(now_ms / 1000, tz=UTC) - timedelta(days=30))
    bucket = bucket_for(spec)
    # the collectors keep a quarter of the venue's budget: settlements wait for what is left above it
    budget = PacedBudget(bucket, stop, scale=rate_scale, reserve=bucket.capacity * COLLECTOR_SHARE)
    client = make_client(1)
    try:
        for m in markets:
            if stop.is_set():
                out["error"] = f"run deadline: {len(markets) - out['markets']} markets left for the next run"
                break
            start = max(last.get(m.symbol, 0) + 1, now_ms - LOOKBACK_HOURS * HOUR_MS)
            fetcher = Fetcher(client, settings.api_url(spec.id), deadline=Deadline(60), budget=budget,  # type: ignore[arg-type]
                              max_concurrency=1)
            try:
                _pages, points = fetch_history(module, m.key, start, now_ms, fetcher=fetcher)
                stored = storage.ingest_settlements(spec.id, m.symbol, points, source=source_of(module, m.key, now_ms))
                out["stored"] += stored
                if stored and on_stored is not None:
                    on_stored()
            except Exception as exc:   # one market's failure is counted; the venue goes on
                out["errors"] += 1
                out["error"] = f"{m.dex_symbol}: {exc}"
            out["markets"] += 1
            out["requests"] += fetcher.requests_made
    finally:
        client.close()
    return out


def calibrate_venue(dex: str, storage: Any, *, now_ms: int) -> dict[str, Any]:
    """The calibration report of one venue from its stored pairs (each settlement was paired with the rate
    published before it when it was stored, sql/0013): the verdict window's pairs as floats, and the accuracy
    bands summed by the database (a 30-day window is ~150k pairs per venue: none of them cross into Python)."""
    from chalicelib.core.calibration import WINDOWS_H, summarize

    since = datetime.fromtimestamp(now_ms / 1000, tz=UTC) - timedelta(hours=VERDICT_HOURS)
    recent = storage.calibration_recent(dex, since=since)          # (published_1h, settled_1h) floats
    bands = storage.calibration_bands(dex, now_ms=now_ms, windows_h=WINDOWS_H)
    return summarize(dex, recent, bands, verdict_window_hours=VERDICT_HOURS)


def calibrate_all(dexes: list[str], storage: Any, *, now_ms: int) -> dict[str, dict[str, Any]]:
    """Calibrate and save every venue (one after the other: the storage holds one connection); {dex: report}."""
    reports = {}
    for dex in dexes:
        rep = reports[dex] = calibrate_venue(dex, storage, now_ms=now_ms)
        storage.save_calibration(dex, rep["verdict"], rep)
    return reports




def verdict_events(before: dict[str, str], reports: dict[str, dict[str, Any]], now_ms: int) -> list[dict[str, Any]]:
    """`venue_event` data (the shape services/venue_watch.py gives the analysis' venue events: `event`, `dex_name`,
    `timestamp`, `previous`, `status`, `factor`, `reason`, plus `suspected` and `samples`) for the verdicts that
    CHANGED; a first verdict of `verified` or `unverified` is not news."""
    from chalicelib.core.serialize import iso_ms

    events = []
    for dex, rep in sorted(reports.items()):
        verdict: dict[str, Any] = rep["verdict"]
        old, new = before.get(dex), verdict["status"]
        if new == old or (old is None and new != "unit_mismatch"):
            continue
        factor = verdict["factor"]
        reason = (f"settled/published factor {factor} ({verdict['suspected']}) over {verdict['samples']} pairs: "
                  "left out of opportunities" if new == "unit_mismatch" else
                  f"settled/published factor {factor} over {verdict['samples']} pairs" if new == "verified" else
                  verdict["suspected"])
        events.append({"event": new, "dex_name": dex, "timestamp": iso_ms(now_ms), "previous": old,
                       "status": new, "factor": factor, "suspected": verdict["suspected"],
                       "samples": verdict["samples"], "reason": reason})
    return events


def webhook_events(events: list[dict[str, Any]], now_ms: int) -> list[dict[str, Any]]:
    """The same changes for the webhook emit port: `venue.<event>` with a stable id (type, venue, instant)."""
    from chalicelib.webhooks.events import event_id

    return [{"type": f"venue.{e['event']}", "id": event_id(f"venue.{e['event']}", e["dex_name"], now_ms),
             "occurred_at_ms": now_ms, "data": dict(e)} for e in events]


def publish_events(events: list[dict[str, Any]], *, kv: Any, pusher: Any, emit: Any, now_ms: int) -> dict[str, Any]:
    """Announce verdict changes where the analysis announces its venue events: `venue_event` frames to WebSocket
    subscribers (services/ws_registry.fan_out), the `venues` pub/sub channel, and the webhook emit port.
    A Redis outage costs the frames, a failing sink its events; never the run."""
    from chalicelib.cache import keys
    from chalicelib.cache.store import is_outage
    from chalicelib.core.serialize import dumps
    from chalicelib.services.analyze import emit_events
    from chalicelib.services.ws_registry import Updates, fan_out

    out: dict[str, Any] = {"events": len(events), "ws": None, "published": 0, "webhooks": {}}
    if not events:
        return out
    timestamp = events[0]["timestamp"]
    if kv is not None:
        try:
            out["published"] = int(kv.publish(keys.channel("venues"), dumps(
                {"type": "venue_event_batch", "timestamp": timestamp, "events": events})))
            if pusher is not None:
                out["ws"] = fan_out(kv, pusher, Updates(timestamp, [], [], events))
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("settlements: Redis unavailable (%s): %d venue events not pushed", exc, len(events))
    out["webhooks"] = emit_events(emit, webhook_events(events, now_ms))
    return out


def run(*, settings: Any, storage: Any, kv: Any = None, modules: list[ModuleType] | None = None,
        now_ms: int | None = None, run_seconds: float = RUN_SECONDS, rate_scale: float = 1.0,
        pusher: Any = None, emit: Any = None) -> dict[str, Any]:
    """Collect settlements of every enabled venue, then calibrate them all; verdict changes go out as venue
    events (WebSocket `venue_event` frames through `pusher`, webhooks through `emit`). Returns the run summary.
    `rate_scale` > 1 only against a loopback upstream (tests, the replay server), never a live venue."""
    from chalicelib.venues import REGISTRY

    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    modules = modules if modules is not None else [m for m in REGISTRY
                                                   if not settings.enabled_dexes or m.SPEC.id in settings.enabled_dexes]
    stop = threading.Event()
    _RUNNING.add(stop)
    timer = threading.Timer(run_seconds, stop.set)
    timer.daemon = True
    timer.start()
    signal = None if kv is None else Throttled(lambda: bump_settlements_version(kv), BUMP_EVERY_S)
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(modules)), thread_name_prefix="settle") as pool:
            collected = list(pool.map(lambda m: collect_venue_settlements(m, settings, storage, now_ms=now_ms,
                                                                          stop=stop, rate_scale=rate_scale,
                                                                          on_stored=signal), modules))
    finally:
        timer.cancel()
        _RUNNING.discard(stop)
    before = {c["dex"]: c["status"] for c in storage.calibrations()}
    reports = calibrate_all([m.SPEC.id for m in modules], storage, now_ms=now_ms)
    if kv is not None:
        write_hot_calibration(kv, {dex: rep["verdict"] for dex, rep in reports.items()})
        if any(c["stored"] for c in collected):
            bump_settlements_version(kv)   # the last markets' too, whatever the throttle held back
    events = verdict_events(before, reports, now_ms)
    for e in events:
        log.warning("calibration: %s %s -> %s (factor %s, %s)", e["dex_name"], e["previous"], e["status"], e["factor"],
                    e["suspected"])
    pushed = publish_events(events, kv=kv, pusher=pusher, emit=emit, now_ms=now_ms)
    return {"venues": collected, "verdicts": {dex: rep["verdict"] for dex, rep in reports.items()}, "events": events,
            "pushed": pushed}


_RUNNING: set[threading.Event] = set()


def stop_all() -> None:
    """Ask running settlement passes to stop after the market in hand (a process shutting down: frs local)."""
    for event in list(_RUNNING):
        event.set()


BUMP_EVERY_S = 30.0   # during a pass, the analysis recomputes realized returns at most about this often


class Throttled:
    """Call `fn` at most once per `every` seconds (thread-safe): the first call runs, later ones within the
    interval are dropped (the run ends with an unthrottled call)."""

    def __init__(self, fn: Callable[[], None], every: float) -> None:
        self.fn, self.every, self.last, self.lock = fn, every, -math.inf, threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            now = time.monotonic()
            if now - self.last < self.every:
                return
            self.last = now
        self.fn()


def bump_settlements_version(kv: Any) -> None:
    """New settlements are stored: the analysis' realized returns are recomputed at its next run
    (services/persistence.py compares this counter with the one its realized sums were computed at)."""
    from chalicelib.cache import keys
    from chalicelib.cache.store import is_outage

    try:
        kv.incr(keys.settlements_version())
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("settlements: Redis unavailable (%s): realized returns refresh at the next hourly roll", exc)


def write_hot_calibration(kv: Any, verdicts: dict[str, Any]) -> None:
    """Redis copy of the verdicts for the REST/analysis hot path (a Redis outage only costs the copy)."""
    from chalicelib.cache import keys
    from chalicelib.cache.store import is_outage
    from chalicelib.core.serialize import dumps

    try:
        kv.set(keys.calibration(), dumps(verdicts), ex=3 * 3600)
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("settlements: Redis unavailable (%s): verdicts kept in PostgreSQL only", exc)


def excluded_venues(verdicts: dict[str, Any]) -> dict[str, str]:
    """{dex: reason} of venues left out of opportunities until they verify again."""
    from decimal import Decimal

    def num(f: Any) -> str:
        return "?" if f is None else format(Decimal(str(f)).normalize(), "f")

    return {dex: f"unit_mismatch: settled/published factor {num(v.get('factor'))} ({v.get('suspected')})"
            for dex, v in verdicts.items() if v.get("status") == "unit_mismatch"}
