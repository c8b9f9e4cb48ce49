"""The AsyncAPI 3.0 document of the WebSocket API: references resolve, payloads are valid JSON Schema,
every frame the service sends and every client message is described, and /docs links it."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from chalicelib.api.asyncapi import document
from chalicelib.api.docs import page


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_and_payloads_are_json_schema() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    for ref in _refs(doc):
        assert _resolve(doc, ref) is not None, ref
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)   # raises naming the bad keyword


def test_channels_messages_and_operations() -> None:
    doc = document()
    assert {c["address"] for c in doc["channels"].values()} == {
        "/api/v1/ws", "/api/v1/ws/funding-rates", "/api/v1/ws/opportunities"}
    assert set(doc["components"]["messages"]) == {
        "Subscribe", "Unsubscribe", "Ping", "Subscribed", "Unsubscribed", "Pong", "WsError",
        "FundingRateUpdate", "FundingRateBatch", "OpportunityUpdate", "VenueEvent"}
    actions = {op["action"] for op in doc["operations"].values()}
    assert actions == {"send", "receive"}
    rate = doc["components"]["schemas"]["RateRecord"]["properties"]
    assert rate["rate_8h"]["x-unit"] == "fraction/8h" and rate["funding_rate"]["x-unit"] == "basis"
    assert doc["x-units"]["basis"].startswith("in the unit named by the `basis` field")
    venue = doc["components"]["schemas"]["VenueEventData"]["properties"]
    assert venue["factor"]["x-unit"] == "ratio" and venue["samples"]["x-unit"] == "count"


def test_docs_page_links_both_documents_and_shows_units() -> None:
    html = page()
    assert "/api/v1/asyncapi.json" in html and "/api/v1/openapi.json" in html
    assert "id=websocket" in html and "fraction/8h" in html
