"""Ports: what the services need from storage, cache and push, as Protocols.

Concrete classes live in chalicelib/storage (PostgreSQL), chalicelib/cache (Redis / memory)
and chalicelib/transport (HTTP, WebSocket push); only chalicelib/wiring.py knows them all.
Times cross these boundaries as timezone-aware UTC datetimes or epoch milliseconds (`*_ms`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity


@dataclass(frozen=True, slots=True)
class CollectionOutcome:
    dex: str
    started_at: datetime
    completed_at: datetime
    status: str                   # success | degraded | failed (core/venue_state.py)
    markets: int                  # snapshots stored
    rejected: int                 # records failing validation
    error: str | None = None      # reason when degraded/failed
    latency_ms: int | None = None
    unfetched: int = 0            # markets not fetched because the request budget ran out
    baseline_markets: float | None = None   # the usual market count this run was compared with


@dataclass(frozen=True, slots=True)
class HistoryPage:
    points: list[dict[str, Any]]  # {"time": datetime, "rate": Decimal (basis as asked), "rate_1h", "rate_8h", "samples": int, ...}
    total: int                    # points in the whole range (for pagination)
    statistics: dict[str, Decimal | None]   # avg_rate, median_rate, std_dev, min_rate, max_rate over the range
    period_start: datetime
    period_end: datetime


class Storage(Protocol):
    # ---- collection ------------------------------------------------------------------
    def ingest(self, snapshots: Sequence[MarketSnapshot]) -> int:
        """Idempotent bulk write: funding_rates (PK time,dex,symbol), latest_funding_rates,
        dex_symbols and symbol discovery, in one transaction. Returns rows written."""

    def log_collection(self, outcome: CollectionOutcome) -> None:
        """collection_logs row + dexes health columns (last_successful_fetch, consecutive_errors...)."""

    def market_baseline(self, dex: str) -> Any:
        """core.venue_state.Baseline of the venue's recent successful collections, or None (no history)."""

    def latest_collections(self) -> dict[str, dict[str, Any]]:
        """{dex: newest collection_logs row as {"status", "reason", "markets", "rejected", "unfetched", ...}}."""

    # ---- reads for analysis and REST -----------------------------------------------------
    def latest_snapshots(self, dex: str | None = None, symbol: str | None = None) -> list[MarketSnapshot]: ...

    def fee_schedules(self) -> dict[str, FeeSchedule]: ...

    def update_fees(self, dex: str, fees: FeeSchedule) -> bool:
        """False when the dex is unknown."""

    def dexes(self) -> list[dict[str, Any]]:
        """Rows of `dexes` with fee structure, health columns and supported symbol list."""

    def dex_symbols(self, dex: str) -> list[dict[str, Any]]: ...

    def known_symbols(self) -> set[str]: ...

    # ---- opportunities -------------------------------------------------------------------
    def write_opportunities(self, opportunities: Sequence[Opportunity]) -> int: ...

    def opportunity_history(
        self, *, symbol: str | None, start: datetime, end: datetime, min_profit: Decimal | None,
        limit: int, offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]: ...

    # ---- history and statistics (SQL: date_bin, percentile_cont, stddev) --------------------
    def rate_history(
        self, *, dex: str, symbol: str, start: datetime, end: datetime,
        bucket_seconds: int | None, page: int, page_size: int,
    ) -> HistoryPage: ...

    def rate_stats(self, *, symbol: str, dex: str | None, start: datetime, end: datetime) -> dict[str, Any]:
        """avg/median/stddev/min/max/p25/p75 of rate_8h, positive_rate_frequency, samples (normalized rates)."""

    def collection_health(self, window_minutes: int = 60) -> list[dict[str, Any]]:
        """Per dex: error_rate_percent, avg_collection_latency_ms, last_successful_fetch, consecutive_errors."""

    # ---- maintenance ----------------------------------------------------------------------
    def maintain(self, *, ahead_days: int = 7, retention_days: int = 90) -> dict[str, Any]: ...


class KeyValue(Protocol):
    """The little of Redis the services use (implemented by redis.Redis and by the in-memory fallback)."""

    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes | str, ex: int | None = None) -> Any: ...
    def delete(self, *keys: str) -> int: ...
    def publish(self, channel: str, message: bytes | str) -> int: ...


class Pusher(Protocol):
    """Delivers frames to WebSocket connection ids (API Gateway management API, or the local gateway)."""

    def post(self, connection_ids: Iterable[str], frame: Mapping[str, Any]) -> tuple[int, list[str]]:
        """Returns (delivered, gone_connection_ids)."""
