"""REST blueprint `rest`: every SPEC "API Design" route under /api/v1 (full paths, no url_prefix).

Each view: translate the request (pydantic models in chalicelib.api.params), call a query in
chalicelib.api, return JSON. `endpoint` turns ApiError into the `{"error","detail","parameter"}`
body and anything unexpected into a logged 500 of the same shape.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import params as p
from chalicelib.api import system
from chalicelib.api.http import endpoint, json_response

rest = Blueprint(__name__)
V1 = "/api/v1"


def _query(model: type[p.Q]) -> p.Q:
    return p.parse_query(model, rest.current_request.query_params)


@rest.route(f"{V1}/health", methods=["GET"])
@endpoint
def health():
    _query(p.NoQuery)
    body, status = system.health()
    return json_response(body, status)


@rest.route(f"{V1}/metrics", methods=["GET"])
@endpoint
def metrics():
    _query(p.NoQuery)
    return system.metrics()


@rest.route(f"{V1}/dexes", methods=["GET"])
@endpoint
def dexes():
    _query(p.NoQuery)
    return system.list_dexes()


@rest.route(f"{V1}/dexes/{{dex}}", methods=["GET"])
@endpoint
def dex(dex):
    path = p.parse_path(p.DexPath, dex=dex)
    _query(p.NoQuery)
    return system.get_dex(path.dex)


@rest.route(f"{V1}/dexes/{{dex}}/symbols", methods=["GET"])
@endpoint
def dex_symbols(dex):
    path = p.parse_path(p.DexPath, dex=dex)
    _query(p.NoQuery)
    return system.dex_symbols(path.dex)


@rest.route(f"{V1}/admin/dexes/{{dex}}/fees", methods=["PUT"])
@endpoint
def update_fees(dex):
    system.check_admin(rest.current_request.headers)
    path = p.parse_path(p.DexPath, dex=dex)
    _query(p.NoQuery)
    body = p.parse_body(rest.current_request.raw_body, p.FeeStructureBody)
    return system.update_fees(path.dex, body)
