"""Queries behind /history/settlements/{dex}/{symbol} and /dexes/{dex}/calibration (settled funding).

Every rate states its basis: `funding_rate` is the fraction ONE settlement paid for its
`funding_interval_hours`; `rate_1h` / `rate_8h` are the same normalized per hour / per 8 hours.
Calibration figures: `factor` = settled / published (1 = units agree), accuracy in rate_1h (fraction
per hour) and in APR percentage points.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib import wiring
from chalicelib.api import data
from chalicelib.api.history import fresh, pagination

EIGHT = Decimal(8)


def settlement_history(dex: str, symbol: str, q: Any) -> dict[str, Any]:
    data.require_dex(dex)
    data.require_symbol(symbol)
    start, end = q.window(datetime.now(UTC))
    rows, total = wiring.storage().settlement_history(dex=dex, symbol=symbol, start=start, end=end,
                                                      page=q.page, page_size=q.page_size)
    points = [{"time": r["time"], "funding_rate": r["funding_rate"], "funding_interval_hours": r["funding_interval_hours"],
               "rate_1h": r["rate_1h"], "rate_8h": r["rate_1h"] * EIGHT, "mark_price": r["mark_price"],
               "source_endpoint": r["source"]} for r in rows]
    newest = rows[-1]["time"] if rows else None
    return {**fresh(newest), "dex_name": dex, "symbol": symbol, "basis": "per_interval",
            "settlements": points, "period_start": start, "period_end": end,
            "pagination": pagination(q.page, q.page_size, total)}


def calibrations() -> dict[str, dict[str, Any]]:
    """{dex: stored calibration row (report decoded)}; {} when none has run yet."""
    out = {}
    for r in wiring.storage().calibrations():
        report = r.get("report")
        out[r["dex"]] = r | {"report": json.loads(report) if isinstance(report, str) else report}
    return out


def summary(row: dict[str, Any] | None) -> dict[str, Any]:
    """The calibration summary shown in /dexes and /health (no per-market detail)."""
    if row is None:
        return {"status": "unverified", "factor": None, "samples": 0, "suspected": "no settlement run yet",
                "updated_at": None}
    verdict = (row.get("report") or {}).get("verdict") or {}
    return {"status": row["status"], "factor": row.get("factor"), "sign_agreement": row.get("sign_agreement"),
            "samples": row.get("samples"), "window_hours": row.get("window_hours"),
            "suspected": verdict.get("suspected"), "updated_at": row.get("updated_at")}


def calibration(dex: str) -> dict[str, Any]:
    data.require_dex(dex)
    row = calibrations().get(dex)
    report = (row or {}).get("report") or {}
    verdict = {k: v for k, v in summary(row).items() if k != "updated_at"}   # freshness comes from fresh()
    return {**fresh(row.get("updated_at") if row else None), "dex_name": dex, **verdict,
            "accuracy": report.get("accuracy", {}), "markets": report.get("markets", {}),
            "units": {"factor": "settled / published (1 = units agree)", "bias_1h": "fraction per hour",
                      "mae_1h": "fraction per hour", "bias_apr_points": "APR percentage points",
                      "mae_apr_points": "APR percentage points", "sign_hit_rate": "fraction 0..1"}}


def backtest(q: Any) -> dict[str, Any]:
    """GET /backtest: 400/404 naming the parameter for a bad window, an unknown venue or no data."""
    from chalicelib.api.errors import ApiError
    from chalicelib.services.backtest import BacktestInputError, run_backtest

    data.require_dex(q.long_dex, "long_dex")
    data.require_dex(q.short_dex, "short_dex")
    data.require_symbol(q.symbol)
    try:
        return run_backtest(wiring.storage(), symbol=q.symbol, long_dex=q.long_dex, short_dex=q.short_dex,
                            start=q.start_time, end=q.end_time or datetime.now(UTC), fee_type=q.fee_type,
                            notional=q.notional, enter_divergence_8h=q.enter_divergence_8h,
                            exit_divergence_8h=q.exit_divergence_8h)
    except BacktestInputError as exc:
        raise ApiError(exc.status, str(exc), exc.parameter, "invalid_parameter" if exc.status == 400 else "no_data") \
            from None
