"""Local API Gateway: REST and WebSocket on the public port, the `@connections` API on a loopback port of its own.

One asyncio server speaks HTTP/1.1 (keep-alive, Content-Length and chunked bodies) and, on an
`Upgrade: websocket` request, hands the socket to websockets' Sans-I/O `ServerProtocol`. (The
websockets asyncio server cannot be used here: its HTTP parser refuses request bodies, and
`POST /@connections/{id}` has one.)

- REST: `/api/v1/...` becomes an API Gateway REST proxy event (frs_local.events.rest_event)
  and goes to `app(event, context)`, exactly the Lambda entry point.
- WebSocket: `ws://HOST:PORT/api/v1/ws` (and `/ws/funding-rates`, `/ws/opportunities`, which add
  `channel=<name>` to the `$connect` query string) become `$connect` / `$default` / `$disconnect`
  events for `app.websocket_handlers`. As on AWS, the socket opens only after `$connect` answered
  2xx, and a handler cannot post to the connection while `$connect` runs.
- `@connections`: `POST|GET|DELETE /@connections/{id}` as apigatewaymanagementapi expects, so the
  app's own boto3 `post_to_connection` delivers; an unknown id answers 410 with
  `x-amzn-ErrorType: GoneException`, which botocore raises as `client.exceptions.GoneException`.
  It listens on 127.0.0.1:<management port> only (`management_url`, what WS_MANAGEMENT_URL is set
  to); the public port answers it like any unknown path (403), as API Gateway's public URL does.

App handlers run on a fixed pool of worker threads, never on the event loop (a handler that posts
to a socket sends an HTTP request back to this same loop). The one exception is no handler at all:
a repeat GET the app's fast lane answers from memory is answered on the loop with the bytes the
Lambda path would send (`Gateway._inline`; `fast_lane=False` turns it off), so cached routes cost
no thread hop and no Lambda event. Back-pressure: when `workers` handlers
run and `queue` more wait, a REST request is answered at once with 503 + Retry-After instead of
queueing without bound. A `BodyGuard` (the admin routes' X-API-Key, see stack.admin_guard) is
checked on the request head, before the body is read: a wrong key costs no body bytes.
Nothing here is imported by a Lambda.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import queue
import re
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from frs_local import events as ev

log = logging.getLogger("frs.local.gateway")

WS_BASE = "/api/v1/ws"
# WebSocket paths -> the channel they subscribe to on connect (None: subscribe by message, SPEC)
WS_PATHS: dict[str, str | None] = {
    WS_BASE: None,
    f"{WS_BASE}/funding-rates": "funding_rates",
    f"{WS_BASE}/opportunities": "opportunities",
}
MAX_HEADER_BYTES = 64 * 1024
DEFAULT_WORKERS = 16   # handler threads; with the default queue (4 per worker) 80 REST requests in flight
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit
WS_MAX_MESSAGE = 128 * 1024  # API Gateway WebSocket message limit (frames of 32 KB, messages of 128 KB)
_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found",
    304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 413: "Payload Too Large",
    415: "Unsupported Media Type", 426: "Upgrade Required", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header, formatted once a second (email.utils is a tenth of the loop's time otherwise)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, ev.http_date())
    return _date_cache[1]


class _BadRequest(Exception):
    pass


_SKIP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "date"})  # the gateway writes these


def _head_lines(status: int | None, headers: Iterable[tuple[str, str]]) -> bytes:
    """The status line (unless None) and header lines of a response, each ending CRLF; framing headers left out."""
    lines = [] if status is None else [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"]
    lines += [f"{k}: {v}\r\n" for k, v in headers if k.lower() not in _SKIP_HEADERS]
    return "".join(lines).encode("latin-1")


@dataclass(frozen=True, slots=True)
class _Fast:
    """A request target the app's fast lane answers from memory: its fast-lane key and the response head
    (status line + headers) the Lambda path returned for it, minus the per-request ones."""

    key: tuple[Any, ...]
    head: bytes


@dataclass
class HttpRequest:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    raw_head: bytes
    body: bytes = b""
    refused: HttpResponse | None = None   # a BodyGuard's answer: sent instead, body left unread

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case)."""
        return self._by_name.get(name.lower())

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)   # once per request: path and query are read several times
        self.path: str = parts.path or "/"
        self.query: str = parts.query
        self._by_name: dict[str, str] = {}   # lower-case name -> first value: a request asks for ~6 headers
        for key, value in self.headers:
            self._by_name.setdefault(key.lower(), value)

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    head: bytes = b""   # pre-rendered status line + leading headers (the inline path's); `headers` follow it

    @classmethod
    def json(cls, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
        body = json.dumps(payload).encode()
        return cls(status, [("Content-Type", "application/json"), *headers], body)


def run_in_thread(fn: Callable[..., Any], *args: Any, name: str = "frs-job") -> asyncio.Future[Any]:
    """Run a blocking call in a fresh daemon thread; await its result on the running loop.

    For the scheduler's few long jobs (a collector cycle), not for requests: the gateway's
    handlers run on its WorkerPool.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:
            outcome = (False, exc)
        else:
            outcome = (True, result)
        with contextlib.suppress(RuntimeError):  # loop already closed: nobody is waiting
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


class WorkerPool:
    """A fixed number of daemon threads running blocking handlers for one event loop.

    Daemon threads, not an executor: a handler stuck on a dead socket must not keep `frs local`
    from exiting on Ctrl-C (executor threads are joined at interpreter exit). `pending` (read on
    the loop) counts handlers submitted and not yet finished, including ones whose caller gave up
    (a 504): a slow handler keeps its worker busy, and back-pressure must see it.
    """

    def __init__(self, size: int, name: str = "gw-worker") -> None:
        self.size = size
        self.name = name
        self.pending = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.size - len(self._threads)):
            thread = threading.Thread(target=self._work, name=f"{self.name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        self._threads = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run `fn(*args)` on a worker; await the result on the running loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending += 1
        self._queue.put((loop, future, fn, args))
        return future

    def _settle(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        self.pending -= 1
        if future.done():   # the caller gave up (timeout, shutdown)
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, future, fn, args = item
            try:
                outcome = (True, fn(*args))
            except BaseException as exc:
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # loop already closed: nobody is waiting
                loop.call_soon_threadsafe(self._settle, future, *outcome)
            del item, future, outcome


@dataclass
class BodyGuard:
    """A check on the request head, run before the body is read (the admin key of admin routes).

    `paths`: regular expressions of the paths it covers; `check(headers)`: None to go on reading,
    or the response to send instead (the connection is closed after it: the body stays unread).
    """

    paths: list[re.Pattern[str]]
    check: Callable[[list[tuple[str, str]]], HttpResponse | None]

    def applies(self, path: str) -> bool:
        return any(p.fullmatch(path) for p in self.paths)


def _new_connection_id() -> str:
    # AWS ids look like "L0SM9cOFvHcCIhw=": base64 of 10 random bytes
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def _thread_local_requests(app: Any) -> None:
    """Make `app.current_request` per thread, as `chalice local` does, so REST calls may overlap."""
    from chalice.local import LocalChalice

    if isinstance(app, LocalChalice):
        return
    cls = type(app)
    app.__class__ = type(f"Local{cls.__name__}", (LocalChalice, cls), {})


@dataclass
class WsConnection:
    id: str
    protocol: Any  # websockets.server.ServerProtocol
    writer: asyncio.StreamWriter
    source_ip: str
    user_agent: str | None
    connected_at_ms: int
    last_active_ms: int
    sent: int = 0

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)
            elif self.writer.can_write_eof():
                with contextlib.suppress(OSError):
                    self.writer.write_eof()

    def send(self, payload: bytes) -> None:
        if payload.isascii():   # JSON from the pusher: valid UTF-8 without decoding 100 KB to check
            self.protocol.send_text(payload)
        else:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                self.protocol.send_binary(payload)
            else:
                self.protocol.send_text(payload)
        self.sent += 1
        self.last_active_ms = int(time.time() * 1000)
        self.flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        from websockets.protocol import State

        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self.flush()


class Gateway:
    """The local API Gateway for one Chalice app. Use `GatewayThread` from synchronous code."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        ws_paths: dict[str, str | None] | None = None,
        function_name: str = "api_handler",
        rest_timeout_s: float = 29.0,
        management_port: int = 0,
        workers: int = DEFAULT_WORKERS,
        queue: int | None = None,
        body_guard: BodyGuard | None = None,
        fast_lane: bool = True,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.management_port = management_port   # 0: a free port; always bound to 127.0.0.1
        self.pool = WorkerPool(workers)
        self.max_pending = workers + (4 * workers if queue is None else queue)
        self.body_guard = body_guard
        self.rejected = 0   # REST requests answered 503 by back-pressure
        self.ws_paths = dict(WS_PATHS if ws_paths is None else ws_paths)
        self.function_name = function_name
        self.rest_timeout_s = rest_timeout_s  # API Gateway's integration timeout for REST
        self._server: asyncio.base_events.Server | None = None
        self._management: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle: set[asyncio.Task[Any]] = set()  # keep-alive connections waiting for a request
        self.connections: dict[str, WsConnection] = {}
        self.routes = ev.RouteTable(list(app.routes))
        self.requests_served = 0
        self.fast_lane = fast_lane   # answer repeat GETs the app's fast lane holds on the loop (`_inline`)
        self.inline_served = 0       # REST requests answered that way
        self.coalesced = 0           # requests that waited for the same request's trip through app(event)
        self._fast: dict[str, _Fast] = {}                     # request target -> how to answer it inline
        self._fast_keys: dict[str, Callable[..., Any] | None] = {}   # resource -> its fast-lane key builder
        self._inflight: dict[str, asyncio.Future[None]] = {}   # fast targets on their way through app(event)
        self._flushing = False
        _thread_local_requests(app)

    # --- addresses -------------------------------------------------------------------------
    @property
    def public_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host

    @property
    def url(self) -> str:
        return f"http://{self.public_host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.public_host}:{self.port}{WS_BASE}"

    @property
    def management_url(self) -> str:
        """WS_MANAGEMENT_URL for this gateway: apigatewaymanagementapi appends /@connections/{id}."""
        return f"http://127.0.0.1:{self.management_port}"

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEADER_BYTES)
        self.port = int(self._server.sockets[0].getsockname()[1])
        try:
            self._management = await asyncio.start_server(self._serve_management, "127.0.0.1", self.management_port,
                                                          limit=MAX_HEADER_BYTES)
        except OSError:
            self._server.close()
            raise
        self.management_port = int(self._management.sockets[0].getsockname()[1])
        self.pool.start()
        self._prepare_app()
        from chalicelib.transport.push import register_local_sink

        register_local_sink(self.management_url, self.deliver)

    def _prepare_app(self) -> None:
        """Point the app's Chalice WebsocketAPI at this gateway (it would build an https AWS URL)."""
        api = getattr(self.app, "websocket_api", None)
        if api is None or not self.app.websocket_handlers:
            return
        if api.session is None:
            import boto3

            api.session = boto3.session.Session()
        # Chalice's configure() only builds https://{domain}/{stage}; the endpoint is a private
        # attribute, and configure()/configure_from_api_id() leave a set endpoint alone.
        if getattr(api, "_endpoint", None) is None:
            api._endpoint = self.management_url

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, close every socket (firing `$disconnect`), wait for running handlers."""
        if self._server is None:
            return
        from chalicelib.transport.push import unregister_local_sink

        unregister_local_sink(self.management_url)
        self._server.close()
        if self._management is not None:
            self._management.close()
        for conn in list(self.connections.values()):
            conn.close(1001, "going away")
        for task in list(self._idle):
            task.cancel()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=timeout)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), timeout=2)
        self._server = None
        self.pool.stop()

    # --- in-process calls (the stack's progress lines) -------------------------------------
    def call_rest(self, method: str, target: str, body: bytes | None = None) -> tuple[int, Any]:
        """Run one REST request through the same event path, in the calling thread."""
        parts = urlsplit(target)
        route = self.routes.match(parts.path)
        event = ev.rest_event(
            method=method, path=parts.path, route=route, query=ev.parse_query(parts.query),
            headers=[("Host", f"{self.public_host}:{self.port}"), ("User-Agent", "frs-local")],
            body=body, host=f"{self.public_host}:{self.port}",
        )
        result = self.app(event, ev.lambda_context(self.function_name))
        raw = result.get("body") or ""
        if result.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        try:
            return int(result["statusCode"]), json.loads(raw) if raw else None
        except ValueError:
            return int(result["statusCode"]), raw

    # --- connection handling ---------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peer = writer.get_extra_info("peername")
        source_ip = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        try:
            while True:
                if task is not None:
                    self._idle.add(task)
                try:
                    request = await self._read_request(reader, writer)
                except _BadRequest as exc:
                    self._idle.discard(task)
                    await self._write(writer, HttpResponse.json(400, {"message": str(exc)}), keep_alive=False)
                    return
                self._idle.discard(task)
                if request is None:
                    return
                if request.refused is not None:   # its body is still in the socket: answer and close
                    await self._write(writer, request.refused, keep_alive=False)
                    return
                upgrade = (request.header("upgrade") or "").lower() == "websocket"
                if upgrade and request.path.rstrip("/") in self.ws_paths:
                    await self._websocket(request, reader, writer, source_ip)
                    return
                response = await self._http(request, source_ip)
                self.requests_served += 1
                keep = request.keep_alive and not upgrade
                await self._write(writer, response, keep_alive=keep, head=request.method == "HEAD")
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("gateway: connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=2)

    async def _serve_management(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The loopback-only port: `@connections/{id}` and nothing else."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._idle.add(task)
        try:
            while True:
                try:
                    request = await self._read_request(reader, writer, guard=False)
                except _BadRequest as exc:
                    await self._write(writer, HttpResponse.json(400, {"message": str(exc)}), keep_alive=False)
                    return
                if request is None:
                    return
                path = request.path
                if path.startswith("/@connections/"):
                    response = self._management_call(request, unquote(path[len("/@connections/"):]))
                else:
                    response = HttpResponse.json(404, {"message": f"no such management resource {path!r}"})
                await self._write(writer, response, keep_alive=request.keep_alive)
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("gateway: management connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=2)

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            guard: bool = True) -> HttpRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _BadRequest("incomplete request head") from None
            return None
        except asyncio.LimitOverrunError:
            raise _BadRequest("request head too large") from None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise _BadRequest(f"malformed request line {lines[0][:80]!r}") from None
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(f"malformed header line {line[:80]!r}")
            headers.append((name.strip(), value.strip()))
        request = HttpRequest(method.upper(), target, version, headers, head)
        if guard and self.body_guard is not None and self.body_guard.applies(request.path):
            # before the body: a wrong key must not make us read (or the client send) 10 MB
            request.refused = await self._run(self.body_guard.check, headers)
            if request.refused is not None:
                return request
        if (request.header("expect") or "").lower() == "100-continue":  # curl does this for bodies > 1 KB
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if (request.header("transfer-encoding") or "").lower() == "chunked":
            request.body = await self._read_chunked(reader)
        else:
            raw_length = (request.header("content-length") or "0").strip()
            if not (raw_length.isascii() and raw_length.isdigit()):
                raise _BadRequest(f"malformed Content-Length {raw_length[:40]!r}")
            length = int(raw_length)
            if length > MAX_BODY_BYTES:
                raise _BadRequest("request body too large")
            if length:
                request.body = await reader.readexactly(length)
        return request

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        chunks = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                size = -1
            if size < 0:
                raise _BadRequest("malformed chunk size")
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return bytes(chunks)
            chunks += await reader.readexactly(size)
            await reader.readexactly(2)
            if len(chunks) > MAX_BODY_BYTES:
                raise _BadRequest("request body too large")

    async def _write(self, writer: asyncio.StreamWriter, resp: HttpResponse, *, keep_alive: bool,
                     head: bool = False) -> None:
        start = resp.head or _head_lines(resp.status, ())
        framing = (f"Content-Length: {len(resp.body)}\r\nDate: {_http_date()}\r\n"
                   f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n").encode("latin-1")
        data = b"".join((start, _head_lines(None, resp.headers), framing,
                         resp.body if not head else b""))
        writer.write(data)   # one send per response
        await writer.drain()

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.pool.submit(fn, *args)

    def _saturated(self) -> HttpResponse | None:
        """503 + Retry-After when every worker is busy and the queue is full (not a hang, not a thread more)."""
        if self.pool.pending < self.max_pending:
            return None
        self.rejected += 1
        return HttpResponse.json(503, {"message": "Service Unavailable: the local gateway is saturated "
                                                  f"({self.pool.pending} requests in flight); retry shortly"},
                                 [("Retry-After", "1")])

    # --- the inline path: repeat requests the app's fast lane answers from memory ------------
    def _inline(self, fast: _Fast | None) -> HttpResponse | None:
        """A GET the app's fast lane (chalicelib/api/fastlane.py) answers from memory, answered here on the loop.

        What app(event) would return for it, byte for byte: the body is `fastlane.answer(key)`, exactly
        what the view returns on a repeat request, and the status line and headers are the ones the
        Lambda path returned for this same request target (learned by `_learn`), with a fresh request
        id. No worker hop, no Lambda event, no I/O; a miss (None) goes the Lambda way.
        """
        if fast is None:
            return None
        from chalicelib.api import fastlane

        started = time.perf_counter()
        body = fastlane.answer(fast.key)
        if body is None:
            return None
        self._count((time.perf_counter() - started) * 1000)
        self.inline_served += 1
        return HttpResponse(200, [("x-amzn-RequestId", str(uuid.uuid4()))], body.encode("utf-8"), head=fast.head)

    def _count(self, elapsed_ms: float) -> None:
        """What the app's endpoint wrapper counts per request (api/http.py); its periodic Redis flush on a worker."""
        from chalicelib.api.metrics import FLUSH_EVERY_S, METRICS

        METRICS.request(elapsed_ms)
        if self._flushing or time.monotonic() - METRICS.last_flush < FLUSH_EVERY_S:
            return
        from chalicelib.api.data import kv

        self._flushing = True

        def flushed(future: asyncio.Future[Any]) -> None:
            self._flushing = False
            if not future.cancelled() and future.exception() is not None:
                log.warning("gateway: metrics flush failed: %s", future.exception())

        self.pool.submit(METRICS.maybe_flush, kv).add_done_callback(flushed)

    def _fast_key(self, resource: str) -> Callable[..., Any] | None:
        """(path parameters, query pairs) -> the fast-lane key the app's view computes, for the app's own
        REST views (chalicelib/handlers/rest.py); None for any other route or app."""
        if resource in self._fast_keys:
            return self._fast_keys[resource]
        builder: Callable[..., Any] | None = None
        view = getattr(self.app.routes.get(resource, {}).get("GET"), "view_function", None)
        if self.fast_lane and getattr(view, "__module__", None) == "chalicelib.handlers.rest":
            from chalice.app import MultiDict

            from chalicelib.api.fastlane import request_key

            name = getattr(view, "__name__", "")

            def builder(path: dict[str, str], query: list[tuple[str, str]]) -> Any:
                multi: dict[str, list[str]] = {}
                for k, v in query:   # what Chalice makes of multiValueQueryStringParameters
                    multi.setdefault(k, []).append(v)
                return request_key(name, dict(path), MultiDict(multi) if multi else None)
        self._fast_keys[resource] = builder
        return builder

    MAX_FAST = 2048   # remembered request targets (cleared when full, as the fast lane's own memo)

    def _learn(self, request: HttpRequest, route: ev.RouteMatch, query: list[tuple[str, str]],
               response: HttpResponse) -> None:
        """After a 200 from app(event): if the fast lane now remembers this request, keep its head for `_inline`."""
        builder = self._fast_key(route.resource)
        if builder is None:
            return
        from chalicelib.api import fastlane

        try:
            key = builder(route.path_parameters, query)
        except Exception:   # the app's key function changed shape: serve everything the Lambda way
            log.exception("gateway: fast-lane key for %s failed; inline path off", route.resource)
            self.fast_lane = False
            self._fast.clear()
            return
        if not fastlane.knows(key):
            self._fast.pop(request.target, None)
            return
        if len(self._fast) >= self.MAX_FAST:
            self._fast.clear()
        headers = [(k, v) for k, v in response.headers if k != "x-amzn-RequestId"]
        self._fast[request.target] = _Fast(key, _head_lines(200, headers))

    # --- HTTP: @connections and REST -------------------------------------------------------
    async def _http(self, request: HttpRequest, source_ip: str) -> HttpResponse:
        """A known fast-lane request inline (`_inline`); else the Lambda way, one at a time per such target.

        When the fast lane misses (its entry expired: the app re-reads and re-renders, ~20 ms), the
        first request takes the Lambda way and the same requests arriving meanwhile wait for it, then
        are answered inline from the entry it rebuilt, instead of each rebuilding the same entry on
        its own worker (a dozen rebuilds competing for the GIL is the latency tail otherwise).
        """
        target = request.target
        if (request.method != "GET" or target not in self._fast or request.body
                or request.header("content-type") is not None):   # a Content-Type the route may refuse (415)
            return await self._lambda(request, source_ip)
        if (inline := self._inline(self._fast.get(target))) is not None:
            return inline
        leader = self._inflight.get(target)
        if leader is not None:
            self.coalesced += 1
            await asyncio.shield(leader)
            if (inline := self._inline(self._fast.get(target))) is not None:
                return inline
            return await self._lambda(request, source_ip)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[target] = done
        try:
            return await self._lambda(request, source_ip)
        finally:
            del self._inflight[target]
            done.set_result(None)

    async def _lambda(self, request: HttpRequest, source_ip: str) -> HttpResponse:
        """The REST request as API Gateway hands it to the Lambda: an event, app(event, context) on a worker."""
        path = request.path
        if path.rstrip("/") in self.ws_paths:
            return HttpResponse.json(426, {"message": f"WebSocket endpoint: connect to ws://{self.public_host}:"
                                                      f"{self.port}{path.rstrip('/')} with a WebSocket client"},
                                     [("Upgrade", "websocket")])
        try:
            route = self.routes.match(path)
        except ev.NoRoute:
            if path == "/" and request.method == "GET":
                return HttpResponse.json(200, self._index())
            # what API Gateway answers for a path no resource matches
            return HttpResponse.json(403, {"message": "Missing Authentication Token"},
                                     [("x-amzn-ErrorType", "MissingAuthenticationTokenException")])
        if request.method == "OPTIONS" and "OPTIONS" not in self.app.routes[route.resource]:
            return self._preflight(route.resource)
        if (busy := self._saturated()) is not None:
            return busy
        host = request.header("host") or f"{self.public_host}:{self.port}"
        content_type = (request.header("content-type") or "").split(";")[0].strip()
        query = ev.parse_query(request.query)
        event = ev.rest_event(
            method=request.method, path=unquote(path), route=route, query=query,
            headers=request.headers, body=request.body or None, source_ip=source_ip, host=host,
            binary=content_type in getattr(self.app.api, "binary_types", ()),
        )
        try:
            result = await asyncio.wait_for(self._run(self.app, event, ev.lambda_context(self.function_name)),
                                            timeout=self.rest_timeout_s)
        except TimeoutError:
            log.warning("gateway: %s %s took longer than %.0f s", request.method, path, self.rest_timeout_s)
            return HttpResponse.json(504, {"message": "Endpoint request timed out"})
        except Exception:
            log.exception("gateway: %s %s raised", request.method, path)
            return HttpResponse.json(502, {"message": "Internal server error"})
        response = self._from_lambda(result, event["requestContext"]["requestId"])
        if request.method == "GET" and response.status == 200 and self.fast_lane:
            self._learn(request, route, query, response)
        return response

    @staticmethod
    def _from_lambda(result: dict[str, Any], request_id: str) -> HttpResponse:
        headers: list[tuple[str, str]] = []
        for key, value in (result.get("headers") or {}).items():
            headers.append((key, str(value)))
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((key, str(v)) for v in values)
        headers.append(("x-amzn-RequestId", request_id))
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        return HttpResponse(int(result.get("statusCode", 200)), headers, raw)

    def _preflight(self, resource: str) -> HttpResponse:
        views = self.app.routes[resource]
        cors = [v for v in views.values() if getattr(v, "cors", None) is not None]
        if not cors:
            return HttpResponse(200, [("Access-Control-Allow-Methods", "OPTIONS")])
        headers = list(cors[0].cors.get_access_control_headers().items())
        methods = sorted({m for m, v in views.items() if getattr(v, "cors", None) is not None} | {"OPTIONS"})
        headers.append(("Access-Control-Allow-Methods", ",".join(methods)))
        return HttpResponse(200, headers)

    def _index(self) -> dict[str, Any]:
        return {
            "service": "local gateway (not part of the AWS deployment)",
            "rest": f"{self.url}/api/v1/",
            "websocket": self.ws_url,
            "routes": sorted(self.app.routes),
        }

    def _management_call(self, request: HttpRequest, connection_id: str) -> HttpResponse:
        from websockets.protocol import State

        conn = self.connections.get(connection_id)
        if conn is None or conn.protocol.state is not State.OPEN:
            return HttpResponse.json(410, {"message": f"connection {connection_id!r} is gone"},
                                     [("x-amzn-ErrorType", "GoneException")])
        if request.method == "POST":
            if len(request.body) > WS_MAX_MESSAGE:
                return HttpResponse.json(413, {"message": "payload larger than 128 KB"},
                                         [("x-amzn-ErrorType", "PayloadTooLargeException")])
            conn.send(request.body)
            return HttpResponse(200, [("Content-Type", "application/json")])
        if request.method == "GET":
            # wire names of GetConnectionResponse (botocore maps them to ConnectedAt, Identity, ...)
            return HttpResponse.json(200, {
                "connectedAt": ev.iso_ms(conn.connected_at_ms),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent or ""},
                "lastActiveAt": ev.iso_ms(conn.last_active_ms),
            })
        if request.method == "DELETE":
            self.connections.pop(connection_id, None)
            conn.close(1000, "")
            return HttpResponse(204)
        return HttpResponse.json(405, {"message": f"method {request.method} not allowed"})

    # --- the in-process @connections sink (chalicelib.transport.push.register_local_sink) ---------
    DELIVER_CHUNK = 200   # connections written per loop turn: the loop keeps serving between chunks

    def deliver(self, messages_by_connection: Any) -> Any:
        """post_to_connection for many connections at once, from any thread: what `_management_call`
        does per POST (gone if unknown or not open, 413 over 128 KB), without an HTTP round trip each."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("gateway not started")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("deliver() blocks: call it from another thread than the gateway's loop")
        return asyncio.run_coroutine_threadsafe(self._deliver(dict(messages_by_connection)), loop).result(timeout=60)

    async def _deliver(self, messages_by_connection: dict[str, Any]) -> Any:
        from websockets.protocol import State

        from chalicelib.transport.push import PushResult

        result = PushResult()
        items = list(messages_by_connection.items())
        for start in range(0, len(items), self.DELIVER_CHUNK):
            if start:
                await asyncio.sleep(0)   # let the writers drain and other requests run
            for cid, messages in items[start:start + self.DELIVER_CHUNK]:
                conn = self.connections.get(cid)
                if conn is None or conn.protocol.state is not State.OPEN:
                    result.gone.append(cid)
                    continue
                failed = 0
                for data in messages:
                    if len(data) > WS_MAX_MESSAGE:
                        failed += 1
                        continue
                    conn.send(data)
                    result.delivered += 1
                if failed:
                    result.failed += failed
                    result.failed_ids.append(cid)
        return result

    # --- WebSocket ---------------------------------------------------------------------------
    def _ws_handler(self, route_key: str) -> Any:
        """The wrapped Lambda handler (what `chalice deploy` points the route at), or None."""
        config = self.app.websocket_handlers.get(route_key)
        return None if config is None else self.app.handler_map.get(config.name)

    async def _invoke_ws(self, route_key: str, event: dict[str, Any]) -> dict[str, Any] | None:
        handler = self._ws_handler(route_key)
        if handler is None:
            return None
        return await self._run(handler, event, ev.lambda_context(f"websocket_{route_key.strip('$')}"))

    async def _websocket(self, request: HttpRequest, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter, source_ip: str) -> None:
        from websockets.frames import Frame, Opcode
        from websockets.http11 import Request as WsRequest
        from websockets.protocol import State
        from websockets.server import ServerProtocol

        protocol = ServerProtocol(max_size=WS_MAX_MESSAGE)
        protocol.receive_data(request.raw_head)
        handshake = [e for e in protocol.events_received() if isinstance(e, WsRequest)]
        now_ms = int(time.time() * 1000)
        conn = WsConnection(_new_connection_id(), protocol, writer, source_ip, request.header("user-agent"),
                            now_ms, now_ms)
        if not handshake:
            conn.flush()
            return
        response = protocol.accept(handshake[0])
        if response.status_code == 101:
            query = ev.parse_query(request.query)
            channel = self.ws_paths.get(request.path.rstrip("/"))
            if channel and not any(k == "channel" for k, _ in query):
                query.append(("channel", channel))
            connect = ev.ws_event(route_key="$connect", connection_id=conn.id, connected_at_ms=now_ms,
                                  domain_name=request.header("host") or self.public_host, query=query,
                                  headers=request.headers, source_ip=source_ip)
            try:
                result = await self._invoke_ws("$connect", connect)
            except Exception:
                log.exception("gateway: $connect raised")
                result = {"statusCode": 500}
            status = int((result or {}).get("statusCode", 200))
            if not 200 <= status < 300:
                response = protocol.reject(status, f"$connect answered {status}\n")
        if response.status_code == 101:
            # registered before the 101 leaves: a client that sees the handshake finish finds its id
            self.connections[conn.id] = conn
        protocol.send_response(response)
        conn.flush()
        if response.status_code != 101:
            await writer.drain()
            return
        log.info("ws %s connected from %s", conn.id, source_ip)
        domain = request.header("host") or self.public_host
        fragments: list[bytes] = []
        frame_opcode = Opcode.TEXT
        try:
            while True:
                timeout = 5.0 if protocol.state is State.CLOSING else None
                try:
                    data = await asyncio.wait_for(reader.read(65536), timeout)
                except (TimeoutError, ConnectionError):
                    break
                if data:
                    protocol.receive_data(data)
                else:
                    protocol.receive_eof()
                conn.flush()
                for frame in protocol.events_received():
                    if not isinstance(frame, Frame):
                        continue
                    if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                        frame_opcode = frame.opcode
                        fragments = [bytes(frame.data)]
                    elif frame.opcode is Opcode.CONT:
                        fragments.append(bytes(frame.data))
                    else:
                        continue
                    if frame.fin:
                        payload, fragments = b"".join(fragments), []
                        conn.last_active_ms = int(time.time() * 1000)
                        await self._message(conn, domain, payload, binary=frame_opcode is Opcode.BINARY)
                if not data or protocol.state is State.CLOSED:
                    break
            await writer.drain()
        finally:
            self.connections.pop(conn.id, None)
            code = protocol.close_rcvd.code if protocol.close_rcvd else (
                protocol.close_sent.code if protocol.close_sent else 1006)
            reason = protocol.close_rcvd.reason if protocol.close_rcvd else ""
            disconnect = ev.ws_event(route_key="$disconnect", connection_id=conn.id,
                                     connected_at_ms=conn.connected_at_ms, domain_name=domain,
                                     source_ip=source_ip, disconnect_status=(code, reason))
            try:
                await self._invoke_ws("$disconnect", disconnect)
            except Exception:
                log.exception("gateway: $disconnect raised")
            log.info("ws %s disconnected (%s)", conn.id, code)

    async def _message(self, conn: WsConnection, domain: str, payload: bytes, *, binary: bool) -> None:
        body = base64.b64encode(payload).decode() if binary else payload.decode("utf-8", "replace")
        event = ev.ws_event(route_key="$default", connection_id=conn.id, connected_at_ms=conn.connected_at_ms,
                            domain_name=domain, body=body, source_ip=conn.source_ip)
        event["isBase64Encoded"] = binary
        request_id = event["requestContext"]["requestId"]
        if self._ws_handler("$default") is None:
            error = {"message": "Forbidden", "connectionId": conn.id, "requestId": request_id}
        else:
            try:
                await self._invoke_ws("$default", event)
                return
            except Exception:
                log.error("gateway: $default raised\n%s", traceback.format_exc())
                error = {"message": "Internal server error", "connectionId": conn.id, "requestId": request_id}
        # what API Gateway sends the client when the route has no integration or the Lambda failed
        if conn.id in self.connections:
            conn.send(json.dumps(error).encode())


class GatewayThread:
    """Run a Gateway on its own event loop in a daemon thread (tests, synchronous callers)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="frs-gateway", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.gateway.start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self, timeout: float = 10.0) -> GatewayThread:
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("gateway did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.gateway.stop(), self.loop)
        with contextlib.suppress(Exception):
            future.result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
