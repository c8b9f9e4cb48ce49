"""Funding-rate statistics (SPEC `FundingRateStats`) shaped from the storage layer's SQL aggregates.

The SQL aggregates `rate_8h` over the period (avg, percentile_cont medians/quartiles, stddev_samp,
min, max, share of positive samples, count); this module derives volatility and APY and names the
fields as SPEC does. `describe()` is a pure reference implementation of the same aggregates, used by
tests to cross-check the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.core import units

AGG_KEYS = ("avg", "median", "stddev", "min", "max", "p25", "p75", "positive_frequency", "samples")


def _dec(v: Any) -> Decimal | None:
    """Decimal as is; floats (SQL percentile_cont works in double precision) to 12 significant digits."""
    if v is None or isinstance(v, Decimal):
        return v
    return Decimal(format(v, ".12g")) if isinstance(v, float) else Decimal(str(v))


def volatility(std_dev: Decimal | None, mean: Decimal | None) -> Decimal | None:
    """std_dev / |mean| (coefficient of variation); None when either is unknown or the mean is 0."""
    if std_dev is None or mean is None or mean == 0:
        return None
    return std_dev / abs(mean)


def funding_rate_stats(symbol: str, dex: str | None, period_days: int, start: Any, end: Any,
                       agg: Mapping[str, Any]) -> dict[str, Any]:
    """SPEC FundingRateStats as a dict. `agg` has AGG_KEYS (rate_8h aggregates; None when unknown).

    `dex` None means all venues pooled. `start`/`end` pass through (datetime or whatever the caller
    serializes). With no samples every statistic is None; the caller decides between 404 and empty.
    """
    missing = [k for k in AGG_KEYS if k not in agg]
    if missing:
        raise ValueError(f"aggregate row lacks {', '.join(missing)}")
    mean, std = _dec(agg["avg"]), _dec(agg["stddev"])
    freq = agg["positive_frequency"]
    return {
        "symbol": symbol,
        "dex_name": dex,
        "period_days": period_days,
        "period_start": start,
        "period_end": end,
        "basis": "8h",
        "samples": int(agg["samples"] or 0),
        "avg_funding_rate": mean,
        "median_funding_rate": _dec(agg["median"]),
        "std_dev": std,
        "volatility": volatility(std, mean),
        "min_rate": _dec(agg["min"]),
        "max_rate": _dec(agg["max"]),
        "percentile_25": _dec(agg["p25"]),
        "percentile_75": _dec(agg["p75"]),
        "avg_annualized_apy": None if mean is None else units.apr_from_8h(mean),
        "positive_rate_frequency": None if freq is None else float(freq),
    }


def percentile_cont(ordered: Sequence[Decimal], fraction: Decimal) -> Decimal:
    """PostgreSQL percentile_cont on sorted values: linear interpolation at fraction * (n - 1)."""
    if not ordered:
        raise ValueError("percentile of no values")
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    if lower + 1 >= len(ordered):
        return ordered[lower]
    return ordered[lower] + (ordered[lower + 1] - ordered[lower]) * (position - lower)


def describe(rates: Sequence[Decimal]) -> dict[str, Any]:
    """The aggregates of AGG_KEYS computed in Python (sample stddev, None below two samples)."""
    n = len(rates)
    if n == 0:
        return dict.fromkeys(AGG_KEYS) | {"samples": 0}
    ordered = sorted(rates)
    mean = sum(ordered, Decimal(0)) / n
    stddev = None
    if n > 1:
        stddev = (sum(((r - mean) ** 2 for r in ordered), Decimal(0)) / (n - 1)).sqrt()
    return {
        "avg": mean,
        "median": percentile_cont(ordered, Decimal("0.5")),
        "stddev": stddev,
        "min": ordered[0],
        "max": ordered[-1],
        "p25": percentile_cont(ordered, Decimal("0.25")),
        "p75": percentile_cont(ordered, Decimal("0.75")),
        "positive_frequency": Decimal(sum(1 for r in ordered if r > 0)) / n,
        "samples": n,
    }
