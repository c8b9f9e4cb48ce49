"""Every number the API sends states its unit: walk each REST response and WebSocket frame type and
fail on any numeric field whose schema (OpenAPI / AsyncAPI document) carries no `x-unit`.

Real PostgreSQL and Redis (tests/conftest.py); WebSocket frames go over real HTTP to a loopback
@connections endpoint after a real analysis run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.api.asyncapi import document as asyncapi
from chalicelib.api.openapi import document as openapi
from chalicelib.api.routes import DOCUMENTED
from chalicelib.core import units
from chalicelib.services import analyze, ws_registry
from chalicelib.transport.push import ApiGatewayPusher

from .test_rest import ADMIN_KEY, Api, make_api
from .ws_endpoint import ConnectionsEndpoint

PATH_VALUES = {"dex": "hyperliquid", "symbol": "BTC"}
QUERIES = {   # enough to make each response carry its numbers (no filter hides the two pairs)
    "/api/v1/opportunities": "min_volume=0&min_divergence=0&min_profit=-1",
    "/api/v1/opportunities/best": "min_volume=0&min_divergence=0&min_profit=-1",
    "/api/v1/opportunities/symbol/{symbol}": "min_volume=0&min_divergence=0&min_profit=-1",
    "/api/v1/opportunities/compare": "dex1=hyperliquid&dex2=paradex",
    "/api/v1/history/funding-rates/{dex}/{symbol}": "interval=raw&period=24h",
    "/api/v1/history/opportunities": "min_profit=-1",
    "/api/v1/funding-rates": "include_metadata=true",
}
FEES = {"maker_fee_percent": 0.0001, "taker_fee_percent": 0.0004, "has_fee_tiers": True,
        "fee_tiers": [{"min_volume_30d": 0, "max_volume_30d": 1000000, "maker_fee": 0.0001, "taker_fee": 0.0004},
                      {"min_volume_30d": 1000000, "max_volume_30d": None, "maker_fee": 0.00005, "taker_fee": 0.0003}]}


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[Api]:
    yield from make_api(db_url, redis_url)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = {**components[schema["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _branches(schema: dict[str, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, components)
    out = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            out.extend(_branches(sub, components))
    return out


def walk(value: Any, schema: dict[str, Any], components: dict[str, Any], where: str, unit: str | None,
         problems: list[str], seen: set[str]) -> None:
    """Collect `where` of every numeric leaf with no declared unit (or an undeclared field holding numbers)."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        seen.add(where)
        if unit is None:
            problems.append(f"{where}: number without x-unit")
        elif unit not in units.UNITS:
            problems.append(f"{where}: x-unit {unit!r} is not defined in x-units")
        return
    branches = _branches(schema, components)
    if isinstance(value, list):
        items = next((b["items"] for b in branches if "items" in b), {})
        for i, v in enumerate(value):
            walk(v, items, components, f"{where}[{i}]", unit, problems, seen)
        return
    props: dict[str, Any] = {}
    extra: dict[str, Any] | None = None
    for b in branches:
        props.update(b.get("properties", {}))
        if isinstance(b.get("additionalProperties"), dict):
            extra = b["additionalProperties"]
    for key, v in value.items():
        if key in props:
            walk(v, props[key], components, f"{where}.{key}", props[key].get("x-unit"), problems, seen)
        elif extra is not None:
            walk(v, extra, components, f"{where}.*", unit, problems, seen)   # dict values: the property's unit
        else:
            walk(v, {}, components, f"{where}.{key} (undeclared field)", None, problems, seen)


def _webhook_key() -> str:
    """A webhook API key issued as `frs webhook-key` does, for the /webhooks rows."""
    from chalicelib.webhooks import keys

    key, key_id, digest = keys.new_key()
    wiring.webhooks().store.insert_key(key_id, digest, "units-test")
    return key


def _settled(api: Api) -> None:
    """Two legs' settlements for /backtest and the settlement history (HL 1 h, paradex 8 h), last two days."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from chalicelib.venues.base import HistoryPoint

    hour = 3_600_000
    base = int(datetime.now(UTC).timestamp() * 1000) // (8 * hour) * (8 * hour) - 48 * hour
    api.storage.ingest_settlements("hyperliquid", "BTC", [HistoryPoint(base + h * hour, Decimal("0.00001"), Decimal(1),
                                                                       Decimal(100)) for h in range(1, 41)], source="test")
    api.storage.ingest_settlements("paradex", "BTC", [HistoryPoint(base + h * hour, Decimal("0.0002"), Decimal(8))
                                                      for h in (8, 16, 24, 32, 40)], source="test")
    QUERIES["/api/v1/backtest"] = (f"symbol=BTC&long_dex=hyperliquid&short_dex=paradex&start_time="
                                   f"{datetime.fromtimestamp(base / 1000, tz=UTC).isoformat().replace('+00:00', 'Z')}")
    QUERIES["/api/v1/history/settlements/{dex}/{symbol}"] = "period=7d"


def rest_responses(api: Api) -> dict[str, Any]:
    out = {}
    _settled(api)
    key = _webhook_key()
    hook: dict[str, Any] = {}
    # deleting comes last: the other webhook rows need the webhook the POST row created
    for route in sorted(DOCUMENTED, key=lambda r: r.method == "DELETE"):
        values = {**PATH_VALUES, "webhook_id": hook.get("id", "")}
        path = route.path.format(**values)
        query = QUERIES.get(route.path)
        url = f"{path}?{query}" if query else path
        webhook = {"X-API-Key": key} if route.tag == "Webhooks" else {}
        if route.method == "PUT":
            status, body = api.put(url, FEES, **{"X-API-Key": ADMIN_KEY})
        elif route.method == "POST" and route.path.endswith("/webhooks"):
            status, body = api.post(url, {"format": "telegram", "events": ["opportunity.opened"],
                                          "telegram": {"bot_token": "123456:" + "a" * 30, "chat_id": "42"}}, **webhook)
            hook = body
        elif route.method in ("POST", "DELETE"):
            status, body = api.request(route.method, url, **webhook)
        else:
            status, body = api.get(url, **webhook)
        assert status == route.status, (url, status, body)
        out[f"{route.method} {route.path}"] = (route, body)
    return out


def test_every_numeric_field_of_every_rest_response_declares_its_unit(api: Api) -> None:
    analyze.run_once({"source": "test"}, settings=wiring.settings(), storage=api.storage, kv=api.kv,
                     pusher=ApiGatewayPusher("http://127.0.0.1:9"))     # stores the opportunities history reads
    doc = openapi()
    components = doc["components"]["schemas"]
    problems: list[str] = []
    seen: set[str] = set()
    for name, (route, body) in rest_responses(api).items():
        schema = doc["paths"][route.path][route.method.lower()]["responses"][str(route.status)]["content"][
            "application/json"]["schema"]
        walk(body, schema, components, name, None, problems, seen)
    assert problems == [], '\n'.join(problems)
    # the walk saw real numbers in every kind of response (not a vacuous pass)
    assert any(".rates.*.rate_8h" in w for w in seen) and any("opportunities[0].net_profit_percent" in w for w in seen)
    assert any("data_points[0].native_rate" in w for w in seen) and any(".fee_tiers[1].maker_fee" in w for w in seen)
    assert any(w.endswith(".data.*.*") for w in seen) and any(".percentile_25" in w for w in seen)


def test_every_numeric_field_of_every_websocket_frame_declares_its_unit(api: Api) -> None:
    kv = api.kv
    known = ["hyperliquid", "paradex"]
    frames: list[dict[str, Any]] = []
    with ConnectionsEndpoint(live={"single", "batch"}) as endpoint:
        for cid, fmt in (("single", "single"), ("batch", "batch")):
            ws_registry.connect(kv, cid, now_ms=0, endpoint=endpoint.url)
            frames.append(ws_registry.handle_message(kv, cid, f'{{"action":"subscribe","format":"{fmt}"}}', now_ms=0,
                                                     known_dexes=known))
        analyze.run_once({"source": "test"}, settings=wiring.settings(), storage=api.storage, kv=kv,
                         pusher=ApiGatewayPusher(endpoint.url))
        frames += endpoint.of("single") + endpoint.of("batch")
    frames.append(ws_registry.handle_message(kv, "single", '{"action":"ping"}', now_ms=0, known_dexes=known))
    frames.append(ws_registry.handle_message(kv, "single", '{"action":"unsubscribe"}', now_ms=0, known_dexes=known))
    frames.append(ws_registry.handle_message(kv, "single", '{"action":"dance"}', now_ms=0, known_dexes=known))
    doc = asyncapi()
    components = doc["components"]["schemas"]
    by_type = {"subscribed": "Subscribed", "unsubscribed": "Unsubscribed", "pong": "Pong", "error": "WsError",
               "funding_rate_update": "FundingRateUpdate", "funding_rate_batch": "FundingRateBatch",
               "opportunity_update": "OpportunityUpdate"}
    assert {f["type"] for f in frames} == set(by_type)            # every frame type was produced and walked
    assert set(by_type.values()) <= set(doc["components"]["messages"])
    problems: list[str] = []
    seen: set[str] = set()
    import json

    for i, frame in enumerate(frames):
        frame = json.loads(json.dumps(frame, default=str))     # replies are dicts with Decimals; frames JSON
        walk(frame, {"$ref": f"#/components/schemas/{by_type[frame['type']]}"}, components,
             f"frame[{i}]:{frame['type']}", None, problems, seen)
    assert problems == [], '\n'.join(problems)
    assert any(w.endswith("data.rate_8h") for w in seen) and any(w.endswith("data[0].native_rate") for w in seen)
    assert any(w.endswith("data.net_profit_percent") for w in seen)
