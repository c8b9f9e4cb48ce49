"""Blueprint `ws`: the API Gateway WebSocket API ($connect, $default, $disconnect).

Replies go through the same pusher (boto3 `post_to_connection`) the analysis fans out with,
to WS_MANAGEMENT_URL when set, else to the endpoint this event came through
(https://{domainName}/{stage}). The client protocol lives in services/ws_registry.py.
"""

from __future__ import annotations

import time
from typing import Any

from chalice import Blueprint

from chalicelib import wiring

ws = Blueprint(__name__)


def _endpoint(event: Any) -> str:
    return f"https://{event.domain_name}/{event.stage}"


def _now_ms() -> int:
    return int(time.time() * 1000)


@ws.on_ws_connect()
def connect(event: Any) -> None:
    from chalicelib.services import ws_registry

    query = event.to_dict().get("queryStringParameters") or {}
    ws_registry.connect(wiring.kv(), event.connection_id, now_ms=_now_ms(), channel=query.get("channel"),
                        endpoint=_endpoint(event))


@ws.on_ws_message()
def message(event: Any) -> None:
    from chalicelib.services import ws_registry
    from chalicelib.venues import BY_ID

    reply = ws_registry.handle_message(wiring.kv(), event.connection_id, event.body, now_ms=_now_ms(),
                                       known_dexes=BY_ID)
    wiring.pusher().post([event.connection_id], reply, _endpoint(event))


@ws.on_ws_disconnect()
def disconnect(event: Any) -> None:
    from chalicelib.services import ws_registry

    ws_registry.disconnect(wiring.kv(), event.connection_id)
