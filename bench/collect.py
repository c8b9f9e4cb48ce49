"""Benchmark of a full collection cycle: five venues from the replay server into PostgreSQL.

Each cycle is what `frs collect --once` does: the five venues fetched concurrently (GRVT alone is
1 + N ticker requests), parsed, and stored through PgStorage.ingest + log_collection. Printed per
cycle: wall seconds, and per venue fetch / parse / store milliseconds and markets. Target: < 5 s
per cycle.

Starts its own PostgreSQL (migrated) unless DATABASE_URL is set; the replay server is in-process.

    python bench/collect.py                 # 5 cycles
    python bench/collect.py --cycles 10 --latency 50    # + 50 ms injected latency on every venue
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--latency", type=int, default=0, help="ms of injected latency per request on every venue")
    args = parser.parse_args()

    from _servers import own_servers

    from chalicelib.services.collect import collect_all
    from chalicelib.settings import Settings
    from chalicelib.storage.repository import PgStorage
    from chalicelib.transport.breaker import reset_memory
    from chalicelib.transport.budget import reset_buckets
    from chalicelib.venues import REGISTRY
    from frs_local.replay import ReplayServer

    servers = contextlib.ExitStack()
    db_url = servers.enter_context(own_servers(database="frs_bench_collect", prefix="frs-bench-collect-")).db_url
    assert db_url is not None
    server = ReplayServer(port=0, seed=1).start()
    servers.callback(server.stop)
    if args.latency:
        for dex in server.base_urls():
            server.set_fault(dex.removesuffix("_API_URL").lower(), f"latency:{args.latency}")
    settings = Settings.from_env({**server.base_urls(), "DATABASE_URL": db_url})
    storage = PgStorage(db_url)
    walls: list[float] = []
    per_venue: dict[str, dict[str, list[int]]] = {}
    try:
        for cycle in range(1, args.cycles + 1):
            reset_buckets()      # each cycle stands for a fresh minute of the venues' rate limits
            reset_memory()
            t0 = time.perf_counter()
            results = collect_all(list(REGISTRY), settings, storage)
            wall = time.perf_counter() - t0
            walls.append(wall)
            parts = []
            for r in results:
                v = per_venue.setdefault(r.dex, {"fetch": [], "parse": [], "store": [], "markets": [], "requests": []})
                v["fetch"].append(r.fetch_ms)
                v["parse"].append(r.parse_ms)
                v["store"].append(r.store_ms or 0)
                v["markets"].append(len(r.snapshots))
                v["requests"].append(r.requests_made)
                parts.append(f"{r.dex} {r.status} {len(r.snapshots)}")
            print(f"cycle {cycle}: {wall:.3f} s  ({', '.join(parts)})", flush=True)
    finally:
        getattr(storage, "close", lambda: None)()
        servers.close()

    print(f"\n{'venue':<12} {'markets':>7} {'requests':>8} {'fetch ms':>9} {'parse ms':>9} {'store ms':>9}   (median)")
    for dex, v in per_venue.items():
        print(f"{dex:<12} {int(statistics.median(v['markets'])):>7} {int(statistics.median(v['requests'])):>8} "
              f"{statistics.median(v['fetch']):>9.0f} {statistics.median(v['parse']):>9.0f} "
              f"{statistics.median(v['store']):>9.0f}")
    fetch_wall = statistics.median(max(v["fetch"][i] for v in per_venue.values()) for i in range(len(walls)))
    parse_sum = statistics.median(sum(v["parse"][i] for v in per_venue.values()) for i in range(len(walls)))
    store_sum = statistics.median(sum(v["store"][i] for v in per_venue.values()) for i in range(len(walls)))
    print(f"\ncycle wall: median {statistics.median(walls):.3f} s, max {max(walls):.3f} s (target < 5 s)")
    print(f"split (median per cycle): fetch {fetch_wall / 1000:.3f} s (slowest venue; venues run concurrently), "
          f"parse {parse_sum / 1000:.3f} s (sum), store {store_sum / 1000:.3f} s (sum, serial on one connection)")
    return 0 if max(walls) < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
