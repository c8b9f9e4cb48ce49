"""PgStorage: the services' Storage port on PostgreSQL 15+ (plain partitions or TimescaleDB).

SQL lives in chalicelib/storage/queries/*.sql as named blocks (see queries.py); this module only
binds parameters, moves rows and rebuilds domain records.

Ingest, in one transaction: symbols/venues discovered with one INSERT ... SELECT unnest ... ON CONFLICT
DO NOTHING and one SELECT of ids (then cached); the newest row per market COPYed (binary) into the
session's staging table frs_stage; every row COPYed straight into funding_rates inside a savepoint
(new data, the normal case), or, when that hits the primary key (a batch sent again), staged too and
merged with INSERT ... SELECT ... ON CONFLICT (time, dex_id, symbol_id) DO UPDATE; finally
latest_funding_rates and dex_symbols are upserted from the staged newest rows (older never wins).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity
from chalicelib.core.ports import CollectionOutcome, HistoryPage
from chalicelib.core.venue_state import Baseline
from chalicelib.storage.db import Database
from chalicelib.storage.queries import q

log = logging.getLogger(__name__)

_STAGE_TYPES = ["int4", "int4", "int8", "numeric", "numeric", "int8", "int8", "numeric", "numeric", "numeric",
                "numeric", "numeric", "numeric", "numeric", "int4", "text", "numeric", "text", "numeric", "bool"]


_FR_TYPES = ["timestamptz", "int4", "int4", "numeric", "numeric", "timestamptz", "numeric", "numeric", "numeric",
             "numeric", "numeric", "numeric", "timestamptz", "timestamptz", "int4"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ts(ms: int | None) -> datetime | None:
    """Epoch ms -> aware UTC datetime, exactly (integer arithmetic, no float rounding)."""
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


def _dec(value: Any) -> Decimal | None:
    """Decimal from a NUMERIC (already Decimal) or a float8 (percentile_cont) without binary noise."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(float(value)))


def _dt(ms: int | None) -> datetime | None:
    return _ts(ms)


def _scalar(conn: psycopg.Connection, name: str, params: dict[str, Any] | None = None) -> Any:
    """First column of the single row query `name` returns."""
    row = conn.execute(q(name), params or {}).fetchone()
    if row is None:
        raise LookupError(f"query {name} returned no row")
    return row[0]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass timezone-aware UTC datetimes")
    return value


def venue_rows(names: Sequence[str]) -> dict[str, list[Any]]:
    """insert_dexes parameters for venues missing from `dexes`, from each one's VenueSpec (fees from the
    spec, never a silent zero). A name no venue module accounts for is refused (LookupError)."""
    from chalicelib.venues import venue_spec

    specs = [venue_spec(n) for n in names]
    orphans = [n for n, s in zip(names, specs, strict=True) if s is None]
    if orphans:
        raise LookupError(f"venue(s) {', '.join(orphans)} have no venue module: refusing to register them "
                          "without fees (add the module to chalicelib/venues REGISTRY)")
    known = [s for s in specs if s is not None]
    return {"names": [s.id for s in known], "display_names": [s.display_name for s in known],
            "urls": [s.default_base_url for s in known], "makers": [s.fees.maker for s in known],
            "takers": [s.fees.taker for s in known],
            "metadata": [Jsonb({"source": f"VenueSpec {s.id}", "fees_note": "base tier from the venue module",
                                "docs": s.docs_url}) for s in known],
            "intervals": [s.funding_interval_hours for s in known],
            "limits": [s.rate_limit.requests_per_minute for s in known]}


class PgStorage:
    """Storage port on one reused connection (chalicelib.storage.db.Database)."""

    def __init__(self, dsn: str) -> None:
        self.db = Database(dsn)
        self._dex_ids: dict[str, int] = {}
        self._symbol_ids: dict[str, int] = {}

    def close(self) -> None:
        self.db.close()

    # ---- id resolution (cached per process: ids never change once assigned) ------------------------
    def _resolve_dexes(self, conn: psycopg.Connection, names: Iterable[str]) -> dict[str, int]:
        missing = sorted({n for n in names if n not in self._dex_ids})
        if missing:
            found: dict[str, int] = dict(conn.execute(q("dex_ids"), {"names": missing}).fetchall())
            unknown = [n for n in missing if n not in found]
            if unknown:
                log.info("venue(s) %s not in dexes: registering them from their VenueSpec", ", ".join(unknown))
                conn.execute(q("insert_dexes"), venue_rows(unknown))
                found.update(conn.execute(q("dex_ids"), {"names": unknown}).fetchall())
            self._dex_ids.update(found)
        return self._dex_ids

    def _resolve_symbols(self, conn: psycopg.Connection, symbols: Iterable[str]) -> dict[str, int]:
        missing = sorted({s for s in symbols if s not in self._symbol_ids})
        if missing:
            conn.execute(q("insert_symbols"), {"symbols": missing})
            self._symbol_ids.update(conn.execute(q("symbol_ids"), {"symbols": missing}).fetchall())
        return self._symbol_ids

    def _forget(self) -> None:
        # a rolled-back transaction may have cached ids that do not exist
        self._dex_ids.clear()
        self._symbol_ids.clear()

    # ---- collection ---------------------------------------------------------------------------------
    def ingest(self, snapshots: Sequence[MarketSnapshot]) -> int:
        """funding_rates (idempotent on time, dex, symbol), latest_funding_rates (newer wins),
        dex_symbols and symbol discovery in one transaction. Returns funding_rates rows written."""
        if not snapshots:
            return 0
        # one row per (dex, symbol, fetch time): the last occurrence wins, as ON CONFLICT needs
        unique = list({(s.dex, s.symbol, s.fetched_at_ms): s for s in snapshots}.values())
        # the newest row of each market feeds latest_funding_rates / dex_symbols (no sort in SQL)
        newest: dict[tuple[str, str], MarketSnapshot] = {}
        for s in unique:
            seen = newest.get((s.dex, s.symbol))
            if seen is None or s.fetched_at_ms > seen.fetched_at_ms:
                newest[(s.dex, s.symbol)] = s
        latest_ids = {id(s) for s in newest.values()}

        def work(conn: psycopg.Connection) -> int:
            conn.execute("SET LOCAL synchronous_commit = off")   # re-fetchable data: trade durability for speed
            dex_ids = self._resolve_dexes(conn, {s.dex for s in unique})
            symbol_ids = self._resolve_symbols(conn, {s.symbol for s in unique})
            # every time, not once per connection: behind PgBouncer/RDS Proxy the next transaction may
            # run on another server session; IF NOT EXISTS is a catalog lookup
            conn.execute(q("create_stage"))
            with conn.cursor() as cur:
                # the newest row per market feeds latest_funding_rates and dex_symbols via the stage
                self._copy_stage(cur, dex_ids, symbol_ids, (s for s in unique if id(s) in latest_ids), True)
                try:
                    # savepoint + straight COPY: about half the work of staging + upsert
                    with conn.transaction(), cur.copy(q("copy_funding_rates")) as copy:
                        copy.set_types(_FR_TYPES)
                        write = copy.write_row
                        for s in unique:
                            at = _EPOCH + timedelta(milliseconds=s.fetched_at_ms)
                            write((at, dex_ids[s.dex], symbol_ids[s.symbol], s.funding_rate,
                                   s.funding_interval_hours, _ts(s.next_funding_time_ms), s.index_price,
                                   s.mark_price, s.open_interest_usd, s.volume_24h_usd, s.best_bid, s.best_ask,
                                   _ts(s.venue_ts_ms), at, s.collection_latency_ms))
                    written = len(unique)
                except psycopg.errors.UniqueViolation:
                    # (part of) this batch was stored before: stage the rest too and upsert
                    self._copy_stage(cur, dex_ids, symbol_ids, (s for s in unique if id(s) not in latest_ids),
                                     False)
                    cur.execute(q("stage_to_funding_rates"))
                    written = cur.rowcount
                cur.execute(q("stage_to_latest"))
                cur.execute(q("stage_to_dex_symbols"))
            return written

        return self._write(work)

    @staticmethod
    def _copy_stage(cur: psycopg.Cursor, dex_ids: dict[str, int], symbol_ids: dict[str, int],
                    snapshots: Iterable[MarketSnapshot], is_latest: bool) -> None:
        with cur.copy(q("copy_stage")) as copy:
            copy.set_types(_STAGE_TYPES)
            write = copy.write_row
            for s in snapshots:
                write((dex_ids[s.dex], symbol_ids[s.symbol], s.fetched_at_ms, s.funding_rate,
                       s.funding_interval_hours, s.next_funding_time_ms, s.venue_ts_ms, s.mark_price,
                       s.index_price, s.open_interest_usd, s.open_interest_base, s.volume_24h_usd,
                       s.best_bid, s.best_ask, s.collection_latency_ms, s.dex_symbol, s.multiplier,
                       s.quote, s.min_order_size, is_latest))

    def _write(self, work: Any) -> Any:
        try:
            return self.db.run(work, on_retry=self._forget)
        except Exception:
            self._forget()
            raise

    def ingest_history(self, dex: str, symbol: str, dex_symbol: str, points: Sequence[Any]) -> int:
        """Backfilled history (objects with time_ms, funding_rate, funding_interval_hours, mark_price):
        day partitions are created for the days covered (so old rows do not pile up in DEFAULT), rows
        already present are kept (ON CONFLICT DO NOTHING). Returns rows inserted."""
        return self._insert_points("funding_rates", "insert_history", dex, symbol, points, dex_symbol=dex_symbol)

    def _insert_points(self, parent: str, query: str, dex: str, symbol: str, points: Sequence[Any], *,
                       dex_symbol: str | None = None, **extra: Any) -> int:
        """One market's points (history or settlements) into `parent`: its day partitions first, then the
        named insert (ON CONFLICT DO NOTHING). Returns rows inserted."""
        if not points:
            return 0
        days = sorted({datetime.fromtimestamp(p.time_ms / 1000, tz=UTC).date() for p in points})

        def work(conn: psycopg.Connection) -> int:
            dex_id = self._resolve_dexes(conn, [dex])[dex]
            symbol_id = self._resolve_symbols(conn, [symbol])[symbol]
            if dex_symbol is not None:
                conn.execute(q("insert_dex_symbol"), {"dex_id": dex_id, "symbol_id": symbol_id, "dex_symbol": dex_symbol})
            if _scalar(conn, "storage_backend") == "partitions":
                conn.execute(q("ensure_partitions"), {"parents": [parent], "days": days})
            cur = conn.execute(q(query), {
                "dex_id": dex_id, "symbol_id": symbol_id, "times": [p.time_ms for p in points],
                "rates": [p.funding_rate for p in points], "hours": [p.funding_interval_hours for p in points],
                "marks": [p.mark_price for p in points], **extra})
            return cur.rowcount

        return int(self._write(work))

    def log_collection(self, outcome: CollectionOutcome) -> None:
        def work(conn: psycopg.Connection) -> None:
            dex_id = self._resolve_dexes(conn, [outcome.dex])[outcome.dex]
            conn.execute(q("log_collection"), {
                "dex_id": dex_id, "started_at": _utc(outcome.started_at), "completed_at": _utc(outcome.completed_at),
                "status": outcome.status, "markets": outcome.markets, "rejected": outcome.rejected,
                "latency_ms": outcome.latency_ms, "error": outcome.error, "ok": outcome.status != "failed",
                "unfetched": outcome.unfetched, "baseline_markets": outcome.baseline_markets})

        self._write(work)

    def market_baseline(self, dex: str) -> Baseline | None:
        from chalicelib.core.venue_state import BASELINE_RUNS

        row = self._rows("market_baseline", {"dex": dex, "runs": BASELINE_RUNS})[0]
        return None if not row["samples"] else Baseline(float(row["markets"]), int(row["samples"]))

    def latest_collections(self) -> dict[str, dict[str, Any]]:
        return {r["dex"]: r for r in self._rows("latest_collections")}

    # ---- reads ------------------------------------------------------------------------------------
    def _rows(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        def work(conn: psycopg.Connection) -> list[dict[str, Any]]:
            with conn.cursor(row_factory=dict_row) as cur:
                return cur.execute(q(name), params or {}).fetchall()

        return self.db.run(work)

    def latest_snapshots(self, dex: str | None = None, symbol: str | None = None) -> list[MarketSnapshot]:
        return [MarketSnapshot(**row) for row in self._rows("latest_snapshots", {"dex": dex, "symbol": symbol})]

    def fee_schedules(self) -> dict[str, FeeSchedule]:
        from chalicelib.core.codec import fee_from_dict

        return {row["name"]: fee_from_dict({**row, "fee_tiers": row["tiers"]}) for row in self._rows("fee_schedules")}

    def update_fees(self, dex: str, fees: FeeSchedule) -> bool:
        params = {"dex": dex, "maker": fees.maker, "taker": fees.taker,
                  "mins": [t.min_volume_30d for t in fees.tiers], "maxs": [t.max_volume_30d for t in fees.tiers],
                  "makers": [t.maker_fee for t in fees.tiers], "takers": [t.taker_fee for t in fees.tiers]}
        return bool(self._write(lambda conn: conn.execute(q("update_fees"), params).fetchone()))

    def dexes(self) -> list[dict[str, Any]]:
        return self._rows("dexes")

    def dex_symbols(self, dex: str) -> list[dict[str, Any]]:
        return self._rows("dex_symbols", {"dex": dex})

    def known_symbols(self) -> set[str]:
        return {row["symbol"] for row in self._rows("known_symbols")}

    # ---- opportunities ------------------------------------------------------------------------------
    def write_opportunities(self, opportunities: Sequence[Opportunity]) -> int:
        if not opportunities:
            return 0

        def work(conn: psycopg.Connection) -> int:
            dex_ids = self._resolve_dexes(conn, {d for o in opportunities for d in (o.long_dex, o.short_dex)})
            symbol_ids = self._resolve_symbols(conn, {o.symbol for o in opportunities})
            with conn.cursor() as cur, cur.copy(q("copy_opportunities")) as copy:
                for o in opportunities:
                    copy.write_row(self._opportunity_row(o, dex_ids, symbol_ids))
            return len(opportunities)

        return int(self._write(work))

    # ---- opportunity lifecycle (sql/0010; core/lifecycle.py) ------------------------------------------
    def open_spells(self) -> dict[str, Any]:
        """{opportunity id: core.lifecycle.Spell} of the opportunities open now."""
        from chalicelib.core.lifecycle import spell_from_row

        return {r["opportunity_key"]: spell_from_row(r) for r in self._rows("open_spells")}

    def write_lifecycle(self, events: Sequence[Any], spells: Mapping[str, Any]) -> int:
        """Store lifecycle events (core.lifecycle.LifecycleEvent) and the open spells after them, in one
        transaction: opened/changed rows with their values, closed rows repeating the last recorded values.
        Returns the rows written."""
        if not events:
            return 0
        valued = [e for e in events if e.opportunity is not None]
        closed = [e.id for e in events if e.opportunity is None]
        touched = {e.id for e in valued}

        def work(conn: psycopg.Connection) -> int:
            written = 0
            if closed:
                written += conn.execute(q("close_opportunities"), {"keys": closed, "at": _ts(events[0].time_ms)}).rowcount
                conn.execute(q("delete_open"), {"keys": closed})
            if valued:
                opps = [e.opportunity for e in valued]
                dex_ids = self._resolve_dexes(conn, {d for o in opps for d in (o.long_dex, o.short_dex)})
                symbol_ids = self._resolve_symbols(conn, {o.symbol for o in opps})
                with conn.cursor() as cur, cur.copy(q("copy_opportunity_events")) as copy:
                    for e in valued:
                        copy.write_row((*self._opportunity_row(e.opportunity, dex_ids, symbol_ids), e.event,
                                        _dt(e.opened_at_ms)))
                written += len(valued)
                keys = sorted(touched)
                conn.execute(q("upsert_open"), {
                    "keys": keys, "opened": [spells[k].opened_at_ms for k in keys],
                    "divergences": [spells[k].divergence for k in keys],
                    "long_hours": [spells[k].long_interval_hours for k in keys],
                    "short_hours": [spells[k].short_interval_hours for k in keys]})
            return written

        return int(self._write(work))

    def hourly_rates(self, hours: Sequence[int]) -> dict[int, dict[tuple[str, str], float]]:
        """{hour start (ms): {(symbol, dex): average rate_8h stored in that clock hour}} (core/persistence.py)."""
        out: dict[int, dict[tuple[str, str], float]] = {h: {} for h in hours}
        for r in self._rows("hourly_rates", {"hours": list(hours)}):
            out.setdefault(int(r["hour_ms"]), {})[(r["symbol"], r["dex"])] = float(r["rate_8h"])
        return out

    @staticmethod
    def _opportunity_row(o: Opportunity, dex_ids: dict[str, int], symbol_ids: dict[str, int]) -> tuple[Any, ...]:
        return (o.id, symbol_ids[o.symbol], dex_ids[o.long_dex], dex_ids[o.short_dex], o.long_rate,
                o.short_rate, o.divergence, o.divergence_1h, o.estimated_fees, o.net_profit_percent,
                o.annualized_apy, o.gross_apr, o.breakeven_hours, o.hold_hours, o.fee_type,
                o.long_volume_24h, o.short_volume_24h, o.min_volume_24h, o.long_oi_usd, o.short_oi_usd,
                o.min_oi_usd, o.max_oi_usd, o.oi_ratio, o.oi_imbalance, o.long_spread_bps,
                o.short_spread_bps, o.avg_spread_bps, o.mark_spread_bps, o.long_mark_price,
                o.short_mark_price, o.long_interval_hours, o.short_interval_hours,
                _dt(o.discovered_at_ms), _dt(o.valid_until_ms),
                Jsonb({k: v for k, v in (o.metadata or {}).items() if k != "realized"}, dumps=_dumps))

    def opportunity_history(
        self, *, symbol: str | None, start: datetime, end: datetime, min_profit: Decimal | None,
        limit: int, offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Rows newest first (discovered_at in [start, end]) and the total matching count."""
        params = {"symbol": symbol, "start": _utc(start), "end": _utc(end), "min_profit": min_profit,
                  "limit": limit, "offset": offset}

        def work(conn: psycopg.Connection) -> tuple[list[dict[str, Any]], int]:
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(q("opportunity_history"), params).fetchall()
            total = conn.execute(q("opportunity_history_count"), params).fetchone()
            return rows, int(total[0]) if total else 0

        return self.db.run(work)

    # ---- history and statistics ------------------------------------------------------------------
    def rate_history(
        self, *, dex: str, symbol: str, start: datetime, end: datetime,
        bucket_seconds: int | None, page: int, page_size: int,
    ) -> HistoryPage:
        """Points OLDEST FIRST in [start, end]: raw samples (bucket_seconds None) or date_bin buckets
        (avg of rate_8h as `rate`, plus avg funding_rate / rate_1h, samples, first/last time).
        `total` counts points in the whole range; statistics are over the raw rate_8h samples."""
        if page < 1 or page_size < 1:
            raise ValueError("page and page_size must be >= 1")
        if bucket_seconds is not None and bucket_seconds < 1:
            raise ValueError("bucket_seconds must be >= 1 or None")
        start, end = _utc(start), _utc(end)

        def work(conn: psycopg.Connection) -> HistoryPage:
            ids = conn.execute(q("market_ids"), {"dex": dex, "symbol": symbol}).fetchone()
            empty: dict[str, Decimal | None] = dict.fromkeys(
                ("avg_rate", "median_rate", "std_dev", "min_rate", "max_rate"))
            if ids is None:
                return HistoryPage(points=[], total=0, statistics=empty, period_start=start, period_end=end)
            params = {"dex_id": ids[0], "symbol_id": ids[1], "start": start, "end": end,
                      "bucket": bucket_seconds, "limit": page_size, "offset": (page - 1) * page_size}
            raw = bucket_seconds is None
            with conn.cursor(row_factory=dict_row) as cur:
                points = cur.execute(q("history_raw" if raw else "history_buckets"), params).fetchall()
                total = cur.execute(q("history_raw_count" if raw else "history_bucket_count"), params).fetchone()
                stats = cur.execute(q("history_stats"), params).fetchone() or {}
            statistics = {k: _dec(stats.get(k)) for k in empty}
            count = int(next(iter(total.values()))) if total else 0
            return HistoryPage(points=points, total=count, statistics=statistics, period_start=start, period_end=end)

        return self.db.run(work)

    def rate_stats(self, *, symbol: str, dex: str | None, start: datetime, end: datetime) -> dict[str, Any]:
        """rate_8h statistics: avg_rate, median_rate, std_dev, min_rate, max_rate, percentile_25/75,
        positive_rate_frequency (fraction > 0), samples, avg_annualized_percent, first/last_time."""
        rows = self._rows("rate_stats", {"symbol": symbol, "dex": dex, "start": _utc(start), "end": _utc(end)})
        row = rows[0]
        quartiles = row.pop("quartiles") or [None, None, None]
        row["percentile_25"], row["median_rate"], row["percentile_75"] = (_dec(v) for v in quartiles)
        row["samples"] = int(row["samples"])
        row["venues"] = int(row["venues"])
        row["newest"] = row["last_time"]
        row["symbol"], row["dex"] = symbol, dex
        return row

    def collection_health(self, window_minutes: int = 60) -> list[dict[str, Any]]:
        return self._rows("collection_health", {"window": window_minutes})

    def database_connections(self) -> int:
        return int(self.db.run(lambda conn: _scalar(conn, "database_connections")))

    # ---- maintenance ----------------------------------------------------------------------------
    def maintain(self, *, ahead_days: int = 7, retention_days: int = 90) -> dict[str, Any]:
        """Create day partitions ahead, drop expired ones (TimescaleDB: drop_chunks), purge old
        collection_logs. Returns {"backend", "created", "dropped", "purged", "collection_logs_deleted"}."""

        def work(conn: psycopg.Connection) -> dict[str, Any]:
            backend = _scalar(conn, "storage_backend")
            actions = conn.execute(q("maintain_partitions"),
                                   {"ahead_days": ahead_days, "retention_days": retention_days}).fetchall()
            logs = conn.execute(q("purge_collection_logs"), {"retention_days": retention_days}).rowcount
            return {"backend": backend,
                    "created": [p for a, p in actions if a == "created"],
                    "dropped": [p for a, p in actions if a in ("dropped", "dropped_chunks")],
                    "purged": [p for a, p in actions if a == "purged_default"],
                    "collection_logs_deleted": logs}

        return dict(self.db.run(work))

    def ensure_partitions(self, start: datetime, end: datetime) -> list[str]:
        """Day partitions covering [start, end] for funding_rates and opportunities (plain PostgreSQL;
        a no-op on TimescaleDB). For backfills, so old history does not pile up in the DEFAULT partition."""
        first, last = _utc(start).astimezone(UTC).date(), _utc(end).astimezone(UTC).date()

        def work(conn: psycopg.Connection) -> list[str]:
            if _scalar(conn, "storage_backend") != "partitions":
                return []
            days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            rows = conn.execute(q("ensure_partitions"),
                                {"parents": ["funding_rates", "opportunities"], "days": days}).fetchall()
            return [name for (name,) in rows]

        return list(self._write(work))

    # ---- circuit-breaker fallback (when Redis is absent) -------------------------------------------
    def breaker_get(self, dex: str) -> dict[str, Any] | None:
        rows = self._rows("breaker_get", {"dex": dex})
        return rows[0] if rows else None

    def breaker_set(self, dex: str, state: str, failures: int, opened_at: datetime | None) -> None:
        self._write(lambda conn: conn.execute(q("breaker_set"), {
            "dex": dex, "state": state, "failures": failures, "opened_at": opened_at}))

    # ---- settlements and calibration (sql/0009_settlements.sql)
    def ingest_settlements(self, dex: str, symbol: str, points: Sequence[Any], *, source: str) -> int:
        """Settled funding of one market (objects with time_ms, funding_rate, funding_interval_hours,
        mark_price); rows already present are kept. Returns rows inserted."""
        return self._insert_points("settlements", "insert_settlements", dex, symbol, points, source=source)

    def last_settlements(self, dex: str, *, since: datetime) -> dict[str, int]:
        """{symbol: newest stored settlement (epoch ms)} of one venue, looking back to `since`."""
        return {r["symbol"]: int(r["last_ms"]) for r in self._rows("last_settlements", {"dex": dex, "since": _utc(since)})}

    def calibration_pairs(self, dex: str, *, since: datetime) -> list[dict[str, Any]]:
        return self._rows("calibration_pairs", {"dex": dex, "since": _utc(since)})

    def calibration_recent(self, dex: str, *, since: datetime) -> list[tuple[float, float]]:
        """(published_1h, settled_1h) of the venue's stored pairs since `since`, floats."""
        def work(conn: psycopg.Connection) -> list[tuple[float, float]]:
            return conn.execute(q("calibration_recent"), {"dex": dex, "since": _utc(since)}).fetchall()

        return self.db.run(work)

    def calibration_bands(self, dex: str, *, now_ms: int, windows_h: Sequence[int]) -> dict[str, list[list[float]]]:
        """core.calibration.Bands of one venue summed by the database over its stored pairs (three windows)."""
        windows = sorted(windows_h)
        if len(windows) != 3:
            raise ValueError(f"calibration_bands sums three accuracy windows, got {windows}")
        at = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        out: dict[str, list[list[float]]] = {}
        for r in self._rows("calibration_bands", {"dex": dex, "cut_0": at - timedelta(hours=windows[0]),
                                                  "cut_1": at - timedelta(hours=windows[1]),
                                                  "since": at - timedelta(hours=windows[2])}):
            cells = out.setdefault(r["symbol"], [[0, 0, 0, 0.0, 0.0] for _ in windows])
            cells[int(r["band"])] = [int(r["n"]), int(r["signed"]), int(r["hits"]), float(r["sum_diff"]),
                                     float(r["sum_abs"])]
        return out

    def save_calibration(self, dex: str, verdict: dict[str, Any], report: dict[str, Any]) -> None:
        self._write(lambda conn: conn.execute(q("save_calibration"), {
            "dex": dex, "status": verdict["status"], "factor": verdict["factor"],
            "sign_agreement": verdict["sign_agreement"], "samples": verdict["samples"],
            "window_hours": verdict["window_hours"], "report": Jsonb(report, dumps=_dumps)}))

    def calibrations(self) -> list[dict[str, Any]]:
        return self._rows("calibrations")

    def settlement_history(self, *, dex: str, symbol: str, start: datetime, end: datetime, page: int,
                           page_size: int) -> tuple[list[dict[str, Any]], int]:
        def work(conn: psycopg.Connection) -> tuple[list[dict[str, Any]], int]:
            ids = conn.execute(q("market_ids"), {"dex": dex, "symbol": symbol}).fetchone()
            if ids is None:
                return [], 0
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(q("settlement_history"), {
                    "dex_id": ids[0], "symbol_id": ids[1], "start": _utc(start), "end": _utc(end),
                    "limit": page_size, "offset": (page - 1) * page_size}).fetchall()
            total = int(rows[0].pop("total")) if rows else 0
            for r in rows[1:]:
                r.pop("total", None)
            return rows, total

        return self.db.run(work)

    def leg_history(self, dex: str, symbol: str, *, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], str]:
        """(rows, source) of one leg for a backtest: settlements, else collected rates as hourly accruals."""
        params = {"dex": dex, "symbol": symbol, "start": _utc(start), "end": _utc(end)}
        rows = self._rows("settlements_between", params)
        if rows:
            return rows, "settlements"
        return self._rows("collected_hourly", params), "collected_rates"

    def realized_sums(self, *, since: datetime) -> dict[tuple[str, str], tuple[Decimal, int]]:
        """{(dex, symbol): (sum of settled per-interval rates, settlements)} since `since`."""
        return {(r["dex"], r["symbol"]): (r["funding_sum"], int(r["settlements"]))
                for r in self._rows("realized_sums", {"since": _utc(since)})}

    # ---- backfill progress (sql/0008_backfill_progress.sql)
    def backfill_done_days(self, dex: str, *, since: date, kind: str = "rates") -> dict[str, set[date]]:
        """{dex_symbol: UTC days already backfilled} for one venue, from `since` on."""
        done: dict[str, set[date]] = {}
        for row in self._rows("backfill_done_days", {"dex": dex, "kind": kind, "since": since}):
            done.setdefault(row["dex_symbol"], set()).add(row["day"])
        return done

    def backfill_mark_days(self, dex: str, dex_symbol: str, days: Sequence[date], rows: int,
                           *, kind: str = "rates") -> None:
        if days:
            self._write(lambda conn: conn.execute(q("backfill_mark_days"), {
                "dex": dex, "kind": kind, "dex_symbol": dex_symbol, "days": list(days), "rows": rows}))


def _dumps(obj: Any) -> str:
    from chalicelib.core.serialize import dumps

    return dumps(obj)
