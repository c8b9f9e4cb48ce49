"""The scheduled jobs behind handlers/scheduled.py: collect one venue, chain the analysis, health, maintenance.

Chaining (DESIGN.md §2): on AWS the collector invokes the analysis Lambda asynchronously
(`lambda.invoke(InvocationType="Event")`, function name from ANALYSIS_FUNCTION_NAME); without
that setting, or with FRS_CHAIN=inprocess, it calls the same analysis handler in this process
with the same event. FRS_CHAIN=lambda forces the invoke, FRS_CHAIN=off skips the analysis.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.cache import keys
from chalicelib.core import units
from chalicelib.core.codec import snapshot_to_dict
from chalicelib.core.serialize import dumps, iso_ms

log = logging.getLogger(__name__)
CHAIN_MODES = ("inprocess", "lambda", "off")


def collect(dex: str, *, settings: Any, storage: Any, kv: Any, collect_kwargs: Any = None) -> dict[str, Any]:
    """Fetch + normalize one venue, store it and log the outcome, then put its latest list in Redis."""
    from chalicelib.services.analyze import hot_ttl
    from chalicelib.services.collect import FAILED, collect_and_store
    from chalicelib.transport.breaker import breaker_for
    from chalicelib.venues import get_venue

    t0 = time.perf_counter()
    kwargs = dict(collect_kwargs or {})
    kwargs.setdefault("breaker", breaker_for(dex, settings, storage=storage, kv=kv))
    result = collect_and_store(get_venue(dex), settings, storage, kv=kv, **kwargs)
    cached = bool(result.snapshots) and result.status != FAILED   # FAILED with snapshots = the batch was lost
    if cached:
        from chalicelib.cache.store import is_outage

        try:
            kv.set(keys.latest_rates_dex(dex), dumps([snapshot_to_dict(s) for s in result.snapshots]),
                   ex=hot_ttl(settings))
        except Exception as exc:   # stored in PostgreSQL already: the chained analysis reads it there
            if not is_outage(exc):
                raise
            log.warning("collect %s: Redis unavailable (%s): rates stored in PostgreSQL only", dex, exc)
    return {"dex_name": dex, "status": result.status, "markets": len(result.snapshots) if cached else 0,
            "rejected": len(result.rejects), "error": result.error, "collected_at": iso_ms(result.started_at_ms),
            "timings_ms": {"fetch": result.fetch_ms, "parse": result.parse_ms, "store": result.store_ms,
                           "total": round((time.perf_counter() - t0) * 1000, 1)}}


def chain_mode(settings: Any) -> str:
    forced = os.environ.get("FRS_CHAIN", "").strip().lower()
    if forced:
        if forced not in CHAIN_MODES:
            from chalicelib.settings import SettingsError

            raise SettingsError(f"FRS_CHAIN={forced!r}: expected one of {', '.join(CHAIN_MODES)}")
        return forced
    return "lambda" if settings.analysis_function_name else "inprocess"


def chain(payload: dict[str, Any], *, settings: Any, local: Callable[[dict[str, Any], Any], Any],
          context: Any = None, lambda_client: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Start the analysis for `payload`: async Lambda invoke on AWS, the same handler in-process locally."""
    mode = chain_mode(settings)
    if mode == "off":
        return {"mode": "off"}
    if mode == "inprocess":
        return {"mode": "inprocess", "result": local(payload, context)}
    if not settings.analysis_function_name:
        from chalicelib.settings import SettingsError

        raise SettingsError("FRS_CHAIN=lambda needs ANALYSIS_FUNCTION_NAME (e.g. funding-rate-service-prod-analyze)")
    client = (lambda_client or _lambda_client)()
    response = client.invoke(FunctionName=settings.analysis_function_name, InvocationType="Event",
                             Payload=dumps(payload).encode())
    return {"mode": "lambda", "function": settings.analysis_function_name, "status": response.get("StatusCode")}


def _lambda_client() -> Any:
    from chalicelib import wiring

    def build() -> Any:
        import boto3

        return boto3.client("lambda")

    return wiring.get("lambda_client", build)


def health_check(*, settings: Any, storage: Any, kv: Any, now_ms: int | None = None) -> dict[str, Any]:
    """Per venue: breaker state + the last hour of collection logs -> healthy | degraded | down (returned, logged)."""
    from chalicelib.services.analyze import venue_ids

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    rows = {(r.get("dex_name") or r.get("dex")): r for r in storage.collection_health(60)}
    report = {}
    dexes = venue_ids(settings)
    breakers = kv.mget([keys.breaker(dex) for dex in dexes]) if dexes else []   # one round trip
    for dex, raw in zip(dexes, breakers, strict=True):
        breaker = (json.loads(raw) or {}).get("state") if raw else None
        row = rows.get(dex) or {}
        last = _ms(row.get("last_successful_fetch"))
        errors = int(row.get("consecutive_errors") or 0)
        if breaker == "open" or errors >= settings.circuit_failure_threshold or last is None:
            status = "down"
        elif float(row.get("error_rate_percent") or 0) > 0 or units.is_stale(now_ms - last, settings.collection_interval_seconds):
            status = "degraded"
        else:
            status = "healthy"
        report[dex] = {"status": status, "breaker": breaker, "consecutive_errors": errors,
                       "error_rate_percent": row.get("error_rate_percent"),
                       "avg_collection_latency_ms": row.get("avg_collection_latency_ms"),
                       "last_successful_fetch": iso_ms(last)}
    return {"checked_at": iso_ms(now_ms), "dexes": report}


def maintenance(*, settings: Any, storage: Any) -> dict[str, Any]:
    return dict(storage.maintain(ahead_days=7, retention_days=settings.history_retention_days))


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)
    return int(value)
