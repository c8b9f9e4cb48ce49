"""Request models: every path/query parameter and the admin body, validated by pydantic.

Query models forbid unknown names (a typo like `min_profti` is a 400 naming it, not a silently
ignored filter). Numbers are bounded so nothing absurd reaches SQL or Decimal arithmetic.
Dex names are lower-cased and symbols upper-cased before lookup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from chalicelib.api.errors import ApiError, bad_parameter, from_validation
from chalicelib.core import units
from chalicelib.core.fees import MAX_FEE, MIN_FEE
from chalicelib.core.filters import SORTABLE_FIELDS

Basis = units.Basis
FeeType = Literal["maker", "taker"]
Period = Literal["24h", "7d", "30d", "90d"]
Interval = Literal["raw", "1h", "4h", "1d"]
SortBy = Literal[SORTABLE_FIELDS]  # type: ignore[valid-type]  # numeric Opportunity fields (core.filters)
PERIODS: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7),
                                 "30d": timedelta(days=30), "90d": timedelta(days=90)}
INTERVAL_SECONDS: dict[str, int | None] = {"raw": None, "1h": 3600, "4h": 14400, "1d": 86400}
DEX_PATTERN = r"^[A-Za-z0-9_-]{1,50}$"
SYMBOL_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"
MAX_RANGE = timedelta(days=366)
MIN_HOLD_HOURS = Decimal("0.001")   # 3.6 s; smaller holds (1e-999999) overflowed the Decimal context: 400, not 500


def _lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


def _upper(v: Any) -> Any:
    return v.strip().upper() if isinstance(v, str) else v


def _csv(v: Any) -> Any:
    if isinstance(v, str):
        return [p.strip().lower() for p in v.split(",") if p.strip()]
    if isinstance(v, list):
        return [p.strip().lower() for item in v for p in str(item).split(",") if p.strip()]
    return v


DexName = Annotated[str, StringConstraints(pattern=DEX_PATTERN), BeforeValidator(_lower),
                    Field(description="DEX name, e.g. hyperliquid (case-insensitive)", examples=["hyperliquid"])]
SymbolName = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN), BeforeValidator(_upper),
                       Field(description="Normalized base asset, e.g. BTC (case-insensitive)", examples=["BTC"])]
DexList = Annotated[list[Annotated[str, Field(pattern=DEX_PATTERN)]], BeforeValidator(_csv),
                    Field(min_length=1, max_length=20, description="Comma-separated DEX names, e.g. lighter,edgex")]


# A bare number above this is almost surely a percent typed where a fraction is expected
# (min_profit=0.2 meaning 0.2 %): refused with the unit spelled out rather than silently matching nothing.
PERCENT_LOOKALIKE = Decimal("0.1")


def _fraction(v: Any) -> Any:
    """`0.002` (fraction) or `0.2%` (percent, converted): the unit is never guessed."""
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            return Decimal(v.strip()[:-1].strip()) / 100
        except ArithmeticError:
            raise ValueError(f"not a percentage: {v!r}") from None
    if isinstance(v, str | int | float | Decimal) and not isinstance(v, bool):
        try:
            d = Decimal(str(v).strip())
        except ArithmeticError:
            return v   # pydantic reports the parse error
        if d.is_finite() and d >= PERCENT_LOOKALIKE:   # negatives (e.g. -1: include losses) are not misread
            raise ValueError(f"is a fraction of notional (0.002 = 0.2 %); {v} would mean {d * 100} %. "
                             f"Write {d / 100} for {v} %, or add the percent sign: {v}%")
    return v


FractionIn = Annotated[Decimal, BeforeValidator(_fraction)]


def _decimal(lo: str, hi: str, default: Any = None, description: str = "") -> Any:
    return Field(default=default, ge=Decimal(lo), le=Decimal(hi), allow_inf_nan=False, description=description)


def _utc(v: datetime | None) -> datetime | None:
    if v is None:
        return None
    v = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if not 2000 <= v.year <= 2100:
        raise ValueError("timestamp must lie between the years 2000 and 2100")
    return v


# Every model here is built on its first use, not at import (defer_build): a route Lambda's cold
# start then pays for the one or two models its first request validates, not for all of them.
class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class BasisQuery(Query):
    basis: Basis = Field("8h", description="Rate basis: native (one funding interval of that market), 1h, 8h, "
                                           "or apr (annualized percent)")


class RatesQuery(BasisQuery):
    dex: DexName | None = None
    symbol: SymbolName | None = None
    include_metadata: bool = Field(False, description="Include DEX metadata (fees) in the response")


class OpportunityQuery(Query):
    symbol: SymbolName | None = None
    long_dex: DexName | None = None
    short_dex: DexName | None = None
    include_dexes: DexList | None = None
    exclude_dexes: DexList | None = None
    min_divergence: Decimal = _decimal("0", "1", Decimal("0.0001"), "Minimum divergence (8 h fraction)")
    min_profit: FractionIn = Field(Decimal(0), ge=Decimal(-1), le=Decimal(1), allow_inf_nan=False,
                                   validation_alias=AliasChoices("min_profit", "min_profit_percent"),
                                   description="Minimum net profit as a FRACTION of notional over hold_hours "
                                               "(0.002 = 0.2 %; or write 0.2% with the sign). A bare number "
                                               ">= 0.1 is refused as a likely percent. Alias min_profit_percent "
                                               "(SPEC's name; a fraction too)")
    min_volume: Decimal = Field(Decimal(100000), ge=0, le=Decimal("1e15"), allow_inf_nan=False,
                                validation_alias=AliasChoices("min_volume", "min_volume_24h"),
                                description="Minimum 24 h USD volume of both legs; alias min_volume_24h")
    max_volume: Decimal | None = Field(None, ge=0, le=Decimal("1e15"), allow_inf_nan=False,
                                       validation_alias=AliasChoices("max_volume", "max_volume_24h"),
                                       description="Maximum 24 h USD volume (niche pairs); alias max_volume_24h")
    min_oi_usd: Decimal | None = _decimal("0", "1e15", description="Minimum open interest (USD) of both legs")
    max_oi_usd: Decimal | None = _decimal("0", "1e15", description="Maximum open interest (USD), low-OI farming")
    oi_ratio_min: Decimal | None = _decimal("0", "1e6", description="Minimum long/short OI ratio")
    oi_ratio_max: Decimal | None = _decimal("0", "1e6", description="Maximum long/short OI ratio")
    oi_imbalance: Literal["long_heavy", "short_heavy", "balanced"] | None = None
    max_spread_bps: Decimal | None = _decimal("0", "100000", description="Maximum bid/ask spread (bps) of the wider "
                                                                          "known leg; unknown spreads pass")
    # persistence (core/persistence.py): an opportunity whose value is not known yet fails these bounds
    min_alive_hours: Decimal | None = _decimal("0", "100000", description=(
        "Only opportunities open for at least this many hours (alive_hours, from the lifecycle)"))
    min_avg_divergence_24h: Decimal | None = _decimal("-1", "1", description=(
        "Minimum avg_divergence_24h: mean hourly divergence over the last 24 completed hours, "
        "fraction per 8 h (0.0001 = 1 bp per 8 h)"))
    max_cv: Decimal | None = _decimal("0", "1000000", description=(
        "Maximum cv_24h: coefficient of variation (std / |mean|, unitless) of the hourly divergence "
        "over the last 24 completed hours"))
    limit: int = Field(10, ge=1, le=100)
    sort_by: SortBy = "net_profit_percent"
    sort_desc: bool = True
    hold_hours: Decimal = Field(Decimal(8), ge=MIN_HOLD_HOURS, le=Decimal(8760), allow_inf_nan=False,
                                description="Holding period in hours for net profit and APY")
    fee_type: FeeType = "maker"


class SymbolOpportunityQuery(OpportunityQuery):
    pass


class CompareQuery(Query):
    dex1: DexName
    dex2: DexName
    symbol: SymbolName | None = None
    hold_hours: Decimal = Field(Decimal(8), ge=MIN_HOLD_HOURS, le=Decimal(8760), allow_inf_nan=False)
    fee_type: FeeType = "maker"


class TimeRange(Query):
    start_time: datetime | None = Field(None, description="ISO 8601; default end_time - period")
    end_time: datetime | None = Field(None, description="ISO 8601; default now")
    period: Period | None = Field(None, description="Shorthand instead of start_time (default 7d)")

    _utc_times = field_validator("start_time", "end_time")(_utc)

    def window(self, now: datetime, default: str = "7d") -> tuple[datetime, datetime]:
        if self.period is not None and self.start_time is not None:
            raise bad_parameter("period", "give either period or start_time, not both")
        end = self.end_time or now
        start = self.start_time or end - PERIODS[self.period or default]
        if start >= end:
            raise bad_parameter("start_time", "start_time must be before end_time")
        if end - start > MAX_RANGE:
            raise bad_parameter("start_time", "the range may span at most 366 days")
        return start, end


class HistoryQuery(TimeRange, BasisQuery):
    interval: Interval = Field("1h", description="Bucket size (average per bucket) or raw collection points")
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(100, ge=1, le=1000)


class SettlementHistoryQuery(TimeRange):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(100, ge=1, le=1000)


class BacktestQuery(Query):
    symbol: SymbolName = Field(description="Asset, e.g. BTC")
    long_dex: DexName = Field(description="Venue of the long leg")
    short_dex: DexName = Field(description="Venue of the short leg (must differ from long_dex)")
    start_time: datetime = Field(description="ISO 8601 start of the window (UTC)")
    end_time: datetime | None = Field(None, description="ISO 8601 end (default now); the window spans at most 366 days")
    fee_type: FeeType = Field("maker", description="Fee tier used for the round trip")
    notional: Decimal = Field(Decimal(10_000), ge=Decimal("0.01"), le=Decimal("1e12"), allow_inf_nan=False,
                              description="USD per leg")
    enter_divergence_8h: Decimal | None = Field(None, ge=Decimal(-1), le=Decimal(1), allow_inf_nan=False, description=(
        "Rule mode: enter when the settled divergence reaches this (fraction per 8 h); needs exit_divergence_8h"))
    exit_divergence_8h: Decimal | None = Field(None, ge=Decimal(-1), le=Decimal(1), allow_inf_nan=False,
                                               description="Rule mode: exit below this divergence (fraction per 8 h)")

    _utc_times = field_validator("start_time", "end_time")(_utc)


class OpportunityHistoryQuery(TimeRange):
    symbol: SymbolName | None = None
    min_profit: FractionIn | None = Field(None, ge=Decimal(-1), le=Decimal(1), allow_inf_nan=False,
                                          description="Minimum net_profit_percent as a FRACTION (0.002 = 0.2 %), "
                                                      "or with the sign: 0.2%")
    limit: int = Field(100, ge=1, le=1000)
    page: int = Field(1, ge=1, le=1_000_000)


class StatsQuery(Query):
    dex: DexName | None = None
    period: Period = "30d"


class NoQuery(Query):
    pass


class Path(BaseModel):
    model_config = ConfigDict(defer_build=True)


class DexPath(Path):
    dex: DexName


class SymbolPath(Path):
    symbol: SymbolName


class DexSymbolPath(Path):
    dex: DexName
    symbol: SymbolName


# ---- admin body -------------------------------------------------------------------------
# Bounds shared with the core validation (core.fees), so a fee the API accepts is one storage reads back.
Fee = Annotated[Decimal, Field(ge=MIN_FEE, le=MAX_FEE, allow_inf_nan=False)]


class FeeTierBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    min_volume_30d: Decimal = Field(ge=0, le=Decimal("1e15"), allow_inf_nan=False)
    max_volume_30d: Decimal | None = Field(None, ge=0, le=Decimal("1e15"), allow_inf_nan=False)
    maker_fee: Fee
    taker_fee: Fee


class FeeStructureBody(BaseModel):
    """SPEC DEXFeeStructure: fees as fractions of notional (0.0002 = 0.02 %)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    maker_fee_percent: Fee = Field(description="Maker fee as a fraction (0.0002 = 0.02 %); negative = rebate")
    taker_fee_percent: Fee = Field(description="Taker fee as a fraction")
    has_fee_tiers: bool = False
    fee_tiers: list[FeeTierBody] | None = Field(None, max_length=50)

    @field_validator("fee_tiers")
    @classmethod
    def _ordered(cls, tiers: list[FeeTierBody] | None) -> list[FeeTierBody] | None:
        for prev, tier in zip(tiers or [], (tiers or [])[1:], strict=False):
            if prev.max_volume_30d is None or tier.min_volume_30d < prev.max_volume_30d:
                raise ValueError("fee tiers must be ordered by volume and must not overlap")
        for tier in tiers or []:
            if tier.max_volume_30d is not None and tier.max_volume_30d <= tier.min_volume_30d:
                raise ValueError("a tier's max_volume_30d must exceed its min_volume_30d")
        return tiers

    def model_post_init(self, _: Any) -> None:
        if self.has_fee_tiers and not self.fee_tiers:
            raise ValueError("has_fee_tiers is true but fee_tiers is empty")


# ---- parsing helpers --------------------------------------------------------------------
Q = TypeVar("Q", bound=Query)
P = TypeVar("P", bound=BaseModel)


def parse_query(model: type[Q], params: Any) -> Q:
    """Chalice query_params (MultiDict or None) -> model; 400 naming the parameter on failure."""
    data: dict[str, Any] = {}
    for name in (params or {}):
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if len(values) > 1:
            field = model.model_fields.get(name)
            if field is None or "list" not in str(field.annotation):
                raise bad_parameter(name, f"query parameter {name!r} given more than once")
            data[name] = values
        else:
            data[name] = values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def parse_path(model: type[P], **values: str) -> P:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc) from None


def parse_body(raw: bytes | str | None, model: type[BaseModel]) -> Any:
    """400 for a body that is not JSON, 422 for well-formed JSON failing the model."""
    import json

    if not raw:
        raise ApiError(400, "a JSON body is required", "body", "invalid_body")
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}", "body", "invalid_body") from None
    except RecursionError:   # nesting deeper than the parser's stack: no fee body is nested like that
        raise ApiError(400, "body is nested too deeply to be a fee structure", "body", "invalid_body") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, status=422) from None
    except RecursionError:
        raise ApiError(400, "body is nested too deeply to be a fee structure", "body", "invalid_body") from None
    except ValueError as exc:  # model_post_init
        raise ApiError(422, str(exc), "body", "unprocessable_entity") from None
