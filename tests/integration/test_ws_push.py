"""WebSocket fan-out over real HTTP: boto3 post_to_connection to a local @connections endpoint, real Redis registry."""

from __future__ import annotations

import contextlib
import json

import pytest
import redis

from chalicelib.cache import keys
from chalicelib.services import ws_registry
from chalicelib.transport.push import ApiGatewayPusher

from .ws_endpoint import ConnectionsEndpoint

UPDATE = ws_registry.Updates("2025-10-06T12:34:56Z", [
    {"dex_name": "lighter", "symbol": "BTC", "funding_rate": 0.0001, "next_funding_time": "2025-10-06T16:00:00Z"},
    {"dex_name": "edgex", "symbol": "ETH", "funding_rate": -0.0002, "next_funding_time": None},
], [])


def subscribe(kv: redis.Redis, cid: str, endpoint: str, body: str) -> None:
    ws_registry.connect(kv, cid, now_ms=0, endpoint=endpoint)
    assert ws_registry.handle_message(kv, cid, body, now_ms=0, known_dexes=["lighter", "edgex"])["type"] == "subscribed"


def test_frames_reach_matching_connections_and_a_410_prunes_the_gone_one(redis_url: str) -> None:
    kv = redis.Redis.from_url(redis_url)
    with ConnectionsEndpoint(live={"btc-only", "everything"}) as endpoint:
        subscribe(kv, "btc-only", endpoint.url, '{"action":"subscribe","channels":["funding_rates"],"filters":{"symbols":["BTC"]}}')
        subscribe(kv, "everything", endpoint.url, '{"action":"subscribe","channels":["funding_rates"]}')
        subscribe(kv, "closed-socket", endpoint.url, '{"action":"subscribe","channels":["funding_rates"]}')
        subscribe(kv, "opps-only", endpoint.url, '{"action":"subscribe","channels":["opportunities"]}')

        counts = ws_registry.fan_out(kv, ApiGatewayPusher(None), UPDATE)   # endpoint from each connection record

        # btc-only: 1 frame (BTC) -> posted bare; everything: BTC + ETH -> 1 envelope; closed-socket: 410, pruned;
        # opps-only: no opportunity events this run -> nothing. 2 messages carrying 1 + 2 = 3 frames.
        assert counts == {"connections": 4, "recipients": 3, "messages": 2, "frames_delivered": 3,
                          "frames_failed": 0, "pruned": 1}
        assert endpoint.posts == {"btc-only": 1, "everything": 1}
        assert [f["data"]["symbol"] for f in endpoint.of("btc-only")] == ["BTC"]
        assert [f["data"]["symbol"] for f in endpoint.of("everything")] == ["BTC", "ETH"]
        assert endpoint.of("everything")[0] == {"type": "funding_rate_update", "timestamp": "2025-10-06T12:34:56Z",
                                                "data": UPDATE.rates[0]}
        assert kv.smembers(keys.ws_connections()) == {b"btc-only", b"everything", b"opps-only"}
        assert kv.get(keys.ws_connection("closed-socket")) is None
    kv.close()


def test_ws_management_url_overrides_the_recorded_endpoint(redis_url: str) -> None:
    kv = redis.Redis.from_url(redis_url)
    with ConnectionsEndpoint(live={"c1"}) as endpoint:
        subscribe(kv, "c1", "https://abc.execute-api.us-east-1.amazonaws.com/ws", '{"action":"subscribe"}')
        counts = ws_registry.fan_out(kv, ApiGatewayPusher(endpoint.url), UPDATE)
        assert counts["frames_delivered"] == 2 and len(endpoint.of("c1")) == 2 and endpoint.posts == {"c1": 1}
    kv.close()


# ---- one post per connection per analysis run ------------------------------------------------------
def rate(dex: str, symbol: str, value: float) -> dict:
    return {"dex_name": dex, "symbol": symbol, "funding_rate": value, "next_funding_time": None}


RUN = ws_registry.Updates("2025-10-06T12:00:00Z", [
    rate("lighter", "BTC", 0.0001), rate("edgex", "BTC", 0.0002), rate("lighter", "ETH", 0.0003),
    rate("paradex", "SOL", 0.0004), rate("edgex", "ETH", 0.0005),
], [("opened", {"id": "BTC:lighter:edgex", "symbol": "BTC", "long_dex": "lighter", "short_dex": "edgex"}),
    ("closed", {"id": "ETH:edgex:lighter", "symbol": "ETH", "long_dex": "edgex", "short_dex": "lighter"})])


def test_a_run_is_one_post_per_connection_whatever_the_format(redis_url: str) -> None:
    kv = redis.Redis.from_url(redis_url)
    ids = {"single-all", "batch-all", "single-btc", "batch-eth-lighter"}
    with ConnectionsEndpoint(live=ids) as endpoint:
        known = ["lighter", "edgex", "paradex"]
        for cid, message in (
            ("single-all", {"format": "single"}),
            ("batch-all", {"format": "batch"}),
            ("single-btc", {"format": "single", "filters": {"symbols": ["BTC"]}}),
            ("batch-eth-lighter", {"format": "batch", "filters": {"symbols": ["ETH"], "dexes": ["lighter", "edgex"]}}),
        ):
            ws_registry.connect(kv, cid, now_ms=0, endpoint=endpoint.url)
            reply = ws_registry.handle_message(kv, cid, json.dumps({"action": "subscribe", **message}), now_ms=0,
                                               known_dexes=known)
            assert reply["type"] == "subscribed"

        counts = ws_registry.fan_out(kv, ApiGatewayPusher(None), RUN)

        # by hand: single-all 5 rate frames + 2 opportunity frames = 7; batch-all 1 batch + 2 = 3;
        # single-btc: BTC lighter, BTC edgex + the BTC opening = 3; batch-eth-lighter: 1 batch (ETH lighter,
        # ETH edgex) + the ETH closing (both legs in lighter/edgex) = 2. 4 posts carrying 7 + 3 + 3 + 2 = 15 frames.
        assert endpoint.posts == {cid: 1 for cid in ids}
        assert counts == {"connections": 4, "recipients": 4, "messages": 4, "frames_delivered": 15,
                          "frames_failed": 0, "pruned": 0}
        assert [(f["type"], f.get("data", {}).get("funding_rate") if f["type"] == "funding_rate_update" else None)
                for f in endpoint.of("single-all")][:5] == [("funding_rate_update", v)
                                                            for v in (0.0001, 0.0002, 0.0003, 0.0004, 0.0005)]
        assert [f.get("event") for f in endpoint.of("single-all")[5:]] == ["opened", "closed"]
        batch = endpoint.of("batch-eth-lighter")
        assert batch[0]["type"] == "funding_rate_batch" and [d["funding_rate"] for d in batch[0]["data"]] == [0.0003, 0.0005]
        assert (batch[1]["type"], batch[1]["event"]) == ("opportunity_update", "closed")
        assert [f["type"] for f in endpoint.of("batch-all")] == ["funding_rate_batch", "opportunity_update",
                                                                 "opportunity_update"]
    kv.close()


def test_updates_over_the_message_limit_are_split_into_as_few_posts_as_fit(redis_url: str) -> None:
    from chalicelib.core.serialize import dumps

    kv = redis.Redis.from_url(redis_url)
    rates = [rate("lighter", f"S{i}", 0.0001) for i in range(10)]          # S0..S9: frames of equal size
    run = ws_registry.Updates("2025-10-06T12:00:00Z", rates, [])
    frame = len(dumps({"type": "funding_rate_update", "timestamp": run.timestamp, "data": rates[0]}))
    head = len(dumps({"type": "updates", "timestamp": run.timestamp})[:-1] + ',"frames":[')
    limit = head + 2 * frame + 1 + 2       # head + frame + "," + frame + "]}": exactly two frames fit
    with ConnectionsEndpoint(live={"c1"}) as endpoint:
        ws_registry.connect(kv, "c1", now_ms=0, endpoint=endpoint.url)
        ws_registry.handle_message(kv, "c1", '{"action":"subscribe","channels":["funding_rates"]}', now_ms=0,
                                   known_dexes=["lighter"])
        counts = ws_registry.fan_out(kv, ApiGatewayPusher(None), run, max_bytes=limit)
        assert endpoint.posts == {"c1": 5}       # 10 frames, 2 per message
        assert counts["messages"] == 5 and counts["frames_delivered"] == 10
        assert [f["data"]["symbol"] for f in endpoint.of("c1")] == [f"S{i}" for i in range(10)]   # order kept
    kv.close()


def test_real_clients_on_the_local_gateway_get_one_message_per_run(redis_url: str) -> None:
    """The app's own $connect/$default handlers, real WebSocket clients, boto3 to the loopback @connections port."""
    from websockets.sync.client import connect

    from app import app
    from chalicelib import wiring
    from chalicelib.settings import Settings
    from frs_local.gateway import Gateway, GatewayThread
    from frs_local.servers import free_port

    management_port = free_port()
    wiring.override(settings=Settings.from_env({"REDIS_URL": redis_url,
                                                "WS_MANAGEMENT_URL": f"http://127.0.0.1:{management_port}"}))
    runner = GatewayThread(Gateway(app, "127.0.0.1", 0, management_port=management_port)).start()
    kv = redis.Redis.from_url(redis_url)
    sockets = []
    stack = contextlib.ExitStack()
    try:
        for i in range(12):
            ws = stack.enter_context(connect(f"{runner.gateway.ws_url}/funding-rates", open_timeout=10))
            symbols = {"symbols": ["BTC"]} if i % 2 else {}
            ws.send(json.dumps({"action": "subscribe", "format": "single" if i % 3 else "batch", "filters": symbols}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            sockets.append(ws)
        # a connection API Gateway no longer has (closed without a $disconnect): 410 GoneException -> pruned
        ws_registry.connect(kv, "ghost=", now_ms=0, endpoint=None)
        ws_registry.handle_message(kv, "ghost=", '{"action":"subscribe"}', now_ms=0, known_dexes=[])
        ids_before = set(runner.gateway.connections)
        assert len(ids_before) == 12

        counts = ws_registry.fan_out(kv, wiring.pusher(), RUN)

        # the 12 sockets each get ONE message: 5 rates (all) or 2 (BTC) on the funding_rates channel
        for i, ws in enumerate(sockets):
            message = json.loads(ws.recv(timeout=10))
            frames = message["frames"] if message["type"] == "updates" else [message]
            batch = i % 3 == 0
            rates = 2 if i % 2 else 5
            assert len(frames) == (1 if batch else rates), (i, message)
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.2)             # nothing else for this run
        assert all(runner.gateway.connections[c].sent == 2 for c in ids_before)   # the subscribed reply + 1
        assert counts["recipients"] == 13 and counts["messages"] == 12 and counts["pruned"] == 1
        assert kv.get(keys.ws_connection("ghost=")) is None
    finally:
        stack.close()
        runner.stop()
        kv.close()
        wiring.reset()
