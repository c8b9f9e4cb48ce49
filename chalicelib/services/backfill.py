"""`frs backfill`: funding history for every market of the chosen venues, resumable, with progress.

    frs backfill [--dex NAME ... | all] [--symbol SYM ... | all] (--days N | --since YYYY-MM-DD)
                 [--dry-run] [--json] [--chunk-days 7]

Plan. Markets are listed from one live snapshot of each venue and named by the symbol the service
normalizes them to (BTC, PEPE); a venue whose history is keyed by a numeric id (Lighter market_id,
EdgeX contractId) gives it on its snapshots (`market_id`). The range
starts at UTC midnight of the first day asked for and ends now. Each market's range is cut into
windows of up to `--chunk-days` consecutive missing days.

Resume. After a window's rows are committed, each of its FULL UTC days is recorded in
`backfill_days` (sql/0008); a rerun skips recorded days. The points go to funding_rates (rate history)
and to settlements (what the venue paid, sql/0009: the calibration and backtests read it). Today's partial day is never recorded, so
it is always refetched. A crash between the insert and the record costs one refetch, never a gap,
and never a duplicate (history writes are ON CONFLICT DO NOTHING).

Pacing. One thread per venue, its markets one after another; every request (retries included)
waits for a token of the venue's process-wide budget (`bucket_for`, the collectors' published
limit). Transport retries with backoff (RetryPolicy). A market whose window fails is counted and
left for the next run; a venue with MAX_CONSECUTIVE_FAILURES failed markets in a row stops, the
others go on; the summary names both. Exit status 0 only when every venue finished cleanly.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any, TextIO, cast

from chalicelib.settings import Settings, SettingsError
from chalicelib.venues.base import HistoryPoint

DAY_MS = 86_400_000
MAX_PAGES = 10_000
MAX_CONSECUTIVE_FAILURES = 3
WINDOW_DEADLINE_S = 900.0          # one window may page for a while, paced by the budget: still bounded


class BackfillError(RuntimeError):
    """The venue cannot be backfilled as asked (no history API, unknown market, fetch failure)."""


# ---------------------------------------------------------------- pure planning


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str          # normalized asset, e.g. "BTC"
    dex_symbol: str      # the venue's own name, e.g. "BTC-USD-PERP", "ETH"
    key: str             # what history_requests takes (dex_symbol, or "NAME#<id>")
    interval_hours: float = 8.0


@dataclass(frozen=True, slots=True)
class Window:
    start_ms: int
    end_ms: int
    full_days: tuple[date, ...]      # recorded as done once the window's rows are committed


def utc_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def plan_windows(first_day: date, end_ms: int, done: set[date], chunk_days: int) -> list[Window]:
    """Windows over the days from `first_day` to the day of `end_ms`, skipping `done` days.

    Consecutive missing days are grouped up to `chunk_days`; a window ends at the end of its last day
    or at `end_ms`, whichever is first. Only days that end at or before `end_ms` count as full."""
    windows: list[Window] = []
    group: list[date] = []

    def close() -> None:
        if group:
            start, stop = day_start_ms(group[0]), min(day_start_ms(group[-1]) + DAY_MS, end_ms)
            full = tuple(d for d in group if day_start_ms(d) + DAY_MS <= end_ms)
            if stop > start:   # not the day that starts exactly at end_ms alone: nothing to fetch in it
                windows.append(Window(start, stop, full))
            group.clear()

    day, last = first_day, utc_day(end_ms)
    while day <= last:
        if day in done and day_start_ms(day) + DAY_MS <= end_ms:
            close()
        else:
            group.append(day)
            if len(group) >= chunk_days:
                close()
        day += timedelta(days=1)
    close()
    return windows


def estimate_requests(window: Window, interval_hours: float, page_rows: int | None) -> int:
    """Requests one window should take: one per page of `page_rows` settlements (one if unknown)."""
    if not page_rows:
        return 1
    settlements = (window.end_ms - window.start_ms) / (interval_hours * 3_600_000)
    return max(1, math.ceil(settlements / page_rows))


# ---------------------------------------------------------------- progress


@dataclass
class VenueProgress:
    dex: str
    rpm: int
    status: str = "pending"            # pending | listing | running | done | failed | stopped
    markets: int = 0
    markets_done: int = 0
    windows: int = 0
    windows_done: int = 0
    days_skipped: int = 0              # already recorded by an earlier run
    rows: int = 0
    requests: int = 0
    est_requests: int = 0
    errors: int = 0
    error: str | None = None           # why the venue failed or stopped
    failed_markets: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now) - self.started

    def eta_s(self, now: float) -> float | None:
        left = self.windows - self.windows_done
        if left <= 0:
            return 0.0
        if self.windows_done == 0:
            return None
        return self.elapsed(now) / self.windows_done * left


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def progress_line(p: VenueProgress, now: float) -> str:
    rate = p.rows / p.elapsed(now) if p.elapsed(now) > 0 else 0.0
    line = (f"{p.dex:<12} {p.status:<8} markets {p.markets_done}/{p.markets}  windows {p.windows_done}/{p.windows}"
            f"  rows {p.rows}  {rate:,.0f} rows/s  requests {p.requests}  ETA {_fmt_s(p.eta_s(now))}"
            f"  errors {p.errors}")
    return line + (f"  ({p.error})" if p.error else "")


class Reporter:
    """Live lines per venue: redrawn in place on a terminal, plain periodic lines otherwise."""

    def __init__(self, venues: Sequence[VenueProgress], out: TextIO, *, tty: bool, every_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.venues, self.out, self.tty, self.every_s, self.clock = venues, out, tty, every_s, clock
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._drawn = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="backfill-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.draw()

    def draw(self) -> None:
        with self.lock:
            now = self.clock()
            lines = [progress_line(p, now) for p in self.venues]
            if self.tty:
                up = f"\x1b[{self._drawn}F" if self._drawn else ""
                self.out.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
                self._drawn = len(lines)
            else:
                self.out.write("".join(f"backfill: {line}\n" for line in lines))
            self.out.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.draw()


# ---------------------------------------------------------------- fetching


class PacedBudget:
    """A venue's token bucket that WAITS for a token (a backfill has time; a collection does not).

    `reserve` tokens are left in the bucket for others sharing it (the settlement run shares the collectors'
    process-wide bucket in `frs local`: without a reserve it would starve them for minutes)."""

    def __init__(self, bucket: Any, stop: threading.Event, *, scale: float = 1.0, reserve: float = 0.0) -> None:
        self.bucket, self.stop, self.scale, self.reserve = bucket, stop, scale, reserve

    def _take(self, cost: float) -> bool:
        return self.bucket.available - cost >= self.reserve and self.bucket.take(cost)

    def take(self, n: float = 1.0) -> bool:
        cost = n / self.scale
        while not self._take(cost):
            wait = max(0.01, cost / max(self.bucket.refill_per_second, 1e-9) / 4)
            if self.stop.wait(min(wait, 1.0)):
                return False                      # stopping: the Fetcher reports "budget" and we stop
        return True


def fetch_history(module: ModuleType, key: str, start_ms: int, end_ms: int, *, fetcher: Any,
                  on_page: Callable[[int, int], None] | None = None) -> tuple[int, list[HistoryPoint]]:
    """(pages, points in [start, end) sorted by time, one per timestamp) from history_requests/parse_history."""
    spec = module.SPEC
    if not (hasattr(module, "history_requests") and hasattr(module, "parse_history")):
        raise BackfillError(f"{spec.id} has no history API in its venue module (history_requests/parse_history)")
    from chalicelib.transport.http import FetchError

    by_time: dict[int, HistoryPoint] = {}
    # stateful histories (Paradex: delta funding_index between boundaries) also get the cursor the page was asked with
    takes_cursor = "cursor" in inspect.signature(module.parse_history).parameters
    cursor: Any = None
    seen_cursors: set[str] = set()
    pages = 0
    while pages < MAX_PAGES:
        try:
            request = module.history_requests(spec, key, start_ms, end_ms, cursor)
        except ValueError as exc:      # e.g. Lighter/EdgeX need "NAME#<id>"
            raise BackfillError(str(exc)) from None
        if request is None:
            break
        try:
            payload = fetcher.get_json(request)
        except FetchError as exc:
            raise BackfillError(f"page {pages + 1}: {exc.reason}") from None
        points, cursor = module.parse_history(spec, payload, dex_symbol=key,
                                              **({"cursor": cursor} if takes_cursor else {}))
        pages += 1
        for p in points:
            if start_ms <= p.time_ms < end_ms:
                by_time[p.time_ms] = p         # a later page wins (Paradex hours split across pages)
        if on_page is not None:
            on_page(pages, len(points))
        if cursor is None or str(cursor) in seen_cursors:
            break
        seen_cursors.add(str(cursor))
    return pages, [by_time[t] for t in sorted(by_time)]


def list_markets(module: ModuleType, settings: Settings, symbols: set[str] | None) -> list[Market]:
    """The venue's markets (one live listing), filtered by normalized symbol or venue name."""
    from chalicelib.services.collect import _fetch
    from chalicelib.transport.http import Deadline, Fetcher, make_client

    spec = module.SPEC
    client = make_client(spec.max_concurrency)
    try:
        fetcher = Fetcher(client, settings.api_url(spec.id), deadline=Deadline(settings.collection_timeout_seconds * 3),
                          max_concurrency=spec.max_concurrency)
        payloads, error, _failed, _planned = _fetch(module, fetcher)
    finally:
        client.close()
    if error is not None:
        raise BackfillError(f"cannot list markets: {error}")
    from chalicelib.venues.base import ParseError

    try:
        parsed = module.parse(spec, payloads, now_ms=int(time.time() * 1000))
    except ParseError as exc:
        raise BackfillError(f"cannot list markets: parse error: {exc}") from None
    # venues whose history is keyed by an id (Lighter market_id, EdgeX contractId) take "NAME#<id>" (base.history_id)
    markets = [Market(s.symbol, s.dex_symbol, s.dex_symbol if s.market_id is None else f"{s.dex_symbol}#{s.market_id}",
                      float(s.funding_interval_hours))
               for s in parsed.snapshots
               if symbols is None or s.symbol in symbols or s.dex_symbol.upper() in symbols]
    return sorted(markets, key=lambda m: m.dex_symbol)


@dataclass
class Job:
    module: ModuleType
    progress: VenueProgress
    markets: list[Market] = field(default_factory=list)
    windows: dict[str, list[Window]] = field(default_factory=dict)   # dex_symbol -> windows to fetch


def plan_venue(job: Job, settings: Settings, storage: Any, symbols: set[str] | None, first_day: date,
               end_ms: int, chunk_days: int) -> None:
    p = job.progress
    p.status = "listing"
    job.markets = list_markets(job.module, settings, symbols)
    done = storage.backfill_done_days(p.dex, since=first_day) if storage is not None else {}
    # history rows per request, and the hours one row covers where that is not the market's interval (Paradex:
    # a point per hour boundary, whatever its 8 h funding period), as the venue module declares them
    page_rows = getattr(job.module, "HISTORY_PAGE_ROWS", None)
    row_hours = getattr(job.module, "HISTORY_ROW_HOURS", None)
    for m in job.markets:
        windows = plan_windows(first_day, end_ms, done.get(m.dex_symbol, set()), chunk_days)
        job.windows[m.dex_symbol] = windows
        p.days_skipped += len(done.get(m.dex_symbol, set()))
        p.est_requests += sum(estimate_requests(w, row_hours or m.interval_hours, page_rows) for w in windows)
    p.markets = len(job.markets)
    p.windows = sum(len(w) for w in job.windows.values())


def run_venue(job: Job, settings: Settings, storage: Any, stop: threading.Event, lock: threading.Lock,
              *, rate_scale: float = 1.0) -> None:
    """Fetch and store every planned window of one venue; never raises (errors land in progress)."""
    from chalicelib.services.settle import source_of
    from chalicelib.transport.budget import bucket_for
    from chalicelib.transport.http import Deadline, Fetcher, make_client

    spec, p = job.module.SPEC, job.progress
    end_ms = int(time.time() * 1000)
    budget = PacedBudget(bucket_for(spec), stop, scale=rate_scale)
    client = make_client(1)
    consecutive = 0
    p.status, p.started = "running", time.monotonic()
    try:
        for m in job.markets:
            ok = True
            for w in job.windows.get(m.dex_symbol, []):
                if stop.is_set():
                    p.status, p.error = "stopped", "interrupted: rerun to continue where it stopped"
                    return
                fetcher = Fetcher(client, settings.api_url(spec.id), deadline=Deadline(WINDOW_DEADLINE_S),
                                  budget=cast(Any, budget), max_concurrency=1)   # duck-typed take()
                try:
                    _pages, points = fetch_history(job.module, m.key, w.start_ms, w.end_ms, fetcher=fetcher)
                    stored = storage.ingest_history(spec.id, m.symbol, m.dex_symbol, points) if storage else 0
                    if storage is not None:     # what the history endpoints return is what was settled
                        storage.ingest_settlements(spec.id, m.symbol, points, source=source_of(job.module, m.key, end_ms))
                        storage.backfill_mark_days(spec.id, m.dex_symbol, w.full_days, stored)
                except Exception as exc:   # one market's failure is counted; the venue goes on
                    with lock:
                        p.requests += fetcher.requests_made
                        p.errors += 1
                        p.failed_markets.append(m.dex_symbol)
                        p.error = f"{m.dex_symbol}: {exc}"
                    ok = False
                    break
                with lock:
                    p.requests += fetcher.requests_made
                    p.windows_done += 1
                    p.rows += stored if storage is not None else len(points)
            with lock:
                p.markets_done += 1
            consecutive = 0 if ok else consecutive + 1
            if consecutive >= MAX_CONSECUTIVE_FAILURES:
                p.status = "failed"
                p.error = f"stopped after {consecutive} markets failed in a row (last: {p.error})"
                return
        p.status = "done" if p.errors == 0 else "failed"
    finally:
        client.close()
        p.finished = time.monotonic()


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dex", nargs="+", default=["all"], metavar="NAME",
                        help="venue ids (hyperliquid lighter ...) or 'all' (default)")
    parser.add_argument("--symbol", nargs="+", default=["all"], metavar="SYM",
                        help="normalized assets (BTC ETH) or venue market names, or 'all' (default)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--days", type=float, help="from UTC midnight N days ago to now (default 7)")
    when.add_argument("--since", help="from this UTC day (YYYY-MM-DD) to now")
    parser.add_argument("--chunk-days", type=int, default=7, help="days per history request window (default 7)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be fetched and how long it should take")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--progress-every", type=float, default=None,
                        help="seconds between progress lines (default 0.5 on a terminal, 10 otherwise)")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0,
                        help="multiply the venues' published request budgets; only allowed against loopback "
                             "upstreams (the replay server), never the live venues")


def _first_day(args: argparse.Namespace, now_ms: int) -> date:
    if args.since:
        try:
            return date.fromisoformat(args.since)
        except ValueError:
            raise SettingsError(f"--since {args.since!r}: expected a UTC day as YYYY-MM-DD") from None
    days = 7.0 if args.days is None else args.days
    if not (0 < days <= 3660):
        raise SettingsError(f"--days {days:g}: expected a number of days in (0, 3660]")
    return utc_day(now_ms - int(days * DAY_MS))


def _modules(names: Sequence[str]) -> list[ModuleType]:
    from chalicelib.venues import REGISTRY, get_venue

    if [n.lower() for n in names] == ["all"]:
        return list(REGISTRY)
    out = []
    for name in names:
        try:
            out.append(get_venue(name.strip().lower()))
        except KeyError as exc:
            raise SettingsError(str(exc.args[0])) from None
    return out


def _check_scale(scale: float, modules: Iterable[ModuleType], settings: Settings) -> None:
    if scale == 1.0:
        return
    from urllib.parse import urlparse

    if scale <= 0:
        raise SettingsError(f"--rate-limit-scale {scale:g}: expected a positive number")
    for m in modules:
        host = urlparse(settings.api_url(m.SPEC.id)).hostname or ""
        if scale > 1 and not (host == "localhost" or host.startswith("127.") or host == "::1"):
            raise SettingsError(f"--rate-limit-scale {scale:g} > 1 would exceed {m.SPEC.id}'s published limit "
                                f"at {host}: only allowed against a loopback upstream (the replay server)")


def summary_table(progress: Sequence[VenueProgress], now: float) -> str:
    head = f"{'venue':<12} {'status':<8} {'markets':>9} {'windows':>9} {'skipped d':>9} {'rows':>9} {'requests':>9} {'time':>7}  note"
    lines = [head]
    for p in progress:
        lines.append(f"{p.dex:<12} {p.status:<8} {p.markets_done:>4}/{p.markets:<4} {p.windows_done:>4}/{p.windows:<4} "
                     f"{p.days_skipped:>9} {p.rows:>9} {p.requests:>9} {_fmt_s(p.elapsed(now)):>7}  {p.error or ''}")
    return "\n".join(lines)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        stop: threading.Event | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    settings = Settings.from_env()
    modules = _modules(args.dex)
    if args.chunk_days < 1:
        raise SettingsError(f"--chunk-days {args.chunk_days}: expected a whole number of days ≥ 1")
    _check_scale(args.rate_limit_scale, modules, settings)
    symbols = None if [s.lower() for s in args.symbol] == ["all"] else {s.upper() for s in args.symbol}
    end_ms = int(time.time() * 1000)
    first_day = _first_day(args, end_ms)

    storage = None            # read for the plan (days already done) in a dry run too; written otherwise
    if settings.database_url:
        from chalicelib import wiring

        storage = wiring.storage()
    elif not args.dry_run:
        print("frs backfill: DATABASE_URL is not set: fetching and counting only, nothing stored", file=err)

    stop = stop or threading.Event()
    lock = threading.Lock()
    jobs = [Job(m, VenueProgress(m.SPEC.id, m.SPEC.rate_limit.requests_per_minute)) for m in modules]

    def work(job: Job) -> None:
        try:
            plan_venue(job, settings, storage, symbols, first_day, end_ms, args.chunk_days)
            if args.dry_run:
                job.progress.status = "planned"
                return
            run_venue(job, settings, storage, stop, lock, rate_scale=args.rate_limit_scale)
        except BackfillError as exc:
            job.progress.status, job.progress.error = "failed", str(exc)
        except Exception as exc:     # a bug in one venue module must not take the others down
            job.progress.status, job.progress.error = "failed", f"unexpected {type(exc).__name__}: {exc}"

    every = args.progress_every if args.progress_every is not None else (0.5 if err.isatty() else 10.0)
    reporter = Reporter([j.progress for j in jobs], err, tty=err.isatty(), every_s=every)
    if not args.dry_run and not args.json:
        reporter.start()
    threads = [threading.Thread(target=work, args=(j,), name=f"backfill-{j.progress.dex}", daemon=True) for j in jobs]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        print("frs backfill: interrupted; finishing the windows in flight (rerun to continue)", file=err)
        for t in threads:
            t.join(30)
    if not args.dry_run and not args.json:
        reporter.stop()
    now = time.monotonic()
    progress = [j.progress for j in jobs]
    span = {"from": f"{first_day.isoformat()}T00:00:00Z", "to": datetime.fromtimestamp(end_ms / 1000, tz=UTC)
            .isoformat().replace("+00:00", "Z")}
    if args.dry_run:
        _print_plan(progress, span, out, as_json=args.json)
    elif args.json:
        json.dump({"range": span, "venues": [{"dex_name": p.dex} | {k: v for k, v in asdict(p).items() if k != "dex"}
                                             | {"seconds": round(p.elapsed(now), 3)} for p in progress]}, out, default=str)
        out.write("\n")
    else:
        print(f"backfill {span['from']} .. {span['to']}", file=out)
        print(summary_table(progress, now), file=out)
    clean = all(p.status in ("done", "planned") and p.errors == 0 for p in progress)
    return 0 if clean else (130 if stop.is_set() else 1)


def _print_plan(progress: Sequence[VenueProgress], span: dict[str, str], out: TextIO, *, as_json: bool) -> None:
    rows: list[dict[str, Any]] = []
    for p in progress:
        per_s = p.rpm / 60.0
        rows.append({"dex_name": p.dex, "status": p.status, "markets": p.markets, "windows": p.windows,
                     "days_already_done": p.days_skipped, "estimated_requests": p.est_requests,
                     "rate_limit_per_minute": p.rpm,
                     "estimated_seconds": round(p.est_requests / per_s, 1) if per_s > 0 else None,
                     "error": p.error})
    if as_json:
        json.dump({"range": span, "dry_run": True, "venues": rows}, out)
        out.write("\n")
        return
    print(f"dry run: backfill {span['from']} .. {span['to']} (nothing fetched but the market lists)", file=out)
    print(f"{'venue':<12} {'markets':>7} {'windows':>8} {'done d':>7} {'≈requests':>10} {'limit/min':>9} {'≈time':>8}  note",
          file=out)
    for r in rows:
        print(f"{r['dex_name']:<12} {r['markets']:>7} {r['windows']:>8} {r['days_already_done']:>7} "
              f"{r['estimated_requests']:>10} {r['rate_limit_per_minute']:>9} {_fmt_s(r['estimated_seconds']):>8}  "
              f"{r['error'] or ''}", file=out)
    slowest = max((r["estimated_seconds"] or 0 for r in rows), default=0)
    print(f"venues run in parallel: ≈ {_fmt_s(slowest)} in all (the slowest venue)", file=out)
