"""Time one calibration run: 30 days x 5 venues x 200 markets of settlement/published pairs.

Synthetic, seeded pairs (hourly settlements: the densest schedule; rates around the 0.0000125/h
baseline, one venue at x8). Reference in the same run: one pass that only reads every pair's two
rates (the floor of any calibration over these inputs). Prints median seconds per run and the ratio.

    python bench/calibration.py [--days 30] [--venues 5] [--markets 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from decimal import Decimal

from chalicelib.core.calibration import Pair, report

H = 3_600_000
NOW_MS = 1_790_000_000_000


def synthetic(days: int, venues: int, markets: int, seed: int = 3) -> dict[str, list[Pair]]:
    rng = random.Random(seed)
    out: dict[str, list[Pair]] = {}
    for v in range(venues):
        dex, factor = f"dex{v}", Decimal(8) if v == 1 else Decimal(1)
        pairs = []
        for m in range(markets):
            for h in range(days * 24):
                published = Decimal(rng.randint(-100, 400)) / 10_000_000
                settled = (published + Decimal(rng.randint(-20, 20)) / 100_000_000) * factor
                pairs.append(Pair(dex, f"S{m}", NOW_MS - h * H, settled, published))
        out[dex] = pairs
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--venues", type=int, default=5)
    ap.add_argument("--markets", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    data = synthetic(args.days, args.venues, args.markets)
    n = sum(len(p) for p in data.values())
    runs, refs = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        acc = Decimal(0)
        for pairs in data.values():
            for p in pairs:
                acc += p.settled_1h - p.published_1h
        refs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verdicts = {dex: report(dex, pairs, now_ms=NOW_MS)["verdict"] for dex, pairs in data.items()}
        runs.append(time.perf_counter() - t0)
    run, ref = statistics.median(runs), statistics.median(refs)
    print(f"pairs: {n:,} ({args.days} d x {args.venues} venues x {args.markets} markets, hourly)")
    print(f"calibration run (verdict + accuracy 24h/7d/30d + per market): median {run:.3f} s (target < 1 s)")
    print(f"reference (read every pair once): median {ref:.3f} s; ratio {run / ref:.1f}x the reference")
    print(f"verdicts: { {d: (v['status'], str(v['factor'])) for d, v in verdicts.items()} }")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
