"""One definition per derived rate: SQL pinned to core.units, and REST, WebSocket and history agreeing.

Real PostgreSQL and Redis (tests/conftest.py); the WebSocket frame travels over real HTTP to a
loopback @connections endpoint, as API Gateway would deliver it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
import redis

from chalicelib import wiring
from chalicelib.core import units
from chalicelib.services import analyze, ws_registry
from chalicelib.storage.repository import PgStorage
from chalicelib.transport.push import ApiGatewayPusher

from .test_rest import Api, make_api, snap
from .ws_endpoint import ConnectionsEndpoint

D = Decimal


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[Api]:
    yield from make_api(db_url, redis_url)


@pytest.mark.parametrize(("rate", "interval"), [
    ("0.0000125", 1), ("-0.00031", 4), ("0.0001", 8), ("0.0003", 24), ("0.0007", 2),
])
def test_sql_generated_rates_are_core_units(db_url: str, rate: str, interval: int) -> None:
    """funding_rates.rate_1h / rate_8h (generated columns) equal units.rate_1h / rate_8h.

    Exact where the division is exact (1, 2, 4, 8 h); for 24 h both are 0.0003 / 24 = 0.0000125 (exact too).
    """
    storage = PgStorage(db_url)
    try:
        at = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
        storage.ingest([snap("hyperliquid", "BTC", rate, interval, at_ms=at)])
        with psycopg.connect(db_url) as conn:
            r1, r8 = conn.execute("SELECT rate_1h, rate_8h FROM funding_rates").fetchone()
    finally:
        storage.close()
    assert r1 == units.rate_1h(D(rate), D(interval))
    assert r8 == units.rate_8h(D(rate), D(interval))


def test_sql_rate_8h_matches_units_where_division_is_inexact(db_url: str) -> None:
    """0.0001 per 24 h: 0.0001 / 24 has no finite decimal; SQL and Decimal agree to 1e-20 (far below
    the NUMERIC(15, 10) precision a rate is stored with)."""
    storage = PgStorage(db_url)
    try:
        storage.ingest([snap("paradex", "BTC", "0.0001", 24, at_ms=1_767_225_600_000)])
        with psycopg.connect(db_url) as conn:
            r1, r8 = conn.execute("SELECT rate_1h, rate_8h FROM funding_rates").fetchone()
    finally:
        storage.close()
    assert abs(r1 - units.rate_1h(D("0.0001"), D(24))) < D("1e-20")
    assert abs(r8 - units.rate_8h(D("0.0001"), D(24))) < D("1e-20")


def test_rest_websocket_and_history_agree_on_one_basis(api: Api) -> None:
    """hyperliquid BTC pays 0.00002 per 1 h interval (make_api): rate_1h 0.00002, rate_8h 0.00016,
    APR 0.00002 * 8760 * 100 = 17.52. REST, its WebSocket frame and its newest history point say the same."""
    kv: redis.Redis = api.kv
    with ConnectionsEndpoint(live={"c1"}) as endpoint:
        ws_registry.connect(kv, "c1", now_ms=0, endpoint=endpoint.url)
        reply = ws_registry.handle_message(
            kv, "c1", '{"action":"subscribe","channels":["funding_rates"],"filters":{"symbols":["BTC"],'
            '"dexes":["hyperliquid"]}}', now_ms=0, known_dexes=["hyperliquid", "paradex"])
        assert reply["type"] == "subscribed"
        analyze.run_once({"source": "test"}, settings=wiring.settings(), storage=api.storage, kv=kv,
                         pusher=ApiGatewayPusher(endpoint.url))
        (frame,) = endpoint.of("c1", "funding_rate_update")

    status, rest = api.get("/api/v1/funding-rates/hyperliquid/BTC")
    assert status == 200
    status, history = api.get("/api/v1/history/funding-rates/hyperliquid/BTC?interval=raw&period=24h")
    assert status == 200
    point = history["data_points"][-1]
    ws = frame["data"]

    expected = {"funding_rate": 0.00016, "native_rate": 0.00002, "rate_1h": 0.00002, "rate_8h": 0.00016,
                "annualized_rate": 17.52, "funding_interval_hours": 1}
    for name, value in expected.items():
        assert rest[name] == pytest.approx(value, rel=1e-12), ("rest", name)
        assert ws[name] == pytest.approx(value, rel=1e-12), ("ws", name)
        assert point[name] == pytest.approx(value, rel=1e-12), ("history", name)
    assert rest["basis"] == ws["basis"] == history["basis"] == "8h"
    assert point["rate"] == point["funding_rate"]     # SPEC's `rate` is the same value in the same basis
