"""Every venue fault is recorded the same way whichever stage raised it (issue 12): first stage, follow-up,
parse, store -> FAILED with a stage-named reason, a breaker failure (open after `threshold` collections in a
row), a collection-log row carrying the reason (what /health shows), and no exception out of the collector.

Parametrized over every registered venue module; the stage faults come from fakes (a venue module with its
follow_up/parse replaced, a transport answering 500, a storage refusing the batch). GRVT and EdgeX also get
the real wrong-shape reply that crashed the collector before (the ParseError raised in follow_up()).
"""

from __future__ import annotations

import random
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest

from chalicelib.core.models import MarketSnapshot, ParseResult
from chalicelib.services.collect import FAILED, Runtime, collect_all, collect_and_store
from chalicelib.settings import Settings
from chalicelib.transport.breaker import CircuitBreaker, DictStore
from chalicelib.transport.budget import TokenBucket
from chalicelib.transport.http import RetryPolicy
from chalicelib.venues import REGISTRY, edgex, grvt
from chalicelib.venues.base import ParseError

NOW_MS = 1_764_774_730_025
THRESHOLD = 3
IDS = [m.SPEC.id for m in REGISTRY]
WITH_FOLLOW_UP = [m for m in REGISTRY if hasattr(m, "follow_up")]


def settings() -> Settings:
    env = {m.SPEC.base_url_env: f"http://venue.test/{m.SPEC.id}" for m in REGISTRY}
    return Settings.from_env({**env, "COLLECTION_TIMEOUT_SECONDS": "5"})


def runtime(answer: httpx.Response | None = None) -> Runtime:
    """Every request answered with `answer` (default: 200 {"result": [], "data": []})."""
    def handler(request: httpx.Request) -> httpx.Response:
        return answer if answer is not None else httpx.Response(200, json={"result": [], "data": []})

    return Runtime(client=httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda s: None,
                   rng=random.Random(0), policy=RetryPolicy(attempts=1, base_delay_s=0.0))


def breaker(dex: str) -> CircuitBreaker:
    return CircuitBreaker(dex, DictStore(), threshold=THRESHOLD, reset_seconds=600, clock=lambda: 1_700_000_000.0)


class LogStorage:
    """Records collection-log rows; `refuse` is raised by ingest (the database refusing the batch)."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.refuse = refuse
        self.rows: list[Any] = []
        self.ingested = 0

    def ingest(self, snapshots: Any) -> int:
        if self.refuse is not None:
            raise self.refuse
        self.ingested += len(snapshots)
        return len(snapshots)

    def log_collection(self, outcome: Any) -> None:
        self.rows.append(outcome)


def one_snapshot(dex: str) -> MarketSnapshot:
    return MarketSnapshot(dex=dex, symbol="BTC", dex_symbol="BTC", funding_rate=Decimal("0.0001"),
                          funding_interval_hours=Decimal(8), mark_price=Decimal(100), fetched_at_ms=NOW_MS)


def faked(module: Any, **replace: Any) -> Any:
    """The venue module with some functions replaced (follow_up=None removes that stage)."""
    ns = {name: getattr(module, name) for name in ("SPEC", "requests", "follow_up", "parse") if hasattr(module, name)}
    ns.update(replace)
    return SimpleNamespace(**{k: v for k, v in ns.items() if v is not None})


def raiser(exc: Exception) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fn


def run_until_open(module: Any, storage: LogStorage, rt: Runtime) -> tuple[list[Any], CircuitBreaker]:
    """THRESHOLD collections in a row through collect_and_store (what the scheduled Lambda runs)."""
    b = breaker(module.SPEC.id)
    results = [collect_and_store(module, settings(), storage, breaker=b, runtime=rt, now_ms=NOW_MS,
                                 budget=TokenBucket(600, 600)) for _ in range(THRESHOLD)]
    return results, b


def assert_recorded(results: list[Any], b: CircuitBreaker, storage: LogStorage, stage: str, reason: str) -> None:
    assert [r.status for r in results] == [FAILED] * THRESHOLD
    assert all(r.fault_stage == stage for r in results), [r.fault_stage for r in results]
    assert all(reason in (r.error or "") for r in results), results[0].error
    assert b.state().state == "open" and b.state().failures == THRESHOLD          # 3 failures in a row -> open
    assert [row.status for row in storage.rows] == ["failed"] * THRESHOLD          # one log row per collection
    assert all(reason in (row.error or "") for row in storage.rows)                # the reason /health shows


@pytest.mark.parametrize("module", REGISTRY, ids=IDS)
def test_first_stage_fault(module):
    storage = LogStorage()
    results, b = run_until_open(module, storage, runtime(httpx.Response(500, text="boom")))
    assert_recorded(results, b, storage, "first_stage", "500")


@pytest.mark.parametrize("module", REGISTRY, ids=IDS)
def test_first_stage_builder_fault(module):
    storage = LogStorage()
    results, b = run_until_open(faked(module, requests=raiser(KeyError("base_url"))), storage, runtime())
    assert_recorded(results, b, storage, "first_stage", "first-stage unexpected KeyError")


@pytest.mark.parametrize("module", WITH_FOLLOW_UP, ids=[m.SPEC.id for m in WITH_FOLLOW_UP])
def test_follow_up_fault(module):
    storage = LogStorage()
    fake = faked(module, follow_up=raiser(ParseError(f"{module.SPEC.id}: result is str, expected list")))
    results, b = run_until_open(fake, storage, runtime())
    assert_recorded(results, b, storage, "follow_up", "follow-up parse error: ")


@pytest.mark.parametrize("module", REGISTRY, ids=IDS)
def test_parse_fault(module):
    storage = LogStorage()
    fake = faked(module, follow_up=None, parse=raiser(ParseError(f"{module.SPEC.id}: missing 'data'")))
    results, b = run_until_open(fake, storage, runtime())
    assert_recorded(results, b, storage, "parse", f"parse error: {module.SPEC.id}: missing 'data'")


@pytest.mark.parametrize("module", REGISTRY, ids=IDS)
def test_parse_bug_is_recorded_like_a_parse_error(module):
    storage = LogStorage()
    fake = faked(module, follow_up=None, parse=raiser(TypeError("'NoneType' object is not subscriptable")))
    results, b = run_until_open(fake, storage, runtime())
    assert_recorded(results, b, storage, "parse", "unexpected TypeError")


@pytest.mark.parametrize("module", REGISTRY, ids=IDS)
def test_store_fault(module):
    """The database refuses the venue's batch (a value out of range): a venue fault, like the others."""
    storage = LogStorage(refuse=psycopg.errors.NumericValueOutOfRange("numeric field overflow"))
    fake = faked(module, follow_up=None,
                 parse=lambda spec, payloads, now_ms: ParseResult((one_snapshot(spec.id),)))
    results, b = run_until_open(fake, storage, runtime())
    assert_recorded(results, b, storage, "store", "store failed: NumericValueOutOfRange: numeric field overflow")


@pytest.mark.parametrize("module", REGISTRY, ids=IDS)
def test_database_outage_is_not_a_venue_fault(module):
    """The database unreachable: the collection fails to store (logged), but the venue's breaker stays closed."""
    storage = LogStorage(refuse=psycopg.OperationalError("connection refused"))
    fake = faked(module, follow_up=None,
                 parse=lambda spec, payloads, now_ms: ParseResult((one_snapshot(spec.id),)))
    results, b = run_until_open(fake, storage, runtime())
    assert [r.fault_stage for r in results] == [None] * THRESHOLD
    assert b.state().state == "closed" and b.state().failures == 0


@pytest.mark.parametrize("module,payload", [
    (grvt, {"result": [{"kind": "PERPETUAL", "base": "BTC"}]}),    # an instrument without its "instrument" name
    (grvt, {"result": "maintenance"}),
    (edgex, {"code": "SUCCESS", "data": {"contractList": "none"}}),
], ids=["grvt-no-name", "grvt-result-str", "edgex-contracts-str"])
def test_real_wrong_shape_reply_is_recorded_not_raised(module, payload):
    """The replies that crashed the collector (issue 12): now a failed collection with its reason."""
    storage = LogStorage()
    results, b = run_until_open(module, storage, runtime(httpx.Response(200, json=payload)))
    assert [r.status for r in results] == [FAILED] * THRESHOLD
    assert all(r.fault_stage in ("follow_up", "parse") and r.error for r in results), results[0]
    assert b.state().state == "open"
    assert [row.status for row in storage.rows] == ["failed"] * THRESHOLD


def test_collect_all_records_a_follow_up_fault_and_stores_the_others():
    storage = LogStorage()
    broken = faked(grvt, follow_up=raiser(ParseError("grvt: wrong shape")))
    fine = faked(edgex, follow_up=None, parse=lambda spec, payloads, now_ms: ParseResult((one_snapshot(spec.id),)))
    breakers = {"grvt": breaker("grvt"), "edgex": breaker("edgex")}
    results = collect_all([broken, fine], settings(), storage, runtime=runtime(), breakers=breakers)  # type: ignore[list-item]
    assert [(r.dex, r.status, r.fault_stage) for r in results] == [("grvt", FAILED, "follow_up"), ("edgex", "success", None)]
    assert breakers["grvt"].state().failures == 1 and breakers["edgex"].state().failures == 0
    assert {row.dex: row.status for row in storage.rows} == {"grvt": "failed", "edgex": "success"}
    assert storage.ingested == 1
