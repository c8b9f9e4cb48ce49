"""Fault suite (issue 12): Redis stopped while the collectors run, then Redis AND PostgreSQL stopped together.

Redis down: every collection still lands in PostgreSQL (0 rows lost), REST serves from the database (200,
never 500), /health says `degraded` with Redis, the WebSocket push path and the ingest buffer named, and the
outage is ONE log line. Both down: what cannot be kept is counted per venue ("LOST: n snapshots" in the
collection result, then the buffer's lost counter and /health once Redis returns), never silent; REST answers
200 marked stale or 503 with Retry-After throughout.
"""

from __future__ import annotations

import logging
import re
import time

import pytest
import redis
from chalice.test import Client

from chalicelib import outage, wiring
from chalicelib.api.cache import CACHE
from chalicelib.services import buffer, jobs
from chalicelib.settings import Settings, reset_settings_cache
from chalicelib.storage.migrate import migrate
from chalicelib.storage.repository import PgStorage
from chalicelib.transport.breaker import CircuitBreaker, DictStore
from chalicelib.transport.budget import reset_buckets
from frs_local.replay import ReplayServer
from frs_local.servers import RedisServer, free_port
from tests.conftest import started
from tests.integration.test_db_outage import own_pg, read_paths, rest_round, rows_per_venue

__all__ = ["own_pg"]   # the fixture, used by name below
VENUES = ("hyperliquid", "paradex")
CYCLE_S = 4


@pytest.fixture
def own_redis(_tmp_root):
    with started(RedisServer(data_dir=_tmp_root / f"redis-outage-{free_port()}", port=free_port())) as server:
        yield server


class Rig:
    """Collectors (jobs.collect, as the scheduled Lambda runs them) and the REST app on one PostgreSQL and Redis."""

    def __init__(self, pg, rds, replay, monkeypatch) -> None:
        for key, value in replay.base_urls().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", pg.dsn)
        monkeypatch.setenv("COLLECTION_TIMEOUT_SECONDS", "8")
        reset_settings_cache()
        reset_buckets()
        self.settings = Settings.from_env()
        self.kv = redis.Redis.from_url(rds.url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self.storage = PgStorage(pg.dsn)
        self.rest_storage = PgStorage(pg.dsn)
        wiring.override(settings=Settings.from_env({"DATABASE_URL": pg.dsn, "REDIS_URL": rds.url,
                                                    "CACHE_TTL_SECONDS": "5"}), storage=self.rest_storage, kv=self.kv)
        CACHE.clear()
        outage.reset()
        from app import app

        self.client = Client(app)
        self.paths = read_paths()
        self.collected = dict.fromkeys(VENUES, 0)
        self.summaries: list[dict] = []
        self.seen: dict[str, list[tuple[int, bool]]] = {}

    def cycle(self) -> None:
        for dex in VENUES:
            breaker = CircuitBreaker(dex, DictStore(), threshold=10**6, reset_seconds=1)   # venue faults only
            summary = jobs.collect(dex, settings=self.settings, storage=self.storage, kv=self.kv,
                                   collect_kwargs={"breaker": breaker})
            self.collected[dex] += summary["markets"]
            self.summaries.append(summary)

    def health(self) -> tuple[int, dict]:
        import json

        CACHE.invalidate("health")   # /health is cached 5 s; each check here wants the present state
        r = self.client.http.get("/api/v1/health")
        return r.status_code, json.loads(r.body)

    def close(self) -> None:
        self.storage.close()
        self.rest_storage.close()
        wiring.reset()
        CACHE.clear()
        reset_settings_cache()


def test_redis_outage_loses_nothing_and_rest_reads_the_database(own_pg, own_redis, monkeypatch, caplog):
    migrate(own_pg.dsn)
    before = rows_per_venue(own_pg.dsn)        # own_pg's data directory outlives one test
    with ReplayServer(port=0, seed=5) as replay:
        rig = Rig(own_pg, own_redis, replay, monkeypatch)
        try:
            rig.cycle()
            assert {p: rig.client.http.get(p).status_code for p in rig.paths}.get("/api/v1/funding-rates") == 200
            own_redis.stop()
            caplog.clear()
            caplog.set_level(logging.INFO)
            broken: list[str] = []
            stopped = time.monotonic()
            while time.monotonic() - stopped < 3 * CYCLE_S:
                t0 = time.monotonic()
                rig.cycle()
                broken += rest_round(rig.client, rig.paths, rig.seen, database_down=False)
                time.sleep(max(0.0, CYCLE_S - (time.monotonic() - t0)))
            status, health = rig.health()
            logs = list(caplog.records)
            own_redis.start()
            rig.cycle()
        finally:
            rig.close()
    now = rows_per_venue(own_pg.dsn)
    stored = {d: now.get(d, 0) - before.get(d, 0) for d in VENUES}
    assert stored == rig.collected, f"stored {stored} vs collected {rig.collected}"      # 0 rows lost, per venue
    assert all(s["status"] != "failed" for s in rig.summaries), rig.summaries
    assert broken == [], "\n".join(broken[:20])
    for path in ("/api/v1/funding-rates", "/api/v1/opportunities", "/api/v1/history/funding-rates/hyperliquid/BTC?period=24h",
                 "/api/v1/stats/funding-rates/BTC", "/api/v1/dexes"):
        assert {code for code, _ in rig.seen[path]} == {200}, (path, rig.seen[path])    # the database answers
    assert status == 200 and health["status"] == "degraded"
    c = health["components"]
    assert (c["database"]["status"], c["redis"]["status"], c["websocket_push"]["status"],
            c["ingest_buffer"]["status"]) == ("up", "down", "down", "unknown"), c
    assert "Redis unavailable" in c["websocket_push"]["reason"]
    assert not [r for r in logs if r.exc_info], [r.getMessage() for r in logs if r.exc_info][:3]
    lines = [r.getMessage() for r in logs if r.name == "chalicelib.outage" and r.getMessage().startswith("redis unavailable")]
    assert len(lines) == 1, lines                                                       # one line per state change


def test_redis_and_database_down_together_the_loss_is_counted(own_pg, own_redis, monkeypatch):
    migrate(own_pg.dsn)
    before = rows_per_venue(own_pg.dsn)        # own_pg's data directory outlives one test
    with ReplayServer(port=0, seed=6) as replay:
        rig = Rig(own_pg, own_redis, replay, monkeypatch)
        broken: list[str] = []
        try:
            rig.cycle()
            for p in rig.paths:
                rig.client.http.get(p)                        # the last known copies
            own_pg.stop()
            own_redis.stop()
            first_lost = len(rig.summaries)
            for _ in range(2):
                rig.cycle()
                time.sleep(3)                                 # past the 5 s memory tier by the second round
                broken += rest_round(rig.client, rig.paths, rig.seen)
            both_down = rig.summaries[first_lost:]
            own_redis.start()                                 # PostgreSQL still down: the loss is recorded now
            rig.cycle()
            broken += rest_round(rig.client, rig.paths, rig.seen)
            status, health = rig.health()
            counted = buffer.backlog(rig.kv, VENUES)
            own_pg.start()
            rig.cycle()
            rig.cycle()
            after = buffer.backlog(rig.kv, VENUES)
        finally:
            rig.close()
    # each collection with both down says what it lost, in its result: "LOST: n snapshots (...)"
    lost_per_venue = dict.fromkeys(VENUES, 0)
    for s in both_down:
        m = re.search(r"LOST: (\d+) snapshots", s["error"] or "")
        assert s["status"] == "failed" and m, s
        lost_per_venue[s["dex_name"]] += int(m.group(1))
    assert all(n > 0 for n in lost_per_venue.values()), lost_per_venue
    # ... and once Redis is back, the buffer's counter holds exactly that, per venue, and /health shows it
    assert {d: counted[d]["snapshots_lost"] for d in VENUES} == lost_per_venue, counted
    assert status == 503 and health["components"]["ingest_buffer"]["status"] == "lost"
    assert health["components"]["ingest_buffer"]["snapshots_lost"] == sum(lost_per_venue.values())
    assert broken == [], "\n".join(broken[:20])
    assert (200, True) in rig.seen["/api/v1/opportunities"], rig.seen["/api/v1/opportunities"]   # the last known copy
    # what was buffered while only PostgreSQL was down is stored; what was lost stays counted
    assert all(a["batches_waiting"] == 0 for a in after.values()), after
    now = rows_per_venue(own_pg.dsn)        # rig.collected counts batches stored or buffered, not the lost ones
    stored = {d: now.get(d, 0) - before.get(d, 0) for d in VENUES}
    assert stored == rig.collected, f"stored {stored} vs collected {rig.collected} (lost {lost_per_venue})"
