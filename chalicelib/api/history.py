"""Queries behind /history/* and /stats/*: straight from PostgreSQL (date_bin buckets, percentiles).

Storage returns normalized rates (rate_1h, rate_8h per point; statistics of rate_8h); this
module converts them to the requested basis with core.units. In a data point `rate` (SPEC's name)
and `funding_rate` are both in `basis`; `native_rate` is one funding interval of the market.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib import wiring
from chalicelib.api import data
from chalicelib.api.params import INTERVAL_SECONDS, PERIODS, HistoryQuery, OpportunityHistoryQuery, StatsQuery
from chalicelib.core import units
from chalicelib.core.serialize import iso_ms
from chalicelib.core.stats import funding_rate_stats


def _now() -> datetime:
    return datetime.now(UTC)


def _dec(v: Any) -> Decimal | None:
    """Decimal as is; floats (percentile_cont works in double precision) to 12 significant digits."""
    if v is None or isinstance(v, Decimal):
        return v
    return Decimal(format(v, ".12g")) if isinstance(v, float) else Decimal(str(v))


def fresh(updated: datetime | None) -> dict[str, Any]:
    """Freshness members of every database-backed response (history, stats, settlements, calibration)."""
    now = time.time()
    ts = updated.timestamp() if updated else now
    return {"source": "database", "updated_at": iso_ms(int(ts * 1000)),
            "data_age_seconds": round(max(0.0, now - ts), 3)}


def pagination(page: int, page_size: int, total: int) -> dict[str, int]:
    return {"page": page, "page_size": page_size, "total": total,
            "total_pages": math.ceil(total / page_size) if total else 0}


def rate_history(dex: str, symbol: str, q: HistoryQuery) -> dict[str, Any]:
    data.require_dex(dex)
    data.require_symbol(symbol)
    start, end = q.window(_now())
    page = wiring.storage().rate_history(dex=dex, symbol=symbol, start=start, end=end,
                                         bucket_seconds=INTERVAL_SECONDS[q.interval],
                                         page=q.page, page_size=q.page_size)
    snap = data.snapshots().value.by_dex.get(dex, {}).get(symbol)
    interval_h = snap.funding_interval_hours if snap else None
    points = []
    for pt in page.points:
        if pt.get("funding_interval_hours") is not None:
            interval_h = _dec(pt["funding_interval_hours"])
        r8, r1 = _dec(pt.get("rate_8h")), _dec(pt.get("rate_1h"))
        native = _dec(pt.get("funding_rate"))
        rate = native if q.basis == "native" else None if r8 is None else units.from_8h(r8, q.basis, interval_h)
        # the same rate members a REST record and a WebSocket frame carry (core.codec.rate_fields)
        points.append({"time": pt["time"], "rate": rate, "funding_rate": rate, "native_rate": native,
                       "rate_1h": r1, "rate_8h": r8, "annualized_rate": None if r1 is None else units.apr_from_1h(r1),
                       "funding_interval_hours": interval_h, "samples": pt.get("samples")})
    stats = {k: None if (v := _dec(page.statistics.get(k))) is None else units.from_8h(v, q.basis, interval_h)
             for k in ("avg_rate", "median_rate", "std_dev", "min_rate", "max_rate")}
    # a bucket's `time` is its start: the newest sample in it is `last_time`
    newest = max((pt.get("last_time") or pt["time"] for pt in page.points), default=None)
    return {**fresh(newest), "dex_name": dex, "symbol": symbol, "basis": q.basis, "interval": q.interval,
            "data_points": points, "statistics": stats, "period_start": page.period_start,
            "period_end": page.period_end, "pagination": pagination(q.page, q.page_size, page.total)}


def opportunity_history(q: OpportunityHistoryQuery) -> dict[str, Any]:
    data.require_symbol(q.symbol)
    start, end = q.window(_now())
    rows, total = wiring.storage().opportunity_history(
        symbol=q.symbol, start=start, end=end, min_profit=q.min_profit, limit=q.limit,
        offset=(q.page - 1) * q.limit)
    newest = max((r["discovered_at"] for r in rows if isinstance(r.get("discovered_at"), datetime)), default=None)
    return {**fresh(newest), "opportunities": [_stored_opportunity(r) for r in rows], "total_count": total, "period_start": start,
            "period_end": end, "pagination": pagination(q.page, q.limit, total)}


def _stored_opportunity(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row in the one public opportunity shape (core.codec.opportunity_to_dict): the stable
    id as `id` (not the table's serial), the 8 h basis stated, no internal metadata."""
    out = {k: v for k, v in row.items() if k not in ("id", "opportunity_id", "metadata")}
    return {"id": row.get("opportunity_id"), "basis": "8h", **out}


def rate_stats(symbol: str, q: StatsQuery) -> dict[str, Any]:
    data.require_dex(q.dex)
    data.require_symbol(symbol)
    end = _now()
    start = end - PERIODS[q.period]
    raw = wiring.storage().rate_stats(symbol=symbol, dex=q.dex, start=start, end=end)
    agg = {"avg": raw.get("avg_rate"), "median": raw.get("median_rate"), "stddev": raw.get("std_dev"),
           "min": raw.get("min_rate"), "max": raw.get("max_rate"), "p25": raw.get("percentile_25"),
           "p75": raw.get("percentile_75"), "positive_frequency": raw.get("positive_rate_frequency"),
           "samples": raw.get("samples")}
    newest = raw.get("newest") or raw.get("last_time")
    return {**fresh(newest if isinstance(newest, datetime) else None),
            **funding_rate_stats(symbol, q.dex, PERIODS[q.period].days or 1, start, end, agg)}
