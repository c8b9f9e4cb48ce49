"""Snapshot and fee builders for the core tests: every number a test checks is visible at the call."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.core.models import FeeSchedule, FeeTier, MarketSnapshot

D = Decimal
NOW_MS = 1_790_000_000_000


def snap(dex: str, funding_rate: str, interval: str | int = 8, *, symbol: str = "BTC", mark: str = "100",
         oi: str | None = "5000000", volume: str | None = "1000000", bid: str | None = None,
         ask: str | None = None, fetched_at_ms: int = NOW_MS - 1000) -> MarketSnapshot:
    return MarketSnapshot(
        dex=dex, symbol=symbol, dex_symbol=f"{symbol}-{dex}", funding_rate=D(funding_rate),
        funding_interval_hours=D(interval), mark_price=D(mark), fetched_at_ms=fetched_at_ms,
        open_interest_usd=None if oi is None else D(oi), volume_24h_usd=None if volume is None else D(volume),
        best_bid=None if bid is None else D(bid), best_ask=None if ask is None else D(ask))


def flat(maker: str, taker: str) -> FeeSchedule:
    return FeeSchedule(maker=D(maker), taker=D(taker))


TIERED = FeeSchedule(   # base fee deliberately differs from every tier, so a test sees which one applied
    maker=D("0.00025"), taker=D("0.0006"),
    tiers=(FeeTier(D(0), D(1_000_000), D("0.0002"), D("0.0005")),
           FeeTier(D(1_000_000), D(10_000_000), D("0.00015"), D("0.0004")),
           FeeTier(D(10_000_000), None, D("0.0001"), D("0.0003"))),
)
