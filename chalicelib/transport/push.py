"""WebSocket push over the API Gateway management API (`post_to_connection`), with bounded concurrency.

The same boto3 code runs everywhere (DESIGN.md §2): on AWS the endpoint is
https://{api-id}.execute-api.{region}.amazonaws.com/{stage}; locally it is the local gateway's
`@connections` endpoint (http://127.0.0.1:<management port>, a loopback-only port of its own),
and tests point it at moto or a Stubber. A 410 GoneException marks the connection gone (the
caller prunes it from the registry); any other error is counted as failed and logged, never
raised into the analysis.

Limits this respects (API Gateway quotas, docs.aws.amazon.com/apigateway/latest/developerguide/
limits.html and apigateway-execution-service-websocket-limits-table.html, read 2026-12):
- message payload 128 KB per post (not adjustable; frames of 32 KB are API Gateway's business):
  callers pack a connection's updates into messages of at most MAX_MESSAGE_BYTES;
- the account-level throttle, shared by REST, WebSocket and the `@connections` callback API:
  10,000 requests/s with a 5,000-request token bucket in most regions, 2,500/s with 1,250 in
  the newer ones. Posts to an AWS endpoint are paced at AWS_POSTS_PER_SECOND (bucket
  AWS_BURST), under the lower default, leaving room for the REST traffic sharing the quota;
  a throttled post (429 LimitExceededException) is retried by botocore's standard mode.
Concurrency: at most `max_workers` posts in flight per pusher, across every caller (the analysis
fan-out and the `$default` replies alike), and the HTTP pool holds exactly that many connections,
so urllib3 never has to discard one ("Connection pool is full"). At AWS_POSTS_PER_SECOND and a
post's round trip of tens of ms, 16 in flight is the pace's order of magnitude (2,000/s x ~8 ms);
more workers would only queue on the bucket.

Local fast path: a `@connections` endpoint served by THIS process (frs_local's gateway registers
itself with `register_local_sink`) is handed the whole run's messages in one call instead of one
HTTP round trip per post through boto3 (which, in the gateway's own process, competed with the
gateway for the GIL: 1,000 clients took seconds). Only for http:// endpoints: an https:// (AWS)
endpoint always goes through boto3, and a pusher built with `local_sinks=False` never takes it
(tests exercise boto3 against loopback endpoints; tests/integration/test_ws_push.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
MAX_WORKERS = 16
MAX_MESSAGE_BYTES = 128_000        # API Gateway: 128 KB per message (read as 1000-byte KB, the safe side)
AWS_POSTS_PER_SECOND = 2_000       # under the 2,500/s account default of the smallest regions
AWS_BURST = 1_000                  # under their 1,250-request bucket


@dataclass
class PushResult:
    delivered: int = 0
    failed: int = 0
    gone: list[str] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)   # connections that missed at least one message


def encode(frame: Mapping[str, Any] | str | bytes) -> bytes:
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, str):
        return frame.encode()
    from chalicelib.core.serialize import dumps

    return dumps(frame).encode()


def is_gone(exc: BaseException) -> bool:
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code == "GoneException" or status == 410


class RateLimiter:
    """Token bucket: `rate` tokens a second, at most `burst` saved up. Thread-safe; `acquire` sleeps."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)


def is_aws(url: str) -> bool:
    return url.startswith("https://")


LocalSink = Callable[[Mapping[str, Sequence[bytes]]], PushResult]
_local_sinks: dict[str, LocalSink] = {}


def register_local_sink(url: str, deliver: LocalSink) -> None:
    """An in-process @connections endpoint: `deliver(messages_by_connection)` posts them all (local only)."""
    if is_aws(url):
        raise ValueError("an AWS endpoint is never served in-process")
    _local_sinks[url.rstrip("/")] = deliver


def unregister_local_sink(url: str) -> None:
    _local_sinks.pop(url.rstrip("/"), None)


class ApiGatewayPusher:
    """Pusher (services/ports.py) over boto3 `apigatewaymanagementapi`; one client per endpoint."""

    def __init__(self, endpoint_url: str | None, *, max_workers: int = MAX_WORKERS, client_factory: Any = None,
                 aws_rate: float = AWS_POSTS_PER_SECOND, aws_burst: int = AWS_BURST, local_sinks: bool = True):
        self.endpoint_url = endpoint_url
        self.local_sinks = local_sinks
        self.max_workers = max_workers
        self._client_factory = client_factory or _boto_client
        self._clients: dict[str, Any] = {}
        self._limiters: dict[str, RateLimiter | None] = {}
        self._aws_rate, self._aws_burst = aws_rate, aws_burst
        self._lock = threading.Lock()
        # every post of this pusher holds a slot: never more in flight than the pool has connections
        self._slots = threading.BoundedSemaphore(max_workers)

    def client(self, endpoint_url: str | None = None) -> Any:
        url = self._url(endpoint_url)
        with self._lock:
            if url not in self._clients:
                self._clients[url] = self._client_factory(url, self.max_workers)
                self._limiters[url] = RateLimiter(self._aws_rate, self._aws_burst) if is_aws(url) else None
            return self._clients[url]

    def _url(self, endpoint_url: str | None) -> str:
        url = self.endpoint_url or endpoint_url
        if not url:
            raise ValueError("no WebSocket management endpoint: set WS_MANAGEMENT_URL "
                             "(https://{api-id}.execute-api.{region}.amazonaws.com/{stage})")
        return url

    def post(self, connection_ids: Iterable[str], frame: Mapping[str, Any] | str | bytes,
             endpoint_url: str | None = None) -> tuple[int, list[str]]:
        """One frame to many connections. Returns (delivered, gone_connection_ids)."""
        data = encode(frame)
        result = self.send({cid: [data] for cid in connection_ids}, endpoint_url)
        return result.delivered, result.gone

    def send(self, messages_by_connection: Mapping[str, Sequence[bytes | str]],
             endpoint_url: str | None = None) -> PushResult:
        """Each connection's messages in order (one post each); connections in parallel (at most `max_workers`)."""
        result = PushResult()
        if not messages_by_connection:
            return result
        url = self._url(endpoint_url).rstrip("/")
        sink = _local_sinks.get(url) if self.local_sinks and not is_aws(url) else None
        if sink is not None:   # subscribers with one subscription share message objects: encode each once
            encoded: dict[int, bytes] = {}

            def once(m: bytes | str) -> bytes:
                b = encoded.get(id(m))
                if b is None:
                    b = encoded[id(m)] = encode(m)
                return b

            return sink({cid: [once(m) for m in msgs] for cid, msgs in messages_by_connection.items()})
        client = self.client(endpoint_url)
        limiter = self._limiters.get(self._url(endpoint_url))
        lock = threading.Lock()

        def deliver(cid: str, messages: Sequence[bytes | str]) -> None:
            sent = failed = 0
            gone = False
            for data in messages:
                if limiter is not None:
                    limiter.acquire()
                try:
                    with self._slots:
                        client.post_to_connection(ConnectionId=cid, Data=encode(data))
                    sent += 1
                except Exception as exc:
                    if is_gone(exc):
                        gone = True
                        break
                    failed += 1
                    log.warning("post_to_connection %s failed: %s", cid, exc)
            with lock:
                result.delivered += sent
                result.failed += failed
                if gone:
                    result.gone.append(cid)
                elif failed:
                    result.failed_ids.append(cid)

        items = list(messages_by_connection.items())
        if len(items) == 1:
            deliver(*items[0])
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(items)),
                                    thread_name_prefix="frs-push") as pool:
                for _ in pool.map(lambda item: deliver(*item), items):
                    pass
        return result


def _boto_client(endpoint_url: str, max_workers: int) -> Any:
    import boto3
    from botocore.config import Config

    # the pool holds as many connections as posts may be in flight (ApiGatewayPusher._slots)
    options: dict[str, Any] = {"connect_timeout": 2, "read_timeout": 5, "max_pool_connections": max_workers,
                               "retries": {"max_attempts": 3, "mode": "standard"}}   # standard: retries 429s
    if not is_aws(endpoint_url):
        # The local gateway ignores signatures: skip SigV4 (a third of a post's CPU) and the credentials
        from botocore import UNSIGNED

        options["signature_version"] = UNSIGNED
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region,
                        config=Config(**options))


def make_pusher(settings: Any) -> ApiGatewayPusher:
    """The pusher `wiring.pusher()` returns: endpoint from WS_MANAGEMENT_URL (or per call)."""
    return ApiGatewayPusher(settings.ws_management_url)


class LazyBotoSession:
    """Stands in for `app.websocket_api.session` without importing boto3 at cold start.

    Chalice asks the session for `region_name` when a WebSocket event arrives and for a
    client only if `app.websocket_api.send` is used; boto3 is imported at that moment.
    """

    @property
    def region_name(self) -> str:
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    def client(self, service: str, **kwargs: Any) -> Any:
        import boto3

        return boto3.session.Session(region_name=self.region_name).client(service, **kwargs)
