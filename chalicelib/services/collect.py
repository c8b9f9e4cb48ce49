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

Every venue fault is recorded the same way whichever stage raised it (`fault_stage`: first_stage,
follow_up, parse, store): a breaker failure, the reason in the collection log row (so /health shows it),
never an exception out of the collector. A store fault is the database refusing the venue's batch
(a value out of range, a constraint); the database being unreachable is an outage, not the venue's
fault: the batch waits in the ingest buffer and the breaker is left alone.
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

__all__ = ["DEGRADED", "FAILED", "SUCCESS", "Runtime", "VenueResult", "collect_all", "collect_and_store", "collect_venue",
           "store_result"]
STAGES = ("first_stage", "follow_up", "parse", "store")


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
    fault_stage: str | None = None                # STAGES: where a venue fault was raised (None = no fault)


class StageFault(Exception):
    """A venue module raised while its requests or follow-ups were built: carries the stage."""

    def __init__(self, stage: str, exc: Exception) -> None:
        super().__init__(f"{stage}: {exc}")
        self.stage, self.exc = stage, exc


def fault_reason(stage: str, exc: BaseException) -> str:
    """One wording per stage: 'parse error: ...' for a wrong shape, 'unexpected <Type>: ...' for a bug."""
    what = f"parse error: {exc}" if isinstance(exc, ParseError) else f"unexpected {type(exc).__name__}: {exc}"
    return what if stage == "parse" else f"{stage.replace('_', '-')} {what}"


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
    stage = "first_stage"
    try:
        payloads, error, failed, follow_ups = _fetch(module, fetcher)
    except StageFault as fault:   # requests()/follow_up() raised: a wrong-shape payload (ParseError) or a bug
        payloads, failed, follow_ups = {}, {}, 0
        stage, error = fault.stage, fault_reason(fault.stage, fault.exc)
    finally:
        if own_client:
            http.close()
    fetch_ms = _ms(rt.monotonic() - t0)
    base: dict[str, Any] = {"requests_made": fetcher.requests_made, "fetch_ms": fetch_ms, "started_at_ms": started_ms,
                            "unfetched": sum(1 for e in failed.values() if e.budget), "follow_ups": follow_ups,
                            "follow_up_errors": tuple(e.reason for e in failed.values() if not e.budget)}
    if error is not None:
        breaker.record(False)
        return VenueResult(spec.id, FAILED, error=error, completed_at_ms=_ms(rt.wall()), fault_stage=stage, **base)

    t1 = rt.monotonic()
    fetched_ms = now_ms if now_ms is not None else _ms(rt.wall())
    try:
        parsed = module.parse(spec, payloads, now_ms=fetched_ms)
    except Exception as exc:   # ParseError (wrong shape) or a parser bug: the same record either way
        breaker.record(False)
        return VenueResult(spec.id, FAILED, error=fault_reason("parse", exc), parse_ms=_ms(rt.monotonic() - t1),
                           completed_at_ms=_ms(rt.wall()), fault_stage="parse", **base)
    parse_ms = _ms(rt.monotonic() - t1)
    snapshots = tuple(dataclasses.replace(s, collection_latency_ms=fetch_ms) for s in parsed.snapshots)
    result = judge(VenueResult(spec.id, SUCCESS, snapshots, parsed.rejects, parsed.skipped, parse_ms=parse_ms,
                               completed_at_ms=_ms(rt.wall()), **base), spec.rate_limit.requests_per_minute)
    breaker.record(result.status != FAILED)
    return dataclasses.replace(result, fault_stage="parse") if result.status == FAILED else result   # nothing usable


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
    try:
        first_stage = module.requests(spec)
    except Exception as exc:
        raise StageFault("first_stage", exc) from exc
    payloads, errors = fetcher.fetch_many(first_stage)
    if errors:
        return payloads, "; ".join(e.reason for e in errors.values()), {}, 0
    first = len(payloads)
    follow_up = getattr(module, "follow_up", None)
    attempted: set[str] = set(payloads)
    failed: dict[str, FetchError] = {}
    while follow_up is not None:
        try:   # follow_up reads the first-stage payloads: a wrong shape raises here, not in parse()
            todo: list[Request] = [r for r in follow_up(spec, payloads) if r.key not in attempted]
        except Exception as exc:
            raise StageFault("follow_up", exc) from exc
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


def database_outage(exc: BaseException) -> bool:
    """PostgreSQL unreachable (chalicelib.outage), or the socket under it gone: not the venue's fault."""
    from chalicelib.outage import database_outage as unreachable

    return isinstance(exc, (ConnectionError, TimeoutError)) or unreachable(exc)


def store_result(result: VenueResult, storage: Any, *, monotonic: Callable[[], float] = time.monotonic,
                 kv: Any = None) -> VenueResult:
    """Judge against the baseline, ingest the snapshots and log the collection. A storage error fails the
    venue with that reason; when the database is unreachable and `kv` (Redis) is given, the batch waits in
    the ingest buffer instead (services/buffer.py: the venue is then DEGRADED, its data kept), and a
    successful store drains what earlier collections buffered. A batch the database refuses for its
    content is a venue fault (fault_stage "store"): never buffered, where it would block the drain."""
    from chalicelib.services import buffer

    t0 = monotonic()
    result = _with_baseline(result, storage)
    stored, status, error, stage = 0, result.status, result.error, result.fault_stage
    try:
        if result.snapshots:
            stored = storage.ingest(result.snapshots)
    except Exception as exc:   # the database is down or rejected the batch: report, don't crash the others
        status, error = FAILED, f"store failed: {type(exc).__name__}: {exc}"
        if not database_outage(exc):
            stage = "store"
        elif kv is not None and result.snapshots:
            kept = buffer.spill(kv, result.dex, result.snapshots)
            status = FAILED if kept.startswith("LOST") else DEGRADED
            error = f"{error}; {kept}"
    else:
        if kv is not None:
            buffer.drain(kv, storage, result.dex)
    stored_result = dataclasses.replace(result, status=status, error=error, store_ms=_ms(monotonic() - t0),
                                        fault_stage=stage)
    try:
        storage.log_collection(outcome(stored_result, stored))
    except Exception as exc:
        note = f"collection log not written: {type(exc).__name__}: {exc}"
        stored_result = dataclasses.replace(stored_result, notes=(*stored_result.notes, note))
    return stored_result


class _Deferred:
    """The breaker as collect_venue sees it when a store follows: the outcome is recorded once, after the
    store, so a store fault counts as the failure it is (not a success the store then undoes)."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        self.ok: bool | None = None

    def check(self) -> str | None:
        return self.breaker.check()

    def record(self, ok: bool) -> None:
        self.ok = ok

    def settle(self, result: VenueResult) -> None:
        if self.ok is not None:
            self.breaker.record(bool(self.ok) and result.fault_stage != "store")


def collect_and_store(module: ModuleType, settings: Settings, storage: Any, *, breaker: CircuitBreaker,
                      kv: Any = None, **kwargs: Any) -> VenueResult:
    """collect_venue then store_result, the breaker told once what the whole collection came to."""
    deferred = _Deferred(breaker)
    result = store_result(collect_venue(module, settings, breaker=deferred, **kwargs), storage,   # type: ignore[arg-type]
                          kv=kv)
    deferred.settle(result)
    return result


def collect_all(modules: Sequence[ModuleType], settings: Settings, storage: Any = None, *,
                runtime: Runtime | None = None, breakers: dict[str, CircuitBreaker] | None = None,
                on_result: Callable[[VenueResult], None] | None = None) -> list[VenueResult]:
    """Collect every venue concurrently (one thread each, up to MAX_CONCURRENT_COLLECTIONS).

    Storage writes happen on the calling thread as venues finish (one database connection, no
    interleaved transactions). Results come back in the order of `modules`."""
    breakers = breakers or {}
    results: dict[str, VenueResult] = {}
    deferred: dict[str, _Deferred] = {}

    def run(module: ModuleType) -> VenueResult:
        dex = module.SPEC.id
        breaker = deferred[dex] = _Deferred(breakers.get(dex) or breaker_for(dex, settings, storage=storage))
        try:
            return collect_venue(module, settings, breaker=breaker, runtime=runtime)   # type: ignore[arg-type]
        except Exception as exc:   # a bug in one venue module must not take the others down
            now = int(time.time() * 1000)
            breaker.record(False)
            return VenueResult(dex, FAILED, error=f"unexpected {type(exc).__name__}: {exc}",
                               started_at_ms=now, completed_at_ms=now, fault_stage="first_stage")

    workers = max(1, min(len(modules), settings.max_concurrent_collections))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool:
        futures = {pool.submit(run, m): m.SPEC.id for m in modules}
        for future in as_completed(futures):
            result = future.result()
            if storage is not None:
                result = store_result(result, storage)
            deferred[futures[future]].settle(result)
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    return [results[m.SPEC.id] for m in modules]
