"""The route table: one row per endpoint (method, path, models, the call it makes). Nothing else lists routes.

handlers/rest.py registers every row on the `rest` blueprint; api/openapi.py documents every row
with `documented=True` (the docs pages and the two API documents themselves are served, not
documented). Response models are named, not imported, so serving a request never builds the
pydantic response schemas (cold start): api/openapi.py resolves them from api/schemas.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.api import history, opps, rates, system
from chalicelib.api import params as p

V1 = "/api/v1"


@dataclass(frozen=True)
class Call:
    """One request, validated: the path model, the query model, the body model (or None) and headers."""

    path: Any
    query: Any
    body: Any
    headers: Any


Model = type | str   # a params class or pydantic model, or "package.module:Name" imported on first use (cold start)


def resolve(model: Any) -> Any:
    """The model class of a route field: a class as is, "package.module:Name" imported, "Name" from api.schemas."""
    if not isinstance(model, str):
        return model
    module, _, name = model.rpartition(":")
    return getattr(importlib.import_module(module or "chalicelib.api.schemas"), name)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    tag: str
    summary: str
    query: Model
    response: str                                   # a model name in chalicelib.api.schemas, or "module:Name"
    call: Callable[[Call], Any]
    path_model: Model | None = None
    body: Model | None = None
    errors: tuple[int, ...] = (400,)
    description: str = ""
    admin: bool = False                             # X-API-Key checked before anything else
    documented: bool = True
    status: int = 200                               # the success status (201 created, 202 accepted)

    @property
    def name(self) -> str:
        """Unique view name (Chalice) and OpenAPI operationId."""
        return self.method.lower() + self.path.replace(V1, "").replace("/", "_").replace("{", "").replace(
            "}", "").replace("-", "_").replace(".", "_")


def _health(c: Call) -> Any:
    from chalicelib.api.http import json_response

    body, status = system.health()
    if status == 503:
        from chalicelib.outage import RETRY_AFTER_S

        return json_response(body, status, {"Retry-After": str(RETRY_AFTER_S)})
    return json_response(body, status)


def _html(page: str) -> Callable[[Call], Any]:
    def call(c: Call) -> Any:
        from chalice import Response

        from chalicelib.api import docs

        return Response(body=getattr(docs, page)(), status_code=200,
                        headers={"Content-Type": "text/html; charset=utf-8"})

    return call


def _openapi(c: Call) -> Any:
    from chalicelib.api.openapi import document

    return document()


def _asyncapi(c: Call) -> Any:
    from chalicelib.api.asyncapi import document

    return document()


def _settle() -> Any:
    from chalicelib.api import settlements

    return settlements


_WH = "chalicelib.webhooks.api"
_KEY = "Requires a webhook API key in X-API-Key (`frs webhook-key --owner NAME` issues one); see docs/webhooks.md."


def _wh(operation: str, c: Call, *args: Any) -> Any:
    from chalicelib import wiring

    return getattr(importlib.import_module(_WH), operation)(wiring.webhooks(), c.headers, *args)


_R = Route
ROUTES: tuple[Route, ...] = (
    _R("GET", f"{V1}/funding-rates", "Funding rates", "Latest rates, all venues and symbols", p.RatesQuery,
       "AllRates", lambda c: rates.all_rates(c.query), errors=(400, 404),
       description="`data` maps symbol -> dex -> rate in `basis` (default 8h, comparable across venues)."),
    _R("GET", f"{V1}/funding-rates/{{dex}}", "Funding rates", "Latest rates of one venue", p.BasisQuery,
       "DexRates", lambda c: rates.dex_rates(c.path.dex, c.query.basis), p.DexPath, errors=(400, 404),
       description="`funding_rate` is expressed in `basis`; native_rate, rate_1h, rate_8h, annualized_rate are "
                   "always given."),
    _R("GET", f"{V1}/funding-rates/{{dex}}/{{symbol}}", "Funding rates", "Latest rate of one market",
       p.BasisQuery, "DexSymbolRate", lambda c: rates.dex_symbol_rate(c.path.dex, c.path.symbol, c.query.basis),
       p.DexSymbolPath, errors=(400, 404)),
    _R("GET", f"{V1}/opportunities", "Opportunities", "Arbitrage opportunities (filtered, sorted)",
       p.OpportunityQuery, "Opportunities", lambda c: opps.opportunities(c.query), errors=(400, 404),
       description="Computed from the latest snapshots and the current fees for the requested hold_hours and "
                   "fee_type. An empty list carries `hint` when the filters hid rows."),
    _R("GET", f"{V1}/opportunities/best", "Opportunities", "The single best opportunity under the filters",
       p.OpportunityQuery, "BestOpportunity", lambda c: opps.best(c.query), errors=(400, 404)),
    _R("GET", f"{V1}/opportunities/symbol/{{symbol}}", "Opportunities", "Opportunities for one symbol",
       p.SymbolOpportunityQuery, "Opportunities",
       lambda c: opps.opportunities(c.query.model_copy(update={"symbol": c.path.symbol})), p.SymbolPath,
       errors=(400, 404)),
    _R("GET", f"{V1}/opportunities/compare", "Opportunities", "Compare two venues symbol by symbol",
       p.CompareQuery, "Compare", lambda c: opps.compare(c.query), errors=(400, 404)),
    _R("GET", f"{V1}/history/funding-rates/{{dex}}/{{symbol}}", "History", "Funding-rate history of one market",
       p.HistoryQuery, "RateHistory", lambda c: history.rate_history(c.path.dex, c.path.symbol, c.query),
       p.DexSymbolPath, errors=(400, 404),
       description="Bucketed averages (interval) or raw points, paginated; statistics over the whole range."),
    _R("GET", f"{V1}/history/opportunities", "History", "Stored opportunities over time",
       p.OpportunityHistoryQuery, "OpportunityHistory", lambda c: history.opportunity_history(c.query),
       errors=(400, 404)),
    _R("GET", f"{V1}/stats/funding-rates/{{symbol}}", "History", "Statistics of 8 h rates over a period",
       p.StatsQuery, "FundingRateStats", lambda c: history.rate_stats(c.path.symbol, c.query), p.SymbolPath,
       errors=(400, 404)),
    _R("GET", f"{V1}/dexes", "DEX metadata", "All venues with fees and health columns", p.NoQuery, "DexList",
       lambda c: system.list_dexes()),
    _R("GET", f"{V1}/dexes/{{dex}}", "DEX metadata", "One venue", p.NoQuery, "DexMetadata",
       lambda c: system.get_dex(c.path.dex), p.DexPath, errors=(400, 404)),
    _R("GET", f"{V1}/dexes/{{dex}}/symbols", "DEX metadata", "Markets listed on one venue", p.NoQuery,
       "DexSymbols", lambda c: system.dex_symbols(c.path.dex), p.DexPath, errors=(400, 404)),
    _R("GET", f"{V1}/health", "System", "Service health (per-venue collection, breaker, freshness)", p.NoQuery,
       "ServiceHealth", _health, errors=(400, 503)),
    _R("GET", f"{V1}/metrics", "System", "Request, cache, database and WebSocket metrics", p.NoQuery, "Metrics",
       lambda c: system.metrics()),
    _R("PUT", f"{V1}/admin/dexes/{{dex}}/fees", "Admin", "Replace a venue's fee structure", p.NoQuery,
       "FeeUpdated", lambda c: system.update_fees(c.path.dex, c.body), p.DexPath, body="chalicelib.api.param_models:FeeStructureBody",
       errors=(400, 401, 403, 404, 422, 503), admin=True,
       description="Requires the X-API-Key header. 503 when no admin key is configured (admin is off). "
                   "Invalidates dex_metadata and opportunities caches."),
    # settled funding (docs/settled-funding.md)
    _R("GET", f"{V1}/history/settlements/{{dex}}/{{symbol}}", "History", "What one market actually paid, per settlement",
       p.SettlementHistoryQuery, "SettlementHistory",
       lambda c: _settle().settlement_history(c.path.dex, c.path.symbol, c.query), p.DexSymbolPath, errors=(400, 404),
       description="Settled funding from the venue's settled-history endpoint, oldest first, paginated; "
                   "`funding_rate` is per the settlement's own interval."),
    _R("GET", f"{V1}/dexes/{{dex}}/calibration", "DEX metadata", "Published vs settled: unit verdict and forecast accuracy",
       p.NoQuery, "Calibration", lambda c: _settle().calibration(c.path.dex), p.DexPath, errors=(400, 404),
       description="verified / unverified / unit_mismatch (with the settled/published factor) over 72 h; bias, "
                   "MAE and sign hit rate over 24 h / 7 d / 30 d, per venue and per market."),
    _R("GET", f"{V1}/backtest", "Opportunities", "Backtest a long/short pair on settled funding, with fees",
       p.BacktestQuery, "Backtest", lambda c: _settle().backtest(c.query), errors=(400, 404),
       description="Hold from start_time to end_time, or enter/exit on enter_divergence_8h / exit_divergence_8h. "
                   "USD figures for `notional` per leg; a leg without settlements uses the collected rates (source)."),
    # webhooks (docs/webhooks.md): models in chalicelib.webhooks.api, imported on first use
    _R("POST", f"{V1}/webhooks", "Webhooks", "Register a webhook; the answer holds its signing secret, once",
       p.NoQuery, f"{_WH}:WebhookCreated", lambda c: _wh("create", c, c.body), body=f"{_WH}:WebhookCreate",
       errors=(400, 401, 403, 422), description=_KEY, status=201),
    _R("GET", f"{V1}/webhooks", "Webhooks", "This key's webhooks with delivery stats", p.NoQuery,
       f"{_WH}:WebhookList", lambda c: _wh("list_webhooks", c), errors=(400, 401, 403), description=_KEY),
    _R("GET", f"{V1}/webhooks/{{webhook_id}}", "Webhooks", "One webhook: status, disabled reason, delivery stats",
       p.NoQuery, f"{_WH}:WebhookOut", lambda c: _wh("get", c, c.path.webhook_id), f"{_WH}:WebhookPath",
       errors=(400, 401, 403, 404), description=_KEY),
    _R("DELETE", f"{V1}/webhooks/{{webhook_id}}", "Webhooks", "Delete a webhook and its delivery log", p.NoQuery,
       f"{_WH}:WebhookDeleted", lambda c: _wh("delete", c, c.path.webhook_id), f"{_WH}:WebhookPath",
       errors=(400, 401, 403, 404), description=_KEY),
    _R("POST", f"{V1}/webhooks/{{webhook_id}}/test", "Webhooks", "Queue a webhook.test event", p.NoQuery,
       f"{_WH}:TestQueued", lambda c: _wh("send_test", c, c.path.webhook_id), f"{_WH}:WebhookPath",
       errors=(400, 401, 403, 404, 409), description=_KEY, status=202),
    _R("GET", f"{V1}/webhooks/{{webhook_id}}/deliveries", "Webhooks", "The delivery log, newest first, with attempts",
       f"{_WH}:DeliveriesQuery", f"{_WH}:DeliveryList", lambda c: _wh("deliveries", c, c.path.webhook_id, c.query),
       f"{_WH}:WebhookPath", errors=(400, 401, 403, 404), description=_KEY),
    # served, not documented in the OpenAPI paths:
    _R("GET", f"{V1}/openapi.json", "Docs", "This OpenAPI document", p.NoQuery, "", _openapi, documented=False),
    _R("GET", f"{V1}/asyncapi.json", "Docs", "The AsyncAPI document of the WebSocket channels", p.NoQuery, "",
       _asyncapi, documented=False),
    _R("GET", "/docs", "Docs", "HTML docs", p.NoQuery, "", _html("page"), documented=False),
    _R("GET", f"{V1}/docs", "Docs", "HTML docs", p.NoQuery, "", _html("page"), documented=False),
)

DOCUMENTED: tuple[Route, ...] = tuple(r for r in ROUTES if r.documented)
