"""A venue fault at any stage ends the same way on the real stack (issue 12): the collection-log row in
PostgreSQL carries the stage-named reason, the breaker (state in Redis) opens after the threshold, and
/health names both for that venue. Faults injected by the replay server: `shape` (200 with JSON of the wrong
shape: raised in GRVT's and EdgeX's follow_up(), in Hyperliquid's parse()) and `500` (the first stage).
The unit tests (tests/unit/services/test_collect_faults.py) cover every venue x stage with fakes.
"""

from __future__ import annotations

import json

import pytest
import redis
from chalice.test import Client

from chalicelib import wiring
from chalicelib.api.cache import CACHE
from chalicelib.services import jobs
from chalicelib.settings import Settings, reset_settings_cache
from chalicelib.storage.repository import PgStorage
from chalicelib.transport.breaker import reset_memory
from chalicelib.transport.budget import reset_buckets
from frs_local.replay import ReplayServer


@pytest.mark.parametrize(("dex", "fault", "stage_words"), [
    ("grvt", "shape", "follow-up parse error"),       # the ParseError that used to escape the collector
    ("edgex", "shape", "parse error"),                # EdgeX's follow_up defers the shape error to parse()
    ("hyperliquid", "shape", "parse error"),
    ("paradex", "500", "HTTP 500"),
])
def test_a_venue_fault_reaches_the_log_the_breaker_and_health(db_url, redis_url, monkeypatch, dex, fault, stage_words):
    kv = redis.Redis.from_url(redis_url)
    kv.flushdb()
    with ReplayServer(port=0, seed=3) as replay:
        for key, value in replay.base_urls().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", db_url)
        monkeypatch.setenv("REDIS_URL", redis_url)
        monkeypatch.setenv("COLLECTION_TIMEOUT_SECONDS", "8")
        reset_settings_cache()
        reset_buckets()
        reset_memory()
        settings = Settings.from_env()
        storage = PgStorage(db_url)
        wiring.override(settings=settings, storage=storage, kv=kv)
        CACHE.clear()
        try:
            replay.set_fault(dex, fault)
            summaries = [jobs.collect(dex, settings=settings, storage=storage, kv=kv)
                         for _ in range(settings.circuit_failure_threshold)]
            row = storage.latest_collections()[dex]
            breaker = json.loads(kv.get(f"frs:v1:breaker:{dex}"))
            from app import app

            r = Client(app).http.get("/api/v1/health")
        finally:
            wiring.reset()
            CACHE.clear()
            storage.close()
            reset_settings_cache()
    assert all(s["status"] == "failed" and stage_words in s["error"] for s in summaries), summaries
    assert row["status"] == "failed" and stage_words in row["reason"], row                 # the collection-log row
    assert breaker["state"] == "open" and breaker["failures"] == settings.circuit_failure_threshold
    venue = next(d for d in json.loads(r.body)["dex_health"] if d["dex_name"] == dex)
    assert venue["is_healthy"] is False and venue["breaker_state"] == "open"
    assert "circuit breaker open" in venue["problems"]
    assert any(p.startswith("collection failed: ") and stage_words in p for p in venue["problems"]), venue["problems"]
