"""Response models (documentation of the contract; the OpenAPI document is generated from them).

Handlers build plain dicts for speed; tests check real responses against these models.
Every data response carries `source`, `updated_at` and `data_age_seconds` (Fresh).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.params import Basis


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(Out):
    error: str = Field(description="Machine-readable reason, e.g. invalid_parameter, unknown_dex")
    detail: str = Field(description="Human-readable explanation")
    parameter: str | None = Field(description="The offending parameter, header or body field")


class Fresh(Out):
    source: Literal["memory", "redis", "database"] = Field(
        description="Tier that served the data: in-process memory, Redis, or the database")
    updated_at: datetime = Field(description="When the underlying data was collected (newest snapshot)")
    data_age_seconds: float | None = Field(description="Seconds since updated_at at response time")
    stale: bool | None = Field(None, description="Present (true) only when the data's source (the database) is "
                                                 "down and this is the last known copy; data_age_seconds says how old")


class DexFeesBrief(Out):
    name: str = Field(description="The venue's dex_name (SPEC.md's DEXMetadata calls it `name`)")
    dex_name: str = Field(description="The venue id, the same field every other response uses (= name)")
    display_name: str
    maker_fee_percent: float
    taker_fee_percent: float
    has_fee_tiers: bool = False


class AllRates(Fresh):
    basis: Basis
    data: dict[str, dict[str, float]] = Field(description="symbol -> dex -> rate in `basis`")
    dex_metadata: dict[str, DexFeesBrief] | None = Field(None, description="Only with include_metadata=true")


class RateRecord(Out):
    """core.codec.rate_record: REST rate records, WebSocket funding_rate_update data, `frs collect --json`."""

    dex_name: str
    symbol: str
    basis: Basis = Field(description="The unit of `funding_rate`")
    funding_rate: float = Field(description="Rate in `basis` (REST: the requested one, default 8h; WebSocket: 8h)")
    native_rate: float = Field(description="Rate for one funding interval of this market")
    rate_1h: float
    rate_8h: float
    annualized_rate: float = Field(description="Percent per year: rate_1h * 8760 * 100")
    funding_interval_hours: float
    next_funding_time: datetime | None
    timestamp: datetime
    fetched_at: datetime
    mark_price: float
    index_price: float | None
    open_interest_usd: float | None
    volume_24h_usd: float | None
    best_bid: float | None = None
    best_ask: float | None = None
    multiplier: float = Field(1, description="Listed units per base unit (1000 for kPEPE); prices are per base unit")
    dex_symbol: str


class DexRates(Fresh):
    dex_name: str
    basis: Basis
    rates: dict[str, RateRecord]


class DexSymbolRate(Fresh, RateRecord):
    pass


class RealizedReturn(Out):
    """What holding the pair over the trailing window paid (core/persistence.py realized_fields)."""

    window_hours: int = Field(description="24 or 168: the window, ending now")
    long_funding: float = Field(description="Funding the long leg RECEIVED (negative: paid), fraction of notional")
    short_funding: float = Field(description="Funding the short leg RECEIVED (negative: paid), fraction of notional")
    funding_return: float = Field(description="long_funding + short_funding (fraction of notional)")
    fees: float = Field(description="A round trip at the query's fee_type: 2 * (fee(long) + fee(short)), fraction")
    net_return: float = Field(description="funding_return - fees (fraction of notional)")
    apy_percent: float = Field(description="net_return * 8760 / window_hours * 100 (percent per year, simple)")
    long_settlements: int = Field(description="Settlements (or collected hours) of the long leg in the window")
    short_settlements: int = Field(description="Settlements (or collected hours) of the short leg in the window")
    source: Literal["settlements", "collected_rates", "mixed"] = Field(description=(
        "settlements: what the venues settled; collected_rates: a leg's market has no settlements in the window, "
        "so its collected hourly rates are accrued instead (an estimate); mixed: one leg each"))
    coverage: float | None = Field(None, description=(
        "Share of the window the data covers (0-1), the smaller leg's: a settled leg's settlements x its funding "
        "interval / window_hours, a collected leg's hours / window_hours; below 1 the APY (annualized over the whole "
        "window) understates what the pair paid while it had data. Null when a settled leg's interval is unknown"))


class Opportunity(Out):
    """core.codec.opportunity_to_dict: REST, WebSocket opportunity_update data, pub/sub and history rows."""

    id: str = Field(description="Stable id symbol:long_dex:short_dex")
    basis: Literal["8h"] = Field("8h", description="The unit of long_rate, short_rate and divergence")
    symbol: str
    long_dex: str
    short_dex: str
    long_rate: float = Field(description="rate_8h of the long venue")
    short_rate: float = Field(description="rate_8h of the short venue")
    divergence: float = Field(description="short_rate - long_rate (per 8 h)")
    divergence_1h: float
    estimated_fees: float = Field(description="2 * (fee(long) + fee(short))")
    net_profit_percent: float = Field(description="divergence_1h * hold_hours - estimated_fees (fraction)")
    annualized_apy: float = Field(description="Percent: net_profit_percent * 8760 / hold_hours * 100")
    gross_apr: float | None = None
    breakeven_hours: float | None = None
    hold_hours: float
    fee_type: Literal["maker", "taker"]
    long_volume_24h: float | None = None
    short_volume_24h: float | None = None
    min_volume_24h: float | None = None
    long_oi_usd: float | None = None
    short_oi_usd: float | None = None
    min_oi_usd: float | None = None
    max_oi_usd: float | None = None
    oi_ratio: float | None = None
    oi_imbalance: Literal["long_heavy", "short_heavy", "balanced"] | None = None
    long_spread_bps: float | None = None
    short_spread_bps: float | None = None
    avg_spread_bps: float | None = None
    mark_spread_bps: float | None = None
    long_mark_price: float | None = None
    short_mark_price: float | None = None
    long_interval_hours: float | None = None
    short_interval_hours: float | None = None
    discovered_at: datetime
    valid_until: datetime | None = None
    # persistence (core/persistence.py, core/lifecycle.py); null = not known yet
    opened_at: datetime | None = Field(None, description="When this spell opened (lifecycle: net > 0 at 8 h maker "
                                                         "in the analysis)")
    alive_hours: float | None = Field(None, description="Hours since opened_at")
    avg_divergence_24h: float | None = Field(None, description=(
        "Mean hourly divergence (short - long rate_8h, per 8 h) over the 24 completed clock hours before now"))
    avg_divergence_7d: float | None = Field(None, description="The same over 168 completed hours (per 8 h)")
    cv_24h: float | None = Field(None, description="Coefficient of variation (std / |mean|) of those hourly "
                                                   "divergences, 24 h (unitless; lower = steadier)")
    cv_7d: float | None = Field(None, description="Coefficient of variation over 7 d (unitless)")
    sign_held_24h: float | None = Field(None, description="Fraction of the 24 hours whose divergence had this "
                                                          "opportunity's sign (> 0); hours without data count as not")
    sign_held_7d: float | None = Field(None, description="The same over the 168 hours of 7 d (fraction)")
    realized_24h: RealizedReturn | None = Field(None, description="Realized over the last 24 h (beside the "
                                                                  "predicted annualized_apy)")
    realized_7d: RealizedReturn | None = Field(None, description="Realized over the last 7 d")
    realized_source: Literal["settlements", "collected_rates", "mixed"] | None = Field(
        None, description="Where the realized returns come from, over both windows")
    unit_suspect_dexes: list[str] = Field(default_factory=list, description=(
        "Legs on a venue the cross-venue unit check flags unit_suspect (its rates may be off by a unit factor); "
        "the opportunity is kept, not dropped"))


class FiltersApplied(Out):
    """The filter in force (core.filters.OpportunityFilter), defaults included, under its model names."""

    symbol: str | None = None
    long_dex: str | None = None
    short_dex: str | None = None
    include_dexes: list[str] | None = None
    exclude_dexes: list[str] | None = None
    min_divergence: float | None = None
    min_profit_percent: float | None = None
    min_volume_24h: float | None = None
    max_volume_24h: float | None = None
    min_oi_usd: float | None = None
    max_oi_usd: float | None = None
    oi_ratio_min: float | None = None
    oi_ratio_max: float | None = None
    oi_imbalance: str | None = None
    max_spread_bps: float | None = None
    min_alive_hours: float | None = None
    min_avg_divergence_24h: float | None = None
    max_cv: float | None = None
    limit: int
    sort_by: str
    sort_desc: bool
    hold_hours: float
    fee_type: Literal["maker", "taker"]


class Opportunities(Fresh):
    opportunities: list[Opportunity]
    total_count: int = Field(description="Opportunities matching the filters before `limit`")
    filters_applied: FiltersApplied
    generated_at: datetime
    hint: str | None = Field(None, description="Only on an empty result: how many rows the thresholds "
                                               "(min_divergence, min_volume, min_profit) hid, and which ones")


class BestOpportunity(Fresh):
    opportunity: Opportunity | None
    rank: int | None
    total_opportunities: int
    generated_at: datetime


class Comparison(Out):
    symbol: str
    rate_diff: float = Field(description="rate_8h(dex2) - rate_8h(dex1)")
    better_on: str = Field(description="The venue to be short on (higher rate)")
    recommendation: str
    net_profit_percent: float
    annualized_apy: float
    dex1_rate: float
    dex2_rate: float
    divergence: float
    estimated_fees: float


class Compare(Fresh):
    dex1: str
    dex2: str
    basis: Literal["8h"] = "8h"
    hold_hours: float
    fee_type: Literal["maker", "taker"]
    opportunities: list[Comparison]
    generated_at: datetime


class Pagination(Out):
    page: int
    page_size: int
    total: int
    total_pages: int


class HistoryPoint(Out):
    time: datetime
    rate: float = Field(description="Rate in `basis` (bucket average when interval != raw)")
    funding_rate: float | None = Field(None, description="Same as `rate` (the name REST and WebSocket records use)")
    native_rate: float | None = None
    rate_1h: float | None = None
    rate_8h: float | None = None
    annualized_rate: float | None = None
    funding_interval_hours: float | None = None
    samples: int | None = None


class RateStatistics(Out):
    avg_rate: float | None
    median_rate: float | None
    std_dev: float | None
    min_rate: float | None
    max_rate: float | None


class RateHistory(Fresh):
    dex_name: str
    symbol: str
    basis: Basis
    interval: Literal["raw", "1h", "4h", "1d"]
    data_points: list[HistoryPoint]
    statistics: RateStatistics
    period_start: datetime
    period_end: datetime
    pagination: Pagination


class SettlementPoint(Out):
    time: datetime = Field(description="Settlement instant (UTC)")
    funding_rate: float = Field(description="Fraction that settlement paid for its interval (positive: longs pay)")
    funding_interval_hours: float
    rate_1h: float
    rate_8h: float
    mark_price: float | None
    source_endpoint: str = Field(description="The venue endpoint the settlement came from")


class SettlementHistory(Fresh):
    """GET /history/settlements/{dex}/{symbol}: what the venue actually paid, oldest first."""

    dex_name: str
    symbol: str
    basis: Literal["per_interval"] = Field("per_interval", description="funding_rate is per settlement interval")
    settlements: list[SettlementPoint]
    period_start: datetime
    period_end: datetime
    pagination: Pagination


class Accuracy(Out):
    samples: int
    bias_1h: float | None = Field(description="Mean of published - settled rate_1h (positive: published too high)")
    mae_1h: float | None = Field(description="Mean absolute published - settled rate_1h")
    bias_apr_points: float | None
    mae_apr_points: float | None
    sign_hit_rate: float | None = Field(description="Share of pairs whose signs agree")


class Calibration(Fresh):
    """GET /dexes/{dex}/calibration: published vs settled (services/settle.py, core/calibration.py)."""

    dex_name: str
    status: Literal["verified", "unverified", "unit_mismatch"]
    factor: float | None = Field(description="Settled / published, median over pairs above the noise floor")
    sign_agreement: float | None = None
    samples: int | None
    window_hours: int | None = None
    suspected: str | None = Field(description="The likely unit error (x8, x1/100, sign flipped) or why unverified")
    accuracy: dict[str, Accuracy] = Field(description="Per window: 24h, 168h (7 d), 720h (30 d)")
    markets: dict[str, dict[str, Accuracy]] = Field(description="Per symbol, per window")
    units: dict[str, str]


class BacktestLeg(Out):
    dex_name: str = Field(description="The leg's venue")
    side: Literal["long", "short"]
    source: Literal["settlements", "collected_rates"] = Field(
        description="settlements, or the collected rates as hourly accruals where the venue has none")
    fee_rate: float
    settlements: int
    funding_usd: float
    expected_settlements: int
    coverage: float


class EquityPoint(Out):
    time: str
    equity_usd: float
    event: Literal["enter", "settle", "exit"]


class Backtest(Out):
    """GET /backtest: a long/short pair replayed on settled funding, with fees (core/backtest.py)."""

    symbol: str
    mode: Literal["hold", "rule"]
    start_time: datetime
    end_time: datetime
    fee_type: Literal["maker", "taker"]
    enter_divergence_8h: float | None
    exit_divergence_8h: float | None
    notional_usd: float
    hours_in_position: float
    funding_usd: float
    fees_usd: float
    net_pnl_usd: float
    net_return: float
    apy_percent: float | None
    max_drawdown_usd: float
    round_trips: int
    legs: list[BacktestLeg]
    equity_curve: list[EquityPoint]
    units: dict[str, str]


class OpportunityEvent(Opportunity):
    """A stored lifecycle event (sql/0010) with the opportunity's values at it."""

    event: Literal["opened", "changed", "closed", "snapshot"] = Field(description=(
        "opened | changed (divergence moved >= 20 % of the recorded value and >= 0.5 bp per 8 h, or a leg's "
        "interval changed) | closed (values last recorded) | snapshot (a per-cycle row stored before 0010)"))


class OpportunityHistory(Fresh):
    opportunities: list[OpportunityEvent]
    total_count: int
    period_start: datetime
    period_end: datetime
    pagination: Pagination


class FundingRateStats(Fresh):
    symbol: str
    dex_name: str | None
    basis: Literal["8h"] = "8h"
    period_days: int
    period_start: datetime
    period_end: datetime
    samples: int
    avg_funding_rate: float | None
    median_funding_rate: float | None
    std_dev: float | None
    volatility: float | None = Field(description="std_dev / |avg_funding_rate|")
    min_rate: float | None
    max_rate: float | None
    percentile_25: float | None
    percentile_75: float | None
    avg_annualized_apy: float | None = Field(description="Percent: avg 8 h rate * 3 * 365 * 100")
    positive_rate_frequency: float | None = Field(description="Fraction (0..1) of samples with a positive rate")


class FeeTier(Out):
    min_volume_30d: float
    max_volume_30d: float | None = Field(description="null: unbounded")
    maker_fee: float
    taker_fee: float


class FeeStructure(Out):
    """core.codec.fee_to_dict: SPEC DEXFeeStructure; fees are fractions despite the *_percent names."""

    maker_fee_percent: float
    taker_fee_percent: float
    has_fee_tiers: bool
    fee_tiers: list[FeeTier] | None


class UnitCheck(Out):
    """The cross-venue unit sanity check of one venue (chalicelib/core/unit_check.py), from the last analysis."""

    status: Literal["ok", "suspect", "unknown"] = Field(
        description="suspect = off by a unit factor; unknown = too few venues or markets to judge")
    factor: float | None = Field(description=(
        "Dimensionless unit factor the venue's normalized rates look off by (8, 24, 100, 1/8, 1/24, 1/100, "
        "-1 for a flipped sign, or a signed product); null unless suspect"))
    ratio: float | None = Field(description=(
        "Dimensionless: median over the venue's liquid majors of its rate_1h divided by the agreeing venues' "
        "median rate_1h on the same symbol"))
    median_rate_1h: float | None = Field(description="Fraction per hour: median rate_1h over the venue's majors")
    reference_rate_1h: float | None = Field(description=(
        "Fraction per hour: median of the agreeing venues' median rate_1h (quiet baseline 0.0000125)"))
    majors: int = Field(description="Count of liquid markets judged: BTC, ETH, SOL and the venue's top 7 by OI (USD)")
    reason: str
    checked_at: datetime | None = Field(description="When the analysis ran the check (null: never)")


class VenueCollection(Out):
    """The venue's newest collection outcome (collection_logs)."""

    status: Literal["success", "degraded", "failed"] | None = Field(
        description="degraded = data stored but markets missing; null = never collected")
    reason: str | None = Field(description="Why degraded or failed, e.g. 'budget: 25 of 124 markets not fetched "
                                           "(rate limit 600/min)'")
    markets: int | None = Field(description="Count of markets stored by that run")
    markets_unfetched: int | None = Field(description="Count of markets not fetched because the request budget ran out")
    at: datetime | None = Field(description="When that run started")


class CalibrationSummary(Out):
    """The settled-vs-published verdict of the last settlement run (GET /dexes/{dex}/calibration has the detail)."""

    status: Literal["verified", "unverified", "unit_mismatch"] | None = Field(
        description="unit_mismatch: left out of opportunities until it verifies again")
    factor: float | None = Field(description="Settled / published (1 = units agree)")
    samples: int | None
    suspected: str | None


class DexEntry(Out):
    name: str = Field(description="The venue's dex_name (SPEC.md's DEXMetadata calls it `name`)")
    dex_name: str = Field(description="The venue id, the same field every other response uses (= name)")
    display_name: str
    is_active: bool
    api_base_url: str | None = None
    websocket_url: str | None = None
    supports_websocket: bool = False
    fee_structure: FeeStructure
    supported_symbols: list[str]
    collection_interval_seconds: int | None = Field(
        None, description="The collection interval in force (settings), not a stored default")
    rate_limit_per_minute: int | None = None
    last_successful_fetch: datetime | None
    last_error: Any = None
    consecutive_errors: int
    collection: VenueCollection
    unit_check: UnitCheck
    calibration: CalibrationSummary | None = None


class DexMetadata(Fresh, DexEntry):
    """/dexes/{dex}: one DexEntry plus the freshness fields every data response carries."""


class DexList(Fresh):
    dexes: list[DexEntry]


class DexSymbol(Out):
    symbol: str
    dex_symbol_format: str | None
    is_active: bool
    min_order_size: float | None = Field(description=(
        "Smallest order the venue accepts, in BASE-ASSET units (tokens: a kPEPE / 1000PEPE listing's minimum is "
        "multiplied out to PEPE). Where the venue publishes a minimum order VALUE in USD(C/T) (Paradex min_notional, "
        "GRVT min_notional, Lighter min_quote_amount, Pacifica min_order_size, Aster MIN_NOTIONAL), it is converted at "
        "the mark price of the last collection and rounded up to the venue's size lot; the larger of that and the "
        "published quantity minimum is reported. Hyperliquid / HIP-3: the size lot 10^-szDecimals (the docs' $10 "
        "minimum value is not in the payload). Null where the venue publishes none (never 0)."))
    volume_24h: float | None = Field(description="24 h volume, USD notional (SPEC's name; = volume_24h_usd)")
    open_interest: float | None = Field(description="Open interest, USD (SPEC's name; = open_interest_usd)")
    open_interest_usd: float | None = None
    multiplier: float | None = None
    last_updated: datetime | None = None


class DexSymbols(Fresh):
    dex_name: str
    symbols: list[DexSymbol]


class DexHealth(Out):
    dex_name: str
    is_healthy: bool
    last_successful_fetch: datetime | None
    consecutive_errors: int
    error_rate_percent: float
    avg_collection_latency_ms: float
    breaker_state: str
    data_age_seconds: int | None
    problems: list[str]
    collection: VenueCollection
    unit_check: UnitCheck
    calibration: CalibrationSummary | None = None


class HealthComponent(Out):
    status: str = Field(description="up | down | fallback (Redis: in-memory) | unknown | degraded (push) | "
                                    "empty | backlog | lost (ingest buffer)")
    reason: str | None = Field(description="Why it is not up (null when it is)")


class DatabaseComponent(HealthComponent):
    latency_ms: float | None = Field(description="The health query's round trip")


class PushComponent(HealthComponent):
    connections: int | None = Field(description="WebSocket connections registered (Redis)")
    last_push_at: datetime | None = Field(description="When the analysis last fanned out")
    frames_delivered: int | None = Field(description="Frames the last fan-out delivered")
    frames_failed: int | None = Field(description="Frames the last fan-out could not deliver")


class BufferComponent(HealthComponent):
    batches_waiting: int | None = Field(description="Collections waiting in Redis for the database (all venues)")
    oldest_age_seconds: float | None = Field(description="Age of the oldest waiting batch")
    snapshots_lost: int | None = Field(description="Snapshots that could not be kept (database and Redis down, or the "
                                                   "buffer full), counted since the counter was created")
    venues: dict[str, Any] = Field(description="Per venue with a backlog or a loss: batches_waiting, "
                                               "oldest_age_seconds, snapshots_lost")


class HealthComponents(Out):
    database: DatabaseComponent
    redis: HealthComponent
    websocket_push: PushComponent
    ingest_buffer: BufferComponent


class ServiceHealth(Out):
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: datetime
    components: HealthComponents | None = Field(None, description="Dependencies: database, Redis, the WebSocket push "
                                                                  "path, the ingest buffer (cached 5 s with the rest)")
    dex_health: list[DexHealth]
    uptime_seconds: int
    total_requests: int
    cache_hit_rate: float
    oldest_data_age_seconds: int | None
    last_collection_time: datetime | None


class Metrics(Out):
    requests_per_minute: float
    avg_response_time_ms: float
    cache_hit_rate: float
    cache_size_mb: float
    cache_entries: int
    database_connections: int | None
    active_websockets: int | None
    timestamp: datetime


class FeeUpdated(Out):
    status: Literal["success"]
    message: str
    dex_name: str
    fee_structure: FeeStructure
    fees_version: int | None


DexEntry.model_rebuild()
DexMetadata.model_rebuild()
DexList.model_rebuild()
FeeUpdated.model_rebuild()


# ---- units -------------------------------------------------------------------------------------
# The unit of every numeric response field (a key of core.units.UNITS), by field name; MODEL_UNITS
# overrides a name inside one model. api/openapi.py and api/asyncapi.py copy these into `x-unit`, and
# tests/integration/test_units_declared.py fails on any numeric field a response carries without one.
FIELD_UNITS: dict[str, str] = {
    # rates
    "funding_rate": "basis", "rate": "basis", "data": "basis", "native_rate": "fraction/interval",
    "rate_1h": "fraction/1h", "rate_8h": "fraction/8h", "annualized_rate": "percent/year",
    "funding_interval_hours": "hours", "long_interval_hours": "hours", "short_interval_hours": "hours",
    "avg_rate": "basis", "median_rate": "basis", "std_dev": "basis", "min_rate": "basis", "max_rate": "basis",
    # prices, sizes, money
    "mark_price": "USD/base", "index_price": "USD/base", "best_bid": "USD/base", "best_ask": "USD/base",
    "long_mark_price": "USD/base", "short_mark_price": "USD/base", "min_order_size": "base",
    "open_interest_usd": "USD", "open_interest": "USD", "volume_24h_usd": "USD", "volume_24h": "USD",
    "long_volume_24h": "USD", "short_volume_24h": "USD", "min_volume_24h": "USD", "long_oi_usd": "USD",
    "short_oi_usd": "USD", "min_oi_usd": "USD", "max_oi_usd": "USD", "min_volume_30d": "USD",
    "max_volume_30d": "USD", "multiplier": "multiplier",
    # opportunities
    "long_rate": "fraction/8h", "short_rate": "fraction/8h", "divergence": "fraction/8h",
    "dex1_rate": "fraction/8h", "dex2_rate": "fraction/8h", "rate_diff": "fraction/8h",
    "divergence_1h": "fraction/1h", "estimated_fees": "fraction", "net_profit_percent": "fraction/hold",
    "annualized_apy": "percent/year", "gross_apr": "percent/year", "breakeven_hours": "hours",
    "hold_hours": "hours", "oi_ratio": "ratio", "oi_ratio_min": "ratio", "oi_ratio_max": "ratio",
    "min_divergence": "fraction/8h", "min_profit_percent": "fraction/hold", "max_volume_24h": "USD",
    "max_spread_bps": "bps", "limit": "count", "long_spread_bps": "bps", "short_spread_bps": "bps",
    "avg_spread_bps": "bps", "mark_spread_bps": "bps",
    # fees
    "maker_fee_percent": "fraction", "taker_fee_percent": "fraction", "maker_fee": "fraction",
    "taker_fee": "fraction",
    # statistics
    "avg_funding_rate": "fraction/8h", "median_funding_rate": "fraction/8h", "percentile_25": "fraction/8h",
    "percentile_75": "fraction/8h", "avg_annualized_apy": "percent/year", "volatility": "ratio",
    "positive_rate_frequency": "fraction", "samples": "count", "period_days": "days",
    # freshness, paging, system
    "data_age_seconds": "seconds", "oldest_data_age_seconds": "seconds", "uptime_seconds": "seconds",
    "collection_interval_seconds": "seconds", "rate_limit_per_minute": "count/minute",
    "requests_per_minute": "count/minute", "avg_response_time_ms": "ms", "avg_collection_latency_ms": "ms",
    "cache_hit_rate": "fraction", "error_rate_percent": "percent", "cache_size_mb": "MB",
    "total_count": "count", "total_opportunities": "count", "rank": "count", "page": "count",
    "page_size": "count", "total": "count", "total_pages": "count", "consecutive_errors": "count",
    "total_requests": "count", "cache_entries": "count", "database_connections": "count",
    "active_websockets": "count", "fees_version": "count",
    # /health components (chalicelib/api/system.py)
    "latency_ms": "ms", "connections": "count", "frames_delivered": "count", "frames_failed": "count",
    "batches_waiting": "count", "oldest_age_seconds": "seconds", "snapshots_lost": "count",
    # venue states (collection outcome, cross-venue unit check)
    "majors": "count", "markets": "count", "markets_unfetched": "count", "factor": "ratio",
    "ratio": "ratio", "median_rate_1h": "fraction/1h", "reference_rate_1h": "fraction/1h",
    # settled funding, calibration, backtests
    "sign_agreement": "fraction", "window_hours": "hours", "bias_1h": "fraction/1h", "mae_1h": "fraction/1h",
    "bias_apr_points": "percent/year", "mae_apr_points": "percent/year", "sign_hit_rate": "fraction",
    "notional_usd": "USD", "funding_usd": "USD", "fees_usd": "USD", "net_pnl_usd": "USD", "max_drawdown_usd": "USD",
    "equity_usd": "USD", "net_return": "fraction", "apy_percent": "percent/year", "hours_in_position": "hours",
    "round_trips": "count", "settlements": "count", "expected_settlements": "count", "coverage": "fraction",
    "fee_rate": "fraction", "enter_divergence_8h": "fraction/8h", "exit_divergence_8h": "fraction/8h",
    # persistence and realized returns (core/persistence.py)
    "alive_hours": "hours", "min_alive_hours": "hours", "avg_divergence_24h": "fraction/8h",
    "avg_divergence_7d": "fraction/8h", "min_avg_divergence_24h": "fraction/8h", "cv_24h": "ratio",
    "cv_7d": "ratio", "max_cv": "ratio", "sign_held_24h": "fraction", "sign_held_7d": "fraction",
    "long_funding": "fraction", "short_funding": "fraction", "funding_return": "fraction", "fees": "fraction",
    "long_settlements": "count", "short_settlements": "count",
    # webhooks (chalicelib/webhooks/api.py)
    "delivered": "count", "pending": "count", "failed": "count", "cancelled": "count",
    "consecutive_failures": "count", "attempts": "count", "last_status_code": "http-status",
}


MODEL_UNITS: dict[tuple[str, str], str] = {
    ("FundingRateStats", "std_dev"): "fraction/8h",     # /stats is always on the 8 h basis
    ("FundingRateStats", "min_rate"): "fraction/8h",
    ("FundingRateStats", "max_rate"): "fraction/8h",
    ("SettlementPoint", "funding_rate"): "fraction/interval",   # always per the settlement's own interval
    ("DeliveryOut", "id"): "id",                                # a delivery's numeric id
}


# ---- WebSocket frames (the AsyncAPI document, api/asyncapi.py, is generated from these) ------------
Channel = Literal["funding_rates", "opportunities"]


class WsFilters(Out):
    symbols: list[str] | None = Field(None, description="Only these symbols (upper-cased)")
    dexes: list[str] | None = Field(None, description="Rates: only these venues; opportunities: both legs in it")


class Subscribe(Out):
    action: Literal["subscribe"]
    channels: list[Channel] | None = Field(None, description="Default: the connection's channel (from "
                                                             "/ws/funding-rates or /ws/opportunities), else both")
    filters: WsFilters | None = None
    format: Literal["single", "batch"] = "single"


class Unsubscribe(Out):
    action: Literal["unsubscribe"]
    channels: list[Channel] | None = Field(None, description="Default: all")


class Ping(Out):
    action: Literal["ping"]


class Subscribed(Out):
    type: Literal["subscribed"]
    timestamp: datetime
    channels: list[Channel]
    filters: dict[str, list[str]]
    format: Literal["single", "batch"]


class Unsubscribed(Out):
    type: Literal["unsubscribed"]
    timestamp: datetime
    channels: list[Channel]


class Pong(Out):
    type: Literal["pong"]
    timestamp: datetime


class WsError(Out):
    type: Literal["error"]
    timestamp: datetime
    error: str
    detail: str


class FundingRateUpdate(Out):
    type: Literal["funding_rate_update"]
    timestamp: datetime
    data: RateRecord = Field(description="One market whose rate or next funding time changed (8 h basis)")


class FundingRateBatch(Out):
    type: Literal["funding_rate_batch"]
    timestamp: datetime
    data: list[RateRecord] = Field(description="Every changed market of one cycle (format=batch)")


class ClosedOpportunity(Out):
    id: str
    symbol: str
    long_dex: str
    short_dex: str


class OpportunityUpdate(Out):
    type: Literal["opportunity_update"]
    timestamp: datetime
    event: Literal["opened", "updated", "closed"]
    data: Opportunity | ClosedOpportunity = Field(description="The opportunity; only its id and legs when closed")


VenueEventName = Literal["degraded", "failed", "recovered", "unit_suspect", "unit_ok",
                         "unit_mismatch", "verified", "unverified"]


class VenueEventData(Out):
    event: VenueEventName
    dex_name: str
    timestamp: datetime | None = None
    previous: str | None = Field(None, description="The venue's state before (null: first verdict)")
    status: str | None = Field(None, description="The state now: a collection status, ok/suspect, or a "
                                                 "calibration verdict (verified / unverified / unit_mismatch)")
    reason: str | None = None
    factor: float | None = Field(None, description=(
        "Dimensionless. unit_suspect/unit_ok: the cross-venue unit factor; unit_mismatch/verified/unverified: "
        "settled / published rate (robust slope over the last 72 h of settlements)"))
    suspected: str | None = Field(None, description="Calibration events: the likely unit error, e.g. x8, x1/100")
    samples: int | None = Field(None, description="Calibration events: count of settlement/published pairs used")


class VenueEvent(Out):
    """A venue's state changed: collection (degraded / failed / recovered) or cross-venue units (unit_suspect /
    unit_ok) from the analysis; settled-vs-published calibration (unit_mismatch / verified / unverified) from
    the hourly settlement run. Sent to every subscribed connection whose `dexes` filter includes the venue."""

    type: Literal["venue_event"]
    timestamp: datetime
    event: VenueEventName
    data: VenueEventData


WS_CLIENT_MESSAGES: tuple[type[BaseModel], ...] = (Subscribe, Unsubscribe, Ping)
WS_SERVER_FRAMES: tuple[type[BaseModel], ...] = (Subscribed, Unsubscribed, Pong, WsError, FundingRateUpdate,
                                                 FundingRateBatch, OpportunityUpdate, VenueEvent)
