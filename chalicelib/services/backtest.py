"""Backtest service (`GET /api/v1/backtest`, `frs backtest`): load both legs, fees, run core.backtest.

Each leg uses the venue's stored settlements; a venue with none in the window falls back to the
collected rate history as hourly accruals, and the answer says so per leg (`source`).

    frs backtest --symbol BTC --long lighter --short grvt [--days 30 | --start ISO --end ISO]
                 [--fee-type maker|taker] [--notional 10000] [--enter 0.0005 --exit 0.0002] [--json]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core.backtest import BacktestResult, Settlement, backtest
from chalicelib.core.fees import fee_for
from chalicelib.settings import Settings, SettingsError

MAX_DAYS = 366


class BacktestInputError(ValueError):
    """A request the backtest cannot run: `parameter` names what to fix; `status` 400 or 404."""

    def __init__(self, parameter: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.parameter, self.status = parameter, status


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def run_backtest(storage: Any, *, symbol: str, long_dex: str, short_dex: str, start: datetime, end: datetime,
                 fee_type: str = "maker", notional: Decimal = Decimal(10_000),
                 enter_divergence_8h: Decimal | None = None, exit_divergence_8h: Decimal | None = None) -> dict[str, Any]:
    if long_dex == short_dex:
        raise BacktestInputError("short_dex", "long_dex and short_dex must be different venues")
    if end <= start:
        raise BacktestInputError("end_time", "end_time must be after start_time")
    if end - start > timedelta(days=MAX_DAYS):
        raise BacktestInputError("start_time", f"the window may span at most {MAX_DAYS} days")
    if notional <= 0:
        raise BacktestInputError("notional", "notional must be a positive USD amount")
    if (enter_divergence_8h is None) != (exit_divergence_8h is None):
        raise BacktestInputError("exit_divergence_8h" if exit_divergence_8h is None else "enter_divergence_8h",
                                 "rule mode needs both enter_divergence_8h and exit_divergence_8h")
    fees = storage.fee_schedules()
    for parameter, dex in (("long_dex", long_dex), ("short_dex", short_dex)):
        if dex not in fees:
            raise BacktestInputError(parameter, f"unknown venue {dex!r}", 404)
    legs = {}
    for parameter, dex in (("long_dex", long_dex), ("short_dex", short_dex)):
        rows, source = storage.leg_history(dex, symbol, start=start, end=end)
        if not rows:
            raise BacktestInputError(parameter, f"no settlements and no collected rates for {symbol} on {dex} "
                                                f"between {start.isoformat()} and {end.isoformat()}", 404)
        legs[dex] = ([Settlement(int(r["time_ms"]), Decimal(r["funding_rate"]), Decimal(r["funding_interval_hours"]))
                      for r in rows], source)
    fee = {dex: fee_for(fees[dex], fee_type) for dex in (long_dex, short_dex)}
    mode = "hold" if enter_divergence_8h is None else "rule"
    result = backtest(long_dex=long_dex, short_dex=short_dex, long_rows=legs[long_dex][0], short_rows=legs[short_dex][0],
                      start_ms=_ms(start), end_ms=_ms(end), notional=notional, fee_long=fee[long_dex],
                      fee_short=fee[short_dex], mode=mode, enter_divergence_8h=enter_divergence_8h,
                      exit_divergence_8h=exit_divergence_8h)
    return to_dict(result, symbol=symbol, start=start, end=end, fee_type=fee_type, mode=mode,
                   sources={dex: src for dex, (_rows, src) in legs.items()}, fees=fee,
                   thresholds=(enter_divergence_8h, exit_divergence_8h))


def to_dict(r: BacktestResult, *, symbol: str, start: datetime, end: datetime, fee_type: str, mode: str,
            sources: dict[str, str], fees: dict[str, Decimal], thresholds: tuple[Decimal | None, Decimal | None]) -> dict[str, Any]:
    """The public shape; every number names its unit."""
    from chalicelib.core.serialize import iso_ms

    return {
        "symbol": symbol, "mode": mode, "start_time": start, "end_time": end, "fee_type": fee_type,
        "enter_divergence_8h": thresholds[0], "exit_divergence_8h": thresholds[1],
        "notional_usd": r.notional_usd, "hours_in_position": r.hours_in_position,
        "funding_usd": r.funding_usd, "fees_usd": r.fees_usd, "net_pnl_usd": r.net_pnl_usd,
        "net_return": r.net_return, "apy_percent": r.apy_percent, "max_drawdown_usd": r.max_drawdown_usd,
        "round_trips": r.round_trips,
        "legs": [{"dex_name": leg.dex, "side": leg.side, "source": sources[leg.dex], "fee_rate": fees[leg.dex],
                  "settlements": leg.settlements, "funding_usd": leg.funding_usd,
                  "expected_settlements": leg.expected_settlements, "coverage": leg.coverage} for leg in r.legs],
        "equity_curve": [{"time": iso_ms(p.time_ms), "equity_usd": p.equity_usd, "event": p.event} for p in r.equity],
        "units": {"funding_usd": "USD received (+) / paid (-), both legs", "net_return": "fraction of notional",
                  "apy_percent": "percent per year, simple, over hours_in_position",
                  "enter_divergence_8h": "fraction per 8 h", "fee_rate": "fraction of notional per trade",
                  "coverage": "settlements present / expected (0..1)"},
    }


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", required=True, help="asset, e.g. BTC")
    parser.add_argument("--long", dest="long_dex", required=True, help="venue of the long leg")
    parser.add_argument("--short", dest="short_dex", required=True, help="venue of the short leg")
    parser.add_argument("--days", type=float, default=30, help="window ending now (default 30)")
    parser.add_argument("--start", help="ISO 8601 start (instead of --days)")
    parser.add_argument("--end", help="ISO 8601 end (default now)")
    parser.add_argument("--fee-type", choices=("maker", "taker"), default="maker")
    parser.add_argument("--notional", type=Decimal, default=Decimal(10_000), help="USD per leg (default 10000)")
    parser.add_argument("--enter", type=Decimal, help="rule mode: enter at this divergence (fraction per 8 h)")
    parser.add_argument("--exit", type=Decimal, help="rule mode: exit below this divergence (fraction per 8 h)")
    parser.add_argument("--json", action="store_true")


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SettingsError(f"{name} {text!r}: expected an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set: backtests read settlements from PostgreSQL")
    from chalicelib import wiring
    from chalicelib.core.serialize import dumps

    end = _when(args.end, "--end") or datetime.now(UTC)
    start = _when(args.start, "--start") or end - timedelta(days=args.days)
    try:
        out = run_backtest(wiring.storage(), symbol=args.symbol.upper(), long_dex=args.long_dex, short_dex=args.short_dex,
                           start=start, end=end, fee_type=args.fee_type, notional=args.notional,
                           enter_divergence_8h=args.enter, exit_divergence_8h=args.exit)
    except BacktestInputError as exc:
        print(f"frs backtest: {exc.parameter}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(dumps(out))
        return 0
    print(f"{out['symbol']} long {args.long_dex} / short {args.short_dex}, {out['mode']}, {out['fee_type']} fees, "
          f"notional {out['notional_usd']} USD, {start.isoformat()} .. {end.isoformat()}")
    for leg in out["legs"]:
        print(f"  {leg['side']:<5} {leg['dex_name']:<12} {leg['settlements']:>5} settlements  funding {leg['funding_usd']:>12.4f} USD"
              f"  coverage {leg['coverage']:.0%}  ({leg['source']})")
    apy = "-" if out["apy_percent"] is None else f"{out['apy_percent']:.2f} %"
    print(f"  funding {out['funding_usd']:.4f} USD - fees {out['fees_usd']:.4f} USD = net {out['net_pnl_usd']:.4f} USD"
          f" ({out['net_return']:.6f} of notional, APY {apy}); max drawdown {out['max_drawdown_usd']:.4f} USD;"
          f" {out['round_trips']} round trip(s)")
    return 0
