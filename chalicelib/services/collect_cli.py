"""`frs collect`: fetch, normalize and print venue snapshots; store them when DATABASE_URL is set.

    frs collect --once                      aligned table on stdout, one outcome line per venue on stderr
    frs collect --once --json               one JSON record per market (chalicelib.core.codec.rate_record)
    frs collect --once --dex grvt --dex edgex
    frs collect                             loop: a cycle every COLLECTION_INTERVAL_SECONDS until Ctrl-C

Exit status: 0 when at least one venue succeeded (fully or partially), 1 when every venue failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TextIO

from chalicelib.core.codec import rate_record
from chalicelib.core.models import MarketSnapshot
from chalicelib.core.serialize import dumps
from chalicelib.services.collect import FAILED, VenueResult, collect_all
from chalicelib.settings import Settings, SettingsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="run one cycle and exit (default: loop every "
                        "COLLECTION_INTERVAL_SECONDS)")
    parser.add_argument("--dex", action="append", default=[], metavar="NAME", help="only this venue (repeatable)")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument("--no-store", action="store_true", help="do not write to DATABASE_URL even when set")


def _modules(names: Sequence[str], settings: Settings) -> list:
    from chalicelib.venues import REGISTRY, get_venue

    chosen = [n.strip().lower() for n in names] or list(settings.enabled_dexes)
    if not chosen:
        return list(REGISTRY)
    try:
        return [get_venue(n) for n in dict.fromkeys(chosen)]
    except KeyError as exc:
        raise SettingsError(str(exc.args[0])) from None


def _fmt(value: Decimal | None, places: int) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def _price(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if value >= 100 else f"{value:.6g}"


TABLE_HEADER = ("dex", "symbol", "dex_symbol", "interval h", "rate_8h %", "APR %", "mark", "OI USD", "vol 24h USD")


def table_rows(snapshots: Sequence[MarketSnapshot]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for s in sorted(snapshots, key=lambda s: (s.dex, s.symbol, s.dex_symbol)):
        rows.append((s.dex, s.symbol, s.dex_symbol, f"{s.funding_interval_hours.normalize():f}",
                     _fmt(s.rate_8h * 100, 4), _fmt(s.annualized_rate, 2), _price(s.mark_price),
                     _fmt(s.open_interest_usd, 0), _fmt(s.volume_24h_usd, 0)))
    return rows


def print_table(snapshots: Sequence[MarketSnapshot], out: TextIO) -> None:
    rows = [TABLE_HEADER, *table_rows(snapshots)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_HEADER))]
    numeric = set(range(3, len(TABLE_HEADER)))
    for row in rows:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.write("  ".join(cells).rstrip() + "\n")


def outcome_line(r: VenueResult, width: int = 11) -> str:
    """`hyperliquid  ok  118 markets  0 rejected  fetch 120 ms  parse 4 ms  store 30 ms` / `grvt  FAILED  <reason>`."""
    if r.status == FAILED:
        return f"{r.dex:<{width}}  FAILED   {r.error}"
    word = "ok" if r.status == "success" else r.status
    line = (f"{r.dex:<{width}}  {word:<7}  {len(r.snapshots):>4} markets  {len(r.rejects):>3} rejected  "
            f"fetch {r.fetch_ms} ms  parse {r.parse_ms} ms")
    if r.store_ms is not None:
        line += f"  store {r.store_ms} ms"
    if r.status != "success" and r.error:
        line += f"  ({r.error})"
    return line


def cycle(args: argparse.Namespace, settings: Settings, storage: object | None, out: TextIO, err: TextIO) -> bool:
    """One collection; True when at least one venue produced data."""
    modules = _modules(args.dex, settings)
    width = max(len(m.SPEC.id) for m in modules)
    results = collect_all(modules, settings, storage,
                          on_result=lambda r: print(outcome_line(r, width), file=err, flush=True))
    snapshots = [s for r in results for s in r.snapshots]
    if args.json:
        for s in sorted(snapshots, key=lambda s: (s.dex, s.symbol, s.dex_symbol)):
            out.write(dumps(rate_record(s)) + "\n")
    else:
        print_table(snapshots, out)
    out.flush()
    return any(r.status != FAILED for r in results)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    storage = None
    if settings.database_url and not args.no_store:
        from chalicelib import wiring  # the composition root builds the adapter

        wiring.override(settings=settings)
        storage = wiring.storage()
    try:
        if args.once:
            return 0 if cycle(args, settings, storage, sys.stdout, sys.stderr) else 1
        print(f"frs collect: a cycle every {settings.collection_interval_seconds} s (Ctrl-C stops; --once for one)",
              file=sys.stderr)
        while True:
            started = time.monotonic()
            cycle(args, settings, storage, sys.stdout, sys.stderr)
            time.sleep(max(0.0, settings.collection_interval_seconds - (time.monotonic() - started)))
    finally:
        if storage is not None:
            from chalicelib import wiring

            wiring.reset()   # closes what it built
