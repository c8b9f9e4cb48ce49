"""REST blueprint `rest`: every SPEC "API Design" route under /api/v1 (full paths, no url_prefix).

Each view: translate the request (pydantic models in chalicelib.api.params), call a query in
chalicelib.api, return JSON. `endpoint` turns ApiError into the `{"error","detail","parameter"}`
body and anything unexpected into a logged 500 of the same shape. OpenAPI/docs: handlers/docs.py.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import history, opps, rates
from chalicelib.api import params as p
from chalicelib.api.http import endpoint, json_response

rest = Blueprint(__name__)
V1 = "/api/v1"


def _query(model: type[p.Q]) -> p.Q:
    return p.parse_query(model, rest.current_request.query_params)


@rest.route(f"{V1}/funding-rates", methods=["GET"])
@endpoint
def funding_rates():
    return json_response(rates.all_rates(_query(p.RatesQuery)))


@rest.route(f"{V1}/funding-rates/{{dex}}", methods=["GET"])
@endpoint
def dex_funding_rates(dex):
    path = p.parse_path(p.DexPath, dex=dex)
    return json_response(rates.dex_rates(path.dex, _query(p.BasisQuery).basis))


@rest.route(f"{V1}/funding-rates/{{dex}}/{{symbol}}", methods=["GET"])
@endpoint
def market_funding_rate(dex, symbol):
    path = p.parse_path(p.DexSymbolPath, dex=dex, symbol=symbol)
    return json_response(rates.dex_symbol_rate(path.dex, path.symbol, _query(p.BasisQuery).basis))


@rest.route(f"{V1}/opportunities", methods=["GET"])
@endpoint
def opportunities():
    return json_response(opps.opportunities(_query(p.OpportunityQuery)))


@rest.route(f"{V1}/opportunities/best", methods=["GET"])
@endpoint
def best_opportunity():
    return json_response(opps.best(_query(p.OpportunityQuery)))


@rest.route(f"{V1}/opportunities/compare", methods=["GET"])
@endpoint
def compare_opportunities():
    return json_response(opps.compare(_query(p.CompareQuery)))


@rest.route(f"{V1}/opportunities/symbol/{{symbol}}", methods=["GET"])
@endpoint
def symbol_opportunities(symbol):
    path = p.parse_path(p.SymbolPath, symbol=symbol)
    q = _query(p.SymbolOpportunityQuery)
    return json_response(opps.opportunities(q.model_copy(update={"symbol": path.symbol})))


@rest.route(f"{V1}/history/funding-rates/{{dex}}/{{symbol}}", methods=["GET"])
@endpoint
def rate_history(dex, symbol):
    path = p.parse_path(p.DexSymbolPath, dex=dex, symbol=symbol)
    return history.rate_history(path.dex, path.symbol, _query(p.HistoryQuery))


@rest.route(f"{V1}/history/opportunities", methods=["GET"])
@endpoint
def opportunity_history():
    return history.opportunity_history(_query(p.OpportunityHistoryQuery))


@rest.route(f"{V1}/stats/funding-rates/{{symbol}}", methods=["GET"])
@endpoint
def rate_stats(symbol):
    path = p.parse_path(p.SymbolPath, symbol=symbol)
    return history.rate_stats(path.symbol, _query(p.StatsQuery))


# System, DEX metadata, admin and docs routes register on the same blueprint:
from chalicelib.handlers import rest_system  # noqa: E402, F401
