"""Durable ingest buffer: a collection the database could not take waits in Redis, not on the floor.

When storing a venue's batch fails (PostgreSQL down, failover, a full connection slot), the collector
appends the batch to that venue's Redis list `frs:v1:ingest_buffer:<dex>` (lossless codec). The next
collection of the venue that stores successfully drains the list oldest first under a short lock (one
drainer per venue, even with overlapping Lambdas), re-ingesting each batch (idempotent: ON CONFLICT on
funding_rates' key) and popping it only after it is stored. The list is capped at MAX_BATCHES per venue
(about four hours at one batch a minute); batches that cannot be kept - the cap is reached, or Redis is
down as well - are COUNTED per venue (`frs:v1:ingest_buffer:lost:<dex>`, in /health) and logged once per
state change, never silently dropped. On AWS, Redis is ElastiCache; locally redis-server (or the
in-memory fallback, which keeps the buffer for the life of the process only).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from chalicelib.cache.keys import PREFIX
from chalicelib.core.models import MarketSnapshot

log = logging.getLogger(__name__)
MAX_BATCHES = 240
DRAIN_PER_RUN = 60             # batches re-ingested per collection (bounded: a collector has a deadline)
LOCK_TTL_S = 120
_UNRECORDED_LOSS: dict[str, int] = {}   # snapshots lost while Redis was down too: added to the counter later


def _record_loss(kv: Any, dex: str) -> None:
    pending = _UNRECORDED_LOSS.pop(dex, 0)
    if pending:
        kv.incr(lost_key(dex), pending)


def buffer_key(dex: str) -> str:
    return f"{PREFIX}:ingest_buffer:{dex}"


def lost_key(dex: str) -> str:
    return f"{PREFIX}:ingest_buffer:lost:{dex}"


def _lock_key(dex: str) -> str:
    return f"{PREFIX}:ingest_buffer:lock:{dex}"


def encode(dex: str, snapshots: Sequence[MarketSnapshot], *, at_ms: int) -> str:
    from chalicelib.core.codec import snapshot_to_dict

    return json.dumps({"dex": dex, "at_ms": at_ms, "snapshots": [snapshot_to_dict(s) for s in snapshots]})


def decode(raw: bytes | str) -> tuple[int, list[MarketSnapshot]]:
    from chalicelib.core.codec import snapshot_from_dict

    doc = json.loads(raw)
    return int(doc["at_ms"]), [snapshot_from_dict(d) for d in doc["snapshots"]]


def spill(kv: Any, dex: str, snapshots: Sequence[MarketSnapshot], *, now_ms: int | None = None,
          max_batches: int = MAX_BATCHES) -> str:
    """Keep a batch the database refused. Returns what happened, for the collection log."""
    if not snapshots:
        return "nothing to buffer"
    at_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    try:
        length = int(kv.rpush(buffer_key(dex), encode(dex, snapshots, at_ms=at_ms)))
        _record_loss(kv, dex)
        if length > max_batches:                   # keep the newest: the oldest batch goes, counted
            oldest = kv.lpop(buffer_key(dex))
            dropped = len(decode(oldest)[1]) if oldest else 0
            kv.incr(lost_key(dex), dropped)
            log.error("ingest buffer %s full (%d batches): oldest batch of %d snapshots dropped", dex, max_batches, dropped)
            return f"buffered in Redis ({max_batches} batches, full: oldest {dropped} snapshots dropped and counted)"
        return f"buffered in Redis ({length} batch(es) waiting)"
    except Exception as exc:
        from chalicelib.cache.store import is_outage

        if not is_outage(exc):
            raise
        _UNRECORDED_LOSS[dex] = _UNRECORDED_LOSS.get(dex, 0) + len(snapshots)   # recorded when Redis returns
        log.error("ingest buffer %s: Redis unavailable too (%s): %d snapshots lost", dex, exc, len(snapshots))
        return f"LOST: {len(snapshots)} snapshots (database and Redis both unavailable)"


def drain(kv: Any, storage: Any, dex: str, *, max_batches: int = DRAIN_PER_RUN) -> dict[str, int]:
    """Re-ingest buffered batches of one venue, oldest first; stops at the first failure (kept for later)."""
    out = {"batches": 0, "rows": 0, "left": 0}
    try:
        _record_loss(kv, dex)
        if not kv.llen(buffer_key(dex)):
            return out
        if not kv.set(_lock_key(dex), "1", nx=True, ex=LOCK_TTL_S):
            return out                             # another collector of this venue is draining
    except Exception as exc:
        from chalicelib.cache.store import is_outage

        if is_outage(exc):
            return out
        raise
    try:
        for _ in range(max_batches):
            raw = kv.lindex(buffer_key(dex), 0)
            if raw is None:
                break
            _at, snapshots = decode(raw)
            out["rows"] += int(storage.ingest(snapshots))     # raises while the database is still down
            kv.lpop(buffer_key(dex))
            out["batches"] += 1
        out["left"] = int(kv.llen(buffer_key(dex)))
    except Exception as exc:
        log.warning("ingest buffer %s: drain stopped after %d batches: %s", dex, out["batches"], exc)
    finally:
        kv.delete(_lock_key(dex))
    if out["batches"]:
        log.info("ingest buffer %s: %d buffered batches stored (%d rows), %d left", dex, out["batches"], out["rows"],
                 out["left"])
    return out


def backlog(kv: Any, dexes: Sequence[str], *, now_ms: int | None = None) -> dict[str, dict[str, Any]]:
    """Per venue: batches waiting, age of the oldest (seconds), snapshots lost (for /health)."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    out: dict[str, dict[str, Any]] = {}
    for dex in dexes:
        waiting = int(kv.llen(buffer_key(dex)) or 0)
        oldest = kv.lindex(buffer_key(dex), 0) if waiting else None
        lost = kv.get(lost_key(dex))
        out[dex] = {"batches_waiting": waiting,
                    "oldest_age_seconds": round((now_ms - decode(oldest)[0]) / 1000, 1) if oldest else None,
                    "snapshots_lost": int(lost) if lost else 0}
    return out
