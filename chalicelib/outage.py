"""Dependency outages (PostgreSQL, Redis) as the service sees them: classified, and logged once per change.

`dependency(exc)` names the dependency an exception says is unreachable ("database", "redis") or None for
anything else (bad data, a bug). `down(name, exc)` / `up(name)` keep the per-process state and log ONE line
when it changes (never a traceback per request while a server is away). The REST wrapper (api/http.py)
answers 503 with `Retry-After: RETRY_AFTER_S` for an outage nobody could serve around; reads that have a
last-known copy serve it marked stale instead (api/cache.py).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)
RETRY_AFTER_S = 10                      # what a 503 asks a client to wait (seconds)
_lock = threading.Lock()
_down: dict[str, tuple[float, str]] = {}   # name -> (since, epoch s; reason)


def database_outage(exc: BaseException) -> bool:
    """PostgreSQL unreachable (refused, reset, timed out, connection lost), as opposed to the database refusing
    a statement for its content (DataError, IntegrityError) or a bug. psycopg is looked up, never imported."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def redis_outage(exc: BaseException) -> bool:
    from chalicelib.cache.store import is_outage

    return is_outage(exc)


def dependency(exc: BaseException) -> str | None:
    if database_outage(exc):
        return "database"
    if redis_outage(exc):
        return "redis"
    return None


def down(name: str, exc: BaseException | str) -> None:
    reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    with _lock:
        if name in _down:
            return
        _down[name] = (time.time(), reason)
    log.error("%s unavailable (%s): serving last known data marked stale, else 503 with Retry-After %d s",
              name, reason, RETRY_AFTER_S)


def up(name: str) -> None:
    if name not in _down:    # the common case: no lock, no log
        return
    with _lock:
        since = _down.pop(name, None)
    if since is not None:
        log.warning("%s available again after %.0f s", name, time.time() - since[0])


def state(name: str) -> dict[str, Any] | None:
    """{"since": epoch s, "reason"} while `name` is known to be down in this process, else None."""
    entry = _down.get(name)
    return None if entry is None else {"since": entry[0], "reason": entry[1]}


def reset() -> None:
    with _lock:
        _down.clear()
