"""The route table: one row per endpoint (path, models, summary). OpenAPI and docs are built from it."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from chalicelib.api import params as p
from chalicelib.api import schemas as s

V1 = "/api/v1"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    tag: str
    summary: str
    query: type[p.Query]
    response: type[BaseModel]
    path_model: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400,)
    description: str = ""


_R = Route
ROUTES: tuple[Route, ...] = (
    _R("GET", f"{V1}/funding-rates", "Funding rates", "Latest rates, all venues and symbols", p.RatesQuery,
       s.AllRates, errors=(400, 404),
       description="`data` maps symbol -> dex -> rate in `basis` (default 8h, comparable across venues)."),
    _R("GET", f"{V1}/funding-rates/{{dex}}", "Funding rates", "Latest rates of one venue", p.BasisQuery,
       s.DexRates, p.DexPath, errors=(400, 404),
       description="`funding_rate` is expressed in `basis`; native_rate, rate_1h, rate_8h, annualized_rate are always given."),
    _R("GET", f"{V1}/funding-rates/{{dex}}/{{symbol}}", "Funding rates", "Latest rate of one market",
       p.BasisQuery, s.DexSymbolRate, p.DexSymbolPath, errors=(400, 404)),
    _R("GET", f"{V1}/opportunities", "Opportunities", "Arbitrage opportunities (filtered, sorted)",
       p.OpportunityQuery, s.Opportunities, errors=(400, 404),
       description="Computed from the latest snapshots and the current fees for the requested hold_hours and fee_type."),
    _R("GET", f"{V1}/opportunities/best", "Opportunities", "The single best opportunity under the filters",
       p.OpportunityQuery, s.BestOpportunity, errors=(400, 404)),
    _R("GET", f"{V1}/opportunities/symbol/{{symbol}}", "Opportunities", "Opportunities for one symbol",
       p.SymbolOpportunityQuery, s.Opportunities, p.SymbolPath, errors=(400, 404)),
    _R("GET", f"{V1}/opportunities/compare", "Opportunities", "Compare two venues symbol by symbol",
       p.CompareQuery, s.Compare, errors=(400, 404)),
    _R("GET", f"{V1}/history/funding-rates/{{dex}}/{{symbol}}", "History", "Funding-rate history of one market",
       p.HistoryQuery, s.RateHistory, p.DexSymbolPath, errors=(400, 404),
       description="Bucketed averages (interval) or raw points, paginated; statistics over the whole range."),
    _R("GET", f"{V1}/history/opportunities", "History", "Stored opportunities over time",
       p.OpportunityHistoryQuery, s.OpportunityHistory, errors=(400, 404)),
    _R("GET", f"{V1}/stats/funding-rates/{{symbol}}", "History", "Statistics of 8 h rates over a period",
       p.StatsQuery, s.FundingRateStats, p.SymbolPath, errors=(400, 404)),
    _R("GET", f"{V1}/dexes", "DEX metadata", "All venues with fees and health columns", p.NoQuery, s.DexList),
    _R("GET", f"{V1}/dexes/{{dex}}", "DEX metadata", "One venue", p.NoQuery, s.DexMetadata, p.DexPath,
       errors=(400, 404)),
    _R("GET", f"{V1}/dexes/{{dex}}/symbols", "DEX metadata", "Markets listed on one venue", p.NoQuery,
       s.DexSymbols, p.DexPath, errors=(400, 404)),
    _R("GET", f"{V1}/health", "System", "Service health (per-venue collection, breaker, freshness)", p.NoQuery,
       s.ServiceHealth, errors=(400, 503)),
    _R("GET", f"{V1}/metrics", "System", "Request, cache, database and WebSocket metrics", p.NoQuery, s.Metrics),
    _R("PUT", f"{V1}/admin/dexes/{{dex}}/fees", "Admin", "Replace a venue's fee structure", p.NoQuery,
       s.FeeUpdated, p.DexPath, body=p.FeeStructureBody, errors=(400, 401, 403, 404, 422),
       description="Requires the X-API-Key header. Invalidates dex_metadata and opportunities caches."),
)

# ---- webhooks (issue 17): request/response models live in chalicelib.webhooks.api -------------------
from chalicelib.webhooks import api as wh  # noqa: E402

_KEY = "Requires a webhook API key in X-API-Key (`frs webhook-key --owner NAME` issues one); see docs/webhooks.md."
ROUTES += (
    _R("POST", f"{V1}/webhooks", "Webhooks", "Register a webhook; the answer holds its signing secret, once",
       p.NoQuery, wh.WebhookCreated, body=wh.WebhookCreate, errors=(400, 401, 403, 422), description=_KEY),
    _R("GET", f"{V1}/webhooks", "Webhooks", "This key's webhooks with delivery stats", p.NoQuery, wh.WebhookList,
       errors=(400, 401, 403), description=_KEY),
    _R("GET", f"{V1}/webhooks/{{webhook_id}}", "Webhooks", "One webhook: status, disabled reason, delivery stats",
       p.NoQuery, wh.WebhookOut, wh.WebhookPath, errors=(400, 401, 403, 404), description=_KEY),
    _R("DELETE", f"{V1}/webhooks/{{webhook_id}}", "Webhooks", "Delete a webhook and its delivery log", p.NoQuery,
       wh.WebhookDeleted, wh.WebhookPath, errors=(400, 401, 403, 404), description=_KEY),
    _R("POST", f"{V1}/webhooks/{{webhook_id}}/test", "Webhooks", "Queue a webhook.test event (202)", p.NoQuery,
       wh.TestQueued, wh.WebhookPath, errors=(400, 401, 403, 404, 409), description=_KEY),
    _R("GET", f"{V1}/webhooks/{{webhook_id}}/deliveries", "Webhooks", "The delivery log, newest first, with attempts",
       wh.DeliveriesQuery, wh.DeliveryList, wh.WebhookPath, errors=(400, 401, 403, 404), description=_KEY),
)
