"""API-Gateway- and EventBridge-shaped events for the local gateway: what AWS would hand the Lambda.

Pure builders (no I/O): the local gateway turns an HTTP request, a WebSocket frame or a timer tick
into the same dict the Chalice app receives on AWS, so the handlers run unchanged. Shapes follow
the API Gateway REST proxy integration (payload 1.0), the WebSocket API `$connect/$default/
$disconnect` events and the EventBridge "Scheduled Event". Nothing here is imported by a Lambda.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, unquote

REST_STAGE = "api"  # Chalice's default stage name: the REST API is .../api/api/v1/... on AWS
WS_STAGE = "api"
API_ID = "local"
ACCOUNT_ID = "000000000000"
REGION_DEFAULT = "us-east-1"


class NoRoute(LookupError):
    """No route template matches the concrete path (API Gateway answers 403 Missing Authentication Token)."""


@dataclass(frozen=True, slots=True)
class RouteMatch:
    resource: str  # the template, e.g. /api/v1/funding-rates/{dex}
    path_parameters: dict[str, str]


@dataclass
class RouteTable:
    """Match a concrete path to one of the app's resource templates, as API Gateway does.

    Literal segments win over `{param}` segments at the same position (`/opportunities/best`
    before `/opportunities/{x}`), a trailing slash is ignored, path parameters are URL-decoded.
    """

    templates: Iterable[str]
    _split: list[tuple[str, list[str]]] = field(init=False, repr=False)
    _seen: dict[str, RouteMatch] = field(init=False, repr=False, default_factory=dict)

    MAX_SEEN = 4096   # concrete paths remembered (cleared when full): a server sees the same few again and again

    def __post_init__(self) -> None:
        parsed = [(t, t.strip("/").split("/") if t != "/" else []) for t in self.templates]
        # most literal segments first, then lexical: deterministic and "concrete beats captured"
        parsed.sort(key=lambda item: ([seg.startswith("{") for seg in item[1]], item[0]))
        self._split = parsed

    def match(self, path: str) -> RouteMatch:
        """The route of `path` (remembered: the table is fixed, RouteMatch immutable); NoRoute if none."""
        found = self._seen.get(path)
        if found is None:
            found = self._match(path)
            if len(self._seen) >= self.MAX_SEEN:
                self._seen.clear()
            self._seen[path] = found
        return found

    def _match(self, path: str) -> RouteMatch:
        parts = [p for p in path.split("/")[1:]] if path not in ("", "/") else []
        if parts and parts[-1] == "":
            parts = parts[:-1]
        for template, segs in self._split:
            if len(segs) != len(parts):
                continue
            captured: dict[str, str] = {}
            for want, got in zip(segs, parts, strict=True):
                if want.startswith("{") and want.endswith("}"):
                    if got == "":
                        break
                    captured[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return RouteMatch(template, captured)
        raise NoRoute(path)


def _multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value  # API Gateway keeps the last value in the single-value map
        multi.setdefault(key, []).append(value)
    return (single or None, multi or None)


def parse_query(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


_stamp_cache: tuple[int, str] = (-1, "")


def _request_time(now: float) -> tuple[str, int]:
    # API Gateway's requestTime format: 24/Nov/2026:13:04:05 +0000 (whole seconds: formatted once per second)
    global _stamp_cache
    second = int(now)
    if _stamp_cache[0] != second:
        _stamp_cache = (second, datetime.fromtimestamp(second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"))
    return _stamp_cache[1], int(now * 1000)


def _short_id() -> str:
    """16 hex digits, as extendedRequestId / messageId look (uuid4().hex[:16] without building a UUID)."""
    return os.urandom(8).hex()


def rest_event(
    *,
    method: str,
    path: str,
    route: RouteMatch,
    query: Iterable[tuple[str, str]] = (),
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
    binary: bool = False,
    source_ip: str = "127.0.0.1",
    host: str = "localhost",
    stage: str = REST_STAGE,
    now: float | None = None,
) -> dict[str, Any]:
    """The REST proxy event (payload format 1.0) for one HTTP request that matched `route`."""
    import base64

    now = time.time() if now is None else now
    request_time, epoch_ms = _request_time(now)
    header_pairs = list(headers)
    single_headers, multi_headers = _multi(header_pairs)
    qs, mqs = _multi(list(query))
    if body is None or body == b"":
        body_field: str | None = None
        is_b64 = False
    elif binary:
        body_field, is_b64 = base64.b64encode(body).decode("ascii"), True
    else:
        try:
            body_field, is_b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            body_field, is_b64 = base64.b64encode(body).decode("ascii"), True
    user_agent = next((v for k, v in header_pairs if k.lower() == "user-agent"), None)
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or {},
        "multiValueHeaders": multi_headers or {},
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": mqs,
        "pathParameters": dict(route.path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": method.upper(),
            "extendedRequestId": _short_id(),
            "requestTime": request_time,
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "requestTimeEpoch": epoch_ms,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "domainName": host,
            "apiId": API_ID,
        },
        "body": body_field,
        "isBase64Encoded": is_b64,
    }


_WS_EVENT_TYPES = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}


def ws_event(
    *,
    route_key: str,
    connection_id: str,
    connected_at_ms: int,
    domain_name: str,
    body: str | None = None,
    query: Iterable[tuple[str, str]] = (),
    headers: Iterable[tuple[str, str]] = (),
    source_ip: str = "127.0.0.1",
    stage: str = WS_STAGE,
    disconnect_status: tuple[int, str] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A WebSocket API event: `$connect` (headers, query), `$default` (body) or `$disconnect`."""
    now = time.time() if now is None else now
    request_time, epoch_ms = _request_time(now)
    event_type = _WS_EVENT_TYPES.get(route_key, "MESSAGE")
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": _short_id(),
        "requestTime": request_time,
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at_ms,
        "requestTimeEpoch": epoch_ms,
        "identity": {"sourceIp": source_ip},
        "requestId": str(uuid.uuid4()),
        "domainName": domain_name,
        "connectionId": connection_id,
        "apiId": API_ID,
    }
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if event_type == "MESSAGE":
        context["messageId"] = _short_id()
        event["body"] = body
    if event_type == "CONNECT":
        single_headers, multi_headers = _multi(list(headers))
        qs, mqs = _multi(list(query))
        event["headers"] = single_headers
        event["multiValueHeaders"] = multi_headers
        event["queryStringParameters"] = qs
        event["multiValueQueryStringParameters"] = mqs
    if event_type == "DISCONNECT":
        code, reason = disconnect_status or (1000, "")
        context["disconnectStatusCode"] = code
        context["disconnectReason"] = reason
        event["headers"] = {"Host": domain_name}
    return event


def scheduled_event(rule_name: str, *, region: str = REGION_DEFAULT, now: float | None = None) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" a rule `rule_name` delivers to its target."""
    now = time.time() if now is None else now
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


def lambda_context(function_name: str, *, timeout_s: int = 900, memory_mb: int = 512) -> Any:
    """A Lambda context object (chalice.local's, which mirrors the real attributes)."""
    from chalice.local import LambdaContext

    return LambdaContext(function_name=function_name, memory_size=memory_mb, max_runtime_ms=timeout_s * 1000)


def http_date(now: float | None = None) -> str:
    return formatdate(time.time() if now is None else now, usegmt=True)


def iso_ms(epoch_ms: int) -> str:
    """2026-11-24T13:04:05.123Z, the timestamp format of the @connections API."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def header_value(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name.lower():
            return value
    return None
