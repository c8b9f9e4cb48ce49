"""Ports: what the services need from storage, cache and push, as Protocols the adapters implement.

Role-sized, so a test fake implements only the role it stands in for: PgStorage
(chalicelib/storage) is every `*Store`; tests/fakes.FakeStorage is the `JobStore` the scheduled
jobs and the analysis use. mypy checks both: chalicelib/wiring.py returns the adapters typed as
these ports, and tests/fakes.py assigns each fake to the port it implements (mypy runs on it).
Only chalicelib/wiring.py builds adapters. Times cross these boundaries as timezone-aware UTC
datetimes or epoch milliseconds (`*_ms`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
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
    points: list[dict[str, Any]]  # {"time", "rate_1h", "rate_8h", "funding_rate" (native), "samples", ...}
    total: int                    # points in the whole range (for pagination)
    statistics: dict[str, Decimal | None]   # avg_rate, median_rate, std_dev, min_rate, max_rate (of rate_8h)
    period_start: datetime
    period_end: datetime


class CollectorStore(Protocol):
    def ingest(self, snapshots: Sequence[MarketSnapshot]) -> int:
        """Idempotent bulk write: funding_rates (PK time,dex,symbol), latest rates, dex_symbols. Rows written."""
        ...

    def log_collection(self, outcome: CollectionOutcome) -> None:
        """collection_logs row + dexes health columns (last_successful_fetch, consecutive_errors...)."""
        ...

    def market_baseline(self, dex: str) -> Any:
        """core.venue_state.Baseline of the venue's recent successful collections, or None (no history)."""
        ...


class AnalysisStore(Protocol):
    def latest_collections(self) -> dict[str, dict[str, Any]]:
        """{dex: newest collection_logs row as {"status", "reason", "markets", "rejected", "unfetched", ...}}."""
        ...

    def latest_snapshots(self, dex: str | None = None, symbol: str | None = None) -> list[MarketSnapshot]: ...

    def fee_schedules(self) -> dict[str, FeeSchedule]: ...

    def write_opportunities(self, opportunities: Sequence[Opportunity]) -> int: ...

    # opportunity lifecycle and persistence (sql/0010; services/persistence.py)
    def open_spells(self) -> dict[str, Any]:
        """{opportunity id: core.lifecycle.Spell} of the opportunities open now."""
        ...

    def write_lifecycle(self, events: Sequence[Any], spells: Mapping[str, Any]) -> int:
        """Store core.lifecycle.LifecycleEvents and the open spells after them; rows written."""
        ...

    def hourly_rates(self, hours: Sequence[int]) -> dict[int, dict[tuple[str, str], float]]:
        """{hour start ms: {(symbol, dex): average stored rate_8h of that clock hour}}."""
        ...

    def realized_sums(self, *, since: datetime) -> dict[tuple[str, str], tuple[Decimal, int]]: ...


class JobStore(CollectorStore, AnalysisStore, Protocol):
    """What the scheduled jobs (collect, analyze, health check, maintenance) use."""

    def collection_health(self, window_minutes: int = 60) -> list[dict[str, Any]]:
        """Per dex: error_rate_percent, avg_collection_latency_ms, last_successful_fetch, consecutive_errors."""
        ...

    def maintain(self, *, ahead_days: int = 7, retention_days: int = 90) -> dict[str, Any]: ...


class ReadStore(Protocol):
    """What the REST queries read (SQL: date_bin, percentile_cont, stddev)."""

    def update_fees(self, dex: str, fees: FeeSchedule) -> bool:
        """False when the dex is unknown."""
        ...

    def dexes(self) -> list[dict[str, Any]]: ...

    def dex_symbols(self, dex: str) -> list[dict[str, Any]]: ...

    def known_symbols(self) -> set[str]: ...

    def opportunity_history(self, *, symbol: str | None, start: datetime, end: datetime,
                            min_profit: Decimal | None, limit: int, offset: int = 0,
                            ) -> tuple[list[dict[str, Any]], int]: ...

    def rate_history(self, *, dex: str, symbol: str, start: datetime, end: datetime,
                     bucket_seconds: int | None, page: int, page_size: int) -> HistoryPage: ...

    def rate_stats(self, *, symbol: str, dex: str | None, start: datetime, end: datetime) -> dict[str, Any]:
        """avg/median/stddev/min/max/p25/p75 of rate_8h, positive_rate_frequency, samples."""
        ...


class SettlementStore(Protocol):
    """Settled funding and calibration (services/settle.py, services/backfill.py, sql/0008-0009, 0013)."""

    def ingest_history(self, dex: str, symbol: str, dex_symbol: str, points: Sequence[Any]) -> int: ...

    def ingest_settlements(self, dex: str, symbol: str, points: Sequence[Any], *, source: str) -> int: ...

    def last_settlements(self, dex: str, *, since: datetime) -> dict[str, int]: ...

    def calibration_pairs(self, dex: str, *, since: datetime) -> list[dict[str, Any]]: ...

    def calibration_recent(self, dex: str, *, since: datetime) -> list[tuple[float, float]]: ...

    def calibration_bands(self, dex: str, *, now_ms: int, windows_h: Sequence[int]) -> dict[str, list[list[float]]]: ...

    def save_calibration(self, dex: str, verdict: dict[str, Any], report: dict[str, Any]) -> None: ...

    def calibrations(self) -> list[dict[str, Any]]: ...

    def backfill_done_days(self, dex: str, *, since: date, kind: str = "rates") -> dict[str, set[date]]: ...

    def backfill_mark_days(self, dex: str, dex_symbol: str, days: Sequence[date], rows: int,
                           *, kind: str = "rates") -> None: ...

    def settlement_history(self, *, dex: str, symbol: str, start: datetime, end: datetime, page: int,
                           page_size: int) -> tuple[list[dict[str, Any]], int]: ...

    def leg_history(self, dex: str, symbol: str, *, start: datetime, end: datetime
                    ) -> tuple[list[dict[str, Any]], str]: ...

    def realized_sums(self, *, since: datetime) -> dict[tuple[str, str], tuple[Decimal, int]]: ...


class Storage(JobStore, ReadStore, SettlementStore, Protocol):
    """Everything: what wiring.storage() returns."""


class Delivery(Protocol):
    delivered: int
    failed: int
    gone: list[str]


class Pusher(Protocol):
    """Delivers frames to WebSocket connection ids (API Gateway management API, or the local gateway)."""

    def post(self, connection_ids: Iterable[str], frame: Mapping[str, Any] | str | bytes,
             endpoint_url: str | None = None) -> tuple[int, list[str]]:
        """One frame to many connections: (delivered, gone_connection_ids)."""
        ...

    def send(self, frames_by_connection: Mapping[str, Sequence[bytes | str]],
             endpoint_url: str | None = None) -> Delivery:
        """Each connection's frames in order."""
        ...
