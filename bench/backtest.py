"""Time a 30-day backtest of one pair at hourly settlements (target < 50 ms), hold and rule modes.

Reference in the same run: summing the same settlements' rates once (the floor of any backtest).

    python bench/backtest.py [--days 30] [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from decimal import Decimal

from _measured import emit, load

from chalicelib.core.backtest import Settlement, backtest

H = 3_600_000
T0 = 1_790_000_000_000 // H * H


def legs(days: int, seed: int = 5) -> tuple[list[Settlement], list[Settlement]]:
    rng = random.Random(seed)
    hours = days * 24
    long_rows = [Settlement(T0 + h * H, Decimal(rng.randint(-50, 150)) / 10_000_000, Decimal(1)) for h in range(1, hours + 1)]
    short_rows = [Settlement(T0 + h * H, Decimal(rng.randint(0, 400)) / 10_000_000, Decimal(1)) for h in range(1, hours + 1)]
    return long_rows, short_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    long_rows, short_rows = legs(args.days)
    end = T0 + args.days * 24 * H
    hold, rule, ref = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        total = sum((r.rate for r in long_rows), Decimal(0)) + sum((r.rate for r in short_rows), Decimal(0))
        ref.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        backtest(long_dex="a", short_dex="b", long_rows=long_rows, short_rows=short_rows, start_ms=T0, end_ms=end,
                 notional=Decimal(10_000), fee_long=Decimal("0.0002"), fee_short=Decimal("0.0002"))
        hold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        backtest(long_dex="a", short_dex="b", long_rows=long_rows, short_rows=short_rows, start_ms=T0, end_ms=end,
                 notional=Decimal(10_000), fee_long=Decimal("0.0002"), fee_short=Decimal("0.0002"), mode="rule",
                 enter_divergence_8h=Decimal("0.0008"), exit_divergence_8h=Decimal("0.0002"))
        rule.append(time.perf_counter() - t0)
    r, h, u = statistics.median(ref), statistics.median(hold), statistics.median(rule)
    print(f"{args.days}-day backtest, hourly settlements on both legs ({len(long_rows) + len(short_rows)} settlements), "
          f"sum check {total:.6f}")
    print(f"hold mode: median {h * 1000:.1f} ms (target < 50 ms); rule mode: median {u * 1000:.1f} ms")
    print(f"reference (sum the rates once): median {r * 1000:.2f} ms; hold = {h / r:.0f}x the reference")
    print(f"load average: {os.getloadavg()[0]:.2f}")
    emit("backtest", f"`bench/backtest.py`: {args.days}-day backtest of one pair, hourly settlements on both legs, vs "
         "summing the settled rates once (same run)",
         f"hold **{h * 1000:.1f} ms** ({h / r:.0f}x the reference), rule {u * 1000:.1f} ms ({load()})", "< 50 ms",
         h < 0.05 and u < 0.05)


if __name__ == "__main__":
    main()
