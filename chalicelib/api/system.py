"""Queries behind /dexes, /health, /metrics and the admin fee update."""

from __future__ import annotations

import contextlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.api import data
from chalicelib.api.cache import CACHE
from chalicelib.api.errors import ApiError, not_found
from chalicelib.api.metrics import METRICS
from chalicelib.cache import keys
from chalicelib.core import units
from chalicelib.core.codec import fee_from_dict, fee_to_dict
from chalicelib.core.models import FeeSchedule
from chalicelib.core.serialize import iso_ms

if TYPE_CHECKING:   # pydantic: imported by the admin route only (cold start)
    from chalicelib.api.param_models import FeeStructureBody

UNIT_CHECK = "venues:unit_check"
NOT_JUDGED = {"status": "unknown", "factor": None, "ratio": None, "median_rate_1h": None, "reference_rate_1h": None,
              "majors": 0, "reason": "no unit check yet (the analysis writes one each cycle)"}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _meta(cached: Any, now_ms: int) -> dict[str, Any]:
    age = None if cached.updated_ms is None else max(0.0, round((now_ms - cached.updated_ms) / 1000, 3))
    meta = {"updated_at": iso_ms(cached.updated_ms) if cached.updated_ms else iso_ms(now_ms),
            "data_age_seconds": age, "source": cached.source}
    return {**meta, "stale": True} if cached.stale else meta


def fee_structure(row: dict[str, Any]) -> dict[str, Any]:
    """A `dexes` row's fees in the one public fee shape (core.codec)."""
    return fee_to_dict(fee_from_dict(row))


def unit_checks() -> dict[str, Any]:
    """The last cross-venue unit check {"checked_at", "venues": {dex: verdict}} the analysis left in Redis
    (keys.unit_check); empty when there is none (no Redis, or no analysis within its TTL)."""
    def read_redis(client: Any) -> tuple[dict[str, Any], None, int] | None:
        raw = client.get(keys.unit_check())
        return (json.loads(raw), None, len(raw)) if raw else None

    cached = CACHE.fetch(UNIT_CHECK, ttl=data.ttl(), kv=data.kv(), read_redis=read_redis,
                         load_db=lambda: ({"checked_at": None, "venues": {}}, None, 64))
    return cached.value


def calibrations() -> dict[str, Any]:
    """{dex: calibration verdict} the settlement run left (Redis copy keys.calibration, else venue_calibration)."""
    def read_redis(client: Any) -> tuple[dict[str, Any], None, int] | None:
        raw = client.get(keys.calibration())
        return (json.loads(raw), None, len(raw)) if raw else None

    def load_db() -> tuple[dict[str, Any], None, int]:
        rows = wiring.storage().calibrations()
        verdicts = {r["dex"]: ((json.loads(r["report"]) if isinstance(r["report"], str) else r["report"]) or {})
                    .get("verdict", {}) for r in rows}
        return verdicts, None, 64 + 256 * len(verdicts)

    return CACHE.fetch("venues:calibration", ttl=data.ttl(), kv=data.kv(), read_redis=read_redis, load_db=load_db).value


def calibration(dex: str, verdicts: dict[str, Any] | None = None) -> dict[str, Any]:
    """One venue's settled-vs-published verdict as /dexes and /health show it (docs/settled-funding.md)."""
    v = (calibrations() if verdicts is None else verdicts).get(dex)
    if not v:
        return {"status": "unverified", "factor": None, "samples": 0, "suspected": "no settlement run yet"}
    return {"status": v.get("status"), "factor": v.get("factor"), "samples": v.get("samples"),
            "suspected": v.get("suspected")}


def excluded_dexes() -> frozenset[str]:
    """Venues whose settlements disagree with what they publish (unit_mismatch): left out of opportunities
    until they verify again."""
    from chalicelib.services.settle import excluded_venues

    return frozenset(excluded_venues(calibrations()))


def unit_check(dex: str, checks: dict[str, Any] | None = None) -> dict[str, Any]:
    """One venue's unit verdict as the API shows it (see schemas.UnitCheck for the units)."""
    checks = unit_checks() if checks is None else checks
    verdict = (checks.get("venues") or {}).get(dex)
    return {**(verdict or NOT_JUDGED), "checked_at": checks.get("checked_at") if verdict else None}


def suspect_dexes() -> frozenset[str]:
    """Venues the last unit check flagged unit_suspect (their opportunities are marked, not dropped)."""
    return frozenset(d for d, v in (unit_checks().get("venues") or {}).items() if v.get("status") == "suspect")


def collection_state(row: dict[str, Any], prefix: str = "last_collection_") -> dict[str, Any]:
    """The venue's newest collection outcome (collection_logs) as the API shows it."""
    return {"status": row.get(f"{prefix}status"), "reason": row.get(f"{prefix}reason"),
            "markets": row.get(f"{prefix}markets"), "markets_unfetched": row.get(f"{prefix}markets_unfetched"),
            "at": row.get(f"{prefix}at")}


def public_dex(row: dict[str, Any], checks: dict[str, Any] | None = None) -> dict[str, Any]:
    """SPEC DEXMetadata as the API shows it (names, never integer ids), plus the venue's states."""
    return {
        "name": row["name"],
        "dex_name": row["name"],   # = name (SPEC's field for DEX rows): the venue field of every other response
        "display_name": row.get("display_name") or row["name"],
        "is_active": bool(row.get("is_active", True)),
        "api_base_url": row.get("api_base_url"),
        "websocket_url": row.get("websocket_url"),
        "supports_websocket": bool(row.get("supports_websocket", False)),
        "fee_structure": fee_structure(row),
        "supported_symbols": sorted(row.get("supported_symbols") or []),
        # the interval in force (settings), not the seeded column, which nothing updates
        "collection_interval_seconds": wiring.settings().collection_interval_seconds,
        "rate_limit_per_minute": row.get("rate_limit_per_minute"),
        "last_successful_fetch": row.get("last_successful_fetch"),
        "last_error": row.get("last_error"),
        "consecutive_errors": int(row.get("consecutive_errors") or 0),
        "updated_at": row.get("updated_at"),
        "collection": collection_state(row),
        "unit_check": unit_check(row["name"], checks),
        "calibration": calibration(row["name"]),
    }


def list_dexes() -> dict[str, Any]:
    cached = data.dex_rows()
    checks = unit_checks()
    return {"dexes": [public_dex(r, checks) for _, r in sorted(cached.value.items())], **_meta(cached, _now_ms())}


def get_dex(dex: str) -> dict[str, Any]:
    cached = data.dex_rows()
    if dex not in cached.value:
        raise not_found("dex", dex, "dex")
    return {**public_dex(cached.value[dex]), **_meta(cached, _now_ms())}


def dex_symbols(dex: str) -> dict[str, Any]:
    data.require_dex(dex)
    rows = wiring.storage().dex_symbols(dex)
    symbols = [{
        "symbol": r.get("symbol"),
        "dex_symbol_format": r.get("dex_symbol_format") or r.get("dex_symbol"),
        "is_active": bool(r.get("is_active", True)),
        "min_order_size": r.get("min_order_size"),
        "volume_24h": r.get("volume_24h", r.get("volume_24h_usd")),
        "open_interest": r.get("open_interest", r.get("open_interest_usd")),   # SPEC's name, USD
        "open_interest_usd": r.get("open_interest_usd", r.get("open_interest")),
        "multiplier": r.get("multiplier"),
        "last_updated": r.get("last_updated"),
    } for r in rows]
    now = _now_ms()
    newest = max((t for r in rows if (t := _dt_ms(r.get("last_updated"))) is not None), default=None)
    return {"dex_name": dex, "symbols": symbols, "updated_at": iso_ms(newest if newest is not None else now),
            "data_age_seconds": None if newest is None else max(0.0, round((now - newest) / 1000, 3)),
            "source": "database"}


# ---- health ---------------------------------------------------------------------------------
def _breaker_state(client: Any, dex: str) -> str | None:
    if client is None:
        return None
    with contextlib.suppress(Exception):
        raw = client.get(keys.breaker(dex))
        if raw:
            return str(json.loads(raw).get("state"))
    return None


def _dt_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    return int(value)


HEALTH_TTL_S = 5.0   # /health is computed at most once per 5 s per container (min with CACHE_TTL_SECONDS)


def health() -> tuple[dict[str, Any], int]:
    """Cached for HEALTH_TTL_S in the memory tier: a poller hammering /health does not hit the database."""
    ttl = min(HEALTH_TTL_S, float(wiring.settings().cache_ttl_seconds))
    body, status = CACHE.memo("health", ttl, _health)
    return {**body, "timestamp": iso_ms(_now_ms())}, status


def _redis_component(client: Any) -> dict[str, Any]:
    from chalicelib.cache.store import MemoryKV

    if client is None:
        return {"status": "down", "reason": "no Redis client: hot keys, push and the ingest buffer are off"}
    if isinstance(client, MemoryKV):
        return {"status": "fallback", "reason": "in-memory fallback (per process, not shared): REDIS_URL not set"}
    try:
        client.ping()
    except Exception as exc:
        return {"status": "down", "reason": f"{type(exc).__name__}: {exc}; REST reads the database, WebSocket push "
                                            "and the ingest buffer are off"}
    return {"status": "up", "reason": None}


def _push_component(client: Any, redis_ok: bool, interval_s: int) -> dict[str, Any]:
    """The WebSocket push path: the connection registry (Redis) and the last fan-out the analysis recorded."""
    if not redis_ok:
        return {"status": "down", "reason": "Redis unavailable: the connection registry cannot be read, nothing "
                                            "is pushed", "connections": None}
    last, connections = None, None
    with contextlib.suppress(Exception):
        connections = int(client.scard(keys.ws_connections()))
        raw = client.get(keys.push_status())
        last = json.loads(raw) if raw else None
    out: dict[str, Any] = {"connections": connections, "last_push_at": None, "frames_delivered": None,
                           "frames_failed": None}
    if not last:
        return {"status": "unknown", "reason": "no push recorded yet (the analysis records one each cycle)", **out}
    out.update(last_push_at=iso_ms(int(last["at_ms"])), frames_delivered=int(last.get("frames_delivered") or 0),
               frames_failed=int(last.get("frames_failed") or 0))
    age_ms = _now_ms() - int(last["at_ms"])
    if units.is_stale(age_ms, interval_s):
        return {"status": "degraded", "reason": f"no push for {age_ms // 1000} s (the analysis is not running)", **out}
    if out["frames_failed"] and not out["frames_delivered"]:
        return {"status": "degraded", "reason": f"last push: {out['frames_failed']} frames failed, none delivered",
                **out}
    return {"status": "up", "reason": None, **out}


def _buffer_component(client: Any, redis_ok: bool, dexes: list[str]) -> dict[str, Any]:
    """The ingest buffer (services/buffer.py): batches waiting for the database, snapshots lost (counted)."""
    from chalicelib.services import buffer

    if not redis_ok:
        return {"status": "unknown", "reason": "Redis unavailable: a batch the database refuses now is lost "
                                               "(counted when Redis returns)", "batches_waiting": None,
                "oldest_age_seconds": None, "snapshots_lost": None, "venues": {}}
    try:
        per_venue = buffer.backlog(client, dexes)
    except Exception as exc:
        return {"status": "unknown", "reason": f"{type(exc).__name__}: {exc}", "batches_waiting": None,
                "oldest_age_seconds": None, "snapshots_lost": None, "venues": {}}
    waiting = sum(v["batches_waiting"] for v in per_venue.values())
    lost = sum(v["snapshots_lost"] for v in per_venue.values())
    oldest = max((v["oldest_age_seconds"] for v in per_venue.values() if v["oldest_age_seconds"] is not None),
                 default=None)
    reasons = [r for r, bad in ((f"{waiting} batches waiting for the database (oldest {oldest} s)", waiting > 0),
                                (f"{lost} snapshots lost (database and Redis both down, or the buffer full)", lost > 0))
               if bad]
    return {"status": "lost" if lost else "backlog" if waiting else "empty", "reason": "; ".join(reasons) or None,
            "batches_waiting": waiting, "oldest_age_seconds": oldest, "snapshots_lost": lost,
            "venues": {d: v for d, v in per_venue.items() if v["batches_waiting"] or v["snapshots_lost"]}}


def _health() -> tuple[dict[str, Any], int]:
    from chalicelib.services.analyze import venue_ids

    settings = wiring.settings()
    now = _now_ms()
    client = data.kv()
    redis = _redis_component(client)
    redis_ok = redis["status"] in ("up", "fallback")
    shared = METRICS.shared(client) if redis_ok else dict(METRICS.totals)
    requests, hits, misses = shared["requests"], shared["cache_hits"], shared["cache_misses"]
    base = {"timestamp": iso_ms(now), "uptime_seconds": int(time.time() - METRICS.started_at),
            "total_requests": int(requests), "cache_hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0}
    t0 = time.perf_counter()
    try:
        rows = {r["dex_name"] if "dex_name" in r else r["dex"]: r for r in wiring.storage().collection_health(60)}
        database = {"status": "up", "reason": None, "latency_ms": round((time.perf_counter() - t0) * 1000, 1)}
    except Exception as exc:
        from chalicelib import outage

        if outage.database_outage(exc):
            outage.down("database", exc)
        rows = {}
        database = {"status": "down", "reason": f"{type(exc).__name__}: {str(exc).strip()[:200]}", "latency_ms": None}
    components = {"database": database, "redis": redis,
                  "websocket_push": _push_component(client, redis_ok, settings.collection_interval_seconds),
                  "ingest_buffer": _buffer_component(client, redis_ok, venue_ids(settings))}
    try:   # the last known copies when the database is down (api/cache.py)
        index = data.snapshots().value
        active = [name for name, r in data.dex_rows().value.items() if r.get("is_active", True)]
    except Exception as exc:
        return {"status": "unhealthy", **base, "components": components, "dex_health": [],
                "oldest_data_age_seconds": None, "last_collection_time": None,
                "detail": f"database unavailable: {type(exc).__name__}"}, 503
    checks = unit_checks()
    dex_health, ages, last_fetches = [], [], []
    for name in sorted(set(active) | set(rows)):
        row = rows.get(name, {})
        newest = max((s.fetched_at_ms for s in index.by_dex.get(name, {}).values()), default=None)
        age_ms = None if newest is None else now - newest
        breaker = _breaker_state(client, name)
        last_ok = _dt_ms(row.get("last_successful_fetch"))
        errors = int(row.get("consecutive_errors") or 0)
        collection = collection_state(row, "last_")
        verdict = unit_check(name, checks)
        settled = calibration(name)
        reasons = [r for r, bad in (
            ("circuit breaker open", breaker == "open"),
            (f"{errors} consecutive errors", errors >= settings.circuit_failure_threshold),
            ("no data", newest is None),
            ("stale data", units.is_stale(age_ms, settings.collection_interval_seconds)),
            (f"collection {collection['status']}: {collection['reason']}", collection["status"] in ("degraded", "failed")),
            (f"unit_suspect x{verdict['factor']}: {verdict['reason']}", verdict["status"] == "suspect"),
            (f"unit_mismatch: settled/published x{settled['factor']} ({settled['suspected']}); left out of "
             "opportunities", settled["status"] == "unit_mismatch")) if bad]
        if age_ms is not None:
            ages.append(age_ms)
        if last_ok is not None:
            last_fetches.append(last_ok)
        dex_health.append({
            "dex_name": name, "is_healthy": not reasons, "last_successful_fetch": iso_ms(last_ok),
            "consecutive_errors": errors, "error_rate_percent": float(row.get("error_rate_percent") or 0.0),
            "avg_collection_latency_ms": float(row.get("avg_collection_latency_ms") or 0.0),
            "breaker_state": breaker or "closed", "data_age_seconds": None if age_ms is None else age_ms // 1000,
            "problems": reasons, "collection": collection, "unit_check": verdict, "calibration": settled})
    healthy = sum(1 for d in dex_health if d["is_healthy"])
    status = "healthy" if dex_health and healthy == len(dex_health) else "degraded" if healthy else "unhealthy"
    if status == "healthy" and any(c["status"] in ("down", "degraded", "backlog", "lost") for c in components.values()):
        status = "degraded"   # Redis down (push, hot keys, buffer off), push failing, a buffer backlog or loss
    body = {"status": status, **base, "components": components, "dex_health": dex_health,
            "oldest_data_age_seconds": max(ages) // 1000 if ages else None,
            "last_collection_time": iso_ms(max(last_fetches)) if last_fetches else None}
    if database["status"] == "down":   # served from the last known copies: say so, and 503 for load balancers
        return {**body, "status": "unhealthy", "detail": f"database unavailable: {database['reason']}"}, 503
    return body, 200


def metrics() -> dict[str, Any]:
    client = data.kv()
    shared = METRICS.shared(client)
    hits, misses = shared["cache_hits"], shared["cache_misses"]
    minute_key = f"requests:{int(time.time() // 60) - 1}"
    rpm = shared.get(minute_key) or METRICS.local_rpm()
    avg = shared["response_ms_total"] / shared["requests"] if shared["requests"] else METRICS.local_avg_ms()
    websockets = None
    with contextlib.suppress(Exception):
        websockets = int(client.scard(keys.ws_connections())) if client is not None else None
    connections = None
    with contextlib.suppress(Exception):
        connections = database_connections(wiring.storage())
    return {"requests_per_minute": float(rpm), "avg_response_time_ms": round(avg, 3),
            "cache_hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0,
            "cache_size_mb": round(CACHE.size_bytes / 1_048_576, 3), "cache_entries": len(CACHE),
            "database_connections": connections, "active_websockets": websockets,
            "timestamp": iso_ms(_now_ms())}


def database_connections(storage: Any) -> int | None:
    """Backends connected to our database (pg_stat_activity), via the storage's own connection."""
    method = getattr(storage, "database_connections", None)
    if callable(method):
        return int(method())
    conn = getattr(storage, "conn", None) or getattr(storage, "_conn", None)
    conn = conn() if callable(conn) else conn
    if conn is None:
        return None
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()
    return int(row[0])


# ---- admin ----------------------------------------------------------------------------------
def _admin_key() -> str | None:
    settings = wiring.settings()
    if settings.admin_api_key:
        return settings.admin_api_key
    if not settings.admin_api_key_ssm_param:
        return None

    def read_ssm() -> str:
        import boto3  # lazy: only the admin route on AWS pays for it

        ssm = boto3.client("ssm")
        return ssm.get_parameter(Name=settings.admin_api_key_ssm_param, WithDecryption=True)["Parameter"]["Value"]

    return wiring.get("admin_api_key", read_ssm)


def check_admin(headers: Any) -> None:
    """503 when no admin key is configured (admin is off: no key could be right), 401 without a key,
    403 for a wrong one."""
    expected = _admin_key()
    if not expected:
        raise ApiError(503, "admin is off: no admin key is configured (set ADMIN_API_KEY or "
                            "ADMIN_API_KEY_SSM_PARAM)", "X-API-Key", "admin_disabled")
    given = (headers or {}).get("x-api-key")
    if not given:
        raise ApiError(401, "missing X-API-Key header", "X-API-Key", "unauthorized")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "invalid API key", "X-API-Key", "forbidden")


def to_schedule(body: FeeStructureBody) -> FeeSchedule:
    return fee_from_dict(body.model_dump())


def update_fees(dex: str, body: FeeStructureBody) -> dict[str, Any]:
    data.require_dex(dex)
    schedule = to_schedule(body)
    if not wiring.storage().update_fees(dex, schedule):
        raise not_found("dex", dex, "dex")
    client = data.kv()
    version = None
    if client is not None:
        with contextlib.suppress(Exception):
            incr = getattr(client, "incr", None)
            version = int(incr(keys.fees_version())) if incr else None
            if version is None:
                version = _now_ms()
                client.set(keys.fees_version(), str(version))
    invalidate_fees(dex, client)
    return {"status": "success", "message": f"Fees updated for {dex}", "dex_name": dex,
            "fee_structure": fee_to_dict(schedule),
            "fees_version": version}


def invalidate_fees(dex: str, client: Any) -> None:
    """Fee change: the dex_metadata list (Redis and memory) and every opportunities* / rates* memory entry."""
    CACHE.invalidate(data.DEXES, data.FEES, "opportunities", "rates", kv=client,
                     redis_keys=(keys.dex_metadata("all"),))
