"""WebSocket push over the API Gateway management API (`post_to_connection`), with bounded concurrency.

The same boto3 code runs everywhere (DESIGN.md §2): on AWS the endpoint is
https://{api-id}.execute-api.{region}.amazonaws.com/{stage}; locally it is the local gateway's
`@connections` endpoint (http://127.0.0.1:<port>), and tests point it at moto or a Stubber.
A 410 GoneException marks the connection gone (the caller prunes it from the registry); any
other error is counted as failed and logged, never raised into the analysis.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
MAX_WORKERS = 16


@dataclass
class PushResult:
    delivered: int = 0
    failed: int = 0
    gone: list[str] = field(default_factory=list)


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


class ApiGatewayPusher:
    """Pusher (services/ports.py) over boto3 `apigatewaymanagementapi`; one client per endpoint."""

    def __init__(self, endpoint_url: str | None, *, max_workers: int = MAX_WORKERS, client_factory: Any = None):
        self.endpoint_url = endpoint_url
        self.max_workers = max_workers
        self._client_factory = client_factory or _boto_client
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, endpoint_url: str | None = None) -> Any:
        url = self.endpoint_url or endpoint_url
        if not url:
            raise ValueError("no WebSocket management endpoint: set WS_MANAGEMENT_URL "
                             "(https://{api-id}.execute-api.{region}.amazonaws.com/{stage})")
        with self._lock:
            if url not in self._clients:
                self._clients[url] = self._client_factory(url, self.max_workers)
            return self._clients[url]

    def post(self, connection_ids: Iterable[str], frame: Mapping[str, Any] | str | bytes,
             endpoint_url: str | None = None) -> tuple[int, list[str]]:
        """One frame to many connections. Returns (delivered, gone_connection_ids)."""
        data = encode(frame)
        result = self.send({cid: [data] for cid in connection_ids}, endpoint_url)
        return result.delivered, result.gone

    def send(self, frames_by_connection: Mapping[str, Sequence[bytes | str]],
             endpoint_url: str | None = None) -> PushResult:
        """Each connection's frames in order; connections in parallel (at most `max_workers`)."""
        result = PushResult()
        if not frames_by_connection:
            return result
        client = self.client(endpoint_url)
        lock = threading.Lock()

        def deliver(cid: str, frames: Sequence[bytes | str]) -> None:
            sent = failed = 0
            gone = False
            for data in frames:
                try:
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

        items = list(frames_by_connection.items())
        if len(items) == 1:
            deliver(*items[0])
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(items))) as pool:
                list(pool.map(lambda item: deliver(*item), items))
        return result


def _boto_client(endpoint_url: str, max_workers: int) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"},
                    max_pool_connections=max(10, max_workers))
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    kwargs: dict[str, Any] = {}
    if endpoint_url.startswith("http://") and not os.environ.get("AWS_ACCESS_KEY_ID"):
        # The local gateway ignores signatures, but botocore refuses to sign without credentials.
        kwargs = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region,
                        config=config, **kwargs)


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
