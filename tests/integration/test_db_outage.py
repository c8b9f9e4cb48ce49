"""PostgreSQL stopped for 60 s while the collectors run: every batch is buffered in Redis and stored
when the database returns (0 rows lost, counted per venue)."""

from __future__ import annotations

import time

import psycopg
import pytest
import redis

from chalicelib.services import buffer, jobs
from chalicelib.settings import Settings, reset_settings_cache
from chalicelib.storage.migrate import migrate
from chalicelib.storage.repository import PgStorage
from chalicelib.transport.breaker import CircuitBreaker, DictStore
from chalicelib.transport.budget import reset_buckets
from frs_local.replay import ReplayServer
from frs_local.servers import PostgresServer, ServerUnavailable, free_port
from tests.conftest import IN_CI

VENUES = ("hyperliquid", "lighter", "paradex", "grvt", "edgex")
OUTAGE_S = 60
CYCLE_S = 10


@pytest.fixture
def own_pg(_tmp_root):
    """A PostgreSQL of this test's own: it is stopped and restarted mid-test."""
    server = PostgresServer(data_dir=_tmp_root / "pg-outage", port=free_port())
    try:
        server.start()
    except ServerUnavailable as exc:
        if IN_CI:
            pytest.fail(f"required server missing under CI=true: {exc}", pytrace=False)
        pytest.skip(str(exc))
    yield server
    server.stop()


def rows_per_venue(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT d.name, count(*) FROM funding_rates f JOIN dexes d ON d.id = f.dex_id "
                                 "GROUP BY d.name").fetchall())


def test_a_60s_database_outage_loses_no_collected_row(own_pg, redis_url, monkeypatch):
    migrate(own_pg.dsn)
    kv = redis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    with ReplayServer(port=0, seed=4) as replay:
        for key, value in replay.base_urls().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", own_pg.dsn)
        monkeypatch.setenv("COLLECTION_TIMEOUT_SECONDS", "8")
        reset_settings_cache()
        reset_buckets()
        settings = Settings.from_env()
        storage = PgStorage(own_pg.dsn)
        collected = dict.fromkeys(VENUES, 0)         # snapshots each venue's collections produced
        outcomes: list[tuple[str, str, str | None]] = []

        def cycle() -> None:
            for dex in VENUES:
                breaker = CircuitBreaker(dex, DictStore(), threshold=10**6, reset_seconds=1)   # venue faults only
                summary = jobs.collect(dex, settings=settings, storage=storage, kv=kv,
                                       collect_kwargs={"breaker": breaker})
                collected[dex] += summary["markets"]
                outcomes.append((dex, summary["status"], summary["error"]))

        try:
            cycle()
            own_pg.stop()
            stopped = time.monotonic()
            while time.monotonic() - stopped < OUTAGE_S:
                t0 = time.monotonic()
                cycle()
                time.sleep(max(0.0, CYCLE_S - (time.monotonic() - t0)))
            waiting = buffer.backlog(kv, VENUES)
            own_pg.start()
            cycle()                                      # stores its own batch, then drains the backlog
            cycle()
        finally:
            storage.close()
            reset_settings_cache()
    during = [o for o in outcomes[len(VENUES):-2 * len(VENUES)]]
    assert during and all("buffered in Redis" in (err or "") for _dex, _status, err in during), during
    assert all(w["batches_waiting"] >= OUTAGE_S // CYCLE_S - 1 for w in waiting.values()), waiting
    stored = rows_per_venue(own_pg.dsn)
    assert stored == collected, f"stored {stored} vs collected {collected}"        # 0 rows lost, per venue
    after = buffer.backlog(kv, VENUES)
    assert all(a["batches_waiting"] == 0 and a["snapshots_lost"] == 0 for a in after.values()), after
