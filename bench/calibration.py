"""Time one calibration run on real PostgreSQL: 30 days x 5 venues x 200 markets of hourly settlements.

What the hourly settlement run does after fetching (services/settle.calibrate_all): per venue, the verdict
over the last 72 h of stored pairs and the accuracy over 24 h / 7 d / 30 d, per venue and per market, then
save it (venue_calibration). Data: 720 hourly settlements per market (the densest schedule), each paired as
it is stored (sql/0013) with a collected rate 30 s before it; rates around the 0.0000125/h baseline, one
venue paid x8. Only one collected row per settlement is stored (a live service stores 60 an hour): the
pairing lookup is a primary-key descent, a few levels deeper at 60x the rows.

Printed, all from the same run:
- calibration run (the timed target, < 1 s), median of --runs;
- reference: one bare read of the same settlements in SQL (count + sum of the float8 settled_1h over 30
  days, an index-only scan), the floor of anything that reads them; the ratio run / reference;
- the previous design once (pairing every settlement with a LATERAL lookup at each run, then the Decimal
  core over every pair in Python), to show where the time went;
- the pairing cost paid at insert (seconds per 1,000 settlements: one hourly run's worth);
- the load average.

    python bench/calibration.py [--days 30] [--venues 5] [--markets 200] [--runs 5] [--no-old]
    (own PostgreSQL when DATABASE_URL is unset)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

H = 3_600_000
VENUES = ("hyperliquid", "lighter", "paradex", "grvt", "edgex")

OLD_PAIRS = """
SELECT s.symbol, (extract(epoch FROM st.time) * 1000)::bigint AS time_ms,
       st.funding_rate / st.funding_interval_hours AS settled_1h, p.rate_1h AS published_1h
FROM settlements st
JOIN dexes d ON d.id = st.dex_id
JOIN symbols s ON s.id = st.symbol_id
CROSS JOIN LATERAL (
    SELECT f.rate_1h FROM funding_rates f
    WHERE f.dex_id = st.dex_id AND f.symbol_id = st.symbol_id AND f.collection_latency_ms IS NOT NULL
      AND f.time < st.time AND f.time >= st.time - st.funding_interval_hours * INTERVAL '1 hour'
    ORDER BY f.time DESC LIMIT 1) p
WHERE d.name = %(dex)s AND st.time >= %(since)s
ORDER BY st.time"""


def load(storage, dsn: str, *, days: int, venues: int, markets: int, now_ms: int) -> tuple[int, float]:
    """Collected rates (one 30 s before each settlement), then the settlements through the real insert path
    (which pairs them). Returns (settlements, seconds spent inserting settlements)."""
    import psycopg

    from chalicelib.core.models import MarketSnapshot
    from chalicelib.venues.base import HistoryPoint

    rng = random.Random(3)
    first = now_ms - (days * 24 - 1) * H
    day0 = datetime.fromtimestamp(first / 1000, tz=UTC).date() - timedelta(days=1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT frs_ensure_partition(p, d::date) FROM unnest(ARRAY['funding_rates', 'settlements']) p, "
                     "generate_series(%s::date, %s::date, '1 day') d", (day0, day0 + timedelta(days=days + 2)))
    hours = range(days * 24)
    settled: dict[tuple[str, str], list[HistoryPoint]] = {}
    for v in range(venues):
        dex, factor = VENUES[v % len(VENUES)], Decimal(8) if v == 1 else Decimal(1)
        batch = []
        for m in range(markets):
            points = []
            for h in hours:
                t = first + h * H
                published = Decimal(rng.randint(-100, 400)) / 10_000_000
                batch.append(MarketSnapshot(dex=dex, symbol=f"S{m}", dex_symbol=f"S{m}", funding_rate=published,
                                            funding_interval_hours=Decimal(1), mark_price=Decimal(100),
                                            fetched_at_ms=t - 30_000, collection_latency_ms=150))
                points.append(HistoryPoint(t, (published + Decimal(rng.randint(-20, 20)) / 100_000_000) * factor,
                                           Decimal(1)))
            settled[(dex, f"S{m}")] = points
            if len(batch) >= 20_000:
                storage.ingest(batch)
                batch = []
        if batch:
            storage.ingest(batch)
    t0 = time.perf_counter()
    n = sum(storage.ingest_settlements(dex, sym, pts, source="bench") for (dex, sym), pts in settled.items())
    return n, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--venues", type=int, default=5)
    ap.add_argument("--markets", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-old", action="store_true", help="skip timing the previous design")
    ap.add_argument("--explain", action="store_true", help="print the calibration queries' plans (one venue)")
    args = ap.parse_args(argv)

    from _servers import own_servers

    servers = contextlib.ExitStack()
    dsn = servers.enter_context(own_servers()).db_url
    assert dsn is not None
    try:
        import psycopg

        from chalicelib.core.calibration import Pair, report
        from chalicelib.services.settle import calibrate_all
        from chalicelib.storage.repository import PgStorage

        storage = PgStorage(dsn)
        now_ms = int(time.time() * 1000) // H * H
        dexes = [VENUES[v % len(VENUES)] for v in range(args.venues)]
        t0 = time.perf_counter()
        n, insert_s = load(storage, dsn, days=args.days, venues=args.venues, markets=args.markets, now_ms=now_ms)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE settlements")
            conn.execute("VACUUM ANALYZE funding_rates")
        print(f"settlements: {n:,} ({args.days} d x {args.venues} venues x {args.markets} markets, hourly), "
              f"loaded in {time.perf_counter() - t0:.1f} s")
        print(f"pairing at insert: {insert_s:.2f} s for {n:,} settlements = {1000 * insert_s / n:.3f} s per 1,000 "
              f"(one hourly run's worth at {args.venues * args.markets} markets)")

        since = datetime.fromtimestamp(now_ms / 1000, tz=UTC) - timedelta(days=args.days)
        if args.explain:
            from chalicelib.core.calibration import WINDOWS_H
            from chalicelib.storage.queries import q

            at = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
            cutoffs = [at - timedelta(hours=h, microseconds=-1) for h in sorted(WINDOWS_H, reverse=True)[1:]]
            params = {"dex": dexes[0], "since": since, "cutoffs": cutoffs, "n_cutoffs": len(cutoffs)}
            with psycopg.connect(dsn) as conn:
                for name in ("calibration_recent", "calibration_bands"):
                    plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + q(name), params).fetchall()
                    print(f"--- {name}\n" + "\n".join(r[0] for r in plan))
        runs, refs = [], []
        verdicts: dict[str, object] = {}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            with psycopg.connect(dsn) as conn:
                for dex in dexes:
                    conn.execute("SELECT count(*), sum(st.settled_1h) FROM settlements st "
                                 "WHERE st.dex_id = (SELECT id FROM dexes WHERE name = %s) AND st.time > %s",
                                 (dex, since)).fetchone()
            refs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            verdicts = {dex: rep["verdict"] for dex, rep in calibrate_all(dexes, storage, now_ms=now_ms).items()}
            runs.append(time.perf_counter() - t0)
        run, ref = statistics.median(runs), statistics.median(refs)
        print(f"calibration run (verdict 72 h + accuracy 24h/7d/30d per venue and market, saved): "
              f"median {run:.3f} s of {args.runs} (target < 1 s)")
        print(f"reference (bare SQL scan of the same settlements): median {ref:.3f} s; "
              f"ratio {run / ref:.1f}x the reference")
        print(f"verdicts: { {d: (v['status'], str(v['factor'])) for d, v in verdicts.items()} }")  # type: ignore[index]
        if not args.no_old:
            t0 = time.perf_counter()
            with psycopg.connect(dsn) as conn:
                rows = {dex: conn.execute(OLD_PAIRS, {"dex": dex, "since": since}).fetchall() for dex in dexes}
            query_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for dex in dexes:
                report(dex, [Pair(dex, r[0], r[1], r[2], r[3]) for r in rows[dex]], now_ms=now_ms)
            core_s = time.perf_counter() - t0
            print(f"previous design, once: LATERAL pairing of every settlement {query_s:.2f} s + Decimal pairs through "
                  f"the core in Python {core_s:.2f} s = {query_s + core_s:.2f} s ({(query_s + core_s) / run:.1f}x the run)")
        print(f"load average: {os.getloadavg()[0]:.2f}")
        storage.close()
    finally:
        servers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
