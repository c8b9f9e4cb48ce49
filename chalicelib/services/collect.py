"""Collect venues: fetch a module's requests (and follow-ups), parse, and optionally store.

`collect_venue` is what one scheduled Lambda runs for its DEX; `collect_all` runs several venues
concurrently (threads, `frs collect`, the local scheduler) so a slow or failing venue never
delays the others. Outcome per venue (core/venue_state.py decides, with the reasons):

- failed   : circuit open, a first-stage request failed, the payload shape is wrong (ParseError),
             or nothing usable came back;
- degraded : markets left unfetched by the request budget, failed follow-up requests, most records
             rejected, or far fewer markets than the venue's baseline (its recent successful runs in
             collection_logs, read by `store_result` when the storage offers `market_baseline`);
- success  : everything that matters fetched and parsed.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from chalicelib.core.models import MarketSnapshot, Reject
from chalicelib.core.ports import CollectionOutcome
from chalicelib.core.venue_state import DEGRADED, FAILED, SUCCESS, Baseline, collection_verdict
from chalicelib.settings import Settings
from chalicelib.transport.breaker import CircuitBreaker, breaker_for
from chalicelib.transport.budget import TokenBucket, bucket_for
from chalicelib.transport.http import Deadline, Fetcher, FetchError, RetryPolicy, make_client
from chalicelib.venues.base import ParseError, Request

__all__ = ["DEGRADED", "FAILED", "SUCCESS", "Runtime", "VenueResult", "collect_all", "collect_venue", "store_result"]


@dataclass(frozen=True, slots=True)
class VenueResult:
    dex: str
    status: str                                   # success | degraded | failed
    snapshots: tuple[MarketSnapshot, ...] = ()
    rejects: tuple[Reject, ...] = ()
    skipped: int = 0                              # rows dropped on purpose by the parser
    error: str | None = None                      # why failed / degraded ("; "-joined reasons)
    requests_made: int = 0                        # HTTP attempts, retries included
    fetch_ms: int = 0
    parse_ms: int = 0
    store_ms: int | None = None
    started_at_ms: int = 0
    completed_at_ms: int = 0
    notes: tuple[str, ...] = field(default=())     # e.g. the collection log could not be written
    unfetched: int = 0                            # follow-up (per-market) requests the budget did not cover
    follow_ups: int = 0                           # follow-up requests planned
    follow_up_errors: tuple[str, ...] = ()        # reasons of follow-ups that failed for other causes
    baseline_markets: float | None = None         # the usual market count the verdict compared with


@dataclass
class Runtime:
    """What collect_venue needs from the outside world; tests replace the clocks, sleep and client."""

    client: Any = None                            # httpx.Client; None = one per venue collection
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def collect_venue(module: ModuleType, settings: Settings, *, client: Any = None, now_ms: int | None = None,
                  breaker: CircuitBreaker | None = None, budget: TokenBucket | None = None,
                  runtime: Runtime | None = None) -> VenueResult:
    """Fetch, parse and validate one venue within COLLECTION_TIMEOUT_SECONDS. Never raises for venue faults."""
    spec = module.SPEC
    rt = runtime or Runtime()
    started_ms = _ms(rt.wall())
    breaker = breaker or breaker_for(spec.id, settings)
    refused = breaker.check()
    if refused:
        return VenueResult(spec.id, FAILED, error=refused, started_at_ms=started_ms, completed_at_ms=started_ms)

    own_client = client is None and rt.client is None
    http = client or rt.client or make_client(spec.max_concurrency)
    fetcher = Fetcher(http, settings.api_url(spec.id), deadline=Deadline(settings.collection_timeout_seconds, rt.monotonic),
                      policy=rt.policy, budget=budget if budget is not None else bucket_for(spec),
                      sleep=rt.sleep, wall=rt.wall, rng=rt.rng, max_concurrency=spec.max_concurrency)
    t0 = rt.monotonic()
    try:
        payloads, error, failed, follow_ups = _fetch(module, fetcher)
    finally:
        if own_client:
            http.close()
    fetch_ms = _ms(rt.monotonic() - t0)
    base: dict[str, Any] = {"requests_made": fetcher.requests_made, "fetch_ms": fetch_ms, "started_at_ms": started_ms,
                            "unfetched": sum(1 for e in failed.values() if e.budget), "follow_ups": follow_ups,
                            "follow_up_errors": tuple(e.reason for e in failed.values() if not e.budget)}
    if error is not None:
        breaker.record(False)
        return VenueResult(spec.id, FAILED, error=error, completed_at_ms=_ms(rt.wall()), **base)

    t1 = rt.monotonic()
    fetched_ms = now_ms if now_ms is not None else _ms(rt.wall())
    try:
        parsed = module.parse(spec, payloads, now_ms=fetched_ms)
    except ParseError as exc:
        breaker.record(False)
        return VenueResult(spec.id, FAILED, error=f"parse error: {exc}", parse_ms=_ms(rt.monotonic() - t1),
                           completed_at_ms=_ms(rt.wall()), **base)
    parse_ms = _ms(rt.monotonic() - t1)
    snapshots = tuple(dataclasses.replace(s, collection_latency_ms=fetch_ms) for s in parsed.snapshots)
    result = judge(VenueResult(spec.id, SUCCESS, snapshots, parsed.rejects, parsed.skipped, parse_ms=parse_ms,
                               completed_at_ms=_ms(rt.wall()), **base), spec.rate_limit.requests_per_minute)
    breaker.record(result.status != FAILED)
    return result


def judge(result: VenueResult, requests_per_minute: int | None, baseline: Baseline | None = None) -> VenueResult:
    """The result with status and error set by core/venue_state.py from what it holds (and the baseline)."""
    verdict = collection_verdict(
        fatal=None, markets=len(result.snapshots), rejected=len(result.rejects), unfetched=result.unfetched,
        follow_ups=result.follow_ups, follow_up_errors=result.follow_up_errors,
        requests_per_minute=requests_per_minute, baseline=baseline)
    return dataclasses.replace(result, status=verdict.status, error=verdict.reason,
                               baseline_markets=None if baseline is None else baseline.markets)


def _fetch(module: ModuleType, fetcher: Fetcher) -> tuple[dict[str, Any], str | None, dict[str, FetchError], int]:
    """(payloads, fatal error, failed follow-ups by key, follow-ups planned). First-stage requests must all
    succeed; a failed follow-up (one market) is reported, not fatal."""
    spec = module.SPEC
    payloads, errors = fetcher.fetch_many(module.requests(spec))
    if errors:
        return payloads, "; ".join(e.reason for e in errors.values()), {}, 0
    first = len(payloads)
    follow_up = getattr(module, "follow_up", None)
    attempted: set[str] = set(payloads)
    failed: dict[str, FetchError] = {}
    while follow_up is not None:
        todo: list[Request] = [r for r in follow_up(spec, payloads) if r.key not in attempted]
        if not todo:
            break
        attempted.update(r.key for r in todo)
        more, errs = fetcher.fetch_many(todo)
        payloads.update(more)
        failed.update(errs)
    return payloads, None, failed, len(attempted) - first


def outcome(result: VenueResult, stored: int) -> CollectionOutcome:
    return CollectionOutcome(
        dex=result.dex, started_at=datetime.fromtimestamp(result.started_at_ms / 1000, tz=UTC),
        completed_at=datetime.fromtimestamp(result.completed_at_ms / 1000, tz=UTC), status=result.status,
        markets=stored, rejected=len(result.rejects), error=result.error,
        latency_ms=result.completed_at_ms - result.started_at_ms, unfetched=result.unfetched,
        baseline_markets=result.baseline_markets)


def _with_baseline(result: VenueResult, storage: Any) -> VenueResult:
    """Re-judge a venue that produced data against its usual market count from the collection log."""
    lookup = getattr(storage, "market_baseline", None)
    if result.status == FAILED or not callable(lookup):
        return result
    try:
        baseline = lookup(result.dex)
    except Exception:   # no baseline this time (the database hiccuped): judged without the drop check
        return result
    if baseline is None:
        return result
    from chalicelib.venues import BY_ID

    module = BY_ID.get(result.dex)
    return judge(result, module.SPEC.rate_limit.requests_per_minute if module else None, baseline)


def store_result(result: VenueResult, storage: Any, *, monotonic: Callable[[], float] = time.monotonic,
                 kv: Any = None) -> VenueResult:
    """Judge against the baseline, ingest the snapshots and log the collection. A storage error fails the
    venue with that reason; with `kv` (Redis) the batch waits in the ingest buffer instead
    (services/buffer.py: the venue is then DEGRADED, its data kept), and a successful store drains what
    earlier collections buffered."""
    from chalicelib.services import buffer

    t0 = monotonic()
    result = _with_baseline(result, storage)
    stored, status, error = 0, result.status, result.error
    try:
        if result.snapshots:
            stored = storage.ingest(result.snapshots)
    except Exception as exc:   # the database is down or rejected the batch: report, don't crash the others
        status, error = FAILED, f"store failed: {type(exc).__name__}: {exc}"
        if kv is not None and result.snapshots:
            kept = buffer.spill(kv, result.dex, result.snapshots)
            status = FAILED if kept.startswith("LOST") else DEGRADED
            error = f"{error}; {kept}"
    else:
        if kv is not None:
            buffer.drain(kv, storage, result.dex)
    stored_result = dataclasses.replace(result, status=status, error=error, store_ms=_ms(monotonic() - t0))
    try:
        storage.log_collection(outcome(stored_result, stored))
    except Exception as exc:
        note = f"collection log not written: {type(exc).__name__}: {exc}"
        stored_result = dataclasses.replace(stored_result, notes=(*stored_result.notes, note))
    return stored_result


def collect_all(modules: Sequence[ModuleType], settings: Settings, storage: Any = None, *,
                runtime: Runtime | None = None, breakers: dict[str, CircuitBreaker] | None = None,
                on_result: Callable[[VenueResult], None] | None = None) -> list[VenueResult]:
    """Collect every venue concurrently (one thread each, up to MAX_CONCURRENT_COLLECTIONS).

    Storage writes happen on the calling thread as venues finish (one database connection, no
    interleaved transactions). Results come back in the order of `modules`."""
    breakers = breakers or {}
    results: dict[str, VenueResult] = {}

    def run(module: ModuleType) -> VenueResult:
        dex = module.SPEC.id
        breaker = breakers.get(dex) or breaker_for(dex, settings, storage=storage)
        try:
            return collect_venue(module, settings, breaker=breaker, runtime=runtime)
        except Exception as exc:   # a bug in one venue module must not take the others down
            now = int(time.time() * 1000)
            return VenueResult(dex, FAILED, error=f"unexpected {type(exc).__name__}: {exc}",
                               started_at_ms=now, completed_at_ms=now)

    workers = max(1, min(len(modules), settings.max_concurrent_collections))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool:
        futures = {pool.submit(run, m): m.SPEC.id for m in modules}
        for future in as_completed(futures):
            result = future.result()
            if storage is not None:
                result = store_result(result, storage)
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    return [results[m.SPEC.id] for m in modules]
