"""Backtest a funding-arbitrage pair on what the venues actually paid. Pure: inputs in, result out.

A position is `notional` USD long on `long_dex` and `notional` USD short on `short_dex` (delta-neutral).
At each settlement of a leg while the position is open, the leg is paid `rate x notional` per
settlement (positive rate: longs pay shorts): the long leg receives `-rate x notional`, the short leg
`+rate x notional`. A settlement at the instant of entry is not earned; one at the instant of exit is.
Each venue settles on its own schedule and interval (1 h, 4 h, 8 h); Paradex, which accrues
continuously, is given as hourly settlements (funding_index deltas).

Fees: entering and exiting both cost `fee(long) + fee(short)` of the notional (so a round trip costs
`2 x (fee(long) + fee(short))`, as the opportunity engine's `estimated_fees`).

Modes: `hold` (enter at start, exit at end) or `rule` (enter when the normalized divergence - the
latest settled rate_8h of the short leg minus the long leg's - reaches `enter_divergence_8h`, exit when
it falls below `exit_divergence_8h`; evaluated at every settlement instant of either leg).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

HOUR_MS = 3_600_000
EIGHT = Decimal(8)


@dataclass(frozen=True, slots=True)
class Settlement:
    time_ms: int
    rate: Decimal              # fraction paid for `interval_hours` (positive: longs pay)
    interval_hours: Decimal


@dataclass(frozen=True, slots=True)
class EquityPoint:
    time_ms: int
    equity_usd: Decimal        # cumulative net PnL (funding - fees so far), USD
    event: str                 # "enter" | "settle" | "exit"


@dataclass(frozen=True, slots=True)
class LegResult:
    dex: str
    side: str                  # "long" | "short"
    settlements: int           # settlements earned or paid while open
    funding_usd: Decimal       # received (+) or paid (-), USD
    expected_settlements: int  # settlements the window should hold at this leg's interval
    coverage: Decimal          # settlements present in the window / expected (0..1)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    notional_usd: Decimal
    hours_in_position: Decimal
    funding_usd: Decimal       # both legs, USD
    fees_usd: Decimal
    net_pnl_usd: Decimal
    net_return: Decimal        # net_pnl / notional (fraction)
    apy_percent: Decimal | None   # net_return annualized over the hours in position, percent (simple)
    max_drawdown_usd: Decimal
    round_trips: int
    legs: tuple[LegResult, LegResult]
    equity: tuple[EquityPoint, ...] = field(default=())


def _expected(start_ms: int, end_ms: int, rows: Sequence[Settlement]) -> int:
    """Settlements the window should hold: its length over the leg's (most common) interval."""
    if not rows:
        return 0
    intervals = [r.interval_hours for r in rows]
    interval = max(set(intervals), key=intervals.count)
    return int(Decimal(end_ms - start_ms) / (interval * HOUR_MS))


def backtest(*, long_dex: str, short_dex: str, long_rows: Sequence[Settlement], short_rows: Sequence[Settlement],
             start_ms: int, end_ms: int, notional: Decimal, fee_long: Decimal, fee_short: Decimal,
             mode: str = "hold", enter_divergence_8h: Decimal | None = None,
             exit_divergence_8h: Decimal | None = None) -> BacktestResult:
    if end_ms <= start_ms:
        raise ValueError("end must be after start")
    if mode == "rule" and (enter_divergence_8h is None or exit_divergence_8h is None):
        raise ValueError("rule mode needs enter_divergence_8h and exit_divergence_8h")
    longs = sorted((r for r in long_rows if start_ms < r.time_ms <= end_ms), key=lambda r: r.time_ms)
    shorts = sorted((r for r in short_rows if start_ms < r.time_ms <= end_ms), key=lambda r: r.time_ms)
    events = sorted([(r.time_ms, 0, r) for r in longs] + [(r.time_ms, 1, r) for r in shorts], key=lambda e: (e[0], e[1]))
    fee_leg = (fee_long + fee_short) * notional           # one entry or one exit, both legs
    equity, peak, drawdown = Decimal(0), Decimal(0), Decimal(0)
    curve: list[EquityPoint] = []
    funding = {"long": Decimal(0), "short": Decimal(0)}
    count = {"long": 0, "short": 0}
    fees, trips, held_ms = Decimal(0), 0, 0
    last_8h: dict[int, Decimal] = {}
    open_at: int | None = None

    def mark(t: int, what: str) -> None:
        nonlocal peak, drawdown
        curve.append(EquityPoint(t, equity, what))
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)

    def enter(t: int) -> None:
        nonlocal equity, fees, open_at
        equity -= fee_leg
        fees += fee_leg
        open_at = t
        mark(t, "enter")

    def leave(t: int) -> None:
        nonlocal equity, fees, open_at, trips, held_ms
        equity -= fee_leg
        fees += fee_leg
        trips += 1
        held_ms += t - (open_at or t)
        open_at = None
        mark(t, "exit")

    if mode == "hold":
        enter(start_ms)
    for t, leg, row in events:
        side = "long" if leg == 0 else "short"
        if open_at is not None and t > open_at:
            paid = row.rate * notional * (-1 if side == "long" else 1)
            funding[side] += paid
            count[side] += 1
            equity += paid
            mark(t, "settle")
        last_8h[leg] = row.rate / row.interval_hours * EIGHT
        if mode == "rule" and len(last_8h) == 2:
            divergence = last_8h[1] - last_8h[0]
            if open_at is None and divergence >= enter_divergence_8h:  # type: ignore[operator]
                enter(t)
            elif open_at is not None and divergence < exit_divergence_8h:  # type: ignore[operator]
                leave(t)
    if open_at is not None:
        leave(end_ms)
    total = funding["long"] + funding["short"]
    net = total - fees
    hours = Decimal(held_ms) / HOUR_MS
    ret = net / notional
    legs = (LegResult(long_dex, "long", count["long"], funding["long"], _expected(start_ms, end_ms, long_rows),
                      _coverage(len(longs), _expected(start_ms, end_ms, long_rows))),
            LegResult(short_dex, "short", count["short"], funding["short"], _expected(start_ms, end_ms, short_rows),
                      _coverage(len(shorts), _expected(start_ms, end_ms, short_rows))))
    return BacktestResult(notional, hours, total, fees, net, ret,
                          ret * Decimal(8760) / hours * 100 if hours > 0 else None, drawdown, trips, legs, tuple(curve))


def _coverage(present: int, expected: int) -> Decimal:
    return min(Decimal(1), Decimal(present) / expected) if expected else Decimal(0)


@dataclass(frozen=True, slots=True)
class Realized:
    """What holding a pair over a trailing window actually paid, from settled funding."""

    window_hours: int
    funding_return: Decimal          # sum of the short leg's settled rates - the long leg's (fraction of notional)
    net_return: Decimal              # funding_return - round-trip fees (fraction of notional)
    apy_percent: Decimal             # net_return annualized over the window (percent, simple)
    settlements: tuple[int, int]     # (long leg, short leg) settlements in the window


def realized(*, long_sum: Decimal, short_sum: Decimal, settlements: tuple[int, int], fee_long: Decimal,
             fee_short: Decimal, window_hours: int) -> Realized:
    """Realized return of long/short over the window: what the short leg received minus what the long leg paid
    (each at its own venue's settlements), minus a round trip of fees (2 x (fee_long + fee_short))."""
    funding = short_sum - long_sum
    net = funding - 2 * (fee_long + fee_short)
    return Realized(window_hours, funding, net, net * Decimal(8760) / window_hours * 100, settlements)
