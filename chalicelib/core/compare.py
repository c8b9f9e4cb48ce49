"""SPEC /opportunities/compare: one venue against another, symbol by symbol.

Rates are `rate_8h` (normalized), so a 1 h venue and an 8 h venue compare correctly.
`rate_diff` = dex2_rate - dex1_rate (signed, as the REST API documents: positive means dex2 pays
more); its magnitude is the pair's divergence. Which way to trade is given by `better_on` (the
venue to short: the higher rate) and `recommendation`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def compare_rows(opps: Iterable[Any], dex1: str, dex2: str, *, symbol: str | None = None) -> list[dict[str, Any]]:
    """From already computed opportunities (Opportunity or engine rows): the dex1/dex2 pairs.

    Sorted by net_profit_percent descending, then symbol.
    """
    if dex1 == dex2:
        raise ValueError("dex2: must differ from dex1")
    pair = {dex1, dex2}
    out = []
    for o in opps:
        if {o.long_dex, o.short_dex} != pair or (symbol is not None and o.symbol != symbol):
            continue
        r1, r2 = (o.long_rate, o.short_rate) if o.long_dex == dex1 else (o.short_rate, o.long_rate)
        out.append({
            "symbol": o.symbol,
            "dex1_rate": r1,
            "dex2_rate": r2,
            "rate_diff": r2 - r1,
            "better_on": o.short_dex,
            "recommendation": f"short_on_{o.short_dex}_long_on_{o.long_dex}",
            "net_profit_percent": o.net_profit_percent,
            "annualized_apy": o.annualized_apy,
            "divergence": o.divergence,
            "estimated_fees": o.estimated_fees,
        })
    out.sort(key=lambda r: r["symbol"])
    out.sort(key=lambda r: r["net_profit_percent"], reverse=True)
    return out

