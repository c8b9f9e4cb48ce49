"""`frs backfill` against the replay server's history endpoints, stored into a real PostgreSQL."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from chalicelib import wiring
from chalicelib.cli import main
from chalicelib.services.backfill import DAY_MS, day_start_ms, utc_day
from chalicelib.settings import reset_settings_cache
from chalicelib.transport.budget import reset_buckets
from frs_local.replay import ReplayServer
from frs_local.replay_data import rate_str

HOUR_MS = 3_600_000
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
_extra = itertools.count()


@contextlib.contextmanager
def extra_db(pg_server, pg_template) -> Iterator[str]:
    """A second migrated database in the same test (the uninterrupted reference run)."""
    name = f"frs_ref_{os.getpid()}_{next(_extra)}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {pg_template}')
    try:
        yield pg_server.dsn_for(name)
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
        wiring.reset()
        yield server
    reset_settings_cache()
    wiring.reset()


def rows(db_url: str, dex: str, symbol: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            """SELECT (extract(epoch FROM f.time) * 1000)::bigint, f.funding_rate, f.funding_interval_hours, f.mark_price
               FROM funding_rates f JOIN dexes d ON d.id = f.dex_id JOIN symbols s ON s.id = f.symbol_id
               WHERE d.name = %s AND s.symbol = %s ORDER BY f.time""", (dex, symbol)).fetchall()


def run_json(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(["backfill", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1])


def venue(summary: dict, dex: str) -> dict:
    return next(v for v in summary["venues"] if v["dex_name"] == dex)


def settlement_hours(first_ms: int, end_ms: int, offset_ms: int, step_ms: int = HOUR_MS) -> int:
    """How many settlement instants k*step + offset lie in [first_ms, end_ms)."""
    return len(range(first_ms + offset_ms, end_ms, step_ms))


def test_hyperliquid_btc_by_symbol_stores_hourly_rates_and_is_idempotent(replay, db_url, capsys):
    before = int(time.time() * 1000)
    code, summary = run_json(capsys, ["--dex", "hyperliquid", "--symbol", "BTC", "--days", "25"])
    after = int(time.time() * 1000)
    assert code == 0, summary
    stored = rows(db_url, "hyperliquid", "BTC")
    first = day_start_ms(utc_day(before - 25 * DAY_MS))      # UTC midnight 25 days back
    # one settlement per hour, stamped 37 ms past it (the replay generator), from `first` to the run's end
    assert settlement_hours(first, before, 37) <= len(stored) <= settlement_hours(first, after, 37)
    hl = venue(summary, "hyperliquid")
    assert hl["status"] == "done" and hl["markets"] == 1 and hl["rows"] == len(stored)
    assert hl["windows"] == 4                               # 25 full days + today in 7-day windows: 7+7+7+5
    t, rate, hours, mark = stored[-1]
    settle = t - 37
    assert settle % HOUR_MS == 0
    # the settlement paid the last rate the replay published before the hour (1 ms before it)
    assert rate == Decimal(rate_str(replay.universe.rate_1h("hyperliquid", "BTC", settle - 1)))
    assert hours == 1 and mark is None                     # HL history has no mark price: NULL, not 0
    # a rerun skips the 25 recorded days and refetches only today's partial day: nothing new
    code, again = run_json(capsys, ["--dex", "hyperliquid", "--symbol", "BTC", "--days", "25"])
    assert code == 0
    hl = venue(again, "hyperliquid")
    assert hl["days_skipped"] == 25 and hl["windows"] == 1 and hl["rows"] <= 1
    assert len(rows(db_url, "hyperliquid", "BTC")) == len(stored) + hl["rows"]


def test_grvt_history_converts_percentage_points_and_keeps_mark(replay, db_url, capsys):
    u = replay.universe
    name = next(n for n in u.listings["grvt"] if u.grvt_interval(n) == 4 and n not in ("PEPE", "BONK", "SHIB", "FLOKI"))
    before = int(time.time() * 1000)
    code, summary = run_json(capsys, ["--dex", "grvt", "--symbol", name, "--days", "3"])
    assert code == 0, summary
    stored = rows(db_url, "grvt", name)
    first = day_start_ms(utc_day(before - 3 * DAY_MS))
    assert abs(len(stored) - settlement_hours(first, before, 0, 4 * HOUR_MS)) <= 1   # 4 h settlements
    t, rate, hours, mark = stored[0]
    # what the wire said, percentage points with GRVT's 4 decimals: the last rate published before t (1 ms before)
    pct = Decimal(rate_str(round(u.rate_1h("grvt", name, t - 1) * 4 * 100, 4)))
    assert hours == 4 and rate == pct / 100
    assert mark is not None and mark > 0


def test_lighter_market_named_by_symbol_uses_its_market_id(replay, db_url, capsys):
    code, summary = run_json(capsys, ["--dex", "lighter", "--symbol", "ETH", "--days", "1"])
    assert code == 0, summary
    assert venue(summary, "lighter")["markets"] == 1
    stored = rows(db_url, "lighter", "ETH")
    assert len(stored) >= 24                                  # yesterday's 24 hourly settlements at least
    assert all(h == 1 for _t, _r, h, _m in stored)


def test_dry_run_plans_without_fetching_history(replay, db_url, capsys):
    code = main(["backfill", "--dex", "hyperliquid", "lighter", "--symbol", "BTC", "ETH", "--days", "30", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "dry run" in out and "hyperliquid" in out and "lighter" in out
    assert rows(db_url, "hyperliquid", "BTC") == []
    code, plan = run_json(capsys, ["--dex", "hyperliquid", "--symbol", "BTC", "ETH", "--days", "30", "--dry-run"])
    hl = venue(plan, "hyperliquid")
    # 30 full days + today = 31 days -> windows of 7: 5 per market (7,7,7,7,3), 2 markets
    assert hl["markets"] == 2 and hl["windows"] == 10
    assert hl["estimated_seconds"] == round(hl["estimated_requests"] / (60 / 60), 1)   # 60 requests/min


def test_rate_limit_scale_refused_against_a_live_host(monkeypatch, capsys):
    monkeypatch.setenv("HYPERLIQUID_API_URL", "https://api.hyperliquid.xyz")
    reset_settings_cache()
    assert main(["backfill", "--dex", "hyperliquid", "--rate-limit-scale", "10", "--dry-run"]) == 2
    assert "only allowed against a loopback upstream" in capsys.readouterr().err


def test_unknown_venue_and_bad_since_name_the_argument(capsys):
    assert main(["backfill", "--dex", "nosuchdex", "--dry-run"]) == 2
    assert "nosuchdex" in capsys.readouterr().err
    assert main(["backfill", "--since", "2026-13-01", "--dry-run"]) == 2
    assert "--since" in capsys.readouterr().err


# ---------------------------------------------------------------- all venues, interrupted and resumed


def _cli_env(server: ReplayServer, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ENABLED_DEXES")}
    env.update(server.base_urls())
    env["DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# the five venues whose replay data serves full settled histories (the replay's Aster/Extended/Backpack/Pacifica/
# HIP-3 data is recorded rows without a generated history: backfilling them there proves nothing)
FIVE = ["hyperliquid", "lighter", "paradex", "grvt", "edgex"]
ALL_3_DAYS = ["backfill", "--dex", *FIVE, "--symbol", "all", "--days", "3", "--rate-limit-scale", "200", "--json"]


def _counts(database_url: str, before_ms: int) -> dict[str, tuple[int, int]]:
    """{dex: (rows, distinct (symbol, time))} of rows before `before_ms` (the full days both runs share)."""
    with psycopg.connect(database_url) as conn:
        got = conn.execute(
            """SELECT d.name, count(*), count(DISTINCT (f.symbol_id, f.time)) FROM funding_rates f
               JOIN dexes d ON d.id = f.dex_id WHERE f.time < to_timestamp(%s / 1000.0) GROUP BY d.name""",
            (before_ms,)).fetchall()
    return {name: (n, distinct) for name, n, distinct in got}


def _days_recorded(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM backfill_days").fetchone()[0]


def test_all_venues_killed_midway_and_rerun_equals_one_uninterrupted_run(replay, db_url, pg_server, pg_template):
    with extra_db(pg_server, pg_template) as reference_url:
        started = time.time()
        full = subprocess.run([sys.executable, "-m", "chalicelib.cli", *ALL_3_DAYS], env=_cli_env(replay, reference_url),
                              capture_output=True, text=True, timeout=600)
        uninterrupted_s = time.time() - started
        assert full.returncode == 0, full.stderr[-2000:]
        summary = json.loads(full.stdout.strip().splitlines()[-1])
        assert {v["dex_name"] for v in summary["venues"]} == {"hyperliquid", "lighter", "paradex", "grvt", "edgex"}
        assert all(v["status"] == "done" and v["markets"] > 100 for v in summary["venues"]), summary

        # the same backfill, SIGKILLed once some days are recorded (a crash: nothing gets to clean up)
        proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", *ALL_3_DAYS], env=_cli_env(replay, db_url),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while _days_recorded(db_url) < 300 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be interrupted: raise the threshold"
        proc.kill()
        proc.wait(30)
        recorded_at_kill = _days_recorded(db_url)
        resumed = subprocess.run([sys.executable, "-m", "chalicelib.cli", *ALL_3_DAYS], env=_cli_env(replay, db_url),
                                 capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        again = json.loads(resumed.stdout.strip().splitlines()[-1])
        assert sum(v["days_skipped"] for v in again["venues"]) >= recorded_at_kill   # it continued, not restarted

        today = day_start_ms(utc_day(int(started * 1000)))
        reference, interrupted = _counts(reference_url, today), _counts(db_url, today)
        assert interrupted == reference                     # same rows per venue over the full days
        assert all(n == distinct for n, distinct in interrupted.values())   # and no duplicates
        print(f"\nall venues x all markets, 3 days: {sum(n for n, _ in reference.values())} rows "
              f"in {uninterrupted_s:.1f} s uninterrupted")


def test_a_venue_failing_midway_leaves_the_others_complete(replay, db_url, capsys):
    result: dict = {}

    def go() -> None:
        result["code"] = main(["backfill", "--dex", "hyperliquid", "lighter", "--symbol", "all", "--days", "1",
                               "--rate-limit-scale", "200", "--json"])

    worker = threading.Thread(target=go)
    worker.start()
    deadline = time.time() + 120
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.time() < deadline and conn.execute(
                "SELECT count(*) FROM backfill_days WHERE dex = 'lighter'").fetchone()[0] < 5:
            time.sleep(0.02)
    replay.set_fault("lighter", "500")                       # lighter breaks midway; hyperliquid goes on
    worker.join(300)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["code"] == 1
    hl, lighter = venue(summary, "hyperliquid"), venue(summary, "lighter")
    assert hl["status"] == "done" and hl["markets_done"] == hl["markets"] and hl["errors"] == 0
    assert lighter["status"] == "failed" and "in a row" in lighter["error"] and "HTTP 500" in lighter["error"]
    assert 0 < lighter["markets_done"] < lighter["markets"]
