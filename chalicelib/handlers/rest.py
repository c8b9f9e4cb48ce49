"""REST blueprint `rest`: every row of the route table (chalicelib/api/routes.py) registered as one view.

Each view validates the request (path, query, body models of its row; the admin key first where the
row says so), makes the row's call into chalicelib.api and returns JSON. `endpoint` turns ApiError
into the `{"error","detail","parameter"}` body and anything unexpected into a logged 500 of the
same shape. No route is listed anywhere else.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import fastlane
from chalicelib.api import params as p
from chalicelib.api.http import endpoint
from chalicelib.api.routes import ROUTES, Call, Route, resolve

rest = Blueprint(__name__)


def _view(route: Route) -> Any:
    cacheable = route.method == "GET" and not route.admin and route.body is None
    name = route.name
    bare_key = fastlane.request_key(name, None, None)   # the key of a request without path or query parameters

    def view(**path: str) -> Any:
        request = rest.current_request
        if cacheable:   # a request seen before, answered from its rendered entry (api/fastlane.py)
            params = request.query_params
            key = fastlane.request_key(name, path, params) if path or params else bare_key
            hit = fastlane.answer(key)
            if hit is not None:
                return hit
            return fastlane.remember(key, lambda: _full(request, path))
        return _full(request, path)

    def _full(request: Any, path: dict[str, str]) -> Any:
        if route.admin:
            from chalicelib.api.system import check_admin

            check_admin(request.headers)
        path_values = p.parse_path(resolve(route.path_model), **path) if route.path_model else None
        query = p.parse_query(resolve(route.query), request.query_params)
        body = p.parse_body(request.raw_body, resolve(route.body)) if route.body else None
        result = route.call(Call(path_values, query, body, request.headers))
        if route.status != 200 and isinstance(result, dict):
            from chalicelib.api.http import json_response

            return json_response(result, route.status)
        return result

    view.__name__ = view.__qualname__ = route.name
    return endpoint(view)


for _route in ROUTES:
    rest.route(_route.path, methods=[_route.method], name=_route.name)(_view(_route))


# The dashboard page (HTML, not part of the JSON API or its documents): `/` and `/dashboard`.
def _dashboard() -> Any:
    from chalice import Response

    from chalicelib.dashboard import page

    return Response(body=page(), status_code=200, headers={"Content-Type": "text/html; charset=utf-8",
                                                            "Cache-Control": "no-cache"})


rest.route("/", methods=["GET"], name="dashboard_root")(endpoint(_dashboard))
rest.route("/dashboard", methods=["GET"], name="dashboard")(endpoint(_dashboard))
