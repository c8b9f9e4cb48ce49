"""Routes of the `rest` blueprint for DEX metadata, health, metrics, admin fees, OpenAPI and docs."""

from __future__ import annotations

from chalice import Response

from chalicelib.api import params as p
from chalicelib.api import system
from chalicelib.api.http import endpoint, json_response
from chalicelib.handlers.rest import V1, _query, rest


@rest.route(f"{V1}/dexes", methods=["GET"])
@endpoint
def dexes():
    _query(p.NoQuery)
    return system.list_dexes()


@rest.route(f"{V1}/dexes/{{dex}}", methods=["GET"])
@endpoint
def dex_metadata(dex):
    path = p.parse_path(p.DexPath, dex=dex)
    _query(p.NoQuery)
    return system.get_dex(path.dex)


@rest.route(f"{V1}/dexes/{{dex}}/symbols", methods=["GET"])
@endpoint
def dex_symbols(dex):
    path = p.parse_path(p.DexPath, dex=dex)
    _query(p.NoQuery)
    return system.dex_symbols(path.dex)


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


@rest.route(f"{V1}/admin/dexes/{{dex}}/fees", methods=["PUT"])
@endpoint
def update_fees(dex):
    system.check_admin(rest.current_request.headers)
    path = p.parse_path(p.DexPath, dex=dex)
    _query(p.NoQuery)
    return system.update_fees(path.dex, p.parse_body(rest.current_request.raw_body, p.FeeStructureBody))


@rest.route(f"{V1}/openapi.json", methods=["GET"])
@endpoint
def openapi():
    from chalicelib.api.openapi import document

    return document()


def _docs() -> Response:
    from chalicelib.api.docs import page

    return Response(body=page(), status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@rest.route("/docs", methods=["GET"])
@endpoint
def docs():
    return _docs()


@rest.route(f"{V1}/docs", methods=["GET"])
@endpoint
def docs_v1():
    return _docs()


def _dashboard() -> Response:
    from chalicelib.dashboard import page

    return Response(body=page(), status_code=200, headers={"Content-Type": "text/html; charset=utf-8",
                                                            "Cache-Control": "no-cache"})


@rest.route("/", methods=["GET"])
@endpoint
def dashboard_root():
    return _dashboard()


@rest.route("/dashboard", methods=["GET"])
@endpoint
def dashboard():
    return _dashboard()
