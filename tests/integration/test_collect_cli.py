"""`frs collect --once` in-process against the real replay server, real PostgreSQL and real Redis."""

from __future__ import annotations

import json

import psycopg
import pytest
import redis

from chalicelib import wiring
from chalicelib.cli import main
from chalicelib.services.collect import collect_venue
from chalicelib.settings import Settings, reset_settings_cache
from chalicelib.transport import breaker as breaker_mod
from chalicelib.transport.breaker import CircuitBreaker, RedisStore
from chalicelib.transport.budget import reset_buckets
from chalicelib.venues import edgex, grvt
from frs_local.replay import ReplayServer

DEXES = {"hyperliquid", "lighter", "paradex", "grvt", "edgex"}
RECORD_FIELDS = {"dex_name", "symbol", "dex_symbol", "basis", "funding_rate", "native_rate", "funding_interval_hours",
                 "rate_1h", "rate_8h", "annualized_rate", "mark_price", "index_price", "open_interest_usd",
                 "volume_24h_usd", "best_bid", "best_ask", "next_funding_time", "timestamp", "fetched_at", "multiplier"}


@pytest.fixture
def replay(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "ENABLED_DEXES", "USE_REDIS"):
        monkeypatch.delenv(name, raising=False)
    with ReplayServer(port=0, seed=5) as server:
        for key, value in server.base_urls().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("ENABLED_DEXES", ",".join(sorted(DEXES)))   # the newer venues: test_collect_more_venues
        reset_buckets()
        breaker_mod.reset_memory()
        reset_settings_cache()
        wiring.reset()
        yield server
    reset_settings_cache()
    wiring.reset()


def run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    rc = main(["collect", "--once", *argv])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines() if line.strip()] if "--json" in argv else []
    return rc, records, err


def test_json_lines_for_all_five_venues(replay, capsys):
    rc, records, err = run(capsys, "--json")
    assert rc == 0
    assert {r["dex_name"] for r in records} == DEXES
    assert all(set(r) == RECORD_FIELDS for r in records)
    for dex in DEXES:
        assert sum(r["dex_name"] == dex for r in records) >= 100
        assert f"{dex}" in err
    assert "FAILED" not in err
    keys = [(r["dex_name"], r["symbol"], r["dex_symbol"]) for r in records]
    assert keys == sorted(keys)


def test_table_output_is_aligned(replay, capsys):
    rc = main(["collect", "--once", "--dex", "paradex"])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert rc == 0 and lines[0].split() == ["dex", "symbol", "dex_symbol", "interval", "h", "rate_8h", "%", "APR",
                                           "%", "mark", "OI", "USD", "vol", "24h", "USD"]
    assert len(lines) == 1 + len(replay.universe.listings["paradex"])
    assert len({len(line) for line in lines[1:]}) <= 2   # right-aligned numeric columns
    assert err.startswith("paradex  ok ")


def test_two_failing_venues_do_not_stop_the_others_from_printing_and_storing(replay, capsys, monkeypatch, db_url):
    monkeypatch.setenv("DATABASE_URL", db_url)
    replay.set_fault("grvt", "500")
    replay.set_fault("edgex", "garbage")
    rc, records, err = run(capsys, "--json")
    assert rc == 0
    assert {r["dex_name"] for r in records} == {"hyperliquid", "lighter", "paradex"}
    lines = {line.split()[0]: line for line in err.splitlines() if line.strip()}
    assert lines["grvt"].split()[1] == "FAILED"
    assert f"HTTP 500 from {replay.url}/grvt/full/v1/all_instruments after 3 attempts" in lines["grvt"]
    assert lines["edgex"].split()[1] == "FAILED"
    assert f"malformed JSON from {replay.url}/edgex/api/v2/public/meta/getMetaData: " in lines["edgex"]
    assert "store" in lines["hyperliquid"]
    with psycopg.connect(db_url) as conn:
        stored = dict(conn.execute(
            "SELECT d.name, count(*) FROM latest_funding_rates l JOIN dexes d ON d.id = l.dex_id GROUP BY d.name"
        ).fetchall())
        logs = dict(conn.execute(
            "SELECT d.name, c.status FROM collection_logs c JOIN dexes d ON d.id = c.dex_id").fetchall())
    per_dex = {d: sum(r["dex_name"] == d for r in records) for d in ("hyperliquid", "lighter", "paradex")}
    assert stored == per_dex
    assert logs == {"hyperliquid": "success", "lighter": "success", "paradex": "success", "grvt": "failed",
                    "edgex": "failed"}


def test_every_venue_failing_exits_non_zero(replay, capsys):
    for dex in DEXES:
        replay.set_fault(dex, "404")                   # not retried: fails fast
    rc, records, err = run(capsys, "--json")
    assert rc == 1 and records == []
    assert sum("FAILED" in line for line in err.splitlines()) == 5


def test_normalized_numbers_match_the_generator_inputs(replay, capsys):
    u = replay.universe
    one_hour = next(u.grvt_instrument_name(n) for n in u.listings["grvt"] if u.grvt_interval(n) == 1)
    u.pin("grvt", one_hour, "funding_rate", "0.01")                  # percentage points per 1 h
    u.pin("lighter", "ETH", "rate", 0.000096)                         # 8 h-equivalent fraction (JSON float)
    u.pin("paradex", "TAO-USD-PERP", "funding_rate", "0.0024")        # per 24 h reference period
    u.pin("edgex", "BTCUSDC", "forecastFundingRate", "-0.00012236")   # per 240 min (V2 getLatestFundingRate)
    u.pin("edgex", "BTCUSDC", "markPrice", "76767.5")                 # getLatestFundingRate
    u.pin("edgex", "BTCUSDC", "openInterest", "3284.957")             # getTicker, base units
    u.pin("edgex", "BTCUSDC", "value", "210414016.4312")              # getTicker, 24 h quote volume
    u.pin("hyperliquid", "kPEPE", "funding", "0.0000125")             # hourly
    u.pin("hyperliquid", "kPEPE", "markPx", "0.019")                  # per 1000 PEPE
    rc, records, _ = run(capsys, "--json")
    assert rc == 0
    got = {(r["dex_name"], r["dex_symbol"]): r for r in records}
    g = got[("grvt", one_hour)]
    assert (g["native_rate"], g["funding_interval_hours"], g["rate_8h"]) == (0.0001, 1, 0.0008)
    assert (g["basis"], g["funding_rate"]) == ("8h", 0.0008)          # funding_rate is in the stated basis
    assert g["annualized_rate"] == 87.6
    lt = got[("lighter", "ETH")]
    assert (lt["native_rate"], lt["rate_1h"], lt["rate_8h"]) == (0.000012, 0.000012, 0.000096)
    p = got[("paradex", "TAO-USD-PERP")]
    assert (p["native_rate"], p["funding_interval_hours"], p["rate_1h"], p["rate_8h"]) == (0.0024, 24, 0.0001, 0.0008)
    e = got[("edgex", "BTCUSDC")]
    assert (e["funding_interval_hours"], e["rate_1h"], e["rate_8h"]) == (4, -0.00003059, -0.00024472)  # /4, x8
    assert (e["symbol"], e["mark_price"], e["volume_24h_usd"]) == ("BTC", 76767.5, 210414016.4312)
    assert e["open_interest_usd"] == 252177936.4975                   # 3284.957 x 76767.5
    k = got[("hyperliquid", "kPEPE")]
    assert (k["symbol"], k["mark_price"], k["rate_8h"], k["multiplier"]) == ("PEPE", 0.000019, 0.0001, 1000)


def test_edgex_pointed_at_v1_is_reported_failed_with_the_reason(replay, monkeypatch, capsys):
    """`frs replay-server --edgex-api v1` (here: edgex_api="v1") exports EDGEX_API_URL=.../edgex/api/v1; V1 lists
    its contracts but answers the funding call with data: [] - the module says so, the others are unaffected."""
    with ReplayServer(port=0, seed=5, edgex_api="v1") as v1:
        monkeypatch.setenv("EDGEX_API_URL", v1.base_urls()["EDGEX_API_URL"])
        reset_settings_cache()
        rc, records, err = run(capsys, "--json")
    assert rc == 0 and "edgex" not in {r["dex_name"] for r in records}
    line = next(x for x in err.splitlines() if x.startswith("edgex"))
    assert line.split()[1] == "FAILED"
    assert "getLatestFundingRate answered SUCCESS with no data for" in line
    assert "deprecated V1 API answers this way: is EDGEX_API_URL pointing at V1 (.../api/v1), not V2" in line


def test_breaker_state_survives_in_redis_across_invocations(replay, redis_url):
    settings = Settings.from_env({**replay.base_urls(), "REDIS_URL": redis_url, "CIRCUIT_FAILURE_THRESHOLD": "2",
                                  "CIRCUIT_RESET_SECONDS": "300"})
    replay.set_fault("grvt", "404")

    def invocation():
        """A cold Lambda: new Redis client, new breaker, new store."""
        client = redis.Redis.from_url(redis_url)
        b = CircuitBreaker("grvt", RedisStore(client), threshold=settings.circuit_failure_threshold,
                           reset_seconds=settings.circuit_reset_seconds)
        try:
            return collect_venue(grvt, settings, breaker=b)
        finally:
            client.close()

    first, second = invocation(), invocation()
    assert first.error.startswith("HTTP 404") and second.error.startswith("HTTP 404")
    made = replay.requests["grvt"]
    third = invocation()
    assert third.status == "failed" and third.error.startswith("circuit open until ")
    assert replay.requests["grvt"] == made                          # short-circuited: no request sent
    raw = json.loads(redis.Redis.from_url(redis_url).get("frs:v1:breaker:grvt"))
    assert raw["state"] == "open" and raw["failures"] == 2
    assert 0 < redis.Redis.from_url(redis_url).ttl("frs:v1:breaker:grvt") <= breaker_mod.REDIS_TTL_SECONDS


def test_default_store_uses_redis_when_configured(replay, redis_url):
    settings = Settings.from_env({**replay.base_urls(), "REDIS_URL": redis_url})
    b = breaker_mod.breaker_for("paradex", settings)
    b.record(False)
    raw = json.loads(redis.Redis.from_url(redis_url).get("frs:v1:breaker:paradex"))
    assert raw == {"state": "closed", "failures": 1, "since": None}


def test_breaker_falls_back_to_postgresql_without_redis(replay, db_url):
    from chalicelib.storage.repository import PgStorage

    settings = Settings.from_env({**replay.base_urls(), "DATABASE_URL": db_url, "CIRCUIT_FAILURE_THRESHOLD": "1"})
    replay.set_fault("edgex", "404")
    first = PgStorage(db_url)
    try:
        assert collect_venue(edgex, settings, breaker=breaker_mod.breaker_for("edgex", settings, storage=first)
                             ).error.startswith("HTTP 404")
    finally:
        first.close()
    second = PgStorage(db_url)                         # the next invocation: new connection, new breaker
    try:
        again = collect_venue(edgex, settings, breaker=breaker_mod.breaker_for("edgex", settings, storage=second))
    finally:
        second.close()
    assert again.error.startswith("circuit open until ")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT state, failures FROM circuit_breakers WHERE dex = 'edgex'").fetchone() == ("open", 1)
