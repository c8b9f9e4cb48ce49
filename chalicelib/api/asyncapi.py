"""AsyncAPI 3.0 document of the WebSocket API, generated from the frame models in api/schemas.py.

Served at /api/v1/asyncapi.json beside the OpenAPI document (linked from /docs); numeric fields carry
the same `x-unit` annotations (api/openapi.annotate_units).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from chalicelib.api import schemas
from chalicelib.api.openapi import annotate_units
from chalicelib.core import units

REF = "#/components/schemas/{model}"
CHANNELS = {
    "all": ("/api/v1/ws", "Both channels; a bare subscribe subscribes to both."),
    "fundingRates": ("/api/v1/ws/funding-rates", "A bare subscribe subscribes to funding_rates only "
                                                 "(`channel=funding_rates` on $connect)."),
    "opportunities": ("/api/v1/ws/opportunities", "A bare subscribe subscribes to opportunities only "
                                                  "(`channel=opportunities` on $connect)."),
}
DESCRIPTION = """Real-time funding-rate and opportunity updates. Nothing is pushed until the client sends
`{"action": "subscribe"}`; the reply is a `subscribed` frame. Rates in frames are on the 8 h basis
(`basis` says so); `native_rate`, `rate_1h`, `rate_8h` and `annualized_rate` are named by their unit.
On AWS the URL is `wss://{api}.execute-api.{region}.amazonaws.com/{stage}` (`?channel=` selects the
default channel); locally `ws://HOST:PORT` plus the channel address."""


def _message(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    return {"name": model.__name__, "title": model.__name__, "summary": (model.__doc__ or "").strip() or None,
            "payload": {"$ref": REF.format(model=model.__name__)}}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    messages = {m.__name__: _message(m, components) for m in schemas.WS_CLIENT_MESSAGES + schemas.WS_SERVER_FRAMES}
    for m in messages.values():
        if m["summary"] is None:
            del m["summary"]
    refs = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    channels = {key: {"address": address, "description": text, "messages": refs}
                for key, (address, text) in CHANNELS.items()}
    operations: dict[str, Any] = {}
    for key in CHANNELS:
        operations[f"{key}Send"] = {"action": "receive", "channel": {"$ref": f"#/channels/{key}"},
                                    "summary": "What the client sends",
                                    "messages": [{"$ref": f"#/channels/{key}/messages/{m.__name__}"}
                                                 for m in schemas.WS_CLIENT_MESSAGES]}
        operations[f"{key}Receive"] = {"action": "send", "channel": {"$ref": f"#/channels/{key}"},
                                       "summary": "What the service pushes",
                                       "messages": [{"$ref": f"#/channels/{key}/messages/{m.__name__}"}
                                                    for m in schemas.WS_SERVER_FRAMES]}
    annotate_units(components)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Funding Rate Service WebSocket API", "version": "1.0.0", "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "x-units": units.UNITS,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(components.items()))},
    }
