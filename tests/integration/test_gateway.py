"""The local gateway over real sockets with a tiny Chalice app: REST, WebSocket, @connections, 410 Gone.

The client side is what users run: httpx for REST, the `websockets` client, and boto3's
apigatewaymanagementapi (whose GoneException must come out of the 410 exactly as on AWS).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from chalice import Chalice, Response
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from frs_local.gateway import BodyGuard, Gateway, GatewayThread, HttpResponse

WAIT = 10.0  # generous: these are waits, not timing assertions


def tiny_app(seen: dict[str, list[Any]]) -> Chalice:
    app = Chalice("tiny")
    app.websocket_api.session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")

    @app.route("/api/v1/items/{item}", methods=["GET"])
    def item(item):
        request = app.current_request
        return {"item": item, "query": request.query_params, "resource": request.context["resourcePath"],
                "ua": request.headers.get("user-agent")}

    @app.route("/api/v1/items/special", methods=["GET"])
    def special():
        return {"special": True}

    @app.route("/api/v1/echo", methods=["POST", "PUT"], content_types=["application/json"])
    def echo():
        return Response({"got": app.current_request.json_body}, status_code=201, headers={"X-Echo": "1"})

    @app.route("/api/v1/slow", methods=["GET"])
    def slow():
        gate = seen.get("gate")   # a test that holds the handler open passes [entered, release] events
        if gate:
            gate[0].set()
            gate[1].wait(WAIT)
        else:
            time.sleep(1.0)
        return {"slow": True}

    @app.on_ws_connect()
    def on_connect(event):
        query = event.to_dict().get("queryStringParameters") or {}
        seen["connect"].append((event.connection_id, query))
        if query.get("deny"):
            return {"statusCode": 403}
        return None

    @app.on_ws_message()
    def on_message(event):
        seen["message"].append((event.connection_id, event.body))
        if event.body == "boom":
            raise RuntimeError("handler failed")
        if event.body == "info":
            info = app.websocket_api.info(event.connection_id)
            app.websocket_api.send(event.connection_id, json.dumps({"ip": info["Identity"]["SourceIp"]}))
            return
        if event.body == "bye":
            app.websocket_api.close(event.connection_id)
            return
        # echo through the management API, as the real app's pusher does
        app.websocket_api.send(event.connection_id, f"echo:{event.body}")

    @app.on_ws_disconnect()
    def on_disconnect(event):
        seen["disconnect"].append((event.connection_id, event.to_dict()["requestContext"]["disconnectStatusCode"]))

    return app


@pytest.fixture
def gateway() -> Iterator[tuple[GatewayThread, dict[str, list[Any]]]]:
    seen: dict[str, list[Any]] = {"connect": [], "message": [], "disconnect": []}
    runner = GatewayThread(Gateway(tiny_app(seen), "127.0.0.1", 0)).start()
    yield runner, seen
    runner.stop()


def mgmt_client(url: str) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_rest_requests_become_proxy_events(gateway) -> None:
    runner, _ = gateway
    base = runner.gateway.url
    with httpx.Client(base_url=base, timeout=WAIT) as client:  # one keep-alive connection for all
        r = client.get("/api/v1/items/abc?x=1&x=2&y=", headers={"User-Agent": "pytest-ua"})
        assert r.status_code == 200
        assert r.json() == {"item": "abc", "query": {"x": "2", "y": ""}, "resource": "/api/v1/items/{item}",
                            "ua": "pytest-ua"}
        assert r.headers["x-amzn-RequestId"]
        assert client.get("/api/v1/items/special").json() == {"special": True}
        r = client.post("/api/v1/echo", json={"a": [1, 2]})
        assert r.status_code == 201 and r.json() == {"got": {"a": [1, 2]}} and r.headers["x-echo"] == "1"
        assert client.delete("/api/v1/echo").status_code == 405
        r = client.get("/api/v2/nothing")
        assert r.status_code == 403 and r.json() == {"message": "Missing Authentication Token"}
        assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        assert client.get("/").json()["websocket"].endswith("/api/v1/ws")


def test_plain_http_to_a_websocket_path_says_upgrade(gateway) -> None:
    runner, _ = gateway
    r = httpx.get(f"{runner.gateway.url}/api/v1/ws", timeout=WAIT)
    assert r.status_code == 426 and "WebSocket" in r.json()["message"]


def test_a_handler_slower_than_the_integration_timeout_gets_504() -> None:
    seen: dict[str, list[Any]] = {"connect": [], "message": [], "disconnect": []}
    runner = GatewayThread(Gateway(tiny_app(seen), "127.0.0.1", 0, rest_timeout_s=0.3)).start()
    try:
        r = httpx.get(f"{runner.gateway.url}/api/v1/slow", timeout=WAIT)
        assert r.status_code == 504 and r.json() == {"message": "Endpoint request timed out"}
    finally:
        runner.stop()


def test_rest_calls_overlap_and_keep_their_own_request(gateway) -> None:
    runner, seen = gateway
    base = runner.gateway.url
    results: dict[str, Any] = {}
    entered, release = threading.Event(), threading.Event()
    seen["gate"] = [entered, release]   # the slow handler runs until released: no timing involved

    def slow() -> None:
        results["slow"] = httpx.get(f"{base}/api/v1/slow", timeout=WAIT).json()

    thread = threading.Thread(target=slow)
    thread.start()
    assert entered.wait(WAIT)
    try:
        # served while the slow handler is still running in its own thread, with its own current_request
        fast = httpx.get(f"{base}/api/v1/items/q1?who=fast", timeout=WAIT).json()
        assert "slow" not in results
        assert fast["item"] == "q1" and fast["query"] == {"who": "fast"}
    finally:
        release.set()
        thread.join(WAIT)
    assert results["slow"] == {"slow": True}


def test_websocket_echo_through_connections_and_lifecycle_events(gateway) -> None:
    runner, seen = gateway
    with connect(f"{runner.gateway.ws_url}/opportunities?client=t1", open_timeout=WAIT) as ws:
        wait_for(lambda: seen["connect"], "$connect")
        cid, query = seen["connect"][0]
        assert query == {"client": "t1", "channel": "opportunities"}
        assert cid in runner.gateway.connections
        ws.send("hello")
        assert ws.recv(timeout=WAIT) == "echo:hello"
        ws.send("info")
        assert json.loads(ws.recv(timeout=WAIT)) == {"ip": "127.0.0.1"}
        # a handler failure reaches the client as API Gateway's error frame; the socket stays open
        ws.send("boom")
        error = json.loads(ws.recv(timeout=WAIT))
        assert error["message"] == "Internal server error" and error["connectionId"] == cid
        ws.send("again")
        assert ws.recv(timeout=WAIT) == "echo:again"
    wait_for(lambda: seen["disconnect"], "$disconnect")
    assert seen["disconnect"] == [(cid, 1000)]
    assert cid not in runner.gateway.connections
    assert [m for _, m in seen["message"]] == ["hello", "info", "boom", "again"]


def test_the_connection_is_registered_before_the_handshake_response_leaves(gateway, monkeypatch) -> None:
    # a client that sees 101 may use its id at once (another thread reading `connections` raced this)
    from websockets.protocol import State

    from frs_local import gateway as gw

    runner, _ = gateway
    at_handshake: list[bool] = []
    original = gw.WsConnection.flush

    def flush(self) -> None:
        if self.protocol.state is State.OPEN and not at_handshake:
            at_handshake.append(self.id in runner.gateway.connections)
        original(self)

    monkeypatch.setattr(gw.WsConnection, "flush", flush)
    with connect(runner.gateway.ws_url, open_timeout=WAIT):
        pass
    assert at_handshake == [True]


def test_connections_api_with_botocore(gateway) -> None:
    runner, seen = gateway
    client = mgmt_client(runner.gateway.management_url)
    with connect(f"{runner.gateway.ws_url}", open_timeout=WAIT) as ws:
        wait_for(lambda: seen["connect"], "$connect")
        cid = seen["connect"][0][0]
        assert seen["connect"][0][1] == {}  # the bare /ws path subscribes by message, no channel
        client.post_to_connection(ConnectionId=cid, Data=b'{"type":"funding_rate_update"}')
        assert json.loads(ws.recv(timeout=WAIT)) == {"type": "funding_rate_update"}
        info = client.get_connection(ConnectionId=cid)
        assert info["Identity"]["SourceIp"] == "127.0.0.1" and info["ConnectedAt"].year >= 2026
        client.delete_connection(ConnectionId=cid)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    wait_for(lambda: seen["disconnect"], "$disconnect")
    # the id is gone now: every management call raises botocore's modeled GoneException
    for call in (lambda: client.post_to_connection(ConnectionId=cid, Data=b"x"),
                 lambda: client.get_connection(ConnectionId=cid),
                 lambda: client.delete_connection(ConnectionId=cid)):
        with pytest.raises(client.exceptions.GoneException) as info:
            call()
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="never-existed=", Data=b"x")


def test_the_in_process_sink_delivers_as_the_connections_api_does(gateway) -> None:
    # the app's pusher in the gateway's own process hands a run over in one call (no HTTP per post);
    # the same answers as POST /@connections: open ids get their messages, unknown ones are gone,
    # a message over 128 KB is refused; an https (AWS) endpoint is never served in-process
    from chalicelib.transport.push import ApiGatewayPusher, register_local_sink

    runner, seen = gateway
    with connect(runner.gateway.ws_url, open_timeout=WAIT, max_size=2**20) as ws:
        wait_for(lambda: seen["connect"], "$connect")
        cid = seen["connect"][0][0]
        pusher = ApiGatewayPusher(runner.gateway.management_url, client_factory=lambda *a: pytest.fail("boto3 used"))
        result = pusher.send({cid: [b'{"n":1}', b'{"n":2}', b"x" * (128 * 1024 + 1)], "never-existed=": [b"{}"]})
        assert (result.delivered, result.failed, result.gone, result.failed_ids) == (2, 1, ["never-existed="], [cid])
        assert [json.loads(ws.recv(timeout=WAIT)) for _ in range(2)] == [{"n": 1}, {"n": 2}]
    with pytest.raises(ValueError):
        register_local_sink("https://abc.execute-api.us-east-1.amazonaws.com/prod", lambda m: None)


def test_a_pusher_without_local_sinks_posts_through_boto3_to_the_gateway(gateway) -> None:
    from chalicelib.transport.push import ApiGatewayPusher

    runner, seen = gateway
    with connect(runner.gateway.ws_url, open_timeout=WAIT) as ws:
        wait_for(lambda: seen["connect"], "$connect")
        cid = seen["connect"][0][0]
        pusher = ApiGatewayPusher(runner.gateway.management_url, local_sinks=False)
        result = pusher.send({cid: [b'{"via":"http"}'], "never-existed=": [b"{}"]})
        assert (result.delivered, result.gone) == (1, ["never-existed="])
        assert json.loads(ws.recv(timeout=WAIT)) == {"via": "http"}


def test_handler_can_close_its_own_connection(gateway) -> None:
    runner, seen = gateway
    with connect(runner.gateway.ws_url, open_timeout=WAIT) as ws:
        ws.send("bye")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    wait_for(lambda: seen["disconnect"], "$disconnect")


def test_connect_refused_by_the_handler_is_a_failed_handshake(gateway) -> None:
    runner, seen = gateway
    with pytest.raises(InvalidStatus) as info:
        connect(f"{runner.gateway.ws_url}?deny=1", open_timeout=WAIT)
    assert info.value.response.status_code == 403
    assert not runner.gateway.connections
    assert seen["disconnect"] == []  # API Gateway sends no $disconnect for a refused $connect


def test_unknown_websocket_path_is_not_upgraded(gateway) -> None:
    runner, _ = gateway
    with pytest.raises(InvalidStatus) as info:
        connect(f"ws://127.0.0.1:{runner.gateway.port}/api/v1/nope", open_timeout=WAIT)
    assert info.value.response.status_code == 403


def test_stop_closes_sockets_and_fires_disconnect(gateway) -> None:
    runner, seen = gateway
    with connect(runner.gateway.ws_url, open_timeout=WAIT) as ws:
        wait_for(lambda: seen["connect"], "$connect")
        runner.stop()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    assert [code for _, code in seen["disconnect"]] == [1001]
    from frs_local.servers import port_open

    assert not port_open(runner.gateway.port)


@pytest.mark.parametrize("framing", ["Content-Length: abc", "Content-Length: -5",
                                     "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0"])
def test_a_malformed_body_length_is_a_400_not_a_dropped_connection(gateway, framing: str) -> None:
    import socket

    runner, _ = gateway
    with socket.create_connection(("127.0.0.1", runner.gateway.port), timeout=WAIT) as sock:
        sock.sendall(f"POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
                     .encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]


# ---- hardening: back-pressure, the admin key before the body, @connections off the public port ----
def test_saturated_gateway_answers_503_with_retry_after_instead_of_hanging() -> None:
    seen: dict[str, list[Any]] = {"connect": [], "message": [], "disconnect": []}
    entered, release = threading.Event(), threading.Event()
    seen["gate"] = [entered, release]
    # 2 workers + a queue of 1: three requests in flight fill it; the fourth is refused at once
    runner = GatewayThread(Gateway(tiny_app(seen), "127.0.0.1", 0, workers=2, queue=1)).start()
    base = runner.gateway.url
    held: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: held.append(httpx.get(f"{base}/api/v1/slow", timeout=WAIT)))
               for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: runner.gateway.pool.pending == 3, "three requests in flight")
        started = time.monotonic()
        r = httpx.get(f"{base}/api/v1/items/x", timeout=WAIT)
        refused_in = time.monotonic() - started
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "saturated" in r.json()["message"]
        assert refused_in < WAIT / 2    # answered, not queued behind the held handlers (they wait WAIT s)
        assert runner.gateway.rejected == 1
    finally:
        release.set()
        for thread in threads:
            thread.join(WAIT)
    assert [r.status_code for r in held] == [200, 200, 200]
    # capacity back: the same request is served
    assert httpx.get(f"{base}/api/v1/items/x", timeout=WAIT).status_code == 200
    runner.stop()


def _admin_gateway(reads: list[str]) -> GatewayThread:
    app = tiny_app({"connect": [], "message": [], "disconnect": []})

    @app.route("/api/v1/admin/things/{name}", methods=["PUT"], content_types=["application/json"])
    def put_thing(name):
        reads.append(name)
        return {"stored": name, "bytes": len(app.current_request.raw_body)}

    def check(headers: list[tuple[str, str]]) -> HttpResponse | None:
        given = dict((k.lower(), v) for k, v in headers).get("x-api-key")
        return None if given == "right" else HttpResponse.json(403, {"error": "forbidden"})

    guard = BodyGuard([__import__("re").compile(r"/api/v1/admin/things/[^/]+")], check)
    return GatewayThread(Gateway(app, "127.0.0.1", 0, body_guard=guard)).start()


def test_a_wrong_admin_key_is_refused_before_the_body_is_read() -> None:
    import socket

    reads: list[str] = []
    runner = _admin_gateway(reads)
    try:
        body_size = 10 * 1024 * 1024            # what the issue sent: 10 MB
        head = (f"PUT /api/v1/admin/things/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"X-API-Key: wrong\r\nContent-Length: {body_size}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", runner.gateway.port), timeout=WAIT) as sock:
            sock.sendall(head)                   # the head only: not one body byte is sent
            reply = b""
            while chunk := sock.recv(4096):      # the gateway answers and closes without waiting for it
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 403 "), reply[:200]
        assert b"Connection: close" in reply and reply.endswith(b'{"error": "forbidden"}')
        assert reads == []
        # the right key: the body is read and the handler runs; 1,000 bytes of JSON string = 1,002 with quotes
        r = httpx.put(f"{runner.gateway.url}/api/v1/admin/things/b", headers={"X-API-Key": "right"},
                      json="x" * 1000, timeout=WAIT)
        assert r.status_code == 200 and r.json() == {"stored": "b", "bytes": 1002}
        # a non-admin path is not guarded
        assert httpx.get(f"{runner.gateway.url}/api/v1/items/c", timeout=WAIT).status_code == 200
    finally:
        runner.stop()


def test_the_real_admin_guard_uses_the_apps_key_check(monkeypatch) -> None:
    from chalicelib.settings import reset_settings_cache
    from frs_local.stack import admin_guard

    monkeypatch.setenv("ADMIN_API_KEY", "s3cret")
    reset_settings_cache()
    try:
        guard = admin_guard()
        assert guard.applies("/api/v1/admin/dexes/lighter/fees") and not guard.applies("/api/v1/dexes/lighter")
        refused = guard.check([("X-API-Key", "nope")])
        assert refused is not None and refused.status == 403
        assert json.loads(refused.body) == {"error": "forbidden", "detail": "invalid API key", "parameter": "X-API-Key"}
        missing = guard.check([])
        assert missing is not None and missing.status == 401
        assert guard.check([("x-api-key", "s3cret")]) is None
    finally:
        monkeypatch.delenv("ADMIN_API_KEY")
        reset_settings_cache()


def test_connections_api_is_not_on_the_public_port(gateway) -> None:
    runner, seen = gateway
    gw = runner.gateway
    assert gw.management_port != gw.port and gw.management_url == f"http://127.0.0.1:{gw.management_port}"
    with connect(gw.ws_url, open_timeout=WAIT) as ws:
        wait_for(lambda: seen["connect"], "$connect")
        cid = seen["connect"][0][0]
        public = httpx.post(f"{gw.url}/@connections/{cid}", content=b"spoofed", timeout=WAIT)
        assert public.status_code == 403 and public.json() == {"message": "Missing Authentication Token"}
        assert httpx.get(f"{gw.url}/@connections/{cid}", timeout=WAIT).status_code == 403
        # the management port delivers
        assert httpx.post(f"{gw.management_url}/@connections/{cid}", content=b"real", timeout=WAIT).status_code == 200
        assert ws.recv(timeout=WAIT) == "real"
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)             # the spoofed frame never arrived
