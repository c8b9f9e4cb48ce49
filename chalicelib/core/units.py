"""The one definition of every derived rate and of staleness (DESIGN.md §3, §7 units policy).

A market's `funding_rate` is what ONE settlement pays, as a fraction, for `funding_interval_hours`.
Everything else derives from it here, and nowhere else:

    rate_1h         = funding_rate / funding_interval_hours          fraction per hour
    rate_8h         = rate_1h * 8                                    fraction per 8 hours
    annualized (APR) = rate_1h * 8760 * 100                           percent per year, simple

SQL mirrors `rate_1h` / `rate_8h` in the generated columns of sql/0001 and sql/0002; a test
(tests/integration/test_units.py) pins those columns to these functions. `BASES` names every
basis a rate field may be expressed in; a response carries the basis by its field name (`rate_1h`,
`rate_8h`) or by a `basis` field beside the value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

Basis = Literal["native", "1h", "8h", "apr"]
BASES: tuple[str, ...] = ("native", "1h", "8h", "apr")
DEFAULT_BASIS = "8h"   # what SPEC.md's examples compare; comparable across 1 h and 8 h venues

HOURS_PER_YEAR = Decimal(8760)
EIGHT = Decimal(8)
HUNDRED = Decimal(100)
APR_PER_1H = HOURS_PER_YEAR * HUNDRED            # percent per year from a 1 h fraction
APR_PER_8H = APR_PER_1H / EIGHT                  # = 365 * 3 * 100, SPEC's "funding_rate * 365 * 3"

# "Stale after N intervals": a venue whose newest data is older than this many collection
# intervals is left out of opportunities and reported unhealthy (three missed cycles in a row).
STALE_AFTER_INTERVALS = 3

# What a unit name means; the OpenAPI / AsyncAPI documents copy these into `x-unit` descriptions.
UNITS: dict[str, str] = {
    "fraction/interval": "fraction of notional per funding interval of that market (native rate)",
    "fraction/1h": "fraction of notional per hour",
    "fraction/8h": "fraction of notional per 8 hours",
    "percent/year": "percent per year, simple (not compounded)",
    "basis": "in the unit named by the `basis` field beside it",
    "fraction": "fraction (0.0002 = 0.02 %; 1 = 100 %), also where SPEC.md's name says *_percent",
    "fraction/hold": "fraction of notional over hold_hours",
    "percent": "percent (0.5 = 0.5 %)",
    "ratio": "dimensionless ratio",
    "bps": "basis points (1 bps = 0.01 %)",
    "USD": "US dollars (or the venue's USD stablecoin)",
    "USD/base": "USD per one unit of the base asset",
    "base": "units of the base asset",
    "hours": "hours",
    "seconds": "seconds",
    "days": "days",
    "MB": "megabytes (2^20 bytes)",
    "count/minute": "a count per minute",
    "ms": "milliseconds",
    "count": "a count",
    "multiplier": "base units per listed contract unit (1000 for kPEPE)",
    "id": "an identifier (a number with no magnitude)",
    "http-status": "an HTTP status code",
}


def rate_1h(funding_rate: Decimal, interval_hours: Decimal) -> Decimal:
    return funding_rate / interval_hours


def rate_8h(funding_rate: Decimal, interval_hours: Decimal) -> Decimal:
    """rate_1h * 8 (SQL's generated column writes funding_rate * 8 / funding_interval_hours: the
    same value for every interval a venue uses; the pin test checks 1, 4, 8 and 24 h)."""
    return rate_1h(funding_rate, interval_hours) * EIGHT


def apr_from_1h(rate_1h_value: Decimal) -> Decimal:
    """Percent per year from a per-hour fraction (simple: rate_1h * 8760 * 100)."""
    return rate_1h_value * APR_PER_1H


def apr_from_8h(rate_8h_value: Decimal) -> Decimal:
    return rate_8h_value * APR_PER_8H


def in_basis(funding_rate: Decimal, interval_hours: Decimal, basis: str) -> Decimal:
    """One market's rate expressed in `basis` (native, 1h, 8h or apr)."""
    if basis == "native":
        return funding_rate
    r1 = rate_1h(funding_rate, interval_hours)
    if basis == "1h":
        return r1
    if basis == "8h":
        return r1 * EIGHT
    if basis == "apr":
        return apr_from_1h(r1)
    raise ValueError(f"basis must be one of {BASES}, got {basis!r}")


def from_8h(value_8h: Decimal, basis: str, interval_hours: Decimal | None) -> Decimal:
    """An 8 h fraction (e.g. a stored average or statistic) expressed in `basis`.

    `native` needs the market's interval; without one it stays on the 8 h basis.
    """
    if basis == "8h":
        return value_8h
    if basis == "1h":
        return value_8h / EIGHT
    if basis == "apr":
        return apr_from_8h(value_8h)
    if basis == "native":
        return value_8h * (interval_hours or EIGHT) / EIGHT
    raise ValueError(f"basis must be one of {BASES}, got {basis!r}")


def basis_unit(basis: str) -> str:
    """The unit name (a key of UNITS) of a value expressed in `basis`."""
    return {"native": "fraction/interval", "1h": "fraction/1h", "8h": "fraction/8h", "apr": "percent/year"}[basis]


def stale_after_ms(collection_interval_seconds: int) -> int:
    """Age beyond which a venue's data is stale: STALE_AFTER_INTERVALS collection intervals."""
    return STALE_AFTER_INTERVALS * collection_interval_seconds * 1000


def is_stale(age_ms: int | None, collection_interval_seconds: int) -> bool:
    """No data at all is not "stale" (callers report it as "no data"); older than the limit is."""
    return age_ms is not None and age_ms > stale_after_ms(collection_interval_seconds)
