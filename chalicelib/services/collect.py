"""Collect venues: fetch a module's requests (and follow-ups), parse, and optionally store.

`collect_venue` is what one scheduled Lambda runs for its DEX; `collect_all` runs several venues
concurrently (threads, `frs collect`, the local scheduler) so a slow or failing venue never
delays the others. Outcome per venue:

- failed   : circuit open, a first-stage request failed, the payload shape is wrong (ParseError),
             or nothing usable came back;
- partial  : some records were rejected, some follow-up requests failed or were over budget;
- success  : everything fetched and parsed.
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
from chalicelib.services.ports import CollectionOutcome
from chalicelib.settings import Settings
from chalicelib.transport.breaker import CircuitBreaker, breaker_for
from chalicelib.transport.budget import TokenBucket, bucket_for
from chalicelib.transport.http import Deadline, Fetcher, FetchError, RetryPolicy, make_client
from chalicelib.venues.base import ParseError, Request

SUCCESS, PARTIAL, FAILED = "success", "partial", "failed"


@dataclass(frozen=True, slots=True)
class VenueResult:
    dex: str
    status: str                                   # success | partial | failed
    snapshots: tuple[MarketSnapshot, ...] = ()
    rejects: tuple[Reject, ...] = ()
    skipped: int = 0                              # rows dropped on purpose by the parser
    error: str | None = None                      # why failed / what made it partial
    requests_made: int = 0                        # HTTP attempts, retries included
    fetch_ms: int = 0
    parse_ms: int = 0
    store_ms: int | None = None
    started_at_ms: int = 0
    completed_at_ms: int = 0
    notes: tuple[str, ...] = field(default=())     # follow-up failures, budget cuts


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
        payloads, error, notes = _fetch(module, fetcher)
    finally:
        if own_client:
            http.close()
    fetch_ms = _ms(rt.monotonic() - t0)
    base: dict[str, Any] = {"requests_made": fetcher.requests_made, "fetch_ms": fetch_ms, "started_at_ms": started_ms}
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
                           completed_at_ms=_ms(rt.wall()), notes=notes, **base)
    parse_ms = _ms(rt.monotonic() - t1)
    snapshots = tuple(dataclasses.replace(s, collection_latency_ms=fetch_ms) for s in parsed.snapshots)
    if not snapshots:
        status, error = FAILED, "no usable markets" + (f" ({len(parsed.rejects)} rejected)" if parsed.rejects else "")
    elif parsed.rejects or notes:
        status = PARTIAL
        error = "; ".join([*notes, *([f"{len(parsed.rejects)} records rejected"] if parsed.rejects else [])])
    else:
        status, error = SUCCESS, None
    breaker.record(status != FAILED)
    return VenueResult(spec.id, status, snapshots, parsed.rejects, parsed.skipped, error, parse_ms=parse_ms,
                       completed_at_ms=_ms(rt.wall()), notes=notes, **base)


def _fetch(module: ModuleType, fetcher: Fetcher) -> tuple[dict[str, Any], str | None, tuple[str, ...]]:
    """(payloads, fatal error, notes). First-stage requests must all succeed; follow-up failures are notes."""
    spec = module.SPEC
    payloads, errors = fetcher.fetch_many(module.requests(spec))
    if errors:
        return payloads, "; ".join(e.reason for e in errors.values()), ()
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
    return payloads, None, _notes(spec, failed)


def _notes(spec: Any, failed: dict[str, FetchError]) -> tuple[str, ...]:
    notes = []
    over_budget = [k for k, e in failed.items() if e.budget]
    others = [e for e in failed.values() if not e.budget]
    if over_budget:
        notes.append(f"budget: {len(over_budget)} follow-up requests not made "
                     f"(rate limit {spec.rate_limit.requests_per_minute}/min)")
    if others:
        notes.append(f"{len(others)} follow-up requests failed (first: {others[0].reason})")
    return tuple(notes)


def outcome(result: VenueResult, stored: int) -> CollectionOutcome:
    return CollectionOutcome(
        dex=result.dex, started_at=datetime.fromtimestamp(result.started_at_ms / 1000, tz=UTC),
        completed_at=datetime.fromtimestamp(result.completed_at_ms / 1000, tz=UTC), status=result.status,
        markets=stored, rejected=len(result.rejects), error=result.error,
        latency_ms=result.completed_at_ms - result.started_at_ms)


def store_result(result: VenueResult, storage: Any, *, monotonic: Callable[[], float] = time.monotonic,
                 kv: Any = None) -> VenueResult:
    """Ingest the snapshots and log the collection. A storage error fails the venue with that reason;
    with `kv` (Redis) the batch waits in the ingest buffer instead (services/buffer.py: the venue is then
    PARTIAL, its data kept), and a successful store drains what earlier collections buffered."""
    from chalicelib.services import buffer

    t0 = monotonic()
    stored, status, error = 0, result.status, result.error
    try:
        if result.snapshots:
            stored = storage.ingest(result.snapshots)
    except Exception as exc:   # the database is down or rejected the batch: report, don't crash the others
        status, error = FAILED, f"store failed: {type(exc).__name__}: {exc}"
        if kv is not None and result.snapshots:
            kept = buffer.spill(kv, result.dex, result.snapshots)
            status = FAILED if kept.startswith("LOST") else PARTIAL
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
