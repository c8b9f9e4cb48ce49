"""`frs backfill` against the replay server's history endpoints, stored into a real PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from chalicelib.cli import main
from chalicelib.local.replay import ReplayServer
from chalicelib.local.replay_data import rate_str
from chalicelib.settings import reset_settings_cache
from chalicelib.transport.budget import reset_buckets

HOUR_MS = 3_600_000


@pytest.fixture
def replay(monkeypatch, db_url):
    for name in ("REDIS_URL", "ENABLED_DEXES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    with ReplayServer(port=0, seed=9) as server:
        for key, value in server.base_urls().items():
            monkeypatch.setenv(key, value)
        reset_buckets()
        reset_settings_cache()
        yield server
    reset_settings_cache()


def rows(db_url: str, dex: str, symbol: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            """SELECT (extract(epoch FROM f.time) * 1000)::bigint, f.funding_rate, f.funding_interval_hours, f.mark_price
               FROM funding_rates f JOIN dexes d ON d.id = f.dex_id JOIN symbols s ON s.id = f.symbol_id
               WHERE d.name = %s AND s.symbol = %s ORDER BY f.time""", (dex, symbol)).fetchall()


def test_hyperliquid_history_pages_and_stores_hourly_rates(replay, db_url, capsys):
    assert main(["backfill", "--dex", "hyperliquid", "--symbol", "BTC", "--days", "25"]) == 0
    out, err = capsys.readouterr()
    stored = rows(db_url, "hyperliquid", "BTC")
    assert len(stored) in (600, 601)                      # 25 days of hourly settlements (edge hour either side)
    assert "page 1: 500 points" in err and "page 2: " in err  # fundingHistory returns at most 500 per call
    assert f"stored {len(stored)} rows into funding_rates" in out
    t, rate, hours, mark = stored[-1]
    settle = t - 37                                        # the generator stamps settlements 37 ms past the hour
    assert settle % HOUR_MS == 0
    assert rate == Decimal(rate_str(replay.universe.rate_1h("hyperliquid", "BTC", settle)))
    assert hours == 1 and mark is None                     # HL history has no mark price: NULL, not 0
    # idempotent: a second run inserts nothing new
    assert main(["backfill", "--dex", "hyperliquid", "--symbol", "BTC", "--days", "25"]) == 0
    assert "stored 0 rows" in capsys.readouterr().out
    assert len(rows(db_url, "hyperliquid", "BTC")) == len(stored)


def test_grvt_history_converts_percentage_points_and_keeps_mark(replay, db_url, capsys):
    u = replay.universe
    name = next(n for n in u.listings["grvt"] if u.grvt_interval(n) == 4 and n not in ("PEPE", "BONK", "SHIB", "FLOKI"))
    assert main(["backfill", "--dex", "grvt", "--symbol", name, "--days", "3"]) == 0
    stored = rows(db_url, "grvt", name)
    assert len(stored) in (18, 19)                         # 3 days of 4 h settlements
    t, rate, hours, mark = stored[0]
    pct = Decimal(rate_str(u.rate_1h("grvt", name, t) * 4 * 100))   # what the wire said, percentage points
    assert hours == 4 and rate == pct / 100
    assert mark is not None and mark > 0


def test_lighter_without_market_id_is_a_clear_error(replay, capsys):
    assert main(["backfill", "--dex", "lighter", "--symbol", "ETH", "--days", "1"]) == 1
    assert "pass dex_symbol as 'NAME#<market_id>'" in capsys.readouterr().err
