"""WebSocket handlers with API-Gateway-shaped events: registry, subscribe/unsubscribe/ping, error frames, push, prune."""

from __future__ import annotations

import importlib
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from app import app
from chalicelib import wiring
from chalicelib.cache import keys
from chalicelib.services import ws_registry
from chalicelib.transport.push import ApiGatewayPusher
from tests.fakes import REGION, Env, ws_event

pytestmark = pytest.mark.usefixtures("env")
ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/ws"


def call(route_key: str, connection_id: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    """Invoke the Lambda entry point API Gateway would (the handler string's module attribute)."""
    module, attr = app.websocket_handlers[route_key].handler_string.rsplit(".", 1)
    raw = body if body is None or isinstance(body, str) else json.dumps(body)
    return getattr(importlib.import_module(module), attr)(ws_event(route_key, connection_id, raw, **kw), None)


def record(env: Env, cid: str) -> dict[str, Any] | None:
    return ws_registry.load(env.kv, cid)


def test_connect_registers_with_the_channel_from_the_query_string(env: Env) -> None:
    assert call("$connect", "c1", query={"channel": "opportunities"}) == {"statusCode": 200}
    assert env.kv.smembers(keys.ws_connections()) == {b"c1"}
    r = record(env, "c1")
    assert r["default_channels"] == ["opportunities"] and r["channels"] == [] and r["endpoint"] == ENDPOINT
    assert 0 < env.kv.ttl(keys.ws_connection("c1")) <= ws_registry.CONNECTION_TTL_S


def test_subscribe_stores_filters_and_replies_through_the_pusher(env: Env) -> None:
    call("$connect", "c1", query={"channel": "funding_rates"})
    call("$default", "c1", {"action": "subscribe", "channels": ["funding_rates"],
                            "filters": {"symbols": ["btc", "ETH"], "dexes": ["Lighter", "edgex"]}})
    (reply,) = env.pusher.frames["c1"]
    assert reply["type"] == "subscribed" and reply["channels"] == ["funding_rates"]
    assert reply["filters"] == {"symbols": ["BTC", "ETH"], "dexes": ["edgex", "lighter"]}
    assert env.pusher.endpoints == [ENDPOINT]      # no WS_MANAGEMENT_URL: reply to where the event came from
    assert record(env, "c1")["filters"] == {"symbols": ["BTC", "ETH"], "dexes": ["edgex", "lighter"]}


def test_bare_subscribe_uses_the_connect_channel_and_unsubscribe_removes_it(env: Env) -> None:
    call("$connect", "c1", query={"channel": "opportunities"})
    call("$default", "c1", {"action": "subscribe"})
    call("$default", "c1", {"action": "unsubscribe", "channels": ["opportunities"]})
    assert [f["type"] for f in env.pusher.frames["c1"]] == ["subscribed", "unsubscribed"]
    assert env.pusher.frames["c1"][0]["channels"] == ["opportunities"]
    assert record(env, "c1")["channels"] == []


def test_ping_gets_pong(env: Env) -> None:
    call("$connect", "c1")
    call("$default", "c1", {"action": "ping"})
    assert env.pusher.frames["c1"][0]["type"] == "pong"


@pytest.mark.parametrize(("body", "error", "detail"), [
    ("{not json", "invalid_json", "message is not valid JSON"),
    # 100 KB fits one API Gateway message; json.loads raises RecursionError, not ValueError, on it
    pytest.param("[" * 100_000, "invalid_json", "message is not valid JSON", id="deeply-nested"),
    ('["subscribe"]', "invalid_message", 'expected an object with "action": subscribe | unsubscribe | ping'),
    ({"action": "dance"}, "unknown_action", "unknown action 'dance'; expected subscribe, unsubscribe, ping"),
    ({"action": "subscribe", "channels": ["trades"]}, "invalid_channels",
     "unknown channel 'trades'; expected funding_rates, opportunities"),
    ({"action": "subscribe", "filters": {"dexes": ["binance"]}}, "invalid_filters",
     "unknown dex 'binance'; known: aster, backpack, edgex, extended, grvt, hip3, hyperliquid, lighter, pacifica, "
     "paradex"),
    ({"action": "subscribe", "filters": {"symbols": "BTC"}}, "invalid_filters",
     "filters.symbols must be a list of non-empty strings"),
    ({"action": "subscribe", "filters": {"venues": ["lighter"]}}, "invalid_filters",
     "unknown filter 'venues'; expected symbols, dexes"),
    ({"action": "subscribe", "format": "xml"}, "invalid_format", "format must be one of single, batch"),
])
def test_a_malformed_message_gets_an_error_frame_and_keeps_the_socket(env: Env, body: Any, error: str, detail: str) -> None:
    call("$connect", "c1")
    assert call("$default", "c1", body) == {"statusCode": 200}
    (frame,) = env.pusher.frames["c1"]
    assert (frame["type"], frame["error"], frame["detail"]) == ("error", error, detail)
    assert record(env, "c1")["channels"] == []          # still registered, nothing subscribed


def test_disconnect_forgets_the_connection(env: Env) -> None:
    call("$connect", "c1")
    call("$disconnect", "c1")
    assert env.kv.smembers(keys.ws_connections()) == set() and record(env, "c1") is None


def test_replies_reach_api_gateway_through_boto3_post_to_connection(env: Env) -> None:
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    with mock_aws():
        wiring.override(pusher=ApiGatewayPusher(None))
        call("$connect", "c1")
        call("$default", "c1", {"action": "ping"})
        data = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION].connections["c1"].data
    assert json.loads(data)["type"] == "pong"


def test_fan_out_prunes_a_connection_api_gateway_says_is_gone(env: Env) -> None:
    for cid in ("alive", "gone"):
        call("$connect", cid)
        call("$default", cid, {"action": "subscribe", "channels": ["funding_rates"]})
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "alive", "Data": ANY_BYTES})
    stubber.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410,
                             expected_params={"ConnectionId": "gone", "Data": ANY_BYTES})
    pusher = ApiGatewayPusher(None, max_workers=1, client_factory=lambda url, workers: client)  # ordered: alive, gone
    updates = ws_registry.Updates("2025-10-06T12:34:56Z", [{"dex_name": "lighter", "symbol": "BTC",
                                                             "funding_rate": 0.0001}], [])
    with stubber:
        counts = ws_registry.fan_out(env.kv, pusher, updates)
        stubber.assert_no_pending_responses()
    assert counts == {"connections": 2, "recipients": 2, "messages": 1, "frames_delivered": 1, "frames_failed": 0,
                      "pruned": 1}
    assert env.kv.smembers(keys.ws_connections()) == {b"alive"} and record(env, "gone") is None


def test_fan_out_drops_ids_whose_record_expired(env: Env) -> None:
    call("$connect", "c1")
    env.kv.delete(keys.ws_connection("c1"))     # API Gateway dropped it without a $disconnect; TTL ran out
    assert ws_registry.load_all(env.kv) == [] and env.kv.smembers(keys.ws_connections()) == set()


class _AnyBytes:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes)


ANY_BYTES = _AnyBytes()


def test_a_message_after_the_record_expired_registers_the_connection_again(env: Env) -> None:
    call("$connect", "c1")
    env.kv.delete(keys.ws_connection("c1"))
    call("$default", "c1", {"action": "subscribe", "channels": ["opportunities"]})
    assert record(env, "c1")["endpoint"] == ENDPOINT and record(env, "c1")["channels"] == ["opportunities"]
    assert env.kv.smembers(keys.ws_connections()) == {b"c1"}


def test_a_push_that_cannot_be_sent_is_counted_not_raised(env: Env) -> None:
    ws_registry.connect(env.kv, "c1", now_ms=0, endpoint=None)          # no endpoint and no WS_MANAGEMENT_URL
    ws_registry.handle_message(env.kv, "c1", '{"action":"subscribe"}', now_ms=0, known_dexes=[])
    updates = ws_registry.Updates("t", [{"dex_name": "lighter", "symbol": "BTC"}], [])
    counts = ws_registry.fan_out(env.kv, ApiGatewayPusher(None), updates)
    assert counts == {"connections": 1, "recipients": 1, "messages": 0, "frames_delivered": 0, "frames_failed": 1,
                      "pruned": 0}
