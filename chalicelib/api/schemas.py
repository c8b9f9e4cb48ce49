"""Response models (documentation of the contract; the OpenAPI document is generated from them).

Handlers build plain dicts for speed; tests check real responses against these models.
Every data response carries `source`, `updated_at` and `data_age_seconds` (Fresh).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.params import Basis, FeeStructureBody


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


class DexFeesBrief(Out):
    name: str
    display_name: str
    maker_fee_percent: float
    taker_fee_percent: float
    has_fee_tiers: bool = False


class AllRates(Fresh):
    basis: Basis
    data: dict[str, dict[str, float]] = Field(description="symbol -> dex -> rate in `basis`")
    dex_metadata: dict[str, DexFeesBrief] | None = Field(None, description="Only with include_metadata=true")


class RateRecord(Out):
    funding_rate: float = Field(description="Rate in the requested basis (default 8h)")
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
    dex_symbol: str


class DexRates(Fresh):
    dex_name: str
    basis: Basis
    rates: dict[str, RateRecord]


class DexSymbolRate(Fresh, RateRecord):
    dex_name: str
    symbol: str
    basis: Basis


class Opportunity(Out):
    id: str = Field(description="Stable id symbol:long_dex:short_dex")
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
    discovered_at: datetime
    valid_until: datetime | None = None
    unit_suspect_dexes: list[str] = Field(default_factory=list, description=(
        "Legs on a venue the cross-venue unit check flags unit_suspect (its rates may be off by a unit factor); "
        "the opportunity is kept, not dropped"))


class Opportunities(Fresh):
    opportunities: list[Opportunity]
    total_count: int = Field(description="Opportunities matching the filters before `limit`")
    filters_applied: dict[str, Any]
    generated_at: datetime


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


class Compare(Fresh):
    dex1: str
    dex2: str
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
    rate_1h: float | None = None
    rate_8h: float | None = None
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


class OpportunityHistory(Fresh):
    opportunities: list[dict[str, Any]]
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


class FeeStructure(FeeStructureBody):
    model_config = ConfigDict(extra="allow")


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


class DexEntry(Out):
    name: str
    display_name: str
    is_active: bool
    fee_structure: dict[str, Any]
    supported_symbols: list[str]
    last_successful_fetch: datetime | None
    consecutive_errors: int
    collection: VenueCollection
    unit_check: UnitCheck


class DexMetadata(Fresh, DexEntry):
    """/dexes/{dex}: one DexEntry plus the freshness fields every data response carries."""


class DexList(Fresh):
    dexes: list[DexEntry]


class DexSymbol(Out):
    symbol: str
    dex_symbol_format: str | None
    is_active: bool
    min_order_size: float | None
    volume_24h: float | None
    open_interest: float | None


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


class ServiceHealth(Out):
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: datetime
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
    fee_structure: dict[str, Any]
    fees_version: int | None
