"""The venue contract: a spec that declares quirks as data, request builders, and pure parsers.

A venue module exposes:

    SPEC: VenueSpec
    def requests(spec: VenueSpec) -> list[Request]                        # first stage
    def follow_up(spec, payloads: dict[str, Any]) -> list[Request]        # optional: next stage
                                                                          # (e.g. GRVT ticker per instrument); [] = done
    def parse(spec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult   # pure; raises ParseError
    def history_requests(spec, dex_symbol, start_ms, end_ms, cursor) -> Request | None   # optional (backfill)
    def parse_history(spec, payload, *, dex_symbol[, cursor]) -> tuple[list[HistoryPoint], cursor|None]  # optional;
                                          # `cursor` (the one the page was requested with) if the history is stateful

`payloads` maps Request.key -> decoded JSON body. Transport (chalicelib/transport) performs
the requests; venues never do I/O, read the clock or the environment. A request that failed is simply
absent from `payloads`: a missing first-stage payload is a ParseError, a missing follow-up payload
(one GRVT ticker, one EdgeX contract) rejects only that market. follow_up() returns only requests whose
keys are not in `payloads` yet. The collector calls it again after each stage until it returns nothing new
(EdgeX: stage 2 getLatestFundingRate, stage 3 the tickers); a failed request stays absent and is not retried.

History of venues keyed by a numeric id (Lighter market_id, EdgeX contractId) takes dex_symbol as
"NAME#<id>" (e.g. "ETH#0"); see history_id(). Cursors are opaque to callers: pass None first, then
whatever parse_history returned, until it returns None. A parse_history that accepts `cursor` is given the cursor
its page was requested with (Paradex chains funding_index readings from one boundary to the next through it).

Helpers below keep each venue module a SPEC plus a short parse(): to_decimal (raw text -> Decimal),
normalize_symbol (kPEPE / 1000PEPE / 1MBABYDOGE / -USD-PERP ...), validate_record and build_snapshot
(unit conversion, multiplier scaling, Reject with a reason), need/rows/unwrap (shape -> ParseError).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject

HOUR_MS = 3_600_000
T = TypeVar("T")
MAX_ABS_RATE_1H = Decimal("0.05")   # |rate_1h| above 5 % per hour is absurd (HL caps at 4 %/h): reject


class ParseError(ValueError):
    """The payload's SHAPE is wrong (not a bad record): the whole venue is degraded with this reason."""


@dataclass(frozen=True, slots=True)
class Request:
    key: str                                   # name of the payload in `payloads`
    method: Literal["GET", "POST"]
    path: str                                  # appended verbatim to the base URL
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None                           # POST body
    cache_seconds: float = 0                   # > 0: the transport reuses a successful answer this long (per
                                               # process, so a warm Lambda too); for payloads that change rarely
    reuse_unchanged: bool = False              # fetched every time, but decoded again only when its bytes differ
                                               # from the last answer (large static metadata: EdgeX, GRVT)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The venue's published public limit, turned into a per-cycle request budget."""

    requests_per_minute: int
    weight_per_minute: int | None = None       # Hyperliquid counts weight, not requests
    source: str = ""


@dataclass(frozen=True, slots=True)
class VenueSpec:
    id: str                                    # registry id, lowercase
    display_name: str
    base_url_env: str                          # e.g. "HYPERLIQUID_API_URL"
    default_base_url: str
    funding_interval_hours: Decimal            # venue constant, used when the market publishes none
    rate_scale: Decimal                        # divide raw rates by this (GRVT: 100, percentage points)
    quote: str                                 # USDC / USDT / USD
    fees: FeeSchedule                          # base tier
    rate_limit: RateLimit
    multiplier_prefixes: tuple[tuple[str, Decimal], ...] = (("1000000", Decimal(1000000)), ("1M", Decimal(1000000)), ("1000", Decimal(1000)), ("k", Decimal(1000)))
    symbol_suffixes: tuple[str, ...] = ()      # stripped to get the base asset, e.g. "-USD-PERP"
    multiplier_names: tuple[tuple[str, str, Decimal], ...] = ()   # explicit (listed base, asset, multiplier) for names
                                               # no generic prefix can catch: GRVT KPEPE = 1000 PEPE, but KAITO is KAITO
    max_concurrency: int = 8                   # parallel requests within one collection (follow-up stage)
    docs_url: str = ""
    notes: str = ""                            # unit/period assumptions with their source
    rate_period_hours: Decimal | None = None   # period the PUBLISHED rate refers to, when it differs from the
                                               # settlement interval (Lighter /funding-rates: 8 h-equivalent)
    family_prefix: str = ""                    # a FAMILY collector (HIP-3): parse() emits snapshots of several venues
                                               # whose ids are family_prefix + name ("hyperliquid-xyz"), discovered
                                               # from the payload; venue_spec(spec, dex_id) describes each of them


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One settled (or downsampled) historical rate, normalized like a snapshot."""

    time_ms: int
    funding_rate: Decimal                      # fraction per funding_interval_hours
    funding_interval_hours: Decimal
    mark_price: Decimal | None = None


# ---------------------------------------------------------------- numbers


class BadValue(ValueError):
    """A single field is not a number (a record problem, reported as a Reject)."""


def to_decimal(raw: Any) -> Decimal | None:
    """Parse a venue number from its raw JSON text: str -> Decimal(str), float -> Decimal(repr(float)), Decimal as is.

    None / "" -> None (absent). Non-numeric text, bools and containers raise BadValue.
    NaN / Infinity parse (Decimal accepts them) and are rejected by `validate_record`.
    Hot path (every field of every market): exact type checks, the common str case first; Decimal() itself
    ignores surrounding white space, so only a failed parse looks at it.
    """
    kind = type(raw)
    if kind is str:
        try:
            return Decimal(raw)
        except InvalidOperation:
            if not raw.strip():
                return None
            raise BadValue(f"{raw!r} is not a number") from None
    if kind is Decimal:                 # transport decodes JSON fractions as Decimal (parse_float)
        return raw
    if raw is None:
        return None
    if kind is float:
        return Decimal(repr(raw))
    if kind is int:
        return Decimal(raw)
    if isinstance(raw, bool):
        raise BadValue(f"boolean {raw!r} is not a number")
    if isinstance(raw, str):                          # subclasses: the general path
        return to_decimal(str(raw))
    if isinstance(raw, float):
        return Decimal(repr(float(raw)))
    if isinstance(raw, (int, Decimal)):
        return Decimal(raw)
    raise BadValue(f"{type(raw).__name__} {raw!r} is not a number")


def interval_hours(raw: Any, default: Decimal) -> Decimal:
    """A per-market interval (hours; int, float or string). Missing or 0 -> the venue constant."""
    try:
        value = to_decimal(raw)
    except BadValue:
        return default
    return value if value is not None and value.is_finite() and value > 0 else default


_MINUTES: dict[tuple[Any, Decimal], tuple[Decimal, int]] = {}


def minutes_interval(raw: Any, default_hours: Decimal) -> tuple[Decimal, int]:
    """A per-market interval published in MINUTES (EdgeX fundingRateIntervalMin "240") -> (hours, milliseconds);
    missing / 0 / not a number -> the venue constant. Remembered per value: a venue has a handful of them."""
    try:
        return _MINUTES[(raw, default_hours)]
    except KeyError:
        pass
    except TypeError:                                   # an unhashable (malformed) value: computed, not kept
        return _minutes(raw, default_hours)
    if len(_MINUTES) > 1000:
        _MINUTES.clear()
    result = _MINUTES[(raw, default_hours)] = _minutes(raw, default_hours)
    return result


def _minutes(raw: Any, default_hours: Decimal) -> tuple[Decimal, int]:
    minutes = interval_hours(raw, default_hours * 60)
    return minutes / 60, int(minutes * 60_000)


def ns_to_ms(raw: Any) -> int | None:
    """GRVT timestamps: nanoseconds as strings."""
    value = finite_or_none(raw)
    return None if value is None else int(value) // 1_000_000


def ms(raw: Any) -> int | None:
    """Epoch milliseconds from int or string; seconds (< 1e12) are scaled up."""
    if type(raw) is int or (type(raw) is str and raw.isdigit()):   # the usual shapes, without a Decimal
        whole = int(raw)
        return whole * 1000 if whole < 10**12 else whole
    value = finite_or_none(raw)
    if value is None:
        return None
    return int(value) * 1000 if value < 10**12 else int(value)


def next_full_hour_ms(now_ms: int) -> int:
    """Hourly venues (Hyperliquid, Lighter) settle at the top of every hour."""
    return (now_ms // HOUR_MS + 1) * HOUR_MS


# ---------------------------------------------------------------- symbols


_SYMBOLS: dict[tuple[str, str], tuple[tuple[Any, ...], tuple[str, Decimal]]] = {}
_SYMBOLS_MAX = 50_000   # names a venue lists: a few thousand; the cache is dropped whole beyond this


def normalize_symbol(raw: str, spec: VenueSpec) -> tuple[str, Decimal]:
    """Venue name -> (base asset, multiplier): kPEPE -> (PEPE, 1000), 1MBABYDOGE -> (BABYDOGE, 1e6),
    BTC-USD-PERP -> (BTC, 1), 1000PEPEUSDT -> (PEPE, 1000). Prefixes only count before a letter.
    Remembered per (venue, name) while the spec's naming rules are the very same objects (every collection
    parses the same names again; a spec built with other rules, e.g. in a test, recomputes)."""
    hit = _SYMBOLS.get((spec.id, raw))
    if hit is not None:
        rules = hit[0]
        if (rules[0] is spec.symbol_suffixes and rules[1] is spec.multiplier_names
                and rules[2] is spec.multiplier_prefixes):
            return hit[1]
    if len(_SYMBOLS) >= _SYMBOLS_MAX:
        _SYMBOLS.clear()
    result = _normalize(raw, spec)
    _SYMBOLS[(spec.id, raw)] = (spec.symbol_suffixes, spec.multiplier_names, spec.multiplier_prefixes), result
    return result


def _normalize(raw: str, spec: VenueSpec) -> tuple[str, Decimal]:
    name = raw.strip()
    for suffix in spec.symbol_suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    for listed, asset, multiplier in spec.multiplier_names:
        if name == listed:
            return asset, multiplier
    for prefix, multiplier in spec.multiplier_prefixes:
        rest = name[len(prefix):]
        if name.startswith(prefix) and rest[:1].isalpha() and (prefix != "k" or rest[:1].isupper()):
            if prefix == "1M" and not rest[:1].isupper():
                continue
            return rest.upper(), multiplier
    return name.upper(), Decimal(1)


# ---------------------------------------------------------------- shape checks (ParseError)


def need(container: Any, key: str | int, kind: type | tuple[type, ...], spec: VenueSpec, where: str) -> Any:
    """container[key] of the expected JSON type, else ParseError naming the venue and the place."""
    try:
        value = container[key]
    except (KeyError, IndexError, TypeError):
        raise ParseError(f"{spec.id}: {where}: missing {key!r} (got {type(container).__name__})") from None
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ParseError(f"{spec.id}: {where}: {key!r} is {type(value).__name__}, expected {names}")
    return value


def rows(container: Any, key: str | int, spec: VenueSpec, where: str) -> list[dict[str, Any]]:
    """A list of JSON objects at container[key]."""
    items = need(container, key, list, spec, where)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ParseError(f"{spec.id}: {where}: {key}[{i}] is {type(item).__name__}, expected object")
    return items


# ---------------------------------------------------------------- records


def validate_record(spec: VenueSpec, dex_symbol: str, funding_rate: Decimal | None,
                    funding_interval_hours: Decimal, mark_price: Decimal | None) -> Reject | None:
    """Reject non-numeric / NaN / infinite values, |rate_1h| > 5 %, and a missing or non-positive mark."""
    def bad(reason: str) -> Reject:
        return Reject(dex=spec.id, dex_symbol=dex_symbol, reason=reason)

    if funding_rate is None:
        return bad("missing funding rate")
    if not funding_rate.is_finite():
        return bad(f"funding rate is {funding_rate}")
    if not funding_interval_hours.is_finite() or funding_interval_hours <= 0:
        return bad(f"funding interval is {funding_interval_hours} h")
    rate_1h = funding_rate / funding_interval_hours
    if abs(rate_1h) > MAX_ABS_RATE_1H:
        return bad(f"absurd funding rate: {rate_1h} per hour (limit {MAX_ABS_RATE_1H})")
    if mark_price is None:
        return bad("missing mark price")
    if not mark_price.is_finite() or mark_price <= 0:
        return bad(f"mark price is {mark_price}")
    return None


_ZERO, _ONE = Decimal(0), Decimal(1)


class _Invalid(ValueError):
    """A field that is present but not a (finite, where required) number: the record's Reject reason."""


def _required(value: Any, name: str) -> Decimal | None:
    """Funding rate / mark price: a Decimal (NaN / Infinity pass, validate_record words them), None if absent."""
    if type(value) is str:
        try:
            return Decimal(value)
        except InvalidOperation:
            pass                                # "" -> None, or the BadValue wording, below
    try:
        return to_decimal(value)
    except BadValue as exc:
        raise _Invalid(f"non-numeric {name}: {exc}") from None


def _optional(value: Any, name: str) -> Decimal | None:
    """A present optional number (index, OI, volume, bid, ask): finite Decimal, None for "", else _Invalid."""
    try:
        parsed = Decimal(value) if type(value) is str else to_decimal(value)
    except (BadValue, InvalidOperation) as exc:
        try:
            parsed = to_decimal(value)          # "" / "  " -> None; otherwise BadValue with its wording
        except BadValue as bad:
            raise _Invalid(f"non-numeric {name}: {bad}") from None
        if parsed is not None:                  # (cannot happen: Decimal() refused it)
            raise _Invalid(f"non-numeric {name}: {exc}") from None
    if parsed is not None and not parsed.is_finite():
        raise _Invalid(f"{name} is {parsed}")
    return parsed


def _fast_snapshot_class() -> type | None:
    """A plain (unfrozen) class with MarketSnapshot's exact slot layout. build_snapshot fills one with ordinary
    attribute stores and then gives it the class MarketSnapshot: the very same frozen record, built ~6x faster
    than through the frozen __init__ (one object.__setattr__ call per field: a third of the parse time of a
    market - bench/venues_parse.py). None, and the ordinary constructor, if the layouts ever stop matching."""
    names = tuple(f.name for f in fields(MarketSnapshot))
    init = ("def __init__(self, " + ", ".join(names) + "):\n"
            + "".join(f"    self.{n} = {n}\n" for n in names))
    namespace: dict[str, Any] = {}
    exec(init, namespace)   # a generated __init__, as dataclasses generate their own
    cls = type("_SnapshotBuilder", (), {"__slots__": MarketSnapshot.__slots__, "__init__": namespace["__init__"]})
    probe = cls(*range(len(names)))
    try:
        probe.__class__ = MarketSnapshot
    except TypeError:
        return None
    return cls if probe == MarketSnapshot(*range(len(names))) else None


_BUILDER = _fast_snapshot_class()


def build_snapshot(spec: VenueSpec, dex_symbol: str, *, now_ms: int, rate: Any, mark: Any,
                   interval: Decimal | None = None, base: str | None = None, index: Any = None,
                   oi_base: Any = None, volume_usd: Any = None, bid: Any = None, ask: Any = None,
                   next_funding_ms: int | None = None, venue_ts_ms: int | None = None,
                   market_id: Any = None, min_size: Any = None, min_notional: Any = None,
                   size_step: Any = None) -> MarketSnapshot | Reject:
    """Raw venue values (str/float/int) -> a normalized snapshot, or a Reject saying why not.

    rate: as published; divided by spec.rate_scale (percent -> fraction) and, when the venue publishes
    it for another period (spec.rate_period_hours), re-based to one settlement interval.
    Prices are per listed contract unit (e.g. per 1000 PEPE) and are divided by the multiplier;
    oi_base is in listed units: OI in base tokens = oi_base * multiplier, OI USD = oi_base * mark.
    Order minimum (see min_order_size()): min_size and size_step in listed units, min_notional in the quote currency.
    The hot path of every collection (bench/venues_parse.py): no per-field containers, one validation pass.
    """
    symbol, multiplier = normalize_symbol(base or dex_symbol, spec)
    hours = interval if interval is not None else spec.funding_interval_hours
    try:   # numbers arrive as Decimal (transport's parse_float) or text; anything else goes the long way
        funding_rate = rate if type(rate) is Decimal else _required(rate, "funding rate")
        mark_unit = mark if type(mark) is Decimal else _required(mark, "mark price")
        index_price = None if index is None else (
            index if type(index) is Decimal and index.is_finite() else _optional(index, "index price"))
        oi = None if oi_base is None else (
            oi_base if type(oi_base) is Decimal and oi_base.is_finite() else _optional(oi_base, "open interest"))
        volume = None if volume_usd is None else (
            volume_usd if type(volume_usd) is Decimal and volume_usd.is_finite() else _optional(volume_usd, "24h volume"))
        best_bid = None if bid is None else _optional(bid, "best bid")
        best_ask = None if ask is None else _optional(ask, "best ask")
    except _Invalid as exc:
        return Reject(dex=spec.id, dex_symbol=dex_symbol, reason=str(exc))
    if funding_rate is not None and funding_rate.is_finite():
        if spec.rate_scale != _ONE:
            funding_rate = funding_rate / spec.rate_scale
        if spec.rate_period_hours is not None:
            funding_rate = funding_rate * hours / spec.rate_period_hours
    # the usual record passes these cheap checks; any doubt goes to validate_record, which words the reason
    if (funding_rate is None or mark_unit is None or not funding_rate.is_finite() or not hours.is_finite()
            or hours <= _ZERO or not mark_unit.is_finite() or mark_unit <= _ZERO
            or abs(funding_rate) > (MAX_ABS_RATE_1H if hours == _ONE else MAX_ABS_RATE_1H * hours)):
        reject = validate_record(spec, dex_symbol, funding_rate, hours, mark_unit)
        if reject is not None or funding_rate is None or mark_unit is None:   # (the last two: for the type checker)
            return reject or Reject(dex=spec.id, dex_symbol=dex_symbol, reason="missing funding rate or mark price")
    minimum = None if min_size is None and min_notional is None else min_order_size(
        min_size, min_notional, size_step, mark_unit, multiplier)
    oi_usd = None if oi is None else oi * mark_unit
    if multiplier != _ONE:
        mark_unit = mark_unit / multiplier
        index_price = None if index_price is None else index_price / multiplier
        best_bid = None if best_bid is None else best_bid / multiplier
        best_ask = None if best_ask is None else best_ask / multiplier
        oi = None if oi is None else oi * multiplier
    values = (spec.id, symbol, dex_symbol, funding_rate, hours, mark_unit, now_ms, index_price, oi_usd, oi, volume,
              best_bid, best_ask, next_funding_ms, venue_ts_ms, multiplier, spec.quote, None, minimum,
              None if market_id is None else str(market_id))   # MarketSnapshot's fields in order (a test pins it)
    if _BUILDER is None:
        return MarketSnapshot(*values)
    built = _BUILDER(*values)
    built.__class__ = MarketSnapshot
    return built


def min_order_size(min_size: Any, min_notional: Any, size_step: Any, mark: Decimal,
                   multiplier: Decimal = Decimal(1)) -> Decimal | None:
    """The smallest order the venue accepts now, in BASE-ASSET units (MarketSnapshot.min_order_size).

    min_size: the venue's minimum quantity, in listed units (a kPEPE / 1000PEPE unit = `multiplier` tokens);
    min_notional: a minimum order VALUE in the quote currency (USD, USDC, USDT), turned into a quantity at the
    snapshot's mark price (per listed unit) and rounded UP to size_step (the venue's lot, listed units) when one
    is published. Both given: the larger. Neither (or not numbers): None - never 0.
    """
    quantity = finite_or_none(min_size)
    value = None if min_notional is None else finite_or_none(min_notional)
    if value is not None and value > 0:
        from_value = value / mark
        step = finite_or_none(size_step)
        if step is not None and step > 0:
            from_value = (from_value / step).to_integral_value(rounding=ROUND_CEILING) * step
        quantity = from_value if quantity is None or from_value > quantity else quantity
    if quantity is None or quantity <= _ZERO:
        return None
    return quantity * multiplier if multiplier != 1 else quantity


def size_decimals(decimals: Any) -> Decimal | None:
    """A lot published as a number of decimals (Hyperliquid szDecimals 5 -> 0.00001; Lighter size_decimals)."""
    if type(decimals) is not int or not 0 <= decimals <= 18:
        return None
    return _STEPS[decimals]


_STEPS = tuple(Decimal(1).scaleb(-d) for d in range(19))


def lot_filters(market: dict[str, Any]) -> dict[str, Any]:
    """Binance-style `filters` (Aster exchangeInfo) -> build_snapshot's min_size / size_step (LOT_SIZE minQty,
    stepSize: base units) and min_notional (MIN_NOTIONAL notional: quote currency)."""
    out: dict[str, Any] = {}
    for f in market.get("filters") or ():
        if isinstance(f, dict) and f.get("filterType") == "LOT_SIZE":
            out["min_size"], out["size_step"] = f.get("minQty"), f.get("stepSize")
        elif isinstance(f, dict) and f.get("filterType") == "MIN_NOTIONAL":
            out["min_notional"] = f.get("notional")
    return out


def collect(spec: VenueSpec, results: list[MarketSnapshot | Reject], skipped: int) -> ParseResult:
    """Split built records into a ParseResult."""
    return ParseResult(
        snapshots=tuple(r for r in results if isinstance(r, MarketSnapshot)),
        rejects=tuple(r for r in results if isinstance(r, Reject)),
        skipped=skipped,
    )


# ---------------------------------------------------------------- history


def interval_from_gaps(times_ms: list[int], default: Decimal) -> list[Decimal]:
    """Per-row interval implied by timestamp spacing (gap to the previous row, rounded to whole hours;
    the first row uses the next gap). Hyperliquid settled every 8 h in 2023 and hourly later."""
    gaps = [round((b - a) / HOUR_MS) for a, b in itertools.pairwise(times_ms)]
    hours = [Decimal(g) if g > 0 else default for g in gaps]
    if not hours:
        return [default] * len(times_ms)
    return [hours[0], *hours]


def last_per_hour(readings: list[tuple[int, T]]) -> list[tuple[int, T]]:
    """Downsample per-second readings of a period rate (Paradex): the LAST reading in each clock hour,
    keyed by the hour's start. Never summed: the readings are rates, not settlements."""
    latest: dict[int, tuple[int, T]] = {}
    for ts, row in readings:
        bucket = ts // HOUR_MS * HOUR_MS
        if bucket not in latest or ts >= latest[bucket][0]:
            latest[bucket] = (ts, row)
    return [(bucket, latest[bucket][1]) for bucket in sorted(latest)]


def finite_or_none(raw: Any) -> Decimal | None:
    """History rows: a finite Decimal, or None for absent / non-numeric / NaN / infinite (row dropped)."""
    try:
        value = to_decimal(raw)
    except BadValue:
        return None
    return value if value is not None and value.is_finite() else None


def total(*raw: Any) -> Any:
    """Sum of raw numbers (GRVT buy + sell volume); None if any is absent; the offending raw value
    itself if one is not a number, so build_snapshot rejects the record with that reason."""
    values = []
    for value in raw:
        try:
            parsed = to_decimal(value)
        except BadValue:
            return value
        if parsed is None:
            return None
        values.append(parsed)
    return sum(values, Decimal(0))


def unwrap(spec: VenueSpec, body: Any, where: str, kind: type, *, ok: str = "SUCCESS") -> Any:
    """The `data` of a {"code": ok, "data": ...} envelope (EdgeX), else ParseError naming the code."""
    if not isinstance(body, dict) or body.get("code") != ok:
        code = body.get("code") if isinstance(body, dict) else f"<{type(body).__name__}>"
        msg = body.get("msg") if isinstance(body, dict) else None
        raise ParseError(f"{spec.id}: {where}: code is {code!r}, expected {ok!r} (msg {msg!r})")
    return need(body, "data", kind, spec, where)


def envelope_rows(spec: VenueSpec, body: Any, where: str) -> list[dict[str, Any]]:
    """The list of JSON objects in the `data` of a {"code": "SUCCESS", "data": [...]} envelope (EdgeX); a missing
    body (the request failed) or another code is a ParseError naming it."""
    if body is None:
        raise ParseError(f"{spec.id}: {where} was not fetched")
    return rows({"data": unwrap(spec, body, where, list)}, "data", spec, where)


def history_id(spec: VenueSpec, dex_symbol: str, what: str) -> str:
    """Venues whose history is keyed by a numeric id (Lighter market_id, EdgeX contractId) take
    dex_symbol as "NAME#<id>" (e.g. "ETH#0", "BTCUSDT#10000001") or the bare id."""
    tail = dex_symbol.rsplit("#", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"{spec.id} history needs the {what}: pass dex_symbol as 'NAME#<{what}>', got {dex_symbol!r}")
    return tail
