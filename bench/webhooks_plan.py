"""Cost of deciding who gets which webhook event per analysis cycle, vs the cycle's own opportunity work.

Reference (same run): select_opportunities over 5 venues x 300 symbols (the analysis' core step).
Measured: events.plan() for the events such a cycle emits (every open opportunity as
`opportunity.opened` -- the worst case, a cold start -- and every market as `funding_rate.changed`)
against N webhooks with mixed filters (symbol, dexes, thresholds). Prints medians and the ratio.

    python bench/webhooks_plan.py [--webhooks 10 100 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opportunities import NOW_MS, synthetic

from chalicelib.core.filters import OpportunityFilter
from chalicelib.core.select import select_opportunities
from chalicelib.services.analyze import opportunity_record
from chalicelib.webhooks import events as ev


def subscriptions(n: int, symbols: list[str], dexes: list[str], seed: int = 3) -> list[ev.Subscription]:
    rng = random.Random(seed)
    subs = []
    for i in range(n):
        filters: dict[str, object] = {"min_apy_change": rng.choice([2, 5, 10])}
        if rng.random() < 0.6:
            filters["symbol"] = rng.choice(symbols)
        if rng.random() < 0.4:
            filters["include_dexes"] = rng.sample(dexes, 3)
        if rng.random() < 0.3:
            filters["rate_threshold_apr"] = rng.choice([10, 25, 50])
        types = list(ev.OPPORTUNITY_TYPES) + ([ev.THRESHOLD_TYPE] if "rate_threshold_apr" in filters else [])
        subs.append(ev.Subscription(f"wh_{i:06d}", frozenset(types), ev.parse_filters(filters)))
    return subs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--webhooks", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    snaps, fees = synthetic(5, 300, correlated=True)
    ref_ms = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        opps, _ = select_opportunities(snaps, fees, OpportunityFilter(limit=100, min_profit_percent=Decimal(0)),
                                       now_ms=NOW_MS)
        ref_ms.append((time.perf_counter() - t0) * 1000)
    ref = statistics.median(ref_ms)
    raw = [{"type": "opportunity.opened", "data": opportunity_record(o)} for o in opps]
    raw += [{"type": ev.RATE_CHANGED, "id": f"chg-{s.dex}-{s.symbol}",
             "data": {"dex": s.dex, "symbol": s.symbol, "annualized_rate": s.annualized_rate,
                      "previous_annualized_rate": s.annualized_rate * Decimal("0.8"), "rate_8h": s.rate_8h}}
            for s in snaps]
    events = ev.normalize(raw, NOW_MS)
    symbols = sorted({s.symbol for s in snaps})
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"snapshots={len(snaps)} events/cycle={len(events)} (opened {len(opps)}, rate changes {len(snaps)})"
          f"  cpus {os.cpu_count()}, load {load}")
    print(f"reference select_opportunities (5 x 300, limit 100): median {ref:8.2f} ms")
    for n in args.webhooks:
        subs = subscriptions(n, symbols, sorted(fees))
        times, planned = [], 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            planned = len(ev.plan(events, subs, {}).deliveries)
            times.append((time.perf_counter() - t0) * 1000)
        med = statistics.median(times)
        print(f"plan() {n:>5} webhooks: median {med:9.2f} ms  deliveries {planned:>6}  "
              f"ratio vs reference {med / ref:6.2f}x  per webhook {med / n:6.3f} ms")


if __name__ == "__main__":
    main()
