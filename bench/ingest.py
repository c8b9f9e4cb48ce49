"""Ingest benchmark: PgStorage.ingest (the whole write path) against raw COPY of the same rows.

    python bench/ingest.py                    # 1,000,000 rows, own PostgreSQL when DATABASE_URL is unset
    python bench/ingest.py --rows 200000 --batch-rows 15000

Rows are realistic: 5 venues x 300 symbols, one snapshot per market per minute, ending now (day
partitions are created for the whole range first, so rows land in day partitions, not DEFAULT).
Both paths get the same MarketSnapshot batches and turn them into row tuples inside the timed
region; generating the snapshots is not timed. Raw COPY (binary) goes into an unindexed, logged
plain table with the staging table's columns, one transaction per batch like ingest ("raw,
batched"), and once more as a single COPY stream of every row ("raw, one stream").
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.core.models import MarketSnapshot

DEXES = {"hyperliquid": 1, "lighter": 1, "paradex": 8, "grvt": 8, "edgex": 4}   # funding interval hours
RAW_TABLE = "bench_raw_copy"
RAW_DDL = f"""CREATE TABLE {RAW_TABLE} (
    dex_id integer, symbol_id integer, fetched_ms bigint, funding_rate numeric, funding_interval_hours numeric,
    next_funding_ms bigint, venue_ms bigint, mark_price numeric, index_price numeric, open_interest_usd numeric,
    open_interest_base numeric, volume_24h numeric, best_bid numeric, best_ask numeric,
    collection_latency_ms integer, dex_symbol text, multiplier numeric, quote text)"""
RAW_TYPES = ["int4", "int4", "int8", "numeric", "numeric", "int8", "int8", "numeric", "numeric", "numeric",
             "numeric", "numeric", "numeric", "numeric", "int4", "text", "numeric", "text"]


class Universe:
    """Per-market constants and a pool of realistic Decimal values (shared objects keep memory flat)."""

    def __init__(self, markets_per_dex: int, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.markets = [(dex, f"S{i:03d}", Decimal(interval)) for dex, interval in DEXES.items()
                        for i in range(markets_per_dex)]
        self.rates = [Decimal(rnd.randint(-300, 900)) / Decimal(10_000_000) for _ in range(4096)]
        self.prices = {sym: Decimal(rnd.randint(1, 9_000_000)) / Decimal(100) for _, sym, _ in self.markets}
        self.oi = [Decimal(rnd.randint(10_000, 900_000_000)) for _ in range(1024)]
        self.rnd = rnd

    def minute(self, ts_ms: int) -> list[MarketSnapshot]:
        rnd, out = self.rnd, []
        for dex, sym, interval in self.markets:
            px = self.prices[sym]
            out.append(MarketSnapshot(
                dex=dex, symbol=sym, dex_symbol=f"{sym}-USD-PERP", funding_rate=rnd.choice(self.rates),
                funding_interval_hours=interval, mark_price=px, fetched_at_ms=ts_ms + rnd.randint(0, 900),
                index_price=px, open_interest_usd=rnd.choice(self.oi), volume_24h_usd=rnd.choice(self.oi),
                best_bid=px, best_ask=px, next_funding_time_ms=ts_ms + 3_600_000, venue_ts_ms=ts_ms,
                collection_latency_ms=rnd.randint(50, 900)))
        return out


def batches(universe: Universe, rows: int, batch_rows: int, end: datetime) -> Iterator[list[MarketSnapshot]]:
    per_minute = len(universe.markets)
    minutes = -(-rows // per_minute)
    start_ms = int((end - timedelta(minutes=minutes)).timestamp() * 1000)
    pending: list[MarketSnapshot] = []
    left = rows
    for m in range(minutes):
        snaps = universe.minute(start_ms + m * 60_000)[:left]
        left -= len(snaps)
        pending.extend(snaps)
        while len(pending) >= batch_rows:
            yield pending[:batch_rows]
            pending = pending[batch_rows:]
    if pending:
        yield pending


def run_ingest(dsn: str, args: argparse.Namespace, end: datetime) -> tuple[int, float]:
    from chalicelib.storage.repository import PgStorage

    storage = PgStorage(dsn)
    minutes = -(-args.rows // (5 * args.markets))
    storage.ensure_partitions(end - timedelta(minutes=minutes + 1), end)
    storage.ingest(Universe(args.markets, seed=99).minute(int(end.timestamp() * 1000) - 86_400_000 * 3))  # warm-up
    written, spent = 0, 0.0
    for batch in batches(Universe(args.markets), args.rows, args.batch_rows, end):
        t0 = time.perf_counter()
        written += storage.ingest(batch)
        spent += time.perf_counter() - t0
    storage.close()
    return written, spent


def _raw_row(dex_ids: dict[str, int], sym_ids: dict[str, int], s: MarketSnapshot) -> tuple:
    return (dex_ids[s.dex], sym_ids[s.symbol], s.fetched_at_ms, s.funding_rate, s.funding_interval_hours,
            s.next_funding_time_ms, s.venue_ts_ms, s.mark_price, s.index_price, s.open_interest_usd,
            s.open_interest_base, s.volume_24h_usd, s.best_bid, s.best_ask, s.collection_latency_ms,
            s.dex_symbol, s.multiplier, s.quote)


def run_raw(dsn: str, args: argparse.Namespace, end: datetime, *, one_stream: bool) -> tuple[int, float]:
    import psycopg

    universe = Universe(args.markets)
    dex_ids = {d: i for i, d in enumerate(DEXES, 1)}
    sym_ids = {sym: i for i, (_, sym, _) in enumerate(universe.markets, 1)}
    with psycopg.connect(dsn) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        conn.execute(RAW_DDL)
        conn.commit()
        written, spent = 0, 0.0
        if one_stream:
            everything = [s for b in batches(universe, args.rows, args.batch_rows, end) for s in b]
            t0 = time.perf_counter()
            with conn.cursor().copy(f"COPY {RAW_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(RAW_TYPES)
                for s in everything:
                    copy.write_row(_raw_row(dex_ids, sym_ids, s))
            conn.commit()
            return len(everything), time.perf_counter() - t0
        for batch in batches(universe, args.rows, args.batch_rows, end):
            t0 = time.perf_counter()
            with conn.cursor().copy(f"COPY {RAW_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(RAW_TYPES)
                for s in batch:
                    copy.write_row(_raw_row(dex_ids, sym_ids, s))
            conn.commit()
            spent += time.perf_counter() - t0
            written += len(batch)
        conn.execute(f"DROP TABLE {RAW_TABLE}")
        conn.commit()
    return written, spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--markets", type=int, default=300, help="symbols per venue (5 venues)")
    parser.add_argument("--batch-rows", type=int, default=15_000,
                        help="snapshots per ingest call (default 15000 = 10 minutes of all 1500 markets)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; the median is reported")
    args = parser.parse_args(argv)

    from _servers import own_servers

    servers = contextlib.ExitStack()
    dsn = servers.enter_context(own_servers()).db_url
    assert dsn is not None
    try:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        print(f"rows={args.rows:,} markets={5 * args.markets} batch={args.batch_rows:,} rows/ingest call, "
              f"repeat={args.repeat} (median reported; each ingest run gets a newer time range)")
        results: dict[str, list[float]] = {"raw COPY, batched": [], "raw COPY, one stream": [],
                                           "PgStorage.ingest": []}
        for r in range(args.repeat):
            # alternate the order so neither path always runs on a warmer (or busier) machine
            runs = [("raw COPY, batched", lambda: run_raw(dsn, args, now, one_stream=False)),
                    ("PgStorage.ingest", lambda r=r: run_ingest(dsn, args, now + timedelta(days=r))),
                    ("raw COPY, one stream", lambda: run_raw(dsn, args, now, one_stream=True))]
            for name, fn in (runs if r % 2 == 0 else runs[::-1]):
                n, spent = fn()
                results[name].append(n / spent)
                print(f"  run {r + 1} {name:<21}: {n:>10,} rows in {spent:7.2f} s = {n / spent:>10,.0f} rows/s")
        med = {name: statistics.median(v) for name, v in results.items()}
        for name, value in med.items():
            print(f"{name:<21} median {value:>10,.0f} rows/s")
        print(f"ratio ingest / raw batched = {med['PgStorage.ingest'] / med['raw COPY, batched']:.2f}x; "
              f"ingest / raw one stream = {med['PgStorage.ingest'] / med['raw COPY, one stream']:.2f}x")
    finally:
        servers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
