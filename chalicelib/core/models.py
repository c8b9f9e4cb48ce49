"""Domain records shared by every layer: frozen dataclasses, Decimal money and rates, no I/O.

Rate semantics (DESIGN.md §3): `funding_rate` is what ONE settlement of that market pays,
as a fraction (after unit conversion), for `funding_interval_hours` hours. Everything that
compares venues uses the derived `rate_1h` / `rate_8h`. Positive: longs pay shorts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.core import units


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One venue market at one moment, normalized (what a collector produces and storage keeps)."""

    dex: str                      # registry id, e.g. "hyperliquid"
    symbol: str                   # normalized base asset, e.g. "BTC", "PEPE" (for kPEPE)
    dex_symbol: str               # the venue's own name, e.g. "kPEPE", "BTC-USD-PERP"
    funding_rate: Decimal         # fraction per funding interval of this market
    funding_interval_hours: Decimal
    mark_price: Decimal           # USD(-stable) per ONE base unit (already divided by multiplier)
    fetched_at_ms: int            # when we received the payload (epoch ms, UTC)
    index_price: Decimal | None = None
    open_interest_usd: Decimal | None = None
    open_interest_base: Decimal | None = None   # in base-asset units (multiplier applied)
    volume_24h_usd: Decimal | None = None
    best_bid: Decimal | None = None              # per one base unit
    best_ask: Decimal | None = None
    next_funding_time_ms: int | None = None
    venue_ts_ms: int | None = None               # venue's own timestamp where it gives one
    multiplier: Decimal = Decimal(1)             # 1000 for kPEPE / 1000PEPE listings
    quote: str = "USD"                           # USDC / USDT / USD as the venue quotes
    collection_latency_ms: int | None = None
    min_order_size: Decimal | None = None        # smallest order in base-asset units, where the venue publishes it
    market_id: str | None = None                 # the venue's id where its history API is keyed by one (Lighter, EdgeX)

    @property
    def rate_1h(self) -> Decimal:
        return units.rate_1h(self.funding_rate, self.funding_interval_hours)

    @property
    def rate_8h(self) -> Decimal:
        return units.rate_8h(self.funding_rate, self.funding_interval_hours)

    @property
    def annualized_rate(self) -> Decimal:
        """Percent per year at the current rate (simple, not compounded)."""
        return units.apr_from_1h(self.rate_1h)

    def rate_in(self, basis: str) -> Decimal:
        return units.in_basis(self.funding_rate, self.funding_interval_hours, basis)

    @property
    def spread_bps(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None or self.best_bid <= 0 or self.best_ask <= 0:
            return None
        mid = (self.best_bid + self.best_ask) / 2
        return (self.best_ask - self.best_bid) / mid * Decimal(10000)


@dataclass(frozen=True, slots=True)
class Reject:
    """A venue record that failed validation: counted and reported, never stored or zero-filled."""

    dex: str
    dex_symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    snapshots: tuple[MarketSnapshot, ...]
    rejects: tuple[Reject, ...] = ()
    skipped: int = 0   # rows dropped on purpose (delisted, inactive, non-perp, other exchanges)


@dataclass(frozen=True, slots=True)
class FeeTier:
    min_volume_30d: Decimal
    max_volume_30d: Decimal | None   # None = unbounded
    maker_fee: Decimal
    taker_fee: Decimal


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fees of one venue as fractions of notional (0.00045 = 0.045 %). Negative maker = rebate."""

    maker: Decimal
    taker: Decimal
    tiers: tuple[FeeTier, ...] = ()

    @property
    def has_fee_tiers(self) -> bool:
        return bool(self.tiers)


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One long/short venue pair for one symbol. All rates are normalized fractions."""

    id: str                        # stable: derived from (symbol, long_dex, short_dex)
    symbol: str
    long_dex: str
    short_dex: str
    long_rate: Decimal             # rate_8h of the long venue
    short_rate: Decimal            # rate_8h of the short venue
    divergence: Decimal            # short_rate - long_rate (per 8 h)
    divergence_1h: Decimal
    estimated_fees: Decimal        # 2 * (fee(long) + fee(short)), fraction of notional
    net_profit_percent: Decimal    # divergence_1h * hold_hours - estimated_fees (fraction, SPEC's naming)
    annualized_apy: Decimal        # percent
    gross_apr: Decimal             # percent, divergence_1h * 8760 * 100
    breakeven_hours: Decimal | None
    hold_hours: Decimal
    fee_type: str                  # "maker" | "taker"
    discovered_at_ms: int
    valid_until_ms: int
    long_volume_24h: Decimal | None = None
    short_volume_24h: Decimal | None = None
    min_volume_24h: Decimal | None = None
    long_oi_usd: Decimal | None = None
    short_oi_usd: Decimal | None = None
    min_oi_usd: Decimal | None = None
    max_oi_usd: Decimal | None = None
    oi_ratio: Decimal | None = None
    oi_imbalance: str | None = None           # long_heavy | short_heavy | balanced
    long_spread_bps: Decimal | None = None
    short_spread_bps: Decimal | None = None
    avg_spread_bps: Decimal | None = None
    mark_spread_bps: Decimal | None = None
    long_mark_price: Decimal | None = None
    short_mark_price: Decimal | None = None
    long_interval_hours: Decimal | None = None
    short_interval_hours: Decimal | None = None
    # persistence (core/persistence.py): from the lifecycle and the stored hourly history; None = not known.
    # Statistics, so floats (never money): divergences per 8 h (fraction), cv and sign_held unitless.
    opened_at_ms: int | None = None              # when this spell opened (lifecycle, epoch ms)
    alive_hours: float | None = None             # hours since opened_at_ms
    avg_divergence_24h: float | None = None      # mean hourly divergence over the 24 completed hours (per 8 h)
    avg_divergence_7d: float | None = None       # the same over 168 completed hours
    cv_24h: float | None = None                  # std / |mean| of those hourly divergences (unitless)
    cv_7d: float | None = None
    sign_held_24h: float | None = None           # fraction of the window's hours with divergence > 0 (0..1)
    sign_held_7d: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def opportunity_id(symbol: str, long_dex: str, short_dex: str) -> str:
    """Stable key clients follow across cycles: readable, no hashing needed."""
    return f"{symbol}:{long_dex}:{short_dex}"
