"""Fakes for the handler tests: an in-memory Storage, the in-memory KV, moto for API Gateway, wiring overrides."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.cache.store import MemoryKV
from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.settings import Settings
from tests.fakes import FakeStorage, RecordingPusher

FIXTURES_HL = Path(__file__).resolve().parents[2] / "fixtures/venues/hyperliquid/metaAndAssetCtxs.docs-example.json"
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


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("FRS_CHAIN", "inprocess")
    from chalicelib.transport.breaker import reset_memory

    reset_memory()
    e = Env(Settings.from_env({"USE_REDIS": "false"}), FakeStorage(fees=dict(FEES)), MemoryKV(), RecordingPusher())
    wiring.override(settings=e.settings, storage=e.storage, kv=e.kv, pusher=e.pusher)
    yield e
    wiring.reset()
    reset_memory()


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
