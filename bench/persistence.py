"""Time the persistence fields for 10 venues x 500 symbols (22,500 pairs; target < 100 ms per run).

What an analysis run pays (services/persistence.py):
- at a clock hour's first run: ROLL the summary (add the completed hour, drop the two that left the windows,
  core.persistence.roll), plus the summary's round trip to Redis (bytes);
- every other run: read the summary back as a table (bytes; statistics derived per row read) and attach the
  fields to its open opportunities (core.persistence.attach); REST attaches them to the rows it returns, or
  to every candidate pair when a query filters on persistence (timed here: all 22,500 pairs).
Also shown: a full rebuild from 168 hours (first run, Redis flushed), which is rare.

Reference in the same run: one plain pass computing every pair's hourly divergence of ONE hour (pair_divergences,
below), the floor of any per-pair work.

    python bench/persistence.py [--venues 10] [--symbols 500] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from _measured import emit, load

from chalicelib.core import persistence as p
from chalicelib.core.models import Opportunity

H = p.HOUR_MS
END = 1_790_000_000_000 // H * H


def hours_of(venues: int, symbols: int, n: int, seed: int = 3) -> dict[int, dict[tuple[str, str], float]]:
    rng = random.Random(seed)
    dexes = [f"dex{i:02d}" for i in range(venues)]
    syms = [f"S{i:03d}" for i in range(symbols)]
    return {END - k * H: {(s, d): rng.uniform(-0.001, 0.001) for s in syms for d in dexes} for k in range(1, n + 1)}


def pair_divergences(rates: dict[tuple[str, str], float]) -> dict[str, float]:
    """{`SYM:a:b` (a < b): rate_8h(b) - rate_8h(a)} of one hour, for every pair with both legs present."""
    by_symbol: dict[str, list[tuple[str, float]]] = {}
    for (symbol, dex), rate in rates.items():
        by_symbol.setdefault(symbol, []).append((dex, rate))
    out: dict[str, float] = {}
    for symbol, legs in by_symbol.items():
        legs.sort()
        for i, (a, ra) in enumerate(legs):
            prefix = f"{symbol}:{a}:"
            for b, rb in legs[i + 1:]:
                out[prefix + b] = rb - ra
    return out


def pairs_of(venues: int, symbols: int) -> list[Opportunity]:
    z = Decimal(0)
    dexes = [f"dex{i:02d}" for i in range(venues)]
    out = []
    for i in range(symbols):
        s = f"S{i:03d}"
        for a in range(venues):
            for b in range(a + 1, venues):
                long_dex, short_dex = (dexes[a], dexes[b]) if (a + b) % 2 else (dexes[b], dexes[a])
                out.append(Opportunity(f"{s}:{long_dex}:{short_dex}", s, long_dex, short_dex, z, z, z, z, z, z, z, z,
                                       None, Decimal(8), "maker", 0, 0))
    return out


CPU: list[float] = []


def timed(fn: Callable[[], Any], runs: int) -> float:
    """Median wall time (ms); the median CPU time of the same runs is appended to CPU (a shared, loaded box
    inflates wall time, CPU time much less)."""
    samples, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        samples.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU.append(statistics.median(cpu) * 1000)
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venues", type=int, default=10)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    hours = hours_of(args.venues, args.symbols, 170)
    opps = pairs_of(args.venues, args.symbols)
    opened = {o.id: END - 5 * H for o in opps[::3]}

    t0 = time.perf_counter()
    base = p.rebuild(hours, END - H)
    rebuild_ms = (time.perf_counter() - t0) * 1000
    state = base.dump()
    done, left24, left7 = END - H, END - 25 * H, END - 169 * H

    def roll_run() -> None:
        sums = p.Sums.load(state)                                       # the summary from Redis
        p.roll(sums, hours[done], hours[left24], hours[left7])
        sums.dump()                                                     # back to Redis (REST reads the same bytes)

    table_raw = p.roll(p.Sums.load(state), hours[done], hours[left24], hours[left7]).dump()

    def read_and_attach() -> None:
        p.attach(opps, p.Table.load(table_raw), opened, END + 60_000)

    some = opps[::45]   # the analysis attaches to its open opportunities only: here one pair per symbol (500)

    def analysis_run() -> None:
        p.attach(some, p.Table.load(table_raw), opened, END + 60_000)

    ref = timed(lambda: pair_divergences(hours[done]), args.runs)
    roll_ms = timed(roll_run, args.runs)
    attach_ms = timed(read_and_attach, args.runs)
    run_ms = timed(analysis_run, args.runs)
    print(f"{args.venues} venues x {args.symbols} symbols: {len(opps)} pairs, {len(state) / 1e6:.1f} MB summary, "
          f"{len(table_raw) / 1e6:.1f} MB table")
    ref_cpu, roll_cpu, attach_cpu, run_cpu = CPU
    print(f"hour's first run (roll + bytes to/from Redis): median {roll_ms:.1f} ms wall, {roll_cpu:.1f} ms CPU "
          f"(target < 100 ms)")
    print(f"the analysis' other runs (read the table, attach to {len(some)} open opportunities): median "
          f"{run_ms:.1f} ms wall, {run_cpu:.1f} ms CPU")
    print(f"REST, per cache refresh (read the table, attach to all {len(opps)} pairs): median {attach_ms:.1f} ms wall, "
          f"{attach_cpu:.1f} ms CPU")
    print(f"full rebuild from 168 hours (rare): {rebuild_ms:.0f} ms")
    print(f"reference (one hour's pair divergences): median {ref:.1f} ms wall, {ref_cpu:.1f} ms CPU; "
          f"roll = {roll_ms / ref:.1f}x, "
          f"attach = {attach_ms / ref:.1f}x the reference")
    print(f"load average: {os.getloadavg()[0]:.2f}")
    emit("persistence", f"`bench/persistence.py`: persistence fields, {args.venues} venues x {args.symbols} symbols "
         f"({len(opps):,} pairs) vs one hour's pair divergences (same run)",
         f"the hour's first run (roll + summary bytes from/to Redis) **{roll_ms:.1f} ms** = {roll_ms / ref:.1f}x the "
         f"reference ({ref:.1f} ms); the other runs of the hour (read back, attach to {len(some)}) {run_ms:.1f} ms; "
         f"REST attach to all {len(opps):,} pairs {attach_ms:.1f} ms; full rebuild from 168 h (rare) "
         f"{rebuild_ms / 1000:.1f} s ({load()})", "< 100 ms per run", roll_ms < 100 and run_ms < 100)


if __name__ == "__main__":
    main()
