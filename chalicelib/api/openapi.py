"""OpenAPI 3.1 document generated from the route table and the pydantic models (built once, cached)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, BaseModel

from chalicelib.api import schemas
from chalicelib.api.routes import DOCUMENTED, Route, resolve
from chalicelib.api.schemas import ErrorBody
from chalicelib.core import units
from chalicelib.webhooks.events import NOT_FILTERS, THRESHOLDS

REF = "#/components/schemas/{model}"
_body_models: set[str] = set()
DESCRIPTION = """Cross-DEX perpetual funding rates, arbitrage opportunities, history and statistics.

* **Rates** are normalized: `rate_1h = funding_rate / funding_interval_hours`, `rate_8h = rate_1h * 8`,
  `annualized_rate = rate_1h * 8760 * 100` (percent). `basis` selects what rate fields show (default `8h`).
* **Freshness**: every data response carries `source` (`memory` = this container's in-process cache,
  `redis` = shared cache, `database` = PostgreSQL), `updated_at` (when the data was collected) and
  `data_age_seconds`.
* **Outages**: while the database is down, reads serve the last known copy with `"stale": true` (and
  `data_age_seconds` saying how old), or answer 503 with `Retry-After` when there is none; never 500.
  Constraints across parameters are listed in each operation's description and its `x-constraints`.
* **Errors** share one body: `{"error", "detail", "parameter"}`. 400 = malformed or **unknown** query
  parameter (typos are rejected, not ignored), 404 = unknown dex/symbol (named in `parameter`),
  422 = JSON body failing validation, 401/403 = admin key missing/wrong, 503 on the admin route = admin
  is off (no key configured).
* **Units**: every numeric field names its unit in `x-unit` (see `x-units` at the top level);
  `*_percent` fields are fractions as SPEC.md defines them (0.0002 = 0.02 %), `annualized_*` and
  `*_apr` / `*_apy` are percent. The WebSocket API is described by `/api/v1/asyncapi.json`.
"""


# ---- constraints the server enforces that one parameter's schema cannot state ---------------------------------
# Enforced by api/params.py (TimeRange.window), core/filters.py (OpportunityFilter) and services/backtest.py; stated
# here machine-readably (`x-constraints` on the operation) and in words (its description), so a client - and the
# schemathesis test, which generates only requests that satisfy them - knows every rule a request must follow.
_ORDERED: list[dict[str, Any]] = [{"kind": "ordered", "parameters": list(pair)} for pair in
            (("oi_ratio_min", "oi_ratio_max"), ("min_oi_usd", "max_oi_usd"), ("min_volume", "max_volume"))]
_WINDOW: list[dict[str, Any]] = [{"kind": "exclusive", "parameters": ["period", "start_time"]},
           {"kind": "window", "start": "start_time", "end": "end_time", "max_days": 366}]
CROSS_CONSTRAINTS: dict[str, list[dict[str, Any]]] = {
    "OpportunityQuery": [*_ORDERED, {"kind": "distinct", "parameters": ["long_dex", "short_dex"]}],
    "SymbolOpportunityQuery": [*_ORDERED, {"kind": "distinct", "parameters": ["long_dex", "short_dex"]}],
    "CompareQuery": [{"kind": "distinct", "parameters": ["dex1", "dex2"]}],
    "HistoryQuery": _WINDOW, "SettlementHistoryQuery": _WINDOW, "OpportunityHistoryQuery": _WINDOW,
    "BacktestQuery": [{"kind": "distinct", "parameters": ["long_dex", "short_dex"]},
                      {"kind": "window", "start": "start_time", "end": "end_time", "max_days": 366},
                      {"kind": "together", "parameters": ["enter_divergence_8h", "exit_divergence_8h"]}],
    # webhooks/api.py create(): a receiver URL unless format telegram (then the bot target instead); a public
    # https receiver (webhooks/safety.py); filters are GET /opportunities' parameters (events.parse_filters)
    "WebhookCreate": [{"kind": "variant", "flag": "format", "value": "telegram", "then": "telegram", "else": "url"},
                      {"kind": "public_url", "parameter": "url"},
                      {"kind": "query_object", "items": "filters", "operation": "GET /api/v1/opportunities",
                       "thresholds": list(THRESHOLDS), "not_allowed": list(NOT_FILTERS)}],
    "FeeStructureBody": [{"kind": "nonempty_if", "flag": "has_fee_tiers", "items": "fee_tiers"},
                         {"kind": "tiers", "items": "fee_tiers", "min": "min_volume_30d", "max": "max_volume_30d"}],
}
_WORDS = {
    "ordered": lambda c: f"{c['parameters'][0]} must not exceed {c['parameters'][1]} (defaults count)",
    "distinct": lambda c: f"{c['parameters'][0]} and {c['parameters'][1]} must differ",
    "exclusive": lambda c: f"give {c['parameters'][0]} or {c['parameters'][1]}, not both",
    "window": lambda c: f"{c['start']} must be before {c['end']} (default now), at most {c['max_days']} days apart",
    "together": lambda c: f"{c['parameters'][0]} and {c['parameters'][1]} come together or not at all",
    "nonempty_if": lambda c: f"{c['items']} must list at least one tier when {c['flag']} is true",
    "tiers": lambda c: f"{c['items']} ordered by volume without overlap; each tier's {c['max']} above its {c['min']}",
    "variant": lambda c: f"{c['then']} is required when {c['flag']} is {c['value']} (and {c['else']} unused); "
                         f"otherwise {c['else']} is required and {c['then']} must be absent",
    "public_url": lambda c: f"{c['parameter']} is an https URL of a public host (no loopback, private, link-local or "
                            "reserved address, no credentials)",
    "query_object": lambda c: f"{c['items']} keys are {c['operation']}'s query parameters with their schemas "
                              f"(not {', '.join(c['not_allowed'])}) or {', '.join(c['thresholds'])} (numbers >= 0)",
}
# timestamps: the server takes years 2000..2100 (UTC); 2001..2099 in any UTC offset stays inside them
TIMESTAMP_PATTERN = "^(200[1-9]|20[1-9][0-9])-"


def constraints_text(constraints: list[dict[str, Any]]) -> str:
    return "Constraints across parameters: " + "; ".join(_WORDS[c["kind"]](c) for c in constraints) + "."


def _numbers_only(schema: Any) -> Any:
    """Body decimals are documented as JSON numbers (the server also takes numeric strings, never arbitrary text)."""
    if isinstance(schema, dict):
        any_of = schema.get("anyOf")
        if any_of and any(s.get("type") == "number" for s in any_of) and any(s.get("type") == "string" for s in any_of):
            schema["anyOf"] = [s for s in any_of if s.get("type") != "string"]
        for value in schema.values():
            _numbers_only(value)
    elif isinstance(schema, list):
        for value in schema:
            _numbers_only(value)
    return schema


def _schema(model: type[BaseModel], components: dict[str, Any], mode: str = "serialization") -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _no_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Query values are never JSON null: drop the null branch pydantic emits for Optional fields."""
    any_of = schema.get("anyOf")
    if any_of:
        kept = [s for s in any_of if s.get("type") != "null"]
        if any(s.get("type") == "number" for s in kept):  # Decimal: number or numeric string -> number
            kept = [s for s in kept if s.get("type") == "number"]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
    schema.pop("title", None)
    if schema.get("default", 0) is None:
        schema.pop("default")
    elif isinstance(schema.get("default"), str) and schema.get("type") == "number":
        schema["default"] = float(schema["default"])
    return schema


def _parameters(model: type[BaseModel], where: str, components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    out = []
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        wire = alias.choices[0] if isinstance(alias, AliasChoices) else (alias or name)
        prop = _no_null(dict(schema["properties"][name]))
        if prop.get("format") == "date-time":
            prop["pattern"] = TIMESTAMP_PATTERN
        if wire == "min_profit":   # a bare number >= PERCENT_LOOKALIKE is refused as a likely percent
            from chalicelib.api.params import PERCENT_LOOKALIKE

            prop = {k: v for k, v in prop.items() if k not in ("anyOf", "ge", "le", "maximum")}
            prop.update(type="number", minimum=-1.0, exclusiveMaximum=float(PERCENT_LOOKALIKE))
        param: dict[str, Any] = {"name": wire, "in": where, "required": where == "path" or field.is_required(),
                                 "schema": prop}
        description = prop.pop("description", None) or field.description
        if description:
            param["description"] = description
        if prop.get("type") == "array":
            param.update(style="form", explode=False)
        out.append(param)
    return out


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    params = _parameters(resolve(route.path_model), "path", components) if route.path_model else []
    params += _parameters(resolve(route.query), "query", components)
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary, "tags": [route.tag], "parameters": params,
        "responses": {str(route.status): {"description": {200: "OK", 201: "Created", 202: "Accepted"}.get(
            route.status, "OK"), "content": {"application/json": {"schema": _schema(resolve(route.response),
                                                                                      components)}}}},
    }
    if route.description:
        op["description"] = route.description
    cross = [c for m in (route.query, route.body) if m is not None
             for c in CROSS_CONSTRAINTS.get(resolve(m).__name__, [])]
    if cross:
        op["x-constraints"] = cross
        op["description"] = (op.get("description", "") + " " + constraints_text(cross)).strip()
    # every read may meet a dependency outage it cannot serve around: 503 + Retry-After (chalicelib.outage)
    statuses = (*route.errors, 503) if route.method == "GET" and 503 not in route.errors else route.errors
    for status in statuses:
        op["responses"][str(status)] = {"description": _ERRORS.get(status, "Error"), "content": {
            "application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}
        if status == 503:
            op["responses"]["503"]["headers"] = {"Retry-After": {
                "description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _schema(resolve(route.body), components, "validation")}}}
        _body_models.add(resolve(route.body).__name__)
        op["security"] = [{"ApiKey": []}]
    return op


_ERRORS = {400: "Malformed or unknown parameter", 401: "Missing X-API-Key", 403: "Wrong X-API-Key",
           404: "Unknown dex or symbol", 422: "Body failed validation",
           503: "A dependency (database, Redis) is down and no last known copy can be served (Retry-After "
                "says when to retry); on /health: the database is down; on the admin route: admin is off"}


def _refs(schema: Any) -> set[str]:
    """Component names a schema refers to ($ref), one level deep is enough for the request bodies."""
    found: set[str] = set()
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in schema.values():
            found |= _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _refs(value)
    return found


def annotate_units(components: dict[str, Any]) -> dict[str, Any]:
    """Every property with a known unit gets `x-unit` (a key of `x-units`), and its description says it."""
    for model, schema in components.items():
        for name, prop in schema.get("properties", {}).items():
            unit = schemas.MODEL_UNITS.get((model, name)) or schemas.FIELD_UNITS.get(name)
            if unit is None:
                continue
            prop["x-unit"] = unit
            prop["description"] = (prop.get("description", "") + f" [unit: {units.UNITS[unit]}]").strip()
    return components


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    _schema(ErrorBody, components)
    paths: dict[str, Any] = {}
    for route in DOCUMENTED:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    annotate_units(components)
    for name in list(_body_models):
        for ref in _refs(components.get(name, {})) | {name}:
            _numbers_only(components.get(ref, {}))
    return {
        "openapi": "3.1.0",
        "x-units": units.UNITS,
        "externalDocs": {"description": "WebSocket API (AsyncAPI 3.0)", "url": "/api/v1/asyncapi.json"},
        "info": {"title": "Funding Rate Service", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in dict.fromkeys(r.tag for r in DOCUMENTED)],
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items())),
                       "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
    }
