"""One reused psycopg 3 connection per process (Lambda container), reconnecting once when broken.

No in-process pool (DESIGN.md §5): a Lambda handles one event at a time. `prepare_threshold=None`
keeps RDS Proxy / PgBouncer (transaction pooling) working. Autocommit is off: every unit of work
runs in `Database.run(fn)`, one explicit transaction, committed on return.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TypeVar

import psycopg
from psycopg.types.json import set_json_loads

from chalicelib import outage

log = logging.getLogger(__name__)
T = TypeVar("T")

# JSONB numbers come back as Decimal, so fee tiers stay exact (0.00015 is not a float).
_json_loads = partial(json.loads, parse_float=Decimal)


class Database:
    """Owns the connection; `run(fn)` calls fn(conn) inside a transaction, reconnecting once."""

    def __init__(self, dsn: str, *, connect_timeout: int = 10, application_name: str = "frs") -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self._conn: psycopg.Connection | None = None
        self._lock = threading.RLock()   # a local threaded server may share the storage object
        self.reconnects = 0

    def connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.dsn, autocommit=False, prepare_threshold=None,
                               connect_timeout=self.connect_timeout, application_name=self.application_name)
        set_json_loads(_json_loads, conn)
        with conn.transaction():
            conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def conn(self) -> psycopg.Connection:
        """The live connection (opened on first use, reopened when closed or broken)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._close_quietly()
            self._conn = self.connect()
        return self._conn

    def run(self, fn: Callable[[psycopg.Connection], T], on_retry: Callable[[], None] | None = None) -> T:
        """fn(conn) in one transaction. When the connection turns out to be dead (server restart,
        pg_terminate_backend, idle timeout of a proxy) it is reopened and fn retried once; other
        errors roll back and propagate. fn must be safe to repeat (our writes are idempotent or
        harmless to repeat: upserts, ON CONFLICT, appends of a log row). `on_retry` lets the caller
        forget state it derived from the failed transaction before the retry."""
        with self._lock:
            for attempt in (1, 2):
                conn = self.conn()
                try:
                    with conn.transaction():
                        result = fn(conn)
                    outage.up("database")   # logs once if an outage had been noted (chalicelib.outage)
                    return result
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    dead = conn.closed or conn.broken
                    if not dead or attempt == 2:
                        raise
                    log.warning("database connection lost (%s); reconnecting once", type(exc).__name__)
                    self._close_quietly()
                    self.reconnects += 1
                    if on_retry is not None:
                        on_retry()
            raise AssertionError("unreachable")

    def backend_pid(self) -> int:
        return int(self.conn().info.backend_pid)

    def _close_quietly(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                conn.close()
            except Exception:   # already half-dead; nothing to do
                log.debug("closing a broken connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._close_quietly()
