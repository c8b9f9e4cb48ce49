"""WebSocket API handlers ($connect, $default, $disconnect), registered on the app in app.py.

Not a Blueprint on purpose: Chalice 1.34's Blueprint returns the bare function for WebSocket
decorators (a blueprint has no websocket_api to wrap it with), so the deployed handler string
would point at a function that cannot take (event, context), and app.handler_map would hold it
too. Registered on the app, they are wrapped like every other event handler (middleware included).

Replies go through the same pusher (boto3 `post_to_connection`) the analysis fans out with,
to WS_MANAGEMENT_URL when set, else to the endpoint this event came through
(https://{domainName}/{stage}). The client protocol lives in services/ws_registry.py.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib import wiring


def _endpoint(event: Any) -> str:
    return f"https://{event.domain_name}/{event.stage}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def ws_connect(event: Any) -> None:
    from chalicelib.services import ws_registry

    query = event.to_dict().get("queryStringParameters") or {}
    ws_registry.connect(wiring.kv(), event.connection_id, now_ms=_now_ms(), channel=query.get("channel"),
                        endpoint=_endpoint(event))


def ws_message(event: Any) -> None:
    from chalicelib.services import ws_registry
    from chalicelib.venues import BY_ID

    reply = ws_registry.handle_message(wiring.kv(), event.connection_id, event.body, now_ms=_now_ms(),
                                       known_dexes=BY_ID, endpoint=_endpoint(event))
    wiring.pusher().post([event.connection_id], reply, _endpoint(event))


def ws_disconnect(event: Any) -> None:
    from chalicelib.services import ws_registry

    ws_registry.disconnect(wiring.kv(), event.connection_id)
