"""Analysis of every registered venue in one cycle vs the original five, on the replay server's data.

Collects every REGISTRY venue once from the in-process replay server (recorded rows + generated universe),
then times the analysis engine's pruned pass (`opportunity_rows` + `to_opportunity`, what the analyze Lambda runs) over
(a) the five original venues - the reference, measured in the same run - and (b) all venues. Prints the
medians and their ratio; the engine's target is < 20 ms for 10 venues x 500 symbols (bench/opportunities.py).

    python bench/venues.py [--runs 15]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIVE = {"hyperliquid", "lighter", "paradex", "grvt", "edgex"}
NOW_MS = 1_764_774_730_025


def main() -> None:
    from decimal import Decimal

    from chalicelib.core.opportunities import Prune, opportunity_rows, to_opportunity
    from chalicelib.services.collect import collect_all
    from chalicelib.settings import Settings
    from chalicelib.venues import REGISTRY, venue_spec
    from frs_local.replay import ReplayServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with ReplayServer(port=0, seed=1, clock=lambda: NOW_MS) as server:
        results = collect_all(list(REGISTRY), Settings.from_env(server.base_urls()))
    snaps = [dataclasses.replace(s, fetched_at_ms=NOW_MS) for r in results for s in r.snapshots]
    spec_of = {d: venue_spec(d) for d in {s.dex for s in snaps}}
    fees = {d: spec.fees for d, spec in spec_of.items() if spec is not None}

    def timed(subset: list) -> tuple[float, int]:
        times, matching = [], 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rows = opportunity_rows(subset, fees, now_ms=NOW_MS, max_age_ms=None, prune=Prune(min_net=Decimal(0)))
            matching = len([to_opportunity(r) for r in rows if r.net_profit_percent > 0])
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times), matching

    five = [s for s in snaps if s.dex in FIVE]
    ref_ms, ref_match = timed(five)
    all_ms, all_match = timed(snaps)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"venues: {len(fees)} ({', '.join(sorted(fees))}); snapshots {len(snaps)}  (cpus {os.cpu_count()}, load {load})")
    print(f"five original venues  median {ref_ms:7.2f} ms  ({len(five)} snapshots, {ref_match} matching)")
    print(f"all venues            median {all_ms:7.2f} ms  ({len(snaps)} snapshots, {all_match} matching)")
    print(f"ratio all / five: {all_ms / ref_ms:.2f}x  (target: all venues < 20 ms on an idle box)")


if __name__ == "__main__":
    main()
