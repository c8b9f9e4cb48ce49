"""PostgreSQL stopped for 60 s while the collectors run: every batch is buffered in Redis and stored
when the database returns (0 rows lost, counted per venue), and every read route of the REST API answers
200 marked stale or 503 with Retry-After the whole time, never 500, with one log line for the outage
(not a traceback per request)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from chalicelib import outage, wiring
from chalicelib.api.cache import CACHE
from chalicelib.api.routes import ROUTES
from chalicelib.services import buffer, jobs
from chalicelib.settings import Settings, reset_settings_cache
from chalicelib.storage.migrate import migrate
from chalicelib.storage.repository import PgStorage
from chalicelib.transport.breaker import CircuitBreaker, DictStore
from chalicelib.transport.budget import reset_buckets
from frs_local.replay import ReplayServer
from frs_local.servers import PostgresServer, free_port
from tests.conftest import started

VENUES = ("hyperliquid", "lighter", "paradex", "grvt", "edgex")
OUTAGE_S = 60
CYCLE_S = 10


@pytest.fixture
def own_pg(_tmp_root):
    """A PostgreSQL of this test's own: it is stopped and restarted mid-test."""
    port = free_port()
    with started(PostgresServer(data_dir=_tmp_root / f"pg-outage-{port}", port=port)) as server:   # its own cluster
        yield server


def rows_per_venue(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT d.name, count(*) FROM funding_rates f JOIN dexes d ON d.id = f.dex_id "
                                 "GROUP BY d.name").fetchall())


def read_paths() -> list[str]:
    """Every GET route of the route table, its path parameters filled in (a replay venue, BTC)."""
    start = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    queries = {"/api/v1/opportunities/compare": "?dex1=hyperliquid&dex2=lighter",
               "/api/v1/backtest": f"?symbol=BTC&long_dex=hyperliquid&short_dex=lighter&start_time={start}",
               "/api/v1/history/funding-rates/{dex}/{symbol}": "?period=24h"}
    return [r.path.replace("{dex}", "hyperliquid").replace("{symbol}", "BTC").replace("{webhook_id}", "1")
            + queries.get(r.path, "") for r in ROUTES if r.method == "GET"]


def rest_round(client, paths: list[str], seen: dict[str, list[tuple[int, bool]]], database_down: bool = True) -> list[str]:
    """One request per read path; returns what broke the contract (a 500, a 503 without Retry-After or JSON,
    a 200 data response from the database tier while the database is down)."""
    broken = []
    for path in paths:
        r = client.http.get(path, headers={"X-API-Key": "nope"})
        headers = {k.lower(): v for k, v in r.headers.items()}
        body = json.loads(r.body) if headers.get("content-type", "").startswith("application/json") else None
        stale = isinstance(body, dict) and body.get("stale") is True
        seen.setdefault(path, []).append((r.status_code, stale))
        if r.status_code >= 500 and r.status_code != 503:
            broken.append(f"{path} -> {r.status_code} {r.body[:200]!r}")
        elif r.status_code == 503 and not (headers.get("retry-after") and isinstance(body, dict)
                                           and (body.get("error") or body.get("status") == "unhealthy")):
            broken.append(f"{path} -> 503 without Retry-After/JSON: {headers} {r.body[:200]!r}")
        elif database_down and r.status_code == 200 and isinstance(body, dict) and body.get("source") == "database":
            broken.append(f"{path} -> 200 from the database while it is down?! {r.body[:200]!r}")
    return broken


def test_a_60s_database_outage_loses_no_collected_row(own_pg, redis_url, monkeypatch, caplog):
    from chalice.test import Client

    from app import app

    migrate(own_pg.dsn)
    kv = redis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    paths = read_paths()
    seen: dict[str, list[tuple[int, bool]]] = {}
    broken: list[str] = []
    with ReplayServer(port=0, seed=4) as replay:
        for key, value in replay.base_urls().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", own_pg.dsn)
        monkeypatch.setenv("COLLECTION_TIMEOUT_SECONDS", "8")
        reset_settings_cache()
        reset_buckets()
        settings = Settings.from_env()
        storage = PgStorage(own_pg.dsn)
        # the REST side: its own connection, Redis copies that expire within the outage (CACHE_TTL_SECONDS=5)
        rest_storage = PgStorage(own_pg.dsn)
        wiring.override(settings=Settings.from_env({"DATABASE_URL": own_pg.dsn, "REDIS_URL": redis_url,
                                                    "CACHE_TTL_SECONDS": "5"}), storage=rest_storage, kv=kv)
        CACHE.clear()
        outage.reset()
        client = Client(app)
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
            warm = {p: client.http.get(p).status_code for p in paths}      # the last known copies are taken here
            assert 500 not in warm.values(), warm
            own_pg.stop()
            caplog.clear()
            caplog.set_level(logging.INFO)
            stopped = time.monotonic()
            while time.monotonic() - stopped < OUTAGE_S:
                t0 = time.monotonic()
                cycle()
                broken += rest_round(client, paths, seen)
                time.sleep(max(0.0, CYCLE_S - (time.monotonic() - t0)))
            waiting = buffer.backlog(kv, VENUES)
            outage_logs = list(caplog.records)
            own_pg.start()
            cycle()                                      # stores its own batch, then drains the backlog
            cycle()
            after_rest = {p: client.http.get(p).status_code for p in paths}
        finally:
            storage.close()
            rest_storage.close()
            wiring.reset()
            CACHE.clear()
            reset_settings_cache()
    assert broken == [], "\n".join(broken[:20])
    rounds = len(seen[paths[0]])
    print(f"\nREST during the outage ({rounds} rounds x {len(paths)} read routes): "
          + ", ".join(f"{p.split('?')[0]}: {sorted({s for s, _ in v})}{' stale' if any(st for _, st in v) else ''}"
                      for p, v in seen.items()))
    # the hot reads keep answering from their last known copies, marked stale, after the Redis copies expired
    for path in ("/api/v1/funding-rates", "/api/v1/opportunities", "/api/v1/dexes", "/api/v1/funding-rates/hyperliquid"):
        assert seen[path][-1] == (200, True), (path, seen[path])
    assert seen["/api/v1/health"][-1][0] == 503                 # the database is a component: down
    assert not [r for r in outage_logs if r.exc_info], [r.getMessage() for r in outage_logs if r.exc_info][:3]
    db_lines = [r for r in outage_logs if r.name == "chalicelib.outage" and r.getMessage().startswith("database unavailable")]
    assert len(db_lines) == 1, [r.getMessage() for r in db_lines]   # one line per state change, not per request
    assert 500 not in after_rest.values() and after_rest["/api/v1/health"] == 200, after_rest
    during = [o for o in outcomes[len(VENUES):-2 * len(VENUES)]]
    assert during and all("buffered in Redis" in (err or "") for _dex, _status, err in during), during
    assert all(w["batches_waiting"] >= OUTAGE_S // CYCLE_S - 1 for w in waiting.values()), waiting
    stored = rows_per_venue(own_pg.dsn)
    assert stored == collected, f"stored {stored} vs collected {collected}"        # 0 rows lost, per venue
    after = buffer.backlog(kv, VENUES)
    assert all(a["batches_waiting"] == 0 and a["snapshots_lost"] == 0 for a in after.values()), after
