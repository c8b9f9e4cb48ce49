"""The venue contract: a spec that declares quirks as data, request builders, and pure parsers.

A venue module exposes:

    SPEC: VenueSpec
    def requests(spec: VenueSpec) -> list[Request]                        # first stage
    def follow_up(spec, payloads: dict[str, Any]) -> list[Request]        # optional: next stage
                                                                          # (e.g. GRVT ticker per instrument); [] = done
    def parse(spec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult   # pure; raises ParseError
    def history_requests(spec, dex_symbol, start_ms, end_ms, cursor) -> Request | None   # optional (backfill)
    def parse_history(spec, payload, *, dex_symbol) -> tuple[list[HistoryPoint], cursor|None]  # optional

`payloads` maps Request.key -> decoded JSON body. Transport (chalicelib/transport) performs
the requests; venues never do I/O, read the clock or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from chalicelib.core.models import FeeSchedule


class ParseError(ValueError):
    """The payload's SHAPE is wrong (not a bad record): the whole venue is degraded with this reason."""


@dataclass(frozen=True, slots=True)
class Request:
    key: str                                   # name of the payload in `payloads`
    method: Literal["GET", "POST"]
    path: str                                  # appended verbatim to the base URL
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None                           # POST body


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
    max_concurrency: int = 8                   # parallel requests within one collection (follow-up stage)
    docs_url: str = ""
    notes: str = ""                            # unit/period assumptions with their source


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One settled (or downsampled) historical rate, normalized like a snapshot."""

    time_ms: int
    funding_rate: Decimal                      # fraction per funding_interval_hours
    funding_interval_hours: Decimal
    mark_price: Decimal | None = None
