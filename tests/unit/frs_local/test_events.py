"""Event builders of the local gateway: the dicts Chalice receives must parse as on AWS."""

from __future__ import annotations

import base64
import json

import pytest
from chalice import Chalice, Response
from chalice.app import Request, WebsocketEvent

from frs_local import events as ev

TEMPLATES = [
    "/api/v1/opportunities",
    "/api/v1/opportunities/best",
    "/api/v1/opportunities/symbol/{symbol}",
    "/api/v1/funding-rates/{dex}",
    "/api/v1/funding-rates/{dex}/{symbol}",
    "/api/v1/history/funding-rates/{dex}/{symbol}",
    "/api/v1/{anything}/best",
    "/",
]


@pytest.mark.parametrize(
    ("path", "resource", "params"),
    [
        ("/api/v1/opportunities", "/api/v1/opportunities", {}),
        ("/api/v1/opportunities/", "/api/v1/opportunities", {}),
        ("/api/v1/opportunities/best", "/api/v1/opportunities/best", {}),
        ("/api/v1/opportunities/symbol/BTC", "/api/v1/opportunities/symbol/{symbol}", {"symbol": "BTC"}),
        ("/api/v1/funding-rates/lighter", "/api/v1/funding-rates/{dex}", {"dex": "lighter"}),
        ("/api/v1/funding-rates/lighter/ETH", "/api/v1/funding-rates/{dex}/{symbol}",
         {"dex": "lighter", "symbol": "ETH"}),
        ("/api/v1/funding-rates/lighter/1000%20PEPE", "/api/v1/funding-rates/{dex}/{symbol}",
         {"dex": "lighter", "symbol": "1000 PEPE"}),
        ("/api/v1/history/funding-rates/grvt/BTC", "/api/v1/history/funding-rates/{dex}/{symbol}",
         {"dex": "grvt", "symbol": "BTC"}),
        ("/", "/", {}),
    ],
)
def test_route_table_matches_templates(path: str, resource: str, params: dict[str, str]) -> None:
    match = ev.RouteTable(TEMPLATES).match(path)
    assert match.resource == resource
    assert match.path_parameters == params


def test_literal_segment_beats_a_captured_one_regardless_of_declaration_order() -> None:
    table = ev.RouteTable(["/api/v1/{anything}/best", "/api/v1/opportunities/best"])
    assert table.match("/api/v1/opportunities/best").resource == "/api/v1/opportunities/best"
    assert table.match("/api/v1/rates/best").path_parameters == {"anything": "rates"}


@pytest.mark.parametrize("path", ["/api/v2/opportunities", "/api/v1/funding-rates", "/api/v1/funding-rates//x",
                                  "/api/v1/opportunities/symbol/BTC/extra"])
def test_unknown_paths_raise_no_route(path: str) -> None:
    with pytest.raises(ev.NoRoute):
        ev.RouteTable(TEMPLATES).match(path)


def test_rest_event_has_the_proxy_shape_and_chalice_reads_it() -> None:
    route = ev.RouteTable(TEMPLATES).match("/api/v1/funding-rates/lighter")
    event = ev.rest_event(
        method="get", path="/api/v1/funding-rates/lighter", route=route,
        query=ev.parse_query("basis=8h&symbols=BTC&symbols=ETH&empty="),
        headers=[("Host", "127.0.0.1:8000"), ("Accept", "application/json"), ("X-Multi", "a"), ("X-Multi", "b"),
                 ("User-Agent", "pytest")],
        host="127.0.0.1:8000", source_ip="10.0.0.9", now=1_800_000_000.5,
    )
    assert event["resource"] == "/api/v1/funding-rates/{dex}"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"dex": "lighter"}
    assert event["queryStringParameters"] == {"basis": "8h", "symbols": "ETH", "empty": ""}
    assert event["multiValueQueryStringParameters"]["symbols"] == ["BTC", "ETH"]
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["resourcePath"] == "/api/v1/funding-rates/{dex}"
    assert ctx["stage"] == ev.REST_STAGE and ctx["path"] == f"/{ev.REST_STAGE}/api/v1/funding-rates/lighter"
    assert ctx["identity"] == {"sourceIp": "10.0.0.9", "userAgent": "pytest"}
    assert ctx["requestTimeEpoch"] == 1_800_000_000_500
    assert ctx["requestId"] and ctx["domainName"] == "127.0.0.1:8000"
    json.dumps(event)  # what Lambda receives is JSON

    request = Request(event)
    assert request.query_params.getlist("symbols") == ["BTC", "ETH"]
    assert request.headers["accept"] == "application/json"
    assert request.uri_params == {"dex": "lighter"}


def test_rest_event_without_query_or_params_uses_null_like_api_gateway() -> None:
    event = ev.rest_event(method="GET", path="/", route=ev.RouteMatch("/", {}))
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_rest_event_bodies_text_and_binary() -> None:
    route = ev.RouteMatch("/x", {})
    text = ev.rest_event(method="PUT", path="/x", route=route, body=b'{"maker": 0.0002}',
                         headers=[("Content-Type", "application/json")])
    assert text["body"] == '{"maker": 0.0002}' and text["isBase64Encoded"] is False
    assert Request(text).json_body == {"maker": 0.0002}
    raw = bytes(range(256))
    binary = ev.rest_event(method="POST", path="/x", route=route, body=raw)
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == raw
    forced = ev.rest_event(method="POST", path="/x", route=route, body=b"abc", binary=True)
    assert forced["isBase64Encoded"] is True and base64.b64decode(forced["body"]) == b"abc"


def test_the_chalice_app_answers_a_built_event() -> None:
    app = Chalice("tiny")

    @app.route("/api/v1/items/{item}", methods=["GET"])
    def item(item):
        return {"item": item, "q": app.current_request.query_params}

    @app.route("/api/v1/teapot", methods=["GET"])
    def teapot():
        return Response({"short": "stout"}, status_code=418)

    table = ev.RouteTable(app.routes)
    event = ev.rest_event(method="GET", path="/api/v1/items/a1", route=table.match("/api/v1/items/a1"),
                          query=[("x", "1")], headers=[("Host", "h")])
    result = app(event, ev.lambda_context("api_handler"))
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"item": "a1", "q": {"x": "1"}}
    event = ev.rest_event(method="GET", path="/api/v1/teapot", route=table.match("/api/v1/teapot"))
    assert app(event, ev.lambda_context("api_handler"))["statusCode"] == 418


@pytest.mark.parametrize(("route_key", "event_type"),
                         [("$connect", "CONNECT"), ("$default", "MESSAGE"), ("$disconnect", "DISCONNECT")])
def test_ws_event_shapes(route_key: str, event_type: str) -> None:
    event = ev.ws_event(route_key=route_key, connection_id="L0SM9cOFvHcCIhw=", connected_at_ms=1_800_000_000_000,
                        domain_name="127.0.0.1:8000", body='{"action":"subscribe"}',
                        query=[("channel", "opportunities")], headers=[("Host", "127.0.0.1:8000")],
                        disconnect_status=(1001, "going away"))
    ctx = event["requestContext"]
    assert ctx["routeKey"] == route_key and ctx["eventType"] == event_type
    assert ctx["connectionId"] == "L0SM9cOFvHcCIhw=" and ctx["connectedAt"] == 1_800_000_000_000
    assert ctx["messageDirection"] == "IN" and ctx["stage"] == ev.WS_STAGE and ctx["apiId"] == ev.API_ID
    assert ctx["domainName"] == "127.0.0.1:8000" and ctx["requestId"]
    parsed = WebsocketEvent(event, None)
    assert parsed.connection_id == "L0SM9cOFvHcCIhw="
    if event_type == "MESSAGE":
        assert parsed.json_body == {"action": "subscribe"} and "messageId" in ctx
    else:
        assert "body" not in event
    if event_type == "CONNECT":
        assert event["queryStringParameters"] == {"channel": "opportunities"}
        assert event["multiValueQueryStringParameters"] == {"channel": ["opportunities"]}
        assert event["headers"] == {"Host": "127.0.0.1:8000"}
    if event_type == "DISCONNECT":
        assert ctx["disconnectStatusCode"] == 1001 and ctx["disconnectReason"] == "going away"


def test_scheduled_event_is_eventbridge_shaped_and_chalice_reads_it() -> None:
    from chalice.app import CloudWatchEvent

    event = ev.scheduled_event("frs-local-collect-grvt", now=1_800_000_000)
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [f"arn:aws:events:us-east-1:{ev.ACCOUNT_ID}:rule/frs-local-collect-grvt"]
    assert event["time"] == "2027-01-15T08:00:00Z"
    parsed = CloudWatchEvent(event, None)
    assert parsed.detail_type == "Scheduled Event" and parsed.resources == event["resources"]


def test_iso_ms_and_header_lookup() -> None:
    assert ev.iso_ms(1_800_000_000_123) == "2027-01-15T08:00:00.123Z"
    assert ev.header_value([("Content-Type", "a")], "content-type") == "a"
    assert ev.header_value({"X": "1"}, "y") is None


def test_lambda_context_has_the_real_attributes() -> None:
    ctx = ev.lambda_context("collect-grvt", timeout_s=60)
    assert ctx.function_name == "collect-grvt" and ctx.aws_request_id
    assert 0 < ctx.get_remaining_time_in_millis() <= 60_000


def test_request_time_is_api_gateways_format_per_second() -> None:
    route = ev.RouteTable(TEMPLATES).match("/api/v1/opportunities")
    # 1,800,000,000 s after the epoch is 2027-01-15 08:00:00 UTC (as the scheduled event above says)
    first = ev.rest_event(method="GET", path="/api/v1/opportunities", route=route, now=1_800_000_000.5)
    same = ev.rest_event(method="GET", path="/api/v1/opportunities", route=route, now=1_800_000_000.9)
    later = ev.rest_event(method="GET", path="/api/v1/opportunities", route=route, now=1_800_000_001.2)
    assert first["requestContext"]["requestTime"] == "15/Jan/2027:08:00:00 +0000"
    assert same["requestContext"]["requestTime"] == "15/Jan/2027:08:00:00 +0000"
    assert later["requestContext"]["requestTime"] == "15/Jan/2027:08:00:01 +0000"
    assert later["requestContext"]["requestTimeEpoch"] == 1_800_000_001_200
    ids = {e["requestContext"]["extendedRequestId"] for e in (first, same, later)}
    assert len(ids) == 3 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)   # 16 hex digits, per event
    assert len({e["requestContext"]["requestId"] for e in (first, same, later)}) == 3


def test_route_matches_are_remembered_and_bounded() -> None:
    table = ev.RouteTable(TEMPLATES)
    table.MAX_SEEN = 2
    a = table.match("/api/v1/funding-rates/lighter")
    assert table.match("/api/v1/funding-rates/lighter") is a            # the second lookup is the first's answer
    b = table.match("/api/v1/funding-rates/paradex")
    assert b.path_parameters == {"dex": "paradex"} and a.path_parameters == {"dex": "lighter"}
    table.match("/api/v1/opportunities")                                # a third path: the memo starts over
    assert len(table._seen) == 1
    with pytest.raises(ev.NoRoute):                                     # misses are not remembered
        table.match("/api/v2/nothing")
    assert len(table._seen) == 1
