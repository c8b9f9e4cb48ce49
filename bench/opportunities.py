"""Time one full opportunity computation: 10 venues x 500 symbols, find_opportunities + default filter.

Synthetic, seeded snapshots (rates around a realistic 8 h level, mixed 1 h / 4 h / 8 h intervals,
volumes, OI and books on most markets). Prints the median of repeated runs and the pairs evaluated.

    python bench/opportunities.py [--venues 10] [--symbols 500] [--runs 25] [--correlated]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from decimal import Decimal

from chalicelib.core.filters import OpportunityFilter, apply_filter
from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.core.opportunities import find_opportunities

NOW_MS = 1_790_000_000_000


def synthetic(venues: int, symbols: int, seed: int = 7, *, correlated: bool = False,
              ) -> tuple[list[MarketSnapshot], dict[str, FeeSchedule]]:
    """Seeded snapshots. Dispersed (default, worst case): each venue's rate drawn independently, so
    about half of all pairs clear the default filter. Correlated: one rate per symbol plus a small
    per-venue deviation, closer to live markets (most pairs do not cover their fees)."""
    rng = random.Random(seed)
    base = [Decimal(rng.randint(-200, 600)) / 1_000_000 for _ in range(symbols)]
    intervals = [Decimal(1), Decimal(4), Decimal(8)]
    fees = {f"dex{v:02d}": FeeSchedule(maker=Decimal(rng.randint(-1, 4)) / 10000, taker=Decimal(rng.randint(2, 6)) / 10000)
            for v in range(venues)}
    snaps = []
    for v, dex in enumerate(fees):
        interval = intervals[v % 3]
        for s in range(symbols):
            if correlated:
                rate_8h = base[s] + Decimal(round(rng.gauss(0, 120))) / 1_000_000
            else:
                rate_8h = Decimal(rng.randint(-400, 800)) / 1_000_000       # -0.04 % .. 0.08 % per 8 h
            mark = Decimal(rng.randint(1, 10_000_000)) / 1000
            half = mark * Decimal(rng.randint(1, 20)) / 20000
            snaps.append(MarketSnapshot(
                dex=dex, symbol=f"S{s:03d}", dex_symbol=f"S{s:03d}-PERP", funding_rate=rate_8h / 8 * interval,
                funding_interval_hours=interval, mark_price=mark, fetched_at_ms=NOW_MS - rng.randint(0, 5000),
                open_interest_usd=Decimal(rng.randint(10_000, 50_000_000)) if rng.random() < 0.9 else None,
                volume_24h_usd=Decimal(rng.randint(10_000, 200_000_000)) if rng.random() < 0.95 else None,
                best_bid=mark - half if rng.random() < 0.7 else None, best_ask=mark + half))
    return snaps, fees


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venues", type=int, default=10)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--correlated", action="store_true", help="per-symbol rate plus small venue deviation")
    args = ap.parse_args()
    snaps, fees = synthetic(args.venues, args.symbols, correlated=args.correlated)
    default = OpportunityFilter()
    find_ms, filter_ms, total_ms = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        opps = find_opportunities(snaps, fees, now_ms=NOW_MS)
        t1 = time.perf_counter()
        selected, matching = apply_filter(opps, default)
        t2 = time.perf_counter()
        find_ms.append((t1 - t0) * 1000)
        filter_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
    data = "correlated" if args.correlated else "dispersed"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"venues={args.venues} symbols={args.symbols} snapshots={len(snaps)} runs={args.runs} rates={data}"
          f"  (cpus {os.cpu_count()}, load {load})")
    print(f"pairs evaluated: {len(opps)}  matching default filter: {matching}  returned: {len(selected)}")
    print(f"find_opportunities  median {statistics.median(find_ms):8.2f} ms  min {min(find_ms):8.2f} ms")
    print(f"apply_filter        median {statistics.median(filter_ms):8.2f} ms  min {min(filter_ms):8.2f} ms")
    print(f"total (full list)   median {statistics.median(total_ms):8.2f} ms  min {min(total_ms):8.2f} ms")


if __name__ == "__main__":
    main()
