"""Benchmark of REST handler time: cached endpoints vs database-backed ones at realistic volume.

Loads 5 venues x 300 symbols of live snapshots (PgStorage.ingest) and N history rows into
funding_rates (one INSERT ... SELECT over generate_series, a row every --step-seconds per market,
ending now), then times requests through chalice.test.Client (the same API-Gateway event path
Lambda uses, so the numbers include event translation, validation, cache and serialization):

  cached:   GET /api/v1/funding-rates (all 1500 markets), GET /api/v1/opportunities (defaults)
  database: GET /api/v1/history/funding-rates/{dex}/{symbol} over 7 days (random market),
            GET /api/v1/stats/funding-rates/{symbol}?period=30d (random symbol, all venues)

Handler overhead (issue 18): the same cached routes invoked as Lambda does (a prebuilt API Gateway
event handed to `app(event, context)`, so chalice.test's local routing is not timed) against a bare
Chalice app whose one route returns the same body with the same Content-Type, in the same run;
printed as the ratio of medians (target <= 1.5x) with the load average. `--overhead-only` runs just
that (no history load).

Targets: cached p99 < 5 ms; history 7 d p95 < 50 ms at 10 M rows; stats 30 d p95 < 100 ms.
Starts its own PostgreSQL (and redis-server when installed) unless DATABASE_URL / REDIS_URL are set.

    python bench/api.py                      # 10 M rows
    python bench/api.py --rows 1000000       # quick run
    python bench/api.py --overhead-only      # handler overhead ratios only
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VENUES = ("hyperliquid", "lighter", "paradex", "grvt", "edgex")
INTERVAL_H = {"hyperliquid": 1, "lighter": 1, "paradex": 8, "grvt": 8, "edgex": 4}


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"n": len(ordered), "p50": round(pct(50), 3), "p95": round(pct(95), 3), "p99": round(pct(99), 3),
            "max": round(ordered[-1], 3), "mean": round(statistics.fmean(ordered), 3)}


def live_snapshots(symbols: int, now_ms: int) -> list:
    from chalicelib.core.models import MarketSnapshot

    rng = random.Random(7)
    out = []
    for i in range(symbols):
        sym = f"S{i:03d}" if i >= 3 else ("BTC", "ETH", "SOL")[i]
        for dex in VENUES:
            rate_1h = Decimal(rng.randint(-400, 600)) / Decimal(10_000_000)
            out.append(MarketSnapshot(
                dex=dex, symbol=sym, dex_symbol=f"{sym}-PERP", funding_rate=rate_1h * INTERVAL_H[dex],
                funding_interval_hours=Decimal(INTERVAL_H[dex]), mark_price=Decimal(100 + i),
                fetched_at_ms=now_ms, index_price=Decimal(100 + i),
                open_interest_usd=Decimal(rng.randint(100_000, 50_000_000)),
                volume_24h_usd=Decimal(rng.randint(50_000, 200_000_000)), next_funding_time_ms=now_ms + 3_600_000))
    return out


def load_history(db_url: str, rows: int, step_s: int, markets: int) -> float:
    """INSERT ... SELECT generate_series: `rows` rows spread over every market, ending a step before now."""
    import psycopg

    per_market = max(1, rows // markets)
    cols_sql = ("SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                "WHERE table_name = 'funding_rates' AND table_schema = current_schema() ORDER BY ordinal_position")
    values = {
        "time": "t", "dex_id": "ds.dex_id", "symbol_id": "ds.symbol_id",
        "funding_rate": "round(((random() - 0.4) * 0.0001)::numeric, 10) * ivh",
        "funding_interval_hours": "ivh", "mark_price": "100", "index_price": "100",
        "open_interest_usd": "1000000", "volume_24h": "5000000", "volume_24h_usd": "5000000",
        "collection_latency_ms": "100", "fetched_at": "t",
    }
    started = time.perf_counter()
    with psycopg.connect(db_url, autocommit=True) as conn:
        cols = conn.execute(cols_sql).fetchall()
        names, exprs = [], []
        for name, dtype, nullable, default in cols:
            if name in values:
                names.append(name)
                exprs.append(values[name])
            elif nullable == "NO" and default is None:
                raise SystemExit(f"bench: funding_rates.{name} ({dtype}) is NOT NULL; teach bench/api.py a value")
        interval_case = "CASE d.name " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in INTERVAL_H.items()) + " ELSE 8 END"
        sql = (f"INSERT INTO funding_rates ({', '.join(names)}) "
               f"SELECT {', '.join(exprs)} FROM dex_symbols ds JOIN dexes d ON d.id = ds.dex_id "
               f"CROSS JOIN LATERAL (SELECT ({interval_case})::numeric AS ivh) iv "
               f"CROSS JOIN generate_series(now() - make_interval(secs => %(span)s), "
               f"now() - make_interval(secs => %(step)s), make_interval(secs => %(step)s)) t "
               f"ON CONFLICT DO NOTHING")
        conn.execute(sql, {"span": per_market * step_s, "step": step_s})
        conn.execute("ANALYZE funding_rates")
        total = conn.execute("SELECT count(*) FROM funding_rates").fetchone()[0]
    elapsed = time.perf_counter() - started
    print(f"loaded {total:,} funding_rates rows ({per_market} per market, every {step_s}s) in {elapsed:.1f}s",
          flush=True)
    return elapsed


def time_requests(client, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        t0 = time.perf_counter()
        r = client.http.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"bench: {path} -> {r.status_code} {r.body[:300]!r}")
    return out


def handler_overhead(app, client, paths: list[str], runs: int) -> dict[str, object]:
    """Median time of app(event) for our cached route vs a bare Chalice route returning the same body."""
    from chalice import Chalice, Response
    from chalice.test import Client

    out: dict[str, object] = {}
    gateway = client.http._local_gateway   # builds the API Gateway proxy event as Lambda would receive it
    ctx = gateway._generate_lambda_context()
    for path in paths:
        event = gateway._generate_lambda_event("GET", path, {}, b"")
        body = app(event, ctx)["body"]
        bare = Chalice(app_name="bare")
        bare.route("/bare")(lambda body=body: Response(body=body, status_code=200,
                                                       headers={"Content-Type": "application/json"}))
        with Client(bare) as bare_client:
            bare_event = bare_client.http._local_gateway._generate_lambda_event("GET", "/bare", {}, b"")
        load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        ours, ref = [], []
        for _ in range(20):
            app(event, ctx), bare(bare_event, ctx)
        for _ in range(runs):   # interleaved, so both see the same load
            t0 = time.perf_counter()
            app(event, ctx)
            t1 = time.perf_counter()
            bare(bare_event, ctx)
            t2 = time.perf_counter()
            ours.append((t1 - t0) * 1000)
            ref.append((t2 - t1) * 1000)
        o, r = statistics.median(ours), statistics.median(ref)
        load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"handler overhead {path}: ours {o:.3f} ms vs bare Chalice {r:.3f} ms = {o / r:.2f}x "
              f"(target <= 1.5x; body {len(body):,} bytes; load {load_before} -> {load_after})", flush=True)
        out[path] = {"ours_ms": round(o, 4), "bare_ms": round(r, 4), "ratio": round(o / r, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--symbols", type=int, default=300)
    ap.add_argument("--step-seconds", type=int, default=60, help="collection cadence of the loaded history")
    ap.add_argument("--requests", type=int, default=2000, help="requests per cached endpoint")
    ap.add_argument("--db-requests", type=int, default=200, help="requests per database-backed endpoint")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--overhead-only", action="store_true", help="only the handler-overhead ratios")
    args = ap.parse_args()

    from _servers import own_servers
    from chalice import Chalice
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.api.cache import CACHE
    from chalicelib.handlers.rest import rest
    from chalicelib.settings import Settings

    servers = contextlib.ExitStack()
    own = servers.enter_context(own_servers(redis="optional"))
    db_url, redis_url = own.db_url, own.redis_url
    try:
        from chalicelib.storage.repository import PgStorage

        env = {"DATABASE_URL": db_url, "CACHE_TTL_SECONDS": "60"}
        if redis_url:
            env["REDIS_URL"] = redis_url
        wiring.override(settings=Settings.from_env(env))
        storage = PgStorage(db_url)
        now_ms = int(time.time() * 1000)
        snaps = live_snapshots(args.symbols, now_ms)
        storage.ingest(snaps)
        per_market = max(1, args.rows // len(snaps))
        span_ms = per_market * args.step_seconds * 1000
        ensure = getattr(storage, "ensure_partitions", None)   # day partitions, as a backfill would
        if ensure is not None:
            from datetime import UTC, datetime

            ensure(datetime.fromtimestamp((now_ms - span_ms) / 1000, UTC), datetime.fromtimestamp(now_ms / 1000, UTC))
        load_s = 0.0 if args.overhead_only else load_history(db_url, args.rows, args.step_seconds, len(snaps))
        wiring.override(storage=storage)
        try:
            from app import app
        except ImportError:
            app = Chalice(app_name="bench")
            app.register_blueprint(rest)
        rng = random.Random(1)
        symbols = sorted({s.symbol for s in snaps})
        results: dict[str, object] = {"rows_requested": args.rows, "history_load_seconds": round(load_s, 1),
                                      "markets": len(snaps), "redis": bool(redis_url)}
        with Client(app) as client:
            CACHE.clear()
            cold = time_requests(client, ["/api/v1/funding-rates"])[0]
            CACHE.clear()
            cold_opps = time_requests(client, ["/api/v1/opportunities"])[0]
            results["cold_ms"] = {"funding_rates": round(cold, 2), "opportunities": round(cold_opps, 2)}
            results["handler overhead"] = handler_overhead(
                app, client, ["/api/v1/funding-rates", "/api/v1/opportunities"], args.requests)
            from _measured import emit
            from _measured import load as load_avg

            ho = results["handler overhead"]
            emit("overhead", "`bench/api.py --overhead-only`: cached `/funding-rates`, `/opportunities` as Lambda runs "
                 "them (`app(event)`) vs a bare Chalice route returning the same body, interleaved, same run",
                 "; ".join(f"{p.rsplit('/', 1)[1]} {v['ours_ms']:.3f} vs {v['bare_ms']:.3f} ms = **{v['ratio']:.2f}x**"
                           for p, v in ho.items()) + f" ({load_avg()})", "<= 1.5x",
                 all(v["ratio"] <= 1.5 for v in ho.values()))
            if args.overhead_only:
                print(json.dumps(results, indent=2))
                return
            for name, path in (("funding_rates", "/api/v1/funding-rates"), ("opportunities", "/api/v1/opportunities")):
                time_requests(client, [path] * 20)   # warm-up
                results[f"cached {name}"] = percentiles(time_requests(client, [path] * args.requests))
            end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            hist = [f"/api/v1/history/funding-rates/{rng.choice(VENUES)}/{rng.choice(symbols)}?period=7d&end_time={end}"
                    for _ in range(args.db_requests)]
            raw = [f"/api/v1/history/funding-rates/{rng.choice(VENUES)}/{rng.choice(symbols)}"
                   f"?period=7d&interval=raw&page_size=1000&end_time={end}" for _ in range(args.db_requests)]
            stats = [f"/api/v1/stats/funding-rates/{rng.choice(symbols)}?period=30d" for _ in range(args.db_requests)]
            stats_dex = [f"/api/v1/stats/funding-rates/{rng.choice(symbols)}?period=30d&dex={rng.choice(VENUES)}"
                         for _ in range(args.db_requests)]
            time_requests(client, hist[:5] + stats[:5])
            results["history 7d 1h buckets"] = percentiles(time_requests(client, hist))
            results["history 7d raw (page 1000)"] = percentiles(time_requests(client, raw))
            results["stats 30d all venues"] = percentiles(time_requests(client, stats))
            results["stats 30d one venue"] = percentiles(time_requests(client, stats_dex))
        print(json.dumps(results, indent=2))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        wiring.reset()
        servers.close()


if __name__ == "__main__":
    main()
