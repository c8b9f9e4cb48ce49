"""Request parameters: ONE declaration per parameter (name, kind, bounds, default, aliases, description).

Each query/path class below lists its parameters as `Param(...)` declarations. Two things are derived
from them and from nothing else:

- the request validator, `parse_query` / `parse_path`, plain Python: serving a request never imports
  pydantic (a route Lambda's cold start, issue 18);
- the pydantic models api/param_models.py builds from the same declarations (on first use), from
  which api/openapi.py generates the parameters of every operation.

The plain validator accepts what it can decide exactly: the spellings a client normally sends (plain
decimals and integers, true/false, names matching their pattern, ISO 8601 timestamps). Anything else - every
error, and rarer spellings (exponents, `+5`, `yes`, unix-time timestamps, ...) - is handed to the derived
pydantic model, which stays the authority: its error names the parameter exactly as before (400 JSON,
api/errors.py), and a value it accepts is used. tests/unit/api/test_params.py checks that both agree on a corpus.

Query classes forbid unknown names (a typo like `min_profti` is a 400 naming it, not a silently ignored
filter). Numbers are bounded so nothing absurd reaches SQL or Decimal arithmetic. Dex names are
lower-cased and symbols upper-cased before lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast

from chalicelib.api.errors import ApiError, bad_parameter
from chalicelib.core import units
from chalicelib.core.filters import SORTABLE_FIELDS

if TYPE_CHECKING:
    from pydantic import BaseModel

Basis = units.Basis
FeeType = Literal["maker", "taker"]
Period = Literal["24h", "7d", "30d", "90d"]
Interval = Literal["raw", "1h", "4h", "1d"]
PERIODS: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7),
                                 "30d": timedelta(days=30), "90d": timedelta(days=90)}
INTERVAL_SECONDS: dict[str, int | None] = {"raw": None, "1h": 3600, "4h": 14400, "1d": 86400}
DEX_PATTERN = r"^[A-Za-z0-9_-]{1,50}$"
SYMBOL_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"
MAX_DEXES = 20                      # names in one include_dexes / exclude_dexes list
MAX_RANGE = timedelta(days=366)
MIN_HOLD_HOURS = Decimal("0.001")   # 3.6 s; smaller holds (1e-999999) overflowed the Decimal context: 400, not 500
# A bare number above this is almost surely a percent typed where a fraction is expected
# (min_profit=0.2 meaning 0.2 %): refused with the unit spelled out rather than silently matching nothing.
PERCENT_LOOKALIKE = Decimal("0.1")

# ---- normalizers (shared with the pydantic models of api/param_models.py) --------------------------------------


def lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


def upper(v: Any) -> Any:
    return v.strip().upper() if isinstance(v, str) else v


def csv(v: Any) -> Any:
    if isinstance(v, str):
        return [p.strip().lower() for p in v.split(",") if p.strip()]
    if isinstance(v, list):
        return [p.strip().lower() for item in v for p in str(item).split(",") if p.strip()]
    return v


def fraction(v: Any) -> Any:
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
            return v   # the bounds / parse error reports it
        if d.is_finite() and d >= PERCENT_LOOKALIKE:   # negatives (e.g. -1: include losses) are not misread
            try:
                hint = (f"is a fraction of notional (0.002 = 0.2 %); {v} would mean {d * 100} %. "
                        f"Write {d / 100} for {v} %, or add the percent sign: {v}%")
            except ArithmeticError:   # 1e999999: no percent reading fits the Decimal context; the bound refuses it
                return v
            raise ValueError(hint)
    return v


def utc(v: datetime | None) -> datetime | None:
    if v is None:
        return None
    v = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if not 2000 <= v.year <= 2100:
        raise ValueError("timestamp must lie between the years 2000 and 2100")
    return v


# ---- one declaration per parameter -----------------------------------------------------------------------------
REQUIRED: Any = ...
DEX, SYMBOL, DEXES, DECIMAL, FRACTION, INT, BOOL, CHOICE, DATETIME = (
    "dex", "symbol", "dexes", "decimal", "fraction", "int", "bool", "choice", "datetime")


class Param:
    """One parameter: its kind, default (REQUIRED = none), bounds, choices, accepted aliases and description.

    Bounds are kept exactly as written (int or Decimal): the OpenAPI schema shows them as given."""

    __slots__ = ("aliases", "choices", "default", "description", "ge", "kind", "le", "name")

    def __init__(self, kind: str, default: Any = REQUIRED, *, ge: Any = None, le: Any = None,
                 choices: tuple[str, ...] = (), aliases: tuple[str, ...] = (), description: str | None = None):
        self.kind, self.default, self.ge, self.le = kind, default, ge, le
        self.choices, self.aliases, self.description = choices, aliases, description
        self.name = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def P(kind: str, default: Any = REQUIRED, **options: Any) -> Any:
    """`name: type = P(kind, default, ...)` in a Params class body (typed Any, like pydantic's Field)."""
    return Param(kind, default, **options)


class Params:
    """Validated parameters of one request: attributes named as declared; plain Python, no pydantic."""

    FIELDS: ClassVar[dict[str, Param]] = {}
    EXTRA_FORBIDDEN: ClassVar[bool] = True
    _wire: ClassVar[dict[str, str]] = {}     # wire name (field name or alias) -> field name
    _own: ClassVar[dict[str, Param]] = {}    # the fields this class declares itself

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {name: value for name, value in vars(cls).items() if isinstance(value, Param)}
        for name, value in own.items():
            value.name = name
            delattr(cls, name)   # instances always carry every field
        cls._own = own
        fields: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):   # base fields first, in declaration order (pydantic's order too)
            fields.update(vars(klass).get("_own", {}))
        cls.FIELDS = fields
        cls._wire = {wire: f.name for f in fields.values() for wire in (f.name, *f.aliases)}

    @classmethod
    def build(cls: type[T], values: dict[str, Any]) -> T:
        obj = cls.__new__(cls)
        obj.__dict__.update(values)
        return obj

    def model_dump(self) -> dict[str, Any]:
        return {name: self.__dict__[name] for name in self.FIELDS}

    def model_copy(self: T, update: dict[str, Any] | None = None) -> T:
        return self.build({**self.model_dump(), **(update or {})})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.model_dump().items())})"


T = TypeVar("T", bound=Params)


# ---- the queries -------------------------------------------------------------------------------------------------
class Query(Params):
    """Query string parameters; unknown names are refused."""


class BasisQuery(Query):
    basis: str = P(CHOICE, "8h", choices=units.BASES, description=(
        "Rate basis: native (one funding interval of that market), 1h, 8h, or apr (annualized percent)"))


class RatesQuery(BasisQuery):
    dex: str | None = P(DEX, None)
    symbol: str | None = P(SYMBOL, None)
    include_metadata: bool = P(BOOL, False, description="Include DEX metadata (fees) in the response")


_VOLUME_MAX = Decimal("1e15")
FEE_TYPES: tuple[str, ...] = ("maker", "taker")
PERIOD_NAMES: tuple[str, ...] = tuple(PERIODS)


class OpportunityQuery(Query):
    symbol: str | None = P(SYMBOL, None)
    long_dex: str | None = P(DEX, None)
    short_dex: str | None = P(DEX, None)
    include_dexes: list[str] | None = P(DEXES, None)
    exclude_dexes: list[str] | None = P(DEXES, None)
    min_divergence: Decimal = P(DECIMAL, Decimal("0.0001"), ge=Decimal("0"), le=Decimal("1"),
                                description="Minimum divergence (8 h fraction)")
    min_profit: Decimal = P(FRACTION, Decimal(0), ge=Decimal(-1), le=Decimal(1), aliases=("min_profit_percent",),
                            description="Minimum net profit as a FRACTION of notional over hold_hours "
                                        "(0.002 = 0.2 %; or write 0.2% with the sign). A bare number "
                                        ">= 0.1 is refused as a likely percent. Alias min_profit_percent "
                                        "(SPEC's name; a fraction too)")
    min_volume: Decimal = P(DECIMAL, Decimal(100000), ge=0, le=_VOLUME_MAX, aliases=("min_volume_24h",),
                            description="Minimum 24 h USD volume of both legs; alias min_volume_24h")
    max_volume: Decimal | None = P(DECIMAL, None, ge=0, le=_VOLUME_MAX, aliases=("max_volume_24h",),
                                   description="Maximum 24 h USD volume (niche pairs); alias max_volume_24h")
    min_oi_usd: Decimal | None = P(DECIMAL, None, ge=Decimal("0"), le=Decimal("1e15"),
                                   description="Minimum open interest (USD) of both legs")
    max_oi_usd: Decimal | None = P(DECIMAL, None, ge=Decimal("0"), le=Decimal("1e15"),
                                   description="Maximum open interest (USD), low-OI farming")
    oi_ratio_min: Decimal | None = P(DECIMAL, None, ge=Decimal("0"), le=Decimal("1e6"),
                                     description="Minimum long/short OI ratio")
    oi_ratio_max: Decimal | None = P(DECIMAL, None, ge=Decimal("0"), le=Decimal("1e6"),
                                     description="Maximum long/short OI ratio")
    oi_imbalance: str | None = P(CHOICE, None, choices=("long_heavy", "short_heavy", "balanced"))
    max_spread_bps: Decimal | None = P(DECIMAL, None, ge=Decimal("0"), le=Decimal("100000"), description=(
        "Maximum bid/ask spread (bps) of the wider known leg; unknown spreads pass"))
    # persistence (core/persistence.py): an opportunity whose value is not known yet fails these bounds
    min_alive_hours: Decimal | None = P(DECIMAL, None, ge=Decimal("0"), le=Decimal("100000"), description=(
        "Only opportunities open for at least this many hours (alive_hours, from the lifecycle)"))
    min_avg_divergence_24h: Decimal | None = P(DECIMAL, None, ge=Decimal("-1"), le=Decimal("1"), description=(
        "Minimum avg_divergence_24h: mean hourly divergence over the last 24 completed hours, "
        "fraction per 8 h (0.0001 = 1 bp per 8 h)"))
    max_cv: Decimal | None = P(DECIMAL, None, ge=Decimal("0"), le=Decimal("1000000"), description=(
        "Maximum cv_24h: coefficient of variation (std / |mean|, unitless) of the hourly divergence "
        "over the last 24 completed hours"))
    limit: int = P(INT, 10, ge=1, le=100)
    sort_by: str = P(CHOICE, "net_profit_percent", choices=SORTABLE_FIELDS)   # numeric Opportunity fields
    sort_desc: bool = P(BOOL, True)
    hold_hours: Decimal = P(DECIMAL, Decimal(8), ge=MIN_HOLD_HOURS, le=Decimal(8760),
                            description="Holding period in hours for net profit and APY")
    fee_type: str = P(CHOICE, "maker", choices=FEE_TYPES)


class SymbolOpportunityQuery(OpportunityQuery):
    pass


class CompareQuery(Query):
    dex1: str = P(DEX)
    dex2: str = P(DEX)
    symbol: str | None = P(SYMBOL, None)
    hold_hours: Decimal = P(DECIMAL, Decimal(8), ge=MIN_HOLD_HOURS, le=Decimal(8760))
    fee_type: str = P(CHOICE, "maker", choices=FEE_TYPES)


class TimeRange(Query):
    start_time: datetime | None = P(DATETIME, None, description="ISO 8601; default end_time - period")
    end_time: datetime | None = P(DATETIME, None, description="ISO 8601; default now")
    period: str | None = P(CHOICE, None, choices=PERIOD_NAMES, description="Shorthand instead of start_time "
                                                                           "(default 7d)")

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
    interval: str = P(CHOICE, "1h", choices=tuple(INTERVAL_SECONDS),
                      description="Bucket size (average per bucket) or raw collection points")
    page: int = P(INT, 1, ge=1, le=1_000_000)
    page_size: int = P(INT, 100, ge=1, le=1000)


class SettlementHistoryQuery(TimeRange):
    page: int = P(INT, 1, ge=1, le=1_000_000)
    page_size: int = P(INT, 100, ge=1, le=1000)


class BacktestQuery(Query):
    symbol: str = P(SYMBOL, description="Asset, e.g. BTC")
    long_dex: str = P(DEX, description="Venue of the long leg")
    short_dex: str = P(DEX, description="Venue of the short leg (must differ from long_dex)")
    start_time: datetime = P(DATETIME, description="ISO 8601 start of the window (UTC)")
    end_time: datetime | None = P(DATETIME, None, description="ISO 8601 end (default now); the window spans at "
                                                              "most 366 days")
    fee_type: str = P(CHOICE, "maker", choices=FEE_TYPES, description="Fee tier used for the round trip")
    notional: Decimal = P(DECIMAL, Decimal(10_000), ge=Decimal("0.01"), le=Decimal("1e12"), description="USD per leg")
    enter_divergence_8h: Decimal | None = P(DECIMAL, None, ge=Decimal(-1), le=Decimal(1), description=(
        "Rule mode: enter when the settled divergence reaches this (fraction per 8 h); needs exit_divergence_8h"))
    exit_divergence_8h: Decimal | None = P(DECIMAL, None, ge=Decimal(-1), le=Decimal(1),
                                           description="Rule mode: exit below this divergence (fraction per 8 h)")


class OpportunityHistoryQuery(TimeRange):
    symbol: str | None = P(SYMBOL, None)
    min_profit: Decimal | None = P(FRACTION, None, ge=Decimal(-1), le=Decimal(1),
                                   description="Minimum net_profit_percent as a FRACTION (0.002 = 0.2 %), "
                                               "or with the sign: 0.2%")
    limit: int = P(INT, 100, ge=1, le=1000)
    page: int = P(INT, 1, ge=1, le=1_000_000)


class StatsQuery(Query):
    dex: str | None = P(DEX, None)
    period: str = P(CHOICE, "30d", choices=PERIOD_NAMES)


class NoQuery(Query):
    pass


class Path(Params):
    """Path parameters (API Gateway only routes the names the path declares)."""

    EXTRA_FORBIDDEN = False


class DexPath(Path):
    dex: str = P(DEX)


class SymbolPath(Path):
    symbol: str = P(SYMBOL)


class DexSymbolPath(Path):
    dex: str = P(DEX)
    symbol: str = P(SYMBOL)


# ---- the plain validator -----------------------------------------------------------------------------------------
class Defer(Exception):
    """The plain validator cannot decide this value exactly: the derived pydantic model does."""


_DEX = re.compile(DEX_PATTERN)
_SYMBOL = re.compile(SYMBOL_PATTERN)
_INT = re.compile(r"0|[1-9][0-9]{0,14}")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,19})(\.[0-9]{1,20})?")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def _named(pattern: re.Pattern[str], norm: Callable[[Any], Any]) -> Callable[[Param, Any], Any]:
    def check(param: Param, raw: Any) -> Any:
        if isinstance(raw, str):
            value = norm(raw)
            if pattern.match(value):   # the pattern is anchored (^...$); `value` is stripped: no trailing newline
                return value
        raise Defer

    return check


def _bounded(param: Param, value: Any) -> Any:
    if (param.ge is not None and value < param.ge) or (param.le is not None and value > param.le):
        raise Defer
    return value


def _decimal(param: Param, raw: Any) -> Any:
    if isinstance(raw, str) and _DECIMAL.fullmatch(raw):
        return _bounded(param, Decimal(raw))
    raise Defer


def _fraction(param: Param, raw: Any) -> Any:
    try:
        value = fraction(raw)
    except ValueError:
        raise Defer from None
    if isinstance(value, Decimal):   # a percent, converted
        if not value.is_finite():
            raise Defer
        return _bounded(param, value)
    return _decimal(param, value)


def _int(param: Param, raw: Any) -> Any:
    if isinstance(raw, str) and _INT.fullmatch(raw):
        return _bounded(param, int(raw))
    raise Defer


def _bool(param: Param, raw: Any) -> Any:
    value = _BOOLS.get(raw) if isinstance(raw, str) else None
    if value is None:
        raise Defer
    return value


def _choice(param: Param, raw: Any) -> Any:
    if isinstance(raw, str) and raw in param.choices:
        return raw
    raise Defer


def _datetime(param: Param, raw: Any) -> Any:
    if isinstance(raw, str) and _TIMESTAMP.fullmatch(raw):
        try:
            return utc(datetime.fromisoformat(raw))
        except ValueError:
            pass
    raise Defer


def _dexes(param: Param, raw: Any) -> Any:
    names = csv(raw)
    if isinstance(names, list) and 1 <= len(names) <= MAX_DEXES and all(_DEX.match(n) for n in names):
        return names
    raise Defer


CHECKS: dict[str, Callable[[Param, Any], Any]] = {
    DEX: _named(_DEX, lower), SYMBOL: _named(_SYMBOL, upper), DEXES: _dexes, DECIMAL: _decimal,
    FRACTION: _fraction, INT: _int, BOOL: _bool, CHOICE: _choice, DATETIME: _datetime,
}


def _validate(model: type[T], data: dict[str, Any]) -> T:
    """data (wire name -> raw value) -> the model; the derived pydantic model decides what this cannot."""
    fields, wire = model.FIELDS, model._wire
    values: dict[str, Any] = {}
    try:
        for name, raw in data.items():
            field_name = wire.get(name)
            if field_name is None or field_name in values:   # unknown, or a field given under two names
                raise Defer
            param = fields[field_name]
            values[field_name] = CHECKS[param.kind](param, raw)
        if len(values) < len(fields):
            for name, param in fields.items():
                if name not in values:
                    if param.default is REQUIRED:
                        raise Defer
                    values[name] = param.default
    except Defer:
        return _authority(model, data)
    return model.build(values)


def _authority(model: type[T], data: dict[str, Any]) -> T:
    """The derived pydantic model validates `data`: its error (400 naming the parameter), or its values."""
    from pydantic import ValidationError

    from chalicelib.api.errors import from_validation
    from chalicelib.api.param_models import pydantic_model

    try:
        validated = pydantic_model(cast(Any, model)).model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None
    return model.build({name: getattr(validated, name) for name in model.FIELDS})


# ---- parsing ------------------------------------------------------------------------------------------------------
Q = TypeVar("Q")


def parse_query(model: type[Q], params: Any) -> Q:
    """Chalice query_params (MultiDict or None) -> model; 400 naming the parameter on failure.

    `model` is a Query class here, or a pydantic model (a few routes declare theirs in pydantic)."""
    fields: Any = getattr(model, "FIELDS", None)
    if fields is None:
        fields = {n: f for n, f in model.model_fields.items() if "list" in str(f.annotation)}  # type: ignore[attr-defined]
        is_list: Callable[[str], bool] = fields.__contains__
    else:
        def is_list(name: str) -> bool:
            return name in fields and fields[name].kind == DEXES
    data: dict[str, Any] = {}
    for name in (params or {}):
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if len(values) > 1:
            if not is_list(name):
                raise bad_parameter(name, f"query parameter {name!r} given more than once")
            data[name] = values
        else:
            data[name] = values[0]
    if isinstance(model, type) and issubclass(model, Params):
        return _validate(model, data)
    return _pydantic(model, data)


def parse_path(model: type[Q], **values: str) -> Q:
    if isinstance(model, type) and issubclass(model, Params):
        return _validate(model, values)
    return _pydantic(model, values)


def _pydantic(model: Any, data: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from chalicelib.api.errors import from_validation

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def parse_body(raw: bytes | str | None, model: type[BaseModel]) -> Any:
    """400 for a body that is not JSON, 422 for well-formed JSON failing the model (pydantic: bodies are rare)."""
    import json

    from pydantic import ValidationError

    from chalicelib.api.errors import from_validation

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


def __getattr__(name: str) -> Any:
    """The admin body models live with the other pydantic models (api/param_models.py); kept reachable here."""
    if name in ("FeeStructureBody", "FeeTierBody"):
        from chalicelib.api import param_models

        return getattr(param_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
