"""Venue states end to end on real PostgreSQL + Redis, venues served by the replay server, the app's handlers:

- a venue whose rates are served x8 (hyperliquid) and one served x100 (paradex) are unit_suspect with that
  factor in /health and /dexes/{dex} after one cycle of the five collectors (each chaining the analysis), the
  other venues stay healthy, their opportunities are marked, and a WebSocket subscriber gets venue_event frames;
- GRVT with its request budget exhausted is degraded, with the count of markets not fetched, in /health,
  /dexes/grvt and the collection log.
"""

from __future__ import annotations

import importlib
import json
import uuid
from typing import Any

import psycopg
import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.api.cache import CACHE
from chalicelib.settings import Settings
from chalicelib.transport.budget import TokenBucket
from frs_local.replay import ReplayServer

from .ws_endpoint import ConnectionsEndpoint

ORDER = ("lighter", "grvt", "edgex", "hyperliquid", "paradex")


def ws_call(route_key: str, cid: str, body: str | None = None) -> Any:
    module, attr = app.websocket_handlers[route_key].handler_string.rsplit(".", 1)
    event = {"requestContext": {"routeKey": route_key, "connectionId": cid, "domainName": "127.0.0.1",
                                "stage": "ws", "apiId": "local", "requestId": f"r-{cid}",
                                "eventType": {"$connect": "CONNECT"}.get(route_key, "MESSAGE")},
             "isBase64Encoded": False, **({"body": body} if body is not None else {})}
    return getattr(importlib.import_module(module), attr)(event, None)


@pytest.fixture
def stack(db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    def start(**replay_kwargs: Any) -> tuple[ReplayServer, ConnectionsEndpoint]:
        replay = ReplayServer(port=0, seed=1, **replay_kwargs).start()
        endpoint = ConnectionsEndpoint(live={"watch", "lighter-only"}).__enter__()
        opened.append((replay, endpoint))
        settings = Settings.from_env({"DATABASE_URL": db_url, "REDIS_URL": redis_url,
                                      "WS_MANAGEMENT_URL": endpoint.url, **replay.base_urls()})
        wiring.override(settings=settings)
        return replay, endpoint

    opened: list[tuple[ReplayServer, ConnectionsEndpoint]] = []
    monkeypatch.setenv("FRS_CHAIN", "inprocess")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    from chalicelib.transport.breaker import reset_memory
    from chalicelib.transport.budget import reset_buckets

    reset_memory()
    reset_buckets()
    CACHE.clear()
    yield start
    wiring.reset()
    CACHE.clear()
    reset_buckets()
    for replay, endpoint in opened:
        endpoint.__exit__(None, None, None)
        replay.stop()


def collect(client: Client, dex: str) -> dict[str, Any]:
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                            resources=[f"arn:aws:events:us-east-1:000000000000:rule/collect-{dex}"])
    event["id"] = str(uuid.uuid4())
    return client.lambda_.invoke(f"collect-{dex}", event).payload


def get(client: Client, path: str) -> dict[str, Any]:
    CACHE.clear()          # a fresh container: what Redis / PostgreSQL hold, not this process's memory tier
    response = client.http.get(f"/api/v1{path}")
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def test_x8_and_x100_venues_are_unit_suspect_within_one_cycle(stack: Any) -> None:
    _, endpoint = stack(rate_scales={"hyperliquid": 8, "paradex": 100})
    ws_call("$connect", "watch")
    ws_call("$default", "watch", json.dumps({"action": "subscribe", "channels": ["opportunities"]}))
    ws_call("$connect", "lighter-only")
    ws_call("$default", "lighter-only", json.dumps({"action": "subscribe", "channels": ["funding_rates"],
                                                    "filters": {"dexes": ["lighter"]}}))
    with Client(app) as client:
        summaries = [collect(client, dex) for dex in ORDER]          # one cycle: every venue once
        assert [s["status"] for s in summaries] == ["success"] * 5
        last = summaries[-1]["analysis"]["result"]
        assert last["snapshots"] == sum(s["markets"] for s in summaries)

        health = get(client, "/health")
        by_dex = {d["dex_name"]: d for d in health["dex_health"]}
        # hyperliquid's rates x8 on every market: per symbol x8 of the agreeing venues' (lighter, grvt, edgex)
        # median; the replay venues differ by a per-(venue, asset) skew, so the median ratio is near 8, not 8.000
        hl = by_dex["hyperliquid"]["unit_check"]
        assert (hl["status"], hl["factor"]) == ("suspect", 8) and 8 / 1.5 <= hl["ratio"] <= 8 * 1.5
        assert not by_dex["hyperliquid"]["is_healthy"]
        assert any(p.startswith("unit_suspect x8") for p in by_dex["hyperliquid"]["problems"])
        pd = by_dex["paradex"]["unit_check"]
        assert (pd["status"], pd["factor"]) == ("suspect", 100) and 100 / 1.5 <= pd["ratio"] <= 100 * 1.5
        # the quiet level the agreeing venues share: a fraction per hour near the 0.0000125 interest term
        assert 0.000002 <= pd["reference_rate_1h"] <= 0.00005
        for dex in ("lighter", "grvt", "edgex"):
            assert by_dex[dex]["unit_check"]["status"] == "ok", by_dex[dex]
            assert by_dex[dex]["is_healthy"] and by_dex[dex]["problems"] == [], by_dex[dex]
            assert by_dex[dex]["collection"]["status"] == "success"
        assert health["status"] == "degraded"

        dex = get(client, "/dexes/paradex")
        assert (dex["unit_check"]["status"], dex["unit_check"]["factor"]) == ("suspect", 100)
        assert dex["unit_check"]["checked_at"] is not None and dex["collection"]["status"] == "success"
        assert get(client, "/dexes/lighter")["unit_check"]["status"] == "ok"
        listed = {d["name"]: d["unit_check"]["status"] for d in get(client, "/dexes")["dexes"]}
        assert listed == {"edgex": "ok", "grvt": "ok", "hyperliquid": "suspect", "lighter": "ok", "paradex": "suspect"}

        # opportunities on a suspect venue are kept and marked
        opps = get(client, "/opportunities?limit=100")["opportunities"]
        assert opps
        for o in opps:
            assert o["unit_suspect_dexes"] == [d for d in (o["long_dex"], o["short_dex"]) if d in ("hyperliquid", "paradex")]
        assert any(o["unit_suspect_dexes"] for o in opps)

    # the venue events, once each, on the WebSocket (the lighter-only subscriber gets none of them)
    events = [(f["event"], f["data"]["dex_name"], f["data"]["factor"]) for f in endpoint.of("watch", "venue_event")]
    assert sorted(events) == [("unit_suspect", "hyperliquid", 8), ("unit_suspect", "paradex", 100)]
    assert endpoint.of("lighter-only", "venue_event") == []


def test_grvt_with_its_budget_exhausted_is_degraded_with_the_count(stack: Any, db_url: str) -> None:
    replay, _ = stack()
    n = len(replay.universe.listings["grvt"])       # GRVT perps the replay lists, one ticker request each
    # GRVT at a 10 s interval: its 600/min budget refills 600 * 10 / 60 = 100 tokens a cycle. all_instruments
    # takes 1, 99 tickers go out, n - 99 markets are not fetched.
    wiring.override(collect_kwargs={"budget": TokenBucket(100, 0)})
    with Client(app) as client:
        summary = collect(client, "grvt")
        assert summary["status"] == "degraded" and summary["markets"] == 99
        reason = f"budget: {n - 99} of {n} markets not fetched (rate limit 600/min)"
        assert summary["error"] == reason

        grvt = next(d for d in get(client, "/health")["dex_health"] if d["dex_name"] == "grvt")
        assert grvt["collection"] == {"status": "degraded", "reason": reason, "markets": 99,
                                      "markets_unfetched": n - 99, "at": grvt["collection"]["at"]}
        assert not grvt["is_healthy"] and f"collection degraded: {reason}" in grvt["problems"]
        dex = get(client, "/dexes/grvt")
        assert (dex["collection"]["status"], dex["collection"]["markets_unfetched"]) == ("degraded", n - 99)
        assert dex["collection"]["reason"] == reason

    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT l.status, l.markets, l.markets_unfetched, l.error_message FROM collection_logs l "
                           "JOIN dexes d ON d.id = l.dex_id WHERE d.name = 'grvt'").fetchone()
    assert row == ("degraded", 99, n - 99, reason)
