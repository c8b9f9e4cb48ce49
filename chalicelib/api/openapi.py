"""OpenAPI 3.1 document generated from the route table and the pydantic models (built once, cached)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, BaseModel

from chalicelib.api import schemas
from chalicelib.api.routes import DOCUMENTED, Route, resolve
from chalicelib.api.schemas import ErrorBody
from chalicelib.core import units

REF = "#/components/schemas/{model}"
DESCRIPTION = """Cross-DEX perpetual funding rates, arbitrage opportunities, history and statistics.

* **Rates** are normalized: `rate_1h = funding_rate / funding_interval_hours`, `rate_8h = rate_1h * 8`,
  `annualized_rate = rate_1h * 8760 * 100` (percent). `basis` selects what rate fields show (default `8h`).
* **Freshness**: every data response carries `source` (`memory` = this container's in-process cache,
  `redis` = shared cache, `database` = PostgreSQL), `updated_at` (when the data was collected) and
  `data_age_seconds`.
* **Errors** share one body: `{"error", "detail", "parameter"}`. 400 = malformed or **unknown** query
  parameter (typos are rejected, not ignored), 404 = unknown dex/symbol (named in `parameter`),
  422 = JSON body failing validation, 401/403 = admin key missing/wrong, 503 on the admin route = admin
  is off (no key configured).
* **Units**: every numeric field names its unit in `x-unit` (see `x-units` at the top level);
  `*_percent` fields are fractions as SPEC.md defines them (0.0002 = 0.02 %), `annualized_*` and
  `*_apr` / `*_apy` are percent. The WebSocket API is described by `/api/v1/asyncapi.json`.
"""


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
        op["security"] = [{"ApiKey": []}]
    return op


_ERRORS = {400: "Malformed or unknown parameter", 401: "Missing X-API-Key", 403: "Wrong X-API-Key",
           404: "Unknown dex or symbol", 422: "Body failed validation",
           503: "A dependency (database, Redis) is down and no last known copy can be served (Retry-After "
                "says when to retry); on /health: the database is down; on the admin route: admin is off"}


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
