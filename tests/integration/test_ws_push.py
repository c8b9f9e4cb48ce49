"""WebSocket fan-out over real HTTP: boto3 post_to_connection to a local @connections endpoint, real Redis registry."""

from __future__ import annotations

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
