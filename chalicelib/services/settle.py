"""Settlement run: fetch what each venue PAID since what is stored, then calibrate every venue.

Scheduled hourly a few minutes after the hour (handlers/scheduled.py `settlements`; the local
scheduler runs it like the others). Per venue, in parallel: list its markets (one listing), fetch each
market's settled history from the newest stored settlement (at most LOOKBACK_HOURS back; `frs
backfill` loads more), store it idempotently. Requests wait for the venue's budget (the same
process-wide bucket as the collectors). Then per venue: pair each settlement of the last 30 days with
the last collected rate before it (storage `calibration_pairs`), compute the verdict and accuracy
(core.calibration), save them (venue_calibration + a Redis copy) and return the verdict CHANGES as
venue events (`venue.unit_mismatch`, `venue.verified`, ...).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from chalicelib.core.calibration import Pair, report

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000
LOOKBACK_HOURS = 12            # a gap longer than this is for `frs backfill`
ACCURACY_DAYS = 30
COLLECTOR_SHARE = 0.25         # of a venue's request budget, never spent by the settlement run
RUN_SECONDS = 540.0            # stays inside the Lambda's timeout (600 s) whatever the venues do


def source_of(module: ModuleType, key: str, now_ms: int) -> str:
    """The settled-history endpoint, e.g. 'hyperliquid POST /info'."""
    request = module.history_requests(module.SPEC, key, now_ms - HOUR_MS, now_ms, None)
    kind = request.json.get("type") if isinstance(request.json, dict) else None
    return f"{module.SPEC.id} {request.method} {request.path}" + (f" {kind}" if kind else "")


def collect_venue_settlements(module: ModuleType, settings: Any, storage: Any, *, now_ms: int,
                              stop: threading.Event, rate_scale: float = 1.0) -> dict[str, Any]:
    """Fetch and store one venue's new settlements. Never raises: failures are in the summary."""
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
                out["stored"] += storage.ingest_settlements(spec.id, m.symbol, points, source=source_of(module, m.key, now_ms))
            except Exception as exc:   # one market's failure is counted; the venue goes on
                out["errors"] += 1
                out["error"] = f"{m.dex_symbol}: {exc}"
            out["markets"] += 1
            out["requests"] += fetcher.requests_made
    finally:
        client.close()
    return out


def calibrate_venue(dex: str, storage: Any, *, now_ms: int) -> dict[str, Any]:
    """The calibration report of one venue from stored settlements and collected rates."""
    since = datetime.fromtimestamp(now_ms / 1000, tz=UTC) - timedelta(days=ACCURACY_DAYS)
    pairs = [Pair(dex, r["symbol"], int(r["time_ms"]), r["settled_1h"], r["published_1h"])
             for r in storage.calibration_pairs(dex, since=since)]
    return report(dex, pairs, now_ms=now_ms)


def verdict_events(before: dict[str, str], reports: dict[str, dict[str, Any]], now_ms: int) -> list[dict[str, Any]]:
    """Venue events for verdicts that changed (a first verdict of `verified` is not news)."""
    events = []
    for dex, rep in reports.items():
        verdict: dict[str, Any] = rep["verdict"]
        old, new = before.get(dex), verdict["status"]
        if new == old or (old is None and new != "unit_mismatch"):
            continue
        kind = {"unit_mismatch": "venue.unit_mismatch", "verified": "venue.verified"}.get(new, "venue.unverified")
        events.append({"id": f"{kind}:{dex}:{now_ms}", "type": kind, "dex_name": dex, "previous": old, "status": new,
                       "factor": verdict["factor"], "suspected": verdict["suspected"],
                       "samples": verdict["samples"], "at_ms": now_ms})
    return events


def run(*, settings: Any, storage: Any, kv: Any = None, modules: list[ModuleType] | None = None,
        now_ms: int | None = None, run_seconds: float = RUN_SECONDS, rate_scale: float = 1.0) -> dict[str, Any]:
    """Collect settlements of every enabled venue, then calibrate them all. Returns the run summary.
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
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(modules)), thread_name_prefix="settle") as pool:
            collected = list(pool.map(lambda m: collect_venue_settlements(m, settings, storage, now_ms=now_ms,
                                                                          stop=stop, rate_scale=rate_scale), modules))
    finally:
        timer.cancel()
        _RUNNING.discard(stop)
    before = {c["dex"]: c["status"] for c in storage.calibrations()}
    reports = {m.SPEC.id: calibrate_venue(m.SPEC.id, storage, now_ms=now_ms) for m in modules}
    for dex, rep in reports.items():
        storage.save_calibration(dex, rep["verdict"], rep)
    if kv is not None:
        write_hot_calibration(kv, {dex: rep["verdict"] for dex, rep in reports.items()})
    events = verdict_events(before, reports, now_ms)
    for e in events:
        log.warning("calibration: %s %s -> %s (factor %s, %s)", e["dex_name"], e["previous"], e["status"], e["factor"],
                    e["suspected"])
    return {"venues": collected, "verdicts": {dex: rep["verdict"] for dex, rep in reports.items()}, "events": events}


_RUNNING: set[threading.Event] = set()


def stop_all() -> None:
    """Ask running settlement passes to stop after the market in hand (a process shutting down: frs local)."""
    for event in list(_RUNNING):
        event.set()


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
