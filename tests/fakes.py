"""Test fakes shared by every test that needs one, each checked by mypy against the port it implements.

`mypy` (pyproject: files) includes this file: the assignments at the bottom fail type-checking the
day a fake drifts from chalicelib/core/ports.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.cache.store import MemoryKV
from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity
from chalicelib.core.ports import CollectionOutcome, JobStore, Pusher
from chalicelib.settings import Settings


@dataclass
class FakeStorage:
    """Just what the scheduled jobs and the analysis call, recorded for assertions."""

    latest: dict[tuple[str, str], MarketSnapshot] = field(default_factory=dict)
    fees: dict[str, FeeSchedule] = field(default_factory=dict)
    ingested: list[MarketSnapshot] = field(default_factory=list)
    outcomes: list[CollectionOutcome] = field(default_factory=list)
    opportunities: list[list[Opportunity]] = field(default_factory=list)
    health: list[dict[str, Any]] = field(default_factory=list)
    maintained: list[dict[str, Any]] = field(default_factory=list)
    fee_reads: int = 0
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)   # newest collection log row per dex
    spells: dict[str, Any] = field(default_factory=dict)                   # open spells (core.lifecycle.Spell)
    lifecycle: list[Any] = field(default_factory=list)                     # every LifecycleEvent written
    hourly: dict[int, dict[tuple[str, str], float]] = field(default_factory=dict)   # hour ms -> rates
    settled: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)  # (dex, symbol) -> [(ms, rate)]

    def ingest(self, snapshots: Any) -> int:
        for s in snapshots:
            self.ingested.append(s)
            self.latest[(s.dex, s.symbol)] = s
        return len(snapshots)

    def log_collection(self, outcome: CollectionOutcome) -> None:
        self.outcomes.append(outcome)

    def latest_snapshots(self, dex: str | None = None, symbol: str | None = None) -> list[MarketSnapshot]:
        return [s for (d, sym), s in self.latest.items() if dex in (None, d) and symbol in (None, sym)]

    def fee_schedules(self) -> dict[str, FeeSchedule]:
        self.fee_reads += 1
        return dict(self.fees)

    def write_opportunities(self, opportunities: Any) -> int:
        self.opportunities.append(list(opportunities))
        return len(opportunities)

    def open_spells(self) -> dict[str, Any]:
        return dict(self.spells)

    def write_lifecycle(self, events: Any, spells: Any) -> int:
        """As PgStorage: the events' rows; `opportunities` gets each run's opened/changed records (if any)."""
        self.lifecycle.extend(events)
        valued = [e.opportunity for e in events if e.opportunity is not None]
        if valued:
            self.opportunities.append(valued)
        self.spells = dict(spells)
        return len(events)

    def hourly_rates(self, hours: Any) -> dict[int, dict[tuple[str, str], float]]:
        return {h: dict(self.hourly.get(h, {})) for h in hours}

    def realized_sums(self, *, since: Any) -> dict[tuple[str, str], tuple[Any, int]]:
        cut = int(since.timestamp() * 1000)
        out: dict[tuple[str, str], tuple[Any, int]] = {}
        for market, rows in self.settled.items():
            kept = [rate for ms, rate in rows if ms > cut]
            if kept:
                out[market] = (sum(kept), len(kept))
        return out

    def collection_health(self, window_minutes: int = 60) -> list[dict[str, Any]]:
        return list(self.health)

    def latest_collections(self) -> dict[str, dict[str, Any]]:
        return dict(self.collections)

    def market_baseline(self, dex: str) -> Any:
        return None                      # no collection history: no baseline comparison

    def maintain(self, *, ahead_days: int = 7, retention_days: int = 90) -> dict[str, Any]:
        self.maintained.append({"ahead_days": ahead_days, "retention_days": retention_days})
        return {"created": 7, "dropped": 0}


class RecordingPusher:
    """Pusher with the ApiGatewayPusher interface that keeps frames per connection (decoded)."""

    def __init__(self, gone: tuple[str, ...] = ()) -> None:
        self.frames: dict[str, list[dict[str, Any]]] = {}
        self.posts: dict[str, int] = {}
        self.endpoints: list[str | None] = []
        self.gone = set(gone)

    def send(self, frames_by_connection: Any, endpoint_url: str | None = None) -> Any:
        from chalicelib.transport.push import PushResult

        self.endpoints.append(endpoint_url)
        result = PushResult()
        for cid, frames in frames_by_connection.items():
            if cid in self.gone:
                result.gone.append(cid)
                continue
            self.posts[cid] = self.posts.get(cid, 0) + len(frames)
            for message in map(json.loads, frames):   # an "updates" envelope carries a run's frames
                unwrapped = message["frames"] if message.get("type") == "updates" else [message]
                self.frames.setdefault(cid, []).extend(unwrapped)
            result.delivered += len(frames)
        return result

    def post(self, connection_ids: Any, frame: Any, endpoint_url: str | None = None) -> tuple[int, list[str]]:
        from chalicelib.transport.push import encode

        result = self.send({cid: [encode(frame)] for cid in connection_ids}, endpoint_url)
        return result.delivered, result.gone



def _conforms(storage: FakeStorage, pusher: RecordingPusher) -> tuple[JobStore, Pusher]:
    return storage, pusher   # mypy: FakeStorage is a JobStore, RecordingPusher a Pusher


# ---- a wired unit environment (fixture `env` in tests/unit/conftest.py): handler, analysis and observability tests

FIXTURES_HL = Path(__file__).resolve().parent / "fixtures/venues/hyperliquid/metaAndAssetCtxs.docs-example.json"
NOW_MS = 1_760_000_000_000          # 2025-10-09T08:53:20Z
REGION = "us-east-1"


def snap(dex: str, symbol: str, rate: str, interval_h: int, *, at_ms: int = NOW_MS, mark: str = "100",
         next_ms: int | None = None) -> MarketSnapshot:
    return MarketSnapshot(dex=dex, symbol=symbol, dex_symbol=symbol, funding_rate=Decimal(rate),
                          funding_interval_hours=Decimal(interval_h), mark_price=Decimal(mark), fetched_at_ms=at_ms,
                          volume_24h_usd=Decimal(5_000_000), open_interest_usd=Decimal(1_000_000),
                          next_funding_time_ms=next_ms)


FEES = {"hyperliquid": FeeSchedule(maker=Decimal("0.00015"), taker=Decimal("0.00045")),
        "paradex": FeeSchedule(maker=Decimal("0.00003"), taker=Decimal("0.0002")),
        "lighter": FeeSchedule(maker=Decimal(0), taker=Decimal(0))}


@dataclass
class Env:
    settings: Settings
    storage: FakeStorage
    kv: MemoryKV
    pusher: RecordingPusher


def ws_event(route_key: str, connection_id: str, body: str | None = None, *,
             query: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway WebSocket event as Lambda receives it."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {"routeKey": route_key, "eventType": event_type, "connectionId": connection_id,
                           "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "stage": "ws",
                           "apiId": "abc123", "requestId": f"req-{connection_id}", "connectedAt": NOW_MS},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    if query is not None:
        event["queryStringParameters"] = query
    return event
