"""Settlement run against the replay server on real PostgreSQL + Redis, end to end:

- the replay pays lighter's settlements x8 and grvt's x100 what they published; after ONE settlement run
  both are `unit_mismatch` with factors within 5 % of 8 and 100, the other three venues `verified`;
- the verdict changes go out as venue events: `venue_event` frames to a WebSocket subscriber (real HTTP to a
  loopback `@connections` endpoint; a subscriber filtered to hyperliquid gets none) and `venue.unit_mismatch`
  webhooks to a real loopback receiver through the app's own delivery handler;
- the REST API (the app's handlers) shows them in /health with the factor and leaves them out of
  /opportunities;
- served correctly again, the next run verifies them: `verified` events, back in /opportunities.

Why the factors come out within 1 % (the previous version collected 50 min before each settlement and got 7.3
and 94): a replay settlement pays the last rate published before it, in the venue's quantisation (Lighter/GRVT
0.0001 %), and the test collects 1 s before each settlement (the replay's rate drifts ~1e-7/h in a second; a
live service collecting every minute sees up to a minute of drift, noise the robust slope absorbs).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.api import schemas
from chalicelib.api.cache import CACHE
from chalicelib.services import analyze, settle, ws_registry
from chalicelib.services.collect import Runtime, collect_all
from chalicelib.settings import Settings, reset_settings_cache
from chalicelib.storage.repository import PgStorage
from chalicelib.transport.breaker import CircuitBreaker, DictStore
from chalicelib.transport.budget import reset_buckets
from chalicelib.transport.push import ApiGatewayPusher
from chalicelib.venues import BY_ID
from frs_local.replay import ReplayServer

from .test_webhooks import Harness, Receiver
from .ws_endpoint import ConnectionsEndpoint

H = 3_600_000
FIVE = ("hyperliquid", "lighter", "paradex", "grvt", "edgex")
ANY = "limit=100&min_volume=0&min_divergence=0&min_profit=-1"     # every ranked pair, no filter hiding one


@pytest.fixture
def world(db_url, redis_url, monkeypatch):
    import redis

    clock = {"ms": 0}
    with ReplayServer(port=0, seed=2, clock=lambda: clock["ms"]) as replay, \
            ConnectionsEndpoint(live={"watch", "hl-only"}) as endpoint:
        for key, value in replay.base_urls().items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        reset_buckets()
        CACHE.clear()
        harness = Harness(db_url)          # webhooks on real PostgreSQL, delivered by the app's handler
        settings = Settings.from_env({**replay.base_urls(), "DATABASE_URL": db_url, "REDIS_URL": redis_url,
                                      "ENABLED_DEXES": ",".join(FIVE), "WS_MANAGEMENT_URL": endpoint.url})
        wiring.override(settings=settings, webhooks=harness.service)
        storage = PgStorage(db_url)
        kv = redis.Redis.from_url(redis_url)
        yield replay, clock, settings, storage, kv, endpoint, harness
        kv.close()
        storage.close()
        harness.db.close()
        CACHE.clear()
        reset_settings_cache()
        wiring.reset()


def collect_at(at_ms: int, settings, storage) -> None:
    reset_buckets()
    breakers = {d: CircuitBreaker(d, DictStore(), threshold=10**6, reset_seconds=1) for d in FIVE}
    collect_all([BY_ID[d] for d in FIVE], settings, storage, runtime=Runtime(wall=lambda: at_ms / 1000),
                breakers=breakers)


def settle_run(settings, storage, kv, endpoint, harness, now_ms):
    reset_buckets()
    return settle.run(settings=settings, storage=storage, kv=kv, modules=[BY_ID[d] for d in FIVE], now_ms=now_ms,
                      rate_scale=200,   # loopback replay server: not the venues' published budgets
                      pusher=ApiGatewayPusher(endpoint.url), emit=harness.service.emit)


def rest(client: Client, path: str) -> dict[str, Any]:
    CACHE.clear()          # a fresh container: what Redis / PostgreSQL hold, not this process's memory tier
    response = client.http.get(f"/api/v1{path}")
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def venue_frames(endpoint: ConnectionsEndpoint, cid: str) -> list[tuple[str, str, float, str]]:
    frames = endpoint.of(cid, "venue_event")
    for f in frames:
        schemas.VenueEvent.model_validate(f)        # the documented frame (AsyncAPI is generated from it)
    return sorted((f["event"], f["data"]["dex_name"], f["data"]["factor"], f["data"]["status"]) for f in frames)


def test_x8_and_x100_settlements_are_unit_mismatch_announced_excluded_and_recover(world):
    replay, clock, settings, storage, kv, endpoint, harness = world
    now = int(time.time() * 1000)
    top = now // H * H
    for k in range(5, -1, -1):          # 1 s before each of the last six settlement hours
        clock["ms"] = top - k * H - 1_000
        collect_at(clock["ms"], settings, storage)
    ws_registry.connect(kv, "watch", now_ms=now, endpoint=endpoint.url)
    ws_registry.handle_message(kv, "watch", '{"action":"subscribe","channels":["opportunities"]}', now_ms=now,
                               known_dexes=list(FIVE))
    ws_registry.connect(kv, "hl-only", now_ms=now, endpoint=endpoint.url)
    ws_registry.handle_message(kv, "hl-only", '{"action":"subscribe","filters":{"dexes":["hyperliquid"]}}',
                               now_ms=now, known_dexes=list(FIVE))
    with Receiver(clock=harness.clock) as rx:
        hook = harness.register(rx.url, ["venue.unit_mismatch", "venue.verified"])
        rx.secret = hook["secret"]

        clock["ms"] = now
        replay.set_settlement_scale("lighter", 8)       # paid 8x what it published
        replay.set_settlement_scale("grvt", 100)        # paid 100x
        summary = settle_run(settings, storage, kv, endpoint, harness, now)
        v = summary["verdicts"]
        assert v["lighter"]["status"] == "unit_mismatch" and v["lighter"]["suspected"] == "x8"
        assert abs(Decimal(v["lighter"]["factor"]) / 8 - 1) < Decimal("0.05")
        assert v["grvt"]["status"] == "unit_mismatch" and v["grvt"]["suspected"] == "x100"
        assert abs(Decimal(v["grvt"]["factor"]) / 100 - 1) < Decimal("0.05")
        for dex in ("hyperliquid", "paradex", "edgex"):
            assert v[dex]["status"] == "verified", (dex, v[dex])
            assert v[dex]["samples"] >= 12
        lighter_f, grvt_f = float(v["lighter"]["factor"]), float(v["grvt"]["factor"])

        # WebSocket: one venue_event frame per change to the subscriber; none to the hyperliquid-only one
        assert venue_frames(endpoint, "watch") == [("unit_mismatch", "grvt", grvt_f, "unit_mismatch"),
                                                   ("unit_mismatch", "lighter", lighter_f, "unit_mismatch")]
        assert endpoint.of("hl-only", "venue_event") == []
        # webhooks: signed deliveries to the receiver, through the queue and the app's delivery handler
        harness.drain()
        assert rx.bad_signatures == 0
        got = sorted((b["type"], b["data"]["dex_name"], b["data"]["suspected"]) for b in rx.bodies())
        assert got == [("venue.unit_mismatch", "grvt", "x100"), ("venue.unit_mismatch", "lighter", "x8")]
        # a second run with the same verdicts announces nothing
        again = settle_run(settings, storage, kv, endpoint, harness, now)
        assert again["events"] == [] and len(endpoint.of("watch", "venue_event")) == 2

        # REST: fresh rates, then /health names both with the factor and /opportunities has no leg on them
        clock["ms"] = int(time.time() * 1000)
        collect_at(clock["ms"], settings, storage)
        assert set(analyze.calibration_excluded(kv, storage)) == {"lighter", "grvt"}
        with Client(app) as client:
            by_dex = {d["dex_name"]: d for d in rest(client, "/health")["dex_health"]}
            for dex, name in (("lighter", "x8"), ("grvt", "x100")):
                cal = by_dex[dex]["calibration"]
                assert (cal["status"], cal["suspected"]) == ("unit_mismatch", name)
                assert not by_dex[dex]["is_healthy"]
                assert any(p.startswith("unit_mismatch: settled/published x") for p in by_dex[dex]["problems"])
            assert by_dex["hyperliquid"]["calibration"]["status"] == "verified"
            opps = rest(client, f"/opportunities?{ANY}")["opportunities"]
            assert opps                                                        # not vacuous: pairs were ranked
            assert not {d for o in opps for d in (o["long_dex"], o["short_dex"])} & {"lighter", "grvt"}
            assert rest(client, f"/opportunities?{ANY}&include_dexes=lighter,grvt")["opportunities"] == []

        # served correctly again: the next run verifies them (new settlements at the venue's true unit)
        replay.set_settlement_scale("lighter", 1)
        replay.set_settlement_scale("grvt", 1)
        _wipe_settlements(storage, ("lighter", "grvt"))   # what was paid at the wrong unit ages out of the window
        clock["ms"] = now
        summary = settle_run(settings, storage, kv, endpoint, harness, now)
        assert summary["verdicts"]["lighter"]["status"] == "verified"
        assert summary["verdicts"]["grvt"]["status"] == "verified"
        assert analyze.calibration_excluded(kv, storage) == {}
        assert [(e, d, s) for e, d, _f, s in venue_frames(endpoint, "watch") if e == "verified"] == [
            ("verified", "grvt", "verified"), ("verified", "lighter", "verified")]
        harness.drain()
        assert sorted((b["type"], b["data"]["dex_name"], b["data"]["previous"]) for b in rx.bodies()[2:]) == [
            ("venue.verified", "grvt", "unit_mismatch"), ("venue.verified", "lighter", "unit_mismatch")]

        clock["ms"] = int(time.time() * 1000)
        collect_at(clock["ms"], settings, storage)
        with Client(app) as client:
            # back in opportunities: pairs with both legs on lighter and grvt (DOGE, SUI diverge on grvt)
            opps = rest(client, f"/opportunities?{ANY}&include_dexes=lighter,grvt")["opportunities"]
            assert opps and {d for o in opps for d in (o["long_dex"], o["short_dex"])} == {"lighter", "grvt"}
            by_dex = {d["dex_name"]: d for d in rest(client, "/health")["dex_health"]}
            assert by_dex["lighter"]["calibration"]["status"] == "verified"


def _wipe_settlements(storage, dexes) -> None:
    import psycopg

    with psycopg.connect(storage.db.dsn) as conn:
        conn.execute("DELETE FROM settlements WHERE dex_id IN (SELECT id FROM dexes WHERE name = ANY(%s))",
                     (list(dexes),))
