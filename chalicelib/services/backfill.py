"""`frs backfill --dex D --symbol S --days N`: page through a venue's funding history and store it.

The venue module supplies `history_requests` / `parse_history` (chalicelib/venues/base.py); this
module does the paging through the same transport as the collectors (deadline, retries, budget)
and writes the points through `ingest_history`. `--symbol` is the venue's own market name
(`BTC-USD-PERP`, `kPEPE`; Lighter/EdgeX history is keyed by id: `ETH#0`, `BTCUSDT#10000001`) or the
normalized asset (`BTC`), which is looked up in one live snapshot of the venue.

Without DATABASE_URL (or with --dry-run) the points are counted and the first/last printed.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from chalicelib.core.serialize import iso_ms
from chalicelib.settings import Settings, SettingsError
from chalicelib.venues.base import HistoryPoint, normalize_symbol

DAY_MS = 86_400_000
MAX_PAGES = 10_000


class BackfillError(RuntimeError):
    """The venue cannot be backfilled as asked (no history API, unknown market, fetch failure)."""


@dataclass(frozen=True, slots=True)
class BackfillResult:
    dex: str
    symbol: str
    dex_symbol: str
    pages: int
    points: tuple[HistoryPoint, ...]
    stored: int | None = None


def fetch_history(module: ModuleType, dex_symbol: str, start_ms: int, end_ms: int, *, fetcher: Any,
                  on_page: Callable[[int, int], None] | None = None) -> tuple[int, list[HistoryPoint]]:
    """(pages, points sorted by time, one per timestamp) from history_requests/parse_history paging."""
    spec = module.SPEC
    if not (hasattr(module, "history_requests") and hasattr(module, "parse_history")):
        raise BackfillError(f"{spec.id} has no history API in its venue module (history_requests/parse_history)")
    by_time: dict[int, HistoryPoint] = {}
    # stateful histories (Paradex: delta funding_index between boundaries) also get the cursor the page was asked with
    takes_cursor = "cursor" in inspect.signature(module.parse_history).parameters
    cursor: Any = None
    seen_cursors: set[str] = set()
    pages = 0
    while pages < MAX_PAGES:
        try:
            request = module.history_requests(spec, dex_symbol, start_ms, end_ms, cursor)
        except ValueError as exc:      # e.g. Lighter/EdgeX need "NAME#<id>"
            raise BackfillError(str(exc)) from None
        if request is None:
            break
        from chalicelib.transport.http import FetchError

        try:
            payload = fetcher.get_json(request)
        except FetchError as exc:
            raise BackfillError(f"page {pages + 1}: {exc.reason}") from None
        points, cursor = module.parse_history(spec, payload, dex_symbol=dex_symbol,
                                              **({"cursor": cursor} if takes_cursor else {}))
        pages += 1
        for p in points:
            if start_ms <= p.time_ms <= end_ms:
                by_time[p.time_ms] = p         # a later page wins (Paradex hours split across pages)
        if on_page is not None:
            on_page(pages, len(points))
        if cursor is None or str(cursor) in seen_cursors:
            break
        seen_cursors.add(str(cursor))
    return pages, [by_time[t] for t in sorted(by_time)]


def resolve_dex_symbol(module: ModuleType, symbol: str, settings: Settings) -> str:
    """The venue's own market name for `symbol`: kept when it already names a market (or has '#id');
    a normalized asset (BTC, PEPE) is looked up in one live snapshot of the venue."""
    if "#" in symbol:
        return symbol
    from chalicelib.services.collect import collect_venue
    from chalicelib.transport.breaker import CircuitBreaker, DictStore

    scratch = CircuitBreaker(module.SPEC.id, DictStore(), threshold=10**6, reset_seconds=1)
    result = collect_venue(module, settings, breaker=scratch)
    if not result.snapshots:
        print(f"warning: could not list {module.SPEC.id} markets ({result.error}); using {symbol!r} as given",
              file=sys.stderr)
        return symbol
    names = {s.dex_symbol for s in result.snapshots}
    if symbol in names:
        return symbol
    matches = sorted(s.dex_symbol for s in result.snapshots if s.symbol == symbol.upper())
    if not matches:
        raise BackfillError(f"{module.SPEC.id} lists no market for {symbol!r}")
    return matches[0]


# Named SQL for the direct path (funding_rates as created by sql/0002_timeseries.sql). History rows carry
# the venue's settlement time as both `time` and `venue_time`; mark_price only where the venue gives it.
SQL_DEX_ID = "SELECT id FROM dexes WHERE name = %(dex)s"
SQL_UPSERT_SYMBOL = """
INSERT INTO symbols (symbol) VALUES (%(symbol)s)
ON CONFLICT (symbol) DO UPDATE SET symbol = EXCLUDED.symbol
RETURNING id"""
SQL_INSERT_HISTORY = """
INSERT INTO funding_rates (time, dex_id, symbol_id, funding_rate, funding_interval_hours, mark_price,
                           venue_time, fetched_at)
SELECT to_timestamp(t / 1000.0), %(dex_id)s, %(symbol_id)s, rate, hours, mark, to_timestamp(t / 1000.0), now()
FROM unnest(%(times)s::bigint[], %(rates)s::numeric[], %(hours)s::numeric[], %(marks)s::numeric[])
     AS p(t, rate, hours, mark)
ON CONFLICT (dex_id, symbol_id, time) DO NOTHING"""


def ingest_history(database_url: str, dex: str, symbol: str, dex_symbol: str,
                   points: Sequence[HistoryPoint]) -> int:
    """Write history points into funding_rates; returns rows inserted (re-runs insert nothing twice).

    Uses the storage's own `PgStorage.ingest_history(dex, symbol, dex_symbol, points)` when it exists;
    until then this minimal direct insert (no zero-filled mark prices: NULL where the venue gives none)."""
    import importlib

    try:
        pg_storage: Any = importlib.import_module("chalicelib.storage.repository").PgStorage
    except (ImportError, AttributeError):
        pg_storage = None
    if callable(getattr(pg_storage, "ingest_history", None)):
        storage = pg_storage(database_url)
        try:
            return int(storage.ingest_history(dex, symbol, dex_symbol, points))
        finally:
            getattr(storage, "close", lambda: None)()
    import psycopg

    with psycopg.connect(database_url, prepare_threshold=None) as conn:
        row = conn.execute(SQL_DEX_ID, {"dex": dex}).fetchone()
        if row is None:
            raise BackfillError(f"dex {dex!r} is not in the dexes table (run `frs migrate`)")
        symbol_row = conn.execute(SQL_UPSERT_SYMBOL, {"symbol": symbol}).fetchone()
        assert symbol_row is not None
        cur = conn.execute(SQL_INSERT_HISTORY, {
            "dex_id": row[0], "symbol_id": symbol_row[0], "times": [p.time_ms for p in points],
            "rates": [p.funding_rate for p in points], "hours": [p.funding_interval_hours for p in points],
            "marks": [p.mark_price for p in points]})
        return cur.rowcount


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dex", required=True, help="venue id, e.g. hyperliquid")
    parser.add_argument("--symbol", required=True, help="asset (BTC) or the venue's market name (BTC-USD-PERP, ETH#0)")
    parser.add_argument("--days", type=float, default=7, help="how far back (default 7)")
    parser.add_argument("--dry-run", action="store_true", help="fetch and count, do not store")


def run(args: argparse.Namespace) -> int:
    from chalicelib.transport.budget import bucket_for
    from chalicelib.transport.http import Deadline, Fetcher, make_client
    from chalicelib.venues import get_venue

    settings = Settings.from_env()
    try:
        module = get_venue(args.dex.strip().lower())
    except KeyError as exc:
        raise SettingsError(str(exc.args[0])) from None
    if args.days <= 0:
        raise SettingsError(f"--days {args.days}: expected a positive number of days")
    spec = module.SPEC
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - int(args.days * DAY_MS)
    try:
        dex_symbol = resolve_dex_symbol(module, args.symbol, settings)
        client = make_client(1)
        # a backfill may page for minutes: give it ten collection deadlines, still bounded
        fetcher = Fetcher(client, settings.api_url(spec.id), deadline=Deadline(settings.collection_timeout_seconds * 10),
                          budget=bucket_for(spec), max_concurrency=1)
        try:
            pages, points = fetch_history(
                module, dex_symbol, start_ms, end_ms, fetcher=fetcher,
                on_page=lambda n, k: print(f"page {n}: {k} points", file=sys.stderr, flush=True))
        finally:
            client.close()
    except BackfillError as exc:
        print(f"frs backfill: {exc}", file=sys.stderr)
        return 1
    symbol, _multiplier = normalize_symbol(dex_symbol.split("#", 1)[0], spec)
    span = f"{iso_ms(points[0].time_ms)} .. {iso_ms(points[-1].time_ms)}" if points else "no points"
    print(f"{spec.id} {dex_symbol} ({symbol}): {pages} pages, {len(points)} points, {span}")
    if args.dry_run or not settings.database_url or not points:
        if not settings.database_url and not args.dry_run:
            print("DATABASE_URL is not set: nothing stored", file=sys.stderr)
        return 0
    try:
        stored = ingest_history(settings.database_url, spec.id, symbol, dex_symbol, points)
    except BackfillError as exc:
        print(f"frs backfill: {exc}", file=sys.stderr)
        return 1
    print(f"stored {stored} rows into funding_rates")
    return 0
