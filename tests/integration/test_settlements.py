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


def test_verdict_changes_become_venue_events():
    reports = {"lighter": {"verdict": {"status": "unit_mismatch", "factor": D(8), "suspected": "x8", "samples": 20}},
               "grvt": {"verdict": {"status": "verified", "factor": D(1), "suspected": None, "samples": 20}},
               "edgex": {"verdict": {"status": "verified", "factor": D(1), "suspected": None, "samples": 20}}}
    events = settle.verdict_events({"lighter": "verified", "grvt": "unit_mismatch"}, reports, now_ms=5)
    assert [(e["type"], e["dex"], e["previous"]) for e in events] == [
        ("venue.unit_mismatch", "lighter", "verified"), ("venue.verified", "grvt", "unit_mismatch")]
    assert events[0]["id"] == "venue.unit_mismatch:lighter:5"    # stable id: subscribers de-duplicate
