"""Settlements on real PostgreSQL: idempotent storage, pairing with the last COLLECTED rate, verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import psycopg
import pytest

from chalicelib.core.models import MarketSnapshot
from chalicelib.services import settle
from chalicelib.storage.repository import PgStorage
from chalicelib.venues.base import HistoryPoint

H = 3_600_000
NOW = (int(datetime.now(UTC).timestamp() * 1000) // H) * H      # the last full hour


@pytest.fixture
def storage(db_url):
    s = PgStorage(db_url)
    yield s
    s.close()


def collected(dex: str, symbol: str, rate_1h: str, at_ms: int, interval: int = 1) -> MarketSnapshot:
    return MarketSnapshot(dex=dex, symbol=symbol, dex_symbol=symbol, funding_rate=D(rate_1h) * interval,
                          funding_interval_hours=D(interval), mark_price=D(100), fetched_at_ms=at_ms,
                          collection_latency_ms=150)


def test_settlements_are_idempotent_and_paired_with_the_last_collected_rate(storage, db_url):
    # hyperliquid BTC: published 0.00001/h five minutes before each of 14 settlements, settled the same;
    # lighter BTC: published 0.00001/h, settled 0.00008/h (8x: a unit error somewhere)
    snaps, hl, lt = [], [], []
    for k in range(1, 15):
        t = NOW - k * H
        snaps += [collected("hyperliquid", "BTC", "0.00001", t - 5 * 60_000),
                  collected("lighter", "BTC", "0.00001", t - 5 * 60_000),
                  collected("hyperliquid", "BTC", "0.5", t - 2 * H + 60_000)]   # older than the interval: not paired
        hl.append(HistoryPoint(t, D("0.00001"), D(1)))
        lt.append(HistoryPoint(t, D("0.00008"), D(1), D(100)))
    storage.ingest(snaps)
    # a backfilled history row sits at each settlement instant in funding_rates: it must never be the pair
    storage.ingest_history("hyperliquid", "BTC", "BTC", [HistoryPoint(p.time_ms - 1000, D("0.9"), D(1)) for p in hl])
    assert storage.ingest_settlements("hyperliquid", "BTC", hl, source="hyperliquid POST /info fundingHistory") == 14
    assert storage.ingest_settlements("lighter", "BTC", lt, source="lighter GET /api/v1/fundings") == 14
    assert storage.ingest_settlements("lighter", "BTC", lt, source="lighter GET /api/v1/fundings") == 0   # idempotent
    assert storage.last_settlements("lighter", since=datetime.fromtimestamp((NOW - 30 * H) / 1000, tz=UTC)) == {"BTC": NOW - H}

    pairs = storage.calibration_pairs("hyperliquid", since=datetime.fromtimestamp((NOW - 20 * H) / 1000, tz=UTC))
    assert len(pairs) == 14
    assert all(p["published_1h"] == D("0.00001") and p["settled_1h"] == D("0.00001") for p in pairs)

    hl_report = settle.calibrate_venue("hyperliquid", storage, now_ms=NOW)
    lt_report = settle.calibrate_venue("lighter", storage, now_ms=NOW)
    assert hl_report["verdict"]["status"] == "verified" and hl_report["verdict"]["factor"] == 1
    assert lt_report["verdict"]["status"] == "unit_mismatch" and lt_report["verdict"]["factor"] == 8
    assert lt_report["verdict"]["suspected"] == "x8"
    # accuracy of lighter over 24 h: published - settled = 0.00001 - 0.00008 = -0.00007 per hour on all 14
    acc = lt_report["accuracy"]["24h"]
    assert acc["samples"] == 14 and acc["bias_1h"] == D("-0.00007") and acc["mae_1h"] == D("0.00007")
    assert acc["bias_apr_points"] == D("-61.32")          # -0.00007 x 8760 x 100
    storage.save_calibration("lighter", lt_report["verdict"], lt_report)
    storage.save_calibration("hyperliquid", hl_report["verdict"], hl_report)
    rows = {r["dex"]: r for r in storage.calibrations()}
    assert rows["lighter"]["status"] == "unit_mismatch" and rows["lighter"]["factor"] == 8
    assert settle.excluded_venues({d: r["report"]["verdict"] for d, r in rows.items()}) == {
        "lighter": "unit_mismatch: settled/published factor 8 (x8)"}

    with psycopg.connect(db_url) as conn:
        src = conn.execute("SELECT DISTINCT source FROM settlements s JOIN dexes d ON d.id = s.dex_id "
                           "WHERE d.name = 'lighter'").fetchall()
    assert src == [("lighter GET /api/v1/fundings",)]


def test_accuracy_bands_summed_by_the_database_match_the_hand_figures(storage):
    """Settlements 2 h, 30 h, 200 h and 800 h old (hyperliquid ETH, 1 h interval), each paired as it is stored
    with the rate collected 5 min before it. The database sums the age bands; the figures are by hand:
         age    published   settled    diff (pub - set)
         2 h     0.00002    0.00001    +0.00001
        30 h     0.00001    0.00003    -0.00002
       200 h    -0.00001    0.00001    -0.00002   (sign miss)
       800 h     0.00005    0.00005     0         (older than 30 d: in no window)"""
    from chalicelib.core.calibration import Pair, report

    rows = [(2, "0.00002", "0.00001"), (30, "0.00001", "0.00003"), (200, "-0.00001", "0.00001"),
            (800, "0.00005", "0.00005")]
    storage.ingest([collected("hyperliquid", "ETH", pub, NOW - age * H - 5 * 60_000) for age, pub, _ in rows])
    assert storage.ingest_settlements("hyperliquid", "ETH", [HistoryPoint(NOW - age * H, D(st), D(1))
                                                             for age, _, st in rows], source="test") == 4
    rep = settle.calibrate_venue("hyperliquid", storage, now_ms=NOW)
    eth = rep["markets"]["ETH"]
    assert eth["24h"]["samples"] == 1 and eth["24h"]["bias_1h"] == D("0.00001") and eth["24h"]["sign_hit_rate"] == 1
    assert eth["168h"]["samples"] == 2
    assert eth["168h"]["bias_1h"] == D("-0.000005")           # (+1 - 2) e-5 / 2
    assert eth["168h"]["mae_1h"] == D("0.000015")             # (1 + 2) e-5 / 2
    assert eth["720h"]["samples"] == 3
    assert eth["720h"]["bias_1h"] == D("-0.00001")            # (+1 - 2 - 2) e-5 / 3
    assert eth["720h"]["mae_1h"] == D("0.0000166666666667")   # (1 + 2 + 2) e-5 / 3, 12 significant digits
    assert eth["720h"]["sign_hit_rate"] == D("0.666666666667")  # 2 of 3
    assert eth["720h"]["mae_apr_points"] == D("14.6")         # 0.0000166667 x 8760 x 100
    # windows are [0, 24 h), [0, 168 h), [0, 720 h) of age: settlements exactly 24 h and 168 h old (BNB) fall in
    # the next window, never the one they close
    storage.ingest([collected("hyperliquid", "BNB", "0.00001", NOW - age * H - 5 * 60_000) for age in (24, 168)])
    storage.ingest_settlements("hyperliquid", "BNB", [HistoryPoint(NOW - age * H, D("0.00001"), D(1)) for age in (24, 168)],
                               source="test")
    bnb = settle.calibrate_venue("hyperliquid", storage, now_ms=NOW)["markets"]["BNB"]
    assert "24h" not in bnb and bnb["168h"]["samples"] == 1 and bnb["720h"]["samples"] == 2
    rep = settle.calibrate_venue("hyperliquid", storage, now_ms=NOW)
    # the same report from the stored pairs summed in memory (core.calibration.bands): one derivation
    pairs = [Pair("hyperliquid", r["symbol"], int(r["time_ms"]), r["settled_1h"], r["published_1h"])
             for r in storage.calibration_pairs("hyperliquid", since=datetime.fromtimestamp((NOW - 900 * H) / 1000, tz=UTC))]
    assert len(pairs) == 6
    assert report("hyperliquid", pairs, now_ms=NOW)["markets"] == rep["markets"]


def test_verdict_changes_become_venue_events():
    reports = {"lighter": {"verdict": {"status": "unit_mismatch", "factor": D(8), "suspected": "x8", "samples": 20}},
               "grvt": {"verdict": {"status": "verified", "factor": D(1), "suspected": None, "samples": 20}},
               "edgex": {"verdict": {"status": "verified", "factor": D(1), "suspected": None, "samples": 20}}}
    events = settle.verdict_events({"lighter": "verified", "grvt": "unit_mismatch"}, reports, now_ms=5)
    # edgex's first verdict, verified, is not news; the two changes are, in venue order
    assert [(e["event"], e["dex_name"], e["previous"], e["factor"]) for e in events] == [
        ("verified", "grvt", "unit_mismatch", 1), ("unit_mismatch", "lighter", "verified", 8)]
    assert events[1]["reason"] == "settled/published factor 8 (x8) over 20 pairs: left out of opportunities"
    hooks = settle.webhook_events(events, now_ms=5)
    assert [(h["type"], h["data"]["dex_name"]) for h in hooks] == [("venue.verified", "grvt"), ("venue.unit_mismatch", "lighter")]
    # stable ids: the same change at the same instant is the same event (subscribers de-duplicate)
    assert hooks[1]["id"] == settle.webhook_events(events, now_ms=5)[1]["id"] != hooks[0]["id"]


def test_frs_calibrate_refresh_announces_the_change_it_saves(storage, db_url, redis_url, monkeypatch, capsys):
    """A verdict changed by hand (`frs calibrate --refresh`) is announced like the scheduled run's: unannounced,
    the next run would see no change and nobody would ever hear of it."""
    import json

    import redis

    from chalicelib import wiring
    from chalicelib.cache import keys
    from chalicelib.cli import main
    from chalicelib.settings import reset_settings_cache

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings_cache()
    wiring.reset()
    # lighter SOL published 0.00001/h 5 min before each of 14 settlements that paid 0.00008/h: x8
    storage.ingest([collected("lighter", "SOL", "0.00001", NOW - k * H - 5 * 60_000) for k in range(1, 15)])
    storage.ingest_settlements("lighter", "SOL", [HistoryPoint(NOW - k * H, D("0.00008"), D(1)) for k in range(1, 15)],
                               source="lighter GET /api/v1/fundings")
    storage.save_calibration("lighter", {"status": "verified", "factor": D(1), "sign_agreement": D(1), "samples": 20,
                                         "window_hours": 72}, {})
    sub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    sub.subscribe(keys.channel("venues"))
    try:
        assert main(["calibrate", "--refresh", "--json"]) == 0
        message = None
        for _ in range(50):
            message = sub.get_message(timeout=0.1)
            if message:
                break
        assert message is not None
        batch = json.loads(message["data"])
        lighter = [e for e in batch["events"] if e["dex_name"] == "lighter"]
        assert [(e["event"], e["previous"], e["factor"], e["suspected"]) for e in lighter] == [
            ("unit_mismatch", "verified", 8, "x8")]
    finally:
        sub.close()
        wiring.reset()
        reset_settings_cache()
    out = json.loads(capsys.readouterr().out)
    assert {r["dex_name"]: r["status"] for r in out}["lighter"] == "unit_mismatch"


# ---------------------------------------------------------------- backtest on stored settlements

T8 = NOW - 48 * H - (NOW - 48 * H) % (8 * H)          # an 8 h boundary two days back


def test_backtest_cli_on_stored_settlements(storage, db_url, monkeypatch, capsys):
    from chalicelib import wiring
    from chalicelib.cli import main
    from chalicelib.settings import reset_settings_cache

    monkeypatch.setenv("DATABASE_URL", db_url)
    reset_settings_cache()
    wiring.reset()
    # long lighter (1 h): 0.00001 at +1..+8 h except +3 h 0.00002 -> pays 0.00009 x 10,000 = 0.9 USD
    storage.ingest_settlements("lighter", "DOGE", [HistoryPoint(T8 + h * H, D("0.00002") if h == 3 else D("0.00001"), D(1))
                                                   for h in range(1, 9)], source="lighter GET /api/v1/fundings")
    # short grvt (4 h): 0.0004 at +4 h, 0.0002 at +8 h -> receives 0.0006 x 10,000 = 6 USD
    storage.ingest_settlements("grvt", "DOGE", [HistoryPoint(T8 + 4 * H, D("0.0004"), D(4)),
                                                HistoryPoint(T8 + 8 * H, D("0.0002"), D(4))], source="grvt POST /full/v1/funding")
    start = datetime.fromtimestamp(T8 / 1000, tz=UTC).isoformat()
    end = datetime.fromtimestamp((T8 + 8 * H) / 1000, tz=UTC).isoformat()
    try:
        assert main(["backtest", "--symbol", "DOGE", "--long", "lighter", "--short", "grvt", "--start", start,
                     "--end", end, "--json"]) == 0
        import json
        out = json.loads(capsys.readouterr().out)
        # seeded maker fees: lighter 0 (Standard account), grvt 0.00027 -> (0 + 0.00027) x 10,000 = 2.7 USD per
        # entry or exit; funding 6 - 0.9 = 5.1; net 5.1 - 5.4 = -0.3 USD
        assert D(str(out["funding_usd"])) == D("5.1") and D(str(out["fees_usd"])) == D("5.4")
        assert D(str(out["net_pnl_usd"])) == D("-0.3")
        assert [leg["source"] for leg in out["legs"]] == ["settlements", "settlements"]
        assert [leg["settlements"] for leg in out["legs"]] == [8, 2]
        # a venue without settlements or collected rates for the symbol: 404 naming the leg
        assert main(["backtest", "--symbol", "DOGE", "--long", "lighter", "--short", "paradex", "--start", start,
                     "--end", end]) == 1
        assert "short_dex: no settlements and no collected rates for DOGE on paradex" in capsys.readouterr().err
        assert main(["backtest", "--symbol", "DOGE", "--long", "lighter", "--short", "lighter", "--days", "1"]) == 1
        assert "short_dex: long_dex and short_dex must be different" in capsys.readouterr().err
    finally:
        reset_settings_cache()
        wiring.reset()
