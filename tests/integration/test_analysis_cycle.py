"""One full cycle on real PostgreSQL + Redis, venues served by the replay server, the app's own handlers:

EventBridge event -> collect-<dex> -> PgStorage + Redis -> chained analysis (in-process, as locally)
-> opportunities table + Redis hot keys -> pub/sub -> boto3 post_to_connection to a local
@connections endpoint -> frames only for the subscriber whose filters match. `pytest -s` prints
the timestamped trace.
"""

from __future__ import annotations

import importlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import redis
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.cache import keys
from chalicelib.settings import Settings
from frs_local.replay import ReplayServer

from .ws_endpoint import ConnectionsEndpoint


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def ws_call(route_key: str, cid: str, body: str | None = None, endpoint: str = "") -> Any:
    module, attr = app.websocket_handlers[route_key].handler_string.rsplit(".", 1)
    event = {"requestContext": {"routeKey": route_key, "connectionId": cid, "domainName": "127.0.0.1",
                                "stage": "ws", "apiId": "local", "requestId": f"r-{cid}",
                                "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")},
             "isBase64Encoded": False, **({"body": body} if body is not None else {})}
    return getattr(importlib.import_module(module), attr)(event, None)


@pytest.fixture
def stack(db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FRS_CHAIN", "inprocess")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with ReplayServer(port=0, seed=1) as replay, ConnectionsEndpoint(live={"match", "no-match", "opps"}) as endpoint:
        settings = Settings.from_env({"DATABASE_URL": db_url, "REDIS_URL": redis_url,
                                      "WS_MANAGEMENT_URL": endpoint.url, **replay.base_urls()})
        wiring.override(settings=settings)      # storage, kv and pusher come from the real composition root
        from chalicelib.transport.breaker import reset_memory

        reset_memory()
        yield endpoint
        wiring.reset()


def test_schedule_to_websocket_frame(stack: ConnectionsEndpoint, db_url: str, redis_url: str) -> None:
    endpoint = stack
    trace: list[tuple[float, str]] = []
    kv = redis.Redis.from_url(redis_url)
    pubsub = kv.pubsub()
    pubsub.subscribe(keys.channel("funding_rates"), keys.channel("opportunities"))
    pubsub.get_message(timeout=1)
    pubsub.get_message(timeout=1)       # the two subscribe confirmations

    for cid in ("match", "no-match", "opps"):
        ws_call("$connect", cid)
    ws_call("$default", "opps", json.dumps({"action": "subscribe", "channels": ["opportunities"],
                                            "filters": {"dexes": ["hyperliquid", "paradex"]}}))
    ws_call("$default", "match", json.dumps({"action": "subscribe", "channels": ["funding_rates", "opportunities"],
                                             "filters": {"symbols": ["BTC", "ETH"], "dexes": ["hyperliquid", "paradex"]}}))
    ws_call("$default", "no-match", json.dumps({"action": "subscribe", "channels": ["funding_rates", "opportunities"],
                                                "filters": {"dexes": ["lighter"]}}))

    with Client(app) as client:
        for dex in ("hyperliquid", "paradex"):
            event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                    resources=[f"arn:aws:events:us-east-1:000000000000:rule/collect-{dex}"])
            event["id"] = str(uuid.uuid4())     # the test helper reuses one id; EventBridge never does
            trace.append((time.time(), f"EventBridge event {event['id'][:8]} -> collect-{dex}"))
            summary = client.lambda_.invoke(f"collect-{dex}", event).payload
            trace.append((time.time(), f"collect-{dex}: {summary['status']}, {summary['markets']} markets, "
                                       f"timings {summary['timings_ms']}"))
            analysis = summary["analysis"]
            assert analysis["mode"] == "inprocess" and summary["status"] == "success"
            result = analysis["result"]
            trace.append((time.time(), f"analyze (chained {analysis['mode']}, correlation {result['correlation_id'][:8]}): "
                                       f"{result['snapshots']} snapshots, sources {result['sources']}, open {result['open']}, "
                                       f"events {result['events']}, ws {result['ws']}, timings {result['timings_ms']}"))
            assert result["correlation_id"] == event["id"]

    # Redis hot keys
    rates = json.loads(kv.get(keys.latest_rates()))
    assert {r["dex"] for r in rates} == {"hyperliquid", "paradex"}
    assert kv.get(keys.latest_rates_dex("hyperliquid")) and kv.get(keys.latest_rates_dex("paradex"))
    opportunities = json.loads(kv.get(keys.opportunity_state()))
    trace.append((time.time(), f"Redis: {len(rates)} rates, {len(opportunities)} open opportunities, "
                               f"TTL {kv.ttl(keys.latest_rates())} s"))
    # PostgreSQL
    with psycopg.connect(db_url) as conn:
        stored_rates = conn.execute("SELECT count(*) FROM funding_rates").fetchone()[0]
        stored_opps = conn.execute("SELECT count(*) FROM opportunities").fetchone()[0]
    assert stored_rates == len(rates) and stored_opps == len(opportunities)
    # pub/sub: one batch per analysis run on funding_rates (every market is new in the first run)
    messages = []
    while (m := pubsub.get_message(timeout=0.5)) is not None:
        if m["type"] == "message":
            messages.append((m["channel"].decode(), json.loads(m["data"])))
    rate_batches = [body for channel, body in messages if channel == keys.channel("funding_rates")]
    assert [b["type"] for b in rate_batches] == ["funding_rate_batch", "funding_rate_batch"]
    assert {d["dex_name"] for d in rate_batches[0]["data"]} == {"hyperliquid"}
    trace.append((time.time(), f"pub/sub: {[(c.rsplit(':', 1)[1], b['type'], len(b.get('data') or b.get('events'))) for c, b in messages]}"))

    # WebSocket frames
    rate_frames = endpoint.of("match", "funding_rate_update")
    assert rate_frames, "the matching subscriber got no rate frames"
    assert {(f["data"]["dex_name"], f["data"]["symbol"]) for f in rate_frames} == {
        (r["dex"], r["symbol"]) for r in rates if r["symbol"] in ("BTC", "ETH")}
    opp_frames = endpoint.of("match", "opportunity_update")
    expected_opps = [oid for oid, o in opportunities.items() if o["symbol"] in ("BTC", "ETH")]
    assert sorted(f["data"]["id"] for f in opp_frames) == sorted(expected_opps)
    assert opportunities, "seed 1 of the replay universe has open hyperliquid/paradex opportunities"
    assert [(f["event"], f["data"]["id"]) for f in endpoint.of("opps")[1:]] == [("opened", oid) for oid in opportunities]   # state keeps net-desc order
    assert endpoint.of("opps", "funding_rate_update") == []
    assert [f["type"] for f in endpoint.of("no-match")] == ["subscribed"]      # lighter was never collected
    first = min(t for t, f in endpoint.frames["match"] if f["type"] == "funding_rate_update")
    trace.append((first, f"WebSocket frame -> match: {json.dumps(rate_frames[0])[:160]}"))
    first_opp = min(t for t, f in endpoint.frames["opps"] if f["type"] == "opportunity_update")
    trace.append((first_opp, f"WebSocket frame -> opps: {json.dumps(endpoint.of('opps')[1])[:200]}"))
    trace.append((time.time(), f"frames: match {len(rate_frames)} rate + {len(opp_frames)} opportunity, "
                               f"opps {len(endpoint.of('opps')) - 1}, no-match {len(endpoint.of('no-match')) - 1}"))
    print("\n" + "\n".join(f"{stamp(t)}Z  {line}" for t, line in sorted(trace)))
    pubsub.close()
    kv.close()
