"""PgStorage against a real, migrated PostgreSQL. Expected values are computed by hand in each test."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import psycopg
import pytest

from chalicelib.core.models import FeeSchedule, FeeTier, MarketSnapshot, Opportunity, opportunity_id
from chalicelib.core.ports import CollectionOutcome
from chalicelib.storage.repository import PgStorage

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)   # an old day: its rows land in the DEFAULT partition


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def snap(dex: str = "hyperliquid", symbol: str = "BTC", *, at: datetime = T0, rate: str = "0.0001",
         interval: int = 1, **kw: Any) -> MarketSnapshot:
    fields: dict[str, Any] = {"dex_symbol": symbol, "mark_price": D("100"), **kw}
    return MarketSnapshot(dex=dex, symbol=symbol, funding_rate=D(rate), funding_interval_hours=D(interval),
                          fetched_at_ms=ms(at), **fields)


@pytest.fixture
def storage(db_url: str):
    s = PgStorage(db_url)
    yield s
    s.close()


def scalar(url: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


# ---- ingest -----------------------------------------------------------------------------------------
def test_same_batch_twice_is_one_copy(storage: PgStorage, db_url: str) -> None:
    batch = [snap(symbol="BTC", rate="0.0001"), snap(symbol="ETH", rate="-0.0002"),
             snap(dex="paradex", symbol="BTC", dex_symbol="BTC-USD-PERP", rate="0.0008", interval=8)]
    assert storage.ingest(batch) == 3
    assert storage.ingest(batch) == 3
    assert scalar(db_url, "SELECT count(*) FROM funding_rates") == 3
    assert scalar(db_url, "SELECT count(*) FROM latest_funding_rates") == 3
    # derived columns: paradex 0.0008 per 8 h -> 0.0001 per hour, 0.0008 per 8 h
    assert scalar(db_url, "SELECT rate_1h FROM funding_rates f JOIN dexes d ON d.id = f.dex_id "
                          "WHERE d.name = 'paradex'") == D("0.0001")
    assert scalar(db_url, "SELECT rate_8h FROM funding_rates f JOIN dexes d ON d.id = f.dex_id "
                          "JOIN symbols s ON s.id = f.symbol_id WHERE d.name = 'hyperliquid' AND s.symbol = 'ETH'") \
        == D("-0.0016")
    assert scalar(db_url, "SELECT time FROM funding_rates LIMIT 1") == T0


def test_duplicates_inside_one_batch_keep_the_last(storage: PgStorage, db_url: str) -> None:
    assert storage.ingest([snap(rate="0.0001"), snap(rate="0.0003")]) == 1
    assert scalar(db_url, "SELECT funding_rate FROM funding_rates") == D("0.0003")


def test_symbol_discovery_creates_rows_once(storage: PgStorage, db_url: str) -> None:
    batch = [snap(symbol="NEWCOIN", dex_symbol="kNEWCOIN", multiplier=D(1000)),
             snap(dex="edgex", symbol="NEWCOIN", dex_symbol="NEWCOINUSD", interval=4)]
    storage.ingest(batch)
    first_id = scalar(db_url, "SELECT id FROM symbols WHERE symbol = 'NEWCOIN'")
    fresh = PgStorage(db_url)   # no cached ids: the database must still hold one row
    try:
        fresh.ingest([snap(symbol="NEWCOIN", at=T0 + timedelta(minutes=1), dex_symbol="kNEWCOIN",
                           multiplier=D(1000))])
    finally:
        fresh.close()
    assert scalar(db_url, "SELECT count(*) FROM symbols WHERE symbol = 'NEWCOIN'") == 1
    assert scalar(db_url, "SELECT id FROM symbols WHERE symbol = 'NEWCOIN'") == first_id
    assert scalar(db_url, "SELECT count(*) FROM dex_symbols WHERE symbol_id = %s", first_id) == 2
    assert "NEWCOIN" in storage.known_symbols()
    rows = {r["dex_symbol_format"]: r for r in storage.dex_symbols("hyperliquid")}
    assert rows["kNEWCOIN"]["multiplier"] == D(1000)
    assert rows["kNEWCOIN"]["symbol"] == "NEWCOIN"


def test_unknown_venue_is_registered_from_its_spec_never_with_zero_fees(storage: PgStorage) -> None:
    # aster is not in the 0003 seed: its row comes from chalicelib/venues/aster.py SPEC (maker 0.0001, taker 0.00035)
    storage.ingest([snap(dex="aster", symbol="BTC"), snap(dex="hyperliquid-xyz", symbol="XYZ100")])
    rows = {r["name"]: r for r in storage.dexes()}
    aster = rows["aster"]
    assert (aster["display_name"], aster["maker_fee_percent"], aster["taker_fee_percent"]) == ("Aster", D("0.0001"),
                                                                                              D("0.00035"))
    assert (aster["funding_interval_hours"], aster["api_base_url"]) == (8, "https://fapi.asterdex.com")
    assert aster["supported_symbols"] == ["BTC"]
    # a HIP-3 dex discovered at run time: id inside, display name outside, HIP-3 fees = 2 x HL base (0.00015/0.00045)
    xyz = rows["hyperliquid-xyz"]
    assert (xyz["display_name"], xyz["maker_fee_percent"], xyz["taker_fee_percent"]) == ("Hyperliquid xyz",
                                                                                        D("0.0003"), D("0.0009"))
    assert storage.fee_schedules()["hyperliquid-xyz"] == FeeSchedule(maker=D("0.0003"), taker=D("0.0009"))


def test_a_venue_no_module_knows_is_refused_not_given_zero_fees(storage: PgStorage, db_url: str) -> None:
    with pytest.raises(LookupError, match="sixthdex have no venue module"):
        storage.ingest([snap(dex="sixthdex", symbol="BTC")])
    assert scalar(db_url, "SELECT count(*) FROM dexes WHERE name = 'sixthdex'") == 0
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.NotNullViolation):
        conn.execute("INSERT INTO dexes (name, display_name) VALUES ('nofees', 'No fees')")   # 0006: no default


def test_latest_keeps_the_newer_snapshot(storage: PgStorage, db_url: str) -> None:
    newer = snap(at=T0 + timedelta(minutes=5), rate="0.0002", best_bid=D("99"), best_ask=D("101"),
                 open_interest_usd=D("5000000"), volume_24h_usd=D("1e7"), next_funding_time_ms=ms(T0) + 3_600_000,
                 venue_ts_ms=ms(T0) + 299_000, index_price=D("100.5"), collection_latency_ms=120)
    older = snap(at=T0, rate="0.0001")
    storage.ingest([newer])
    storage.ingest([older])   # arrives late
    assert scalar(db_url, "SELECT count(*) FROM funding_rates") == 2
    [latest] = storage.latest_snapshots(dex="hyperliquid", symbol="BTC")
    assert latest == newer   # every field rebuilt, Decimal-exact
    # dex_symbols keeps the newer market context as well; spread = (101 - 99) / 100 * 10000 = 200 bps
    [row] = storage.dex_symbols("hyperliquid")
    assert (row["best_bid"], row["best_ask"], row["spread_bps"]) == (D("99"), D("101"), D(200))
    assert row["last_updated"] == T0 + timedelta(minutes=5)


def test_latest_snapshots_filters(storage: PgStorage) -> None:
    storage.ingest([snap(symbol="BTC"), snap(symbol="ETH"), snap(dex="paradex", symbol="BTC", interval=8)])
    assert {(s.dex, s.symbol) for s in storage.latest_snapshots(symbol="BTC")} == {("hyperliquid", "BTC"),
                                                                                   ("paradex", "BTC")}
    assert {s.symbol for s in storage.latest_snapshots(dex="hyperliquid")} == {"BTC", "ETH"}
    assert storage.latest_snapshots(dex="nope") == []


# ---- history and statistics: 6 hourly-settling samples over 3 hours -----------------------------------
# rate_8h = funding_rate * 8 / 1 h. In units of 1e-4:  r8 = 8, 16 | -8, 24 | 4, 12
HL_RATES = [("00:10", "0.0001"), ("00:40", "0.0002"), ("01:10", "-0.0001"), ("01:40", "0.0003"),
            ("02:10", "0.00005"), ("02:40", "0.00015")]


def _at(hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return T0 + timedelta(hours=int(h), minutes=int(m))


@pytest.fixture
def history(storage: PgStorage) -> PgStorage:
    storage.ingest([snap(at=_at(t), rate=r) for t, r in HL_RATES])
    # paradex, 8 h interval: r8 = funding_rate -> 0.0008 and -0.0016
    storage.ingest([snap(dex="paradex", at=_at("00:30"), rate="0.0008", interval=8),
                    snap(dex="paradex", at=_at("01:30"), rate="-0.0016", interval=8)])
    # outside the window: must not count
    storage.ingest([snap(at=T0 + timedelta(hours=5), rate="0.01")])
    return storage


def test_rate_history_hourly_buckets(history: PgStorage) -> None:
    page = history.rate_history(dex="hyperliquid", symbol="BTC", start=T0, end=T0 + timedelta(hours=3),
                                bucket_seconds=3600, page=1, page_size=10)
    assert page.total == 3
    assert [p["time"] for p in page.points] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]  # oldest first
    # bucket averages of r8: (8+16)/2 = 12, (-8+24)/2 = 8, (4+12)/2 = 8   (x 1e-4)
    assert [p["rate_8h"] for p in page.points] == [D("0.0012"), D("0.0008"), D("0.0008")]
    assert [p["rate"] for p in page.points] == [D("0.0012"), D("0.0008"), D("0.0008")]
    # rate_1h = r8 / 8: 0.00015, 0.0001, 0.0001; funding_rate (per 1 h) the same
    assert [p["rate_1h"] for p in page.points] == [D("0.00015"), D("0.0001"), D("0.0001")]
    assert [p["funding_rate"] for p in page.points] == [D("0.00015"), D("0.0001"), D("0.0001")]
    assert [p["samples"] for p in page.points] == [2, 2, 2]
    assert page.points[1]["first_time"] == _at("01:10") and page.points[1]["last_time"] == _at("01:40")

    # statistics over the six raw samples (not the buckets): sorted r8 = -8, 4, 8, 12, 16, 24
    mean = (8 + 16 - 8 + 24 + 4 + 12) / 6                                 # 56/6
    var = sum((x - mean) ** 2 for x in (8, 16, -8, 24, 4, 12)) / (6 - 1)  # sample variance = 1792/15
    stats = page.statistics
    assert stats["avg_rate"] == pytest.approx(D("0.0056") / 6, abs=D("1e-18"))
    assert stats["median_rate"] == pytest.approx(D("0.0010"), abs=D("1e-15"))   # (8 + 12) / 2
    assert float(stats["std_dev"]) == pytest.approx(math.sqrt(1792 / 15) * 1e-4, rel=1e-12)
    assert float(stats["std_dev"]) == pytest.approx(math.sqrt(var) * 1e-4, rel=1e-12)
    assert (stats["min_rate"], stats["max_rate"]) == (D("-0.0008"), D("0.0024"))


def test_rate_history_pages_and_raw_rows(history: PgStorage) -> None:
    end = T0 + timedelta(hours=3)
    page2 = history.rate_history(dex="hyperliquid", symbol="BTC", start=T0, end=end, bucket_seconds=3600,
                                 page=2, page_size=2)
    assert page2.total == 3 and [p["time"] for p in page2.points] == [T0 + timedelta(hours=2)]
    four_hour = history.rate_history(dex="hyperliquid", symbol="BTC", start=T0, end=end, bucket_seconds=4 * 3600,
                                     page=1, page_size=10)
    # one 4 h bucket (00:00-04:00): mean of all six = 56/6 e-4
    assert four_hour.total == 1 and four_hour.points[0]["samples"] == 6
    raw = history.rate_history(dex="hyperliquid", symbol="BTC", start=T0, end=end, bucket_seconds=None,
                               page=1, page_size=4)
    assert raw.total == 6
    assert [p["time"] for p in raw.points] == [_at(t) for t, _ in HL_RATES[:4]]
    assert [p["rate_8h"] for p in raw.points] == [D("0.0008"), D("0.0016"), D("-0.0008"), D("0.0024")]
    unknown = history.rate_history(dex="hyperliquid", symbol="NOPE", start=T0, end=end, bucket_seconds=3600,
                                   page=1, page_size=10)
    assert unknown.total == 0 and unknown.points == [] and unknown.statistics["avg_rate"] is None


def test_rate_stats_one_venue(history: PgStorage) -> None:
    s = history.rate_stats(symbol="BTC", dex="hyperliquid", start=T0, end=T0 + timedelta(hours=3))
    assert s["samples"] == 6
    assert s["avg_rate"] == pytest.approx(D("0.0056") / 6, abs=D("1e-18"))
    assert s["median_rate"] == pytest.approx(D("0.0010"), abs=D("1e-15"))
    # percentile_cont: p25 at position 0.25*(6-1) = 1.25 -> 4 + 0.25*(8-4) = 5; p75 at 3.75 -> 12 + 0.75*4 = 15
    assert s["percentile_25"] == pytest.approx(D("0.0005"), abs=D("1e-15"))
    assert s["percentile_75"] == pytest.approx(D("0.0015"), abs=D("1e-15"))
    assert float(s["std_dev"]) == pytest.approx(math.sqrt(1792 / 15) * 1e-4, rel=1e-12)
    assert (s["min_rate"], s["max_rate"]) == (D("-0.0008"), D("0.0024"))
    assert s["positive_rate_frequency"] == pytest.approx(D(5) / 6, abs=D("1e-18"))   # 5 of 6 above zero
    # avg rate_1h * 8760 * 100 = (56/6e-4 / 8) * 876000 = 0.0056 * 876000 / 48 = 102.2 %
    assert s["avg_annualized_percent"] == pytest.approx(D("102.2"), abs=D("1e-12"))
    assert s["last_time"] == _at("02:40")


def test_rate_stats_across_venues(history: PgStorage) -> None:
    s = history.rate_stats(symbol="BTC", dex=None, start=T0, end=T0 + timedelta(hours=3))
    # 6 hyperliquid r8 (sum 56e-4) + paradex 8e-4 and -16e-4: 8 samples, sum 48e-4
    assert s["samples"] == 8 and s["venues"] == 2
    assert s["avg_rate"] == pytest.approx(D("0.0006"), abs=D("1e-18"))
    assert (s["min_rate"], s["max_rate"]) == (D("-0.0016"), D("0.0024"))
    assert s["positive_rate_frequency"] == D("0.75")   # 6 of 8
    # sorted: -16, -8, 4, 8, 8, 12, 16, 24 -> median (8 + 8) / 2 = 8
    assert s["median_rate"] == pytest.approx(D("0.0008"), abs=D("1e-15"))


def test_rate_stats_empty_range(history: PgStorage) -> None:
    s = history.rate_stats(symbol="BTC", dex="hyperliquid", start=T0 - timedelta(days=2), end=T0 - timedelta(days=1))
    assert s["samples"] == 0 and s["avg_rate"] is None and s["median_rate"] is None
    assert s["positive_rate_frequency"] is None


# ---- fees ------------------------------------------------------------------------------------------
def test_fee_update_round_trip_with_tiers(storage: PgStorage) -> None:
    before = next(r for r in storage.dexes() if r["name"] == "grvt")
    schedule = FeeSchedule(maker=D("0.00027"), taker=D("0.00055"), tiers=(
        FeeTier(min_volume_30d=D(0), max_volume_30d=D("1000000"), maker_fee=D("0.00027"), taker_fee=D("0.00055")),
        FeeTier(min_volume_30d=D("1000000"), max_volume_30d=None, maker_fee=D("-0.00001"), taker_fee=D("0.0004")),
    ))
    assert storage.update_fees("grvt", schedule) is True
    assert storage.fee_schedules()["grvt"] == schedule
    after = next(r for r in storage.dexes() if r["name"] == "grvt")
    assert after["has_fee_tiers"] is True
    assert after["fee_tiers"][1] == {"min_volume_30d": D("1000000"), "max_volume_30d": None,
                                     "maker_fee": D("-0.00001"), "taker_fee": D("0.0004")}
    assert after["fee_metadata"]["source"] == before["fee_metadata"]["source"]   # other keys kept
    assert after["updated_at"] > before["updated_at"]
    # back to a flat schedule: tiers cleared
    assert storage.update_fees("grvt", FeeSchedule(maker=D("0.0003"), taker=D("0.0005"))) is True
    assert storage.fee_schedules()["grvt"] == FeeSchedule(maker=D("0.0003"), taker=D("0.0005"))
    assert storage.update_fees("no-such-dex", schedule) is False


def test_seeded_fees(storage: PgStorage) -> None:
    fees = storage.fee_schedules()
    assert (fees["hyperliquid"].maker, fees["hyperliquid"].taker) == (D("0.00015"), D("0.00045"))
    assert (fees["lighter"].maker, fees["lighter"].taker) == (D(0), D(0))
    assert (fees["paradex"].maker, fees["paradex"].taker) == (D("0.00003"), D("0.0002"))
    assert (fees["grvt"].maker, fees["grvt"].taker) == (D("0.00027"), D("0.00055"))
    # EdgeX: 0003 seeded V1's 0.0002 / 0.00055; 0014 replaced the untouched seed with V2 getMetaData's
    # defaultMakerFeeRate "0.0004" / defaultTakerFeeRate "0.00045" (recorded 2026-09-13)
    assert (fees["edgex"].maker, fees["edgex"].taker) == (D("0.0004"), D("0.00045"))


# ---- opportunities ------------------------------------------------------------------------------------
def opp(symbol: str, long_dex: str, short_dex: str, net: str, at: datetime) -> Opportunity:
    return Opportunity(
        id=opportunity_id(symbol, long_dex, short_dex), symbol=symbol, long_dex=long_dex, short_dex=short_dex,
        long_rate=D("0.0001"), short_rate=D("0.0005"), divergence=D("0.0004"), divergence_1h=D("0.00005"),
        estimated_fees=D("0.0002"), net_profit_percent=D(net), annualized_apy=D("21.9"), gross_apr=D("43.8"),
        breakeven_hours=D(4), hold_hours=D(8), fee_type="maker", discovered_at_ms=ms(at),
        valid_until_ms=ms(at) + 60_000, oi_imbalance="balanced", metadata={"note": "x", "value": D("1.5")})


def test_opportunities_write_and_history(storage: PgStorage) -> None:
    opps = [opp("BTC", "paradex", "hyperliquid", "0.0002", T0),
            opp("BTC", "lighter", "grvt", "0.0005", T0 + timedelta(minutes=1)),
            opp("ETH", "paradex", "edgex", "0.0009", T0 + timedelta(minutes=2))]
    assert storage.write_opportunities(opps) == 3
    rows, total = storage.opportunity_history(symbol="BTC", start=T0, end=T0 + timedelta(hours=1),
                                              min_profit=None, limit=10)
    assert total == 2
    assert [r["opportunity_id"] for r in rows] == ["BTC:lighter:grvt", "BTC:paradex:hyperliquid"]   # newest first
    assert rows[0]["long_dex"] == "lighter" and rows[0]["discovered_at"] == T0 + timedelta(minutes=1)
    assert rows[0]["metadata"] == {"note": "x", "value": D("1.5")}
    rows, total = storage.opportunity_history(symbol=None, start=T0, end=T0 + timedelta(hours=1),
                                              min_profit=D("0.0005"), limit=1, offset=1)
    assert total == 2 and [r["opportunity_id"] for r in rows] == ["BTC:lighter:grvt"]


# ---- collection logs and health -----------------------------------------------------------------------
def test_log_collection_updates_health(storage: PgStorage) -> None:
    now = datetime.now(UTC)

    def outcome(status: str, latency: int, error: str | None = None) -> CollectionOutcome:
        return CollectionOutcome(dex="edgex", started_at=now - timedelta(seconds=2), completed_at=now,
                                 status=status, markets=10 if status != "failed" else 0, rejected=1,
                                 error=error, latency_ms=latency)

    storage.log_collection(outcome("success", 100))
    storage.log_collection(outcome("failed", 300, "timeout"))
    storage.log_collection(outcome("failed", 200, "HTTP 503"))
    row = next(r for r in storage.collection_health(60) if r["dex_name"] == "edgex")
    assert row["consecutive_errors"] == 2
    assert row["last_error_message"] == "HTTP 503"
    assert row["error_rate_percent"] == D("66.67")           # 2 failed of 3 -> 66.666..% rounded to 2 places
    assert row["avg_collection_latency_ms"] == D("200.0")    # (100 + 300 + 200) / 3
    assert row["last_successful_fetch"] == now
    storage.log_collection(outcome("degraded", 50))
    row = next(r for r in storage.collection_health(60) if r["dex_name"] == "edgex")
    assert row["consecutive_errors"] == 0
    quiet = next(r for r in storage.collection_health(60) if r["dex_name"] == "lighter")
    assert (quiet["collections"], quiet["error_rate_percent"], quiet["avg_collection_latency_ms"]) == (0, 0, None)


def test_market_baseline_latest_collection_and_the_status_check(storage: PgStorage) -> None:
    from chalicelib.core.venue_state import Baseline
    from chalicelib.services.collect import VenueResult, store_result

    now = datetime.now(UTC)

    def logged(status: str, markets: int, minutes_ago: int, **kw: Any) -> None:
        storage.log_collection(CollectionOutcome(dex="grvt", started_at=now - timedelta(minutes=minutes_ago),
                                                 completed_at=now - timedelta(minutes=minutes_ago), status=status,
                                                 markets=markets, rejected=0, **kw))

    assert storage.market_baseline("grvt") is None                       # no history: no baseline
    for minutes_ago, markets in ((5, 120), (4, 118), (3, 124)):
        logged("success", markets, minutes_ago)
    logged("degraded", 99, 2, error="budget: 25 of 124 markets not fetched", unfetched=25)
    logged("failed", 0, 1, error="HTTP 503")
    # runs that stored data (the failed one left out): median(120, 118, 124, 99) = (118 + 120) / 2 = 119 over 4
    assert storage.market_baseline("grvt") == Baseline(119.0, 4)
    newest = storage.latest_collections()["grvt"]
    assert (newest["status"], newest["markets"], newest["reason"]) == ("failed", 0, "HTTP 503")
    with pytest.raises(psycopg.errors.CheckViolation):
        logged("partial", 1, 0)                                          # 0004: partial is now degraded

    # a run of 90 markets against that baseline: 90 < 0.8 x 119 = 95.2 -> degraded, logged with the baseline
    snaps = tuple(snap(dex="grvt", symbol=f"S{i}") for i in range(90))
    result = store_result(VenueResult("grvt", "success", snaps, started_at_ms=int(now.timestamp() * 1000),
                                      completed_at_ms=int(now.timestamp() * 1000)), storage)
    assert result.status == "degraded"
    assert result.error == "market count dropped: 90 usable vs a usual 119 (-24 %, median of the last 4 runs)"
    # 1 - 90/119 = 0.2437 -> 24 %
    newest = storage.latest_collections()["grvt"]
    assert (newest["status"], newest["markets"], newest["markets_unfetched"], newest["baseline_markets"]) == (
        "degraded", 90, 0, D(119))


def test_breaker_state_round_trip(storage: PgStorage) -> None:
    assert storage.breaker_get("grvt") is None
    opened = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    storage.breaker_set("grvt", "open", 3, opened)
    got = storage.breaker_get("grvt")
    assert got is not None and (got["state"], got["failures"], got["opened_at"]) == ("open", 3, opened)
    storage.breaker_set("grvt", "closed", 0, None)
    got = storage.breaker_get("grvt")
    assert got is not None and (got["state"], got["failures"], got["opened_at"]) == ("closed", 0, None)


# ---- connection ---------------------------------------------------------------------------------------
def test_reconnects_after_backend_is_terminated(storage: PgStorage, db_url: str) -> None:
    storage.ingest([snap(at=T0)])
    pid = storage.db.backend_pid()
    with psycopg.connect(db_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    # the next write finds the connection dead, reconnects once and succeeds (staging table recreated)
    assert storage.ingest([snap(at=T0 + timedelta(minutes=1))]) == 1
    assert storage.db.reconnects == 1
    assert storage.db.backend_pid() != pid
    assert scalar(db_url, "SELECT count(*) FROM funding_rates") == 2
    # and a read after a second termination
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (storage.db.backend_pid(),))
    assert len(storage.latest_snapshots()) == 1
    assert storage.db.reconnects == 2


def test_database_errors_propagate_without_reconnect(storage: PgStorage) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        storage.rate_stats(symbol="BTC", dex=None, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
    with pytest.raises(psycopg.errors.DivisionByZero):
        storage.ingest([snap(symbol="ZERO", interval=0)])   # rate_1h = rate / 0: rolled back, not retried
    assert storage.db.reconnects == 0
    assert storage.ingest([snap(symbol="ZERO")]) == 1   # the connection is still usable, ids re-resolved


# ---- backfilled history -------------------------------------------------------------------------------
def test_ingest_history_is_idempotent_and_lands_in_day_partitions(storage: PgStorage, db_url: str) -> None:
    from chalicelib.venues.base import HistoryPoint

    now = datetime.now(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=4)
    # paradex 8 h settlements: 0.0008 per 8 h -> rate_1h 0.0001; two days, 6 points
    points = [HistoryPoint(time_ms=ms(day + timedelta(hours=8 * i)), funding_rate=D("0.0008"),
                           funding_interval_hours=D(8), mark_price=D("50000") if i % 2 else None) for i in range(6)]
    assert storage.ingest_history("paradex", "HIST", "HIST-USD-PERP", points) == 6
    assert storage.ingest_history("paradex", "HIST", "HIST-USD-PERP", points) == 0   # nothing twice
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT f.tableoid::regclass::text, f.rate_1h, f.mark_price FROM funding_rates f "
                            "JOIN symbols s ON s.id = f.symbol_id WHERE s.symbol = 'HIST' ORDER BY f.time").fetchall()
    assert [r[0] for r in rows] == [f"funding_rates_p{day:%Y%m%d}"] * 3 + \
        [f"funding_rates_p{day + timedelta(days=1):%Y%m%d}"] * 3
    assert {r[1] for r in rows} == {D("0.0001")}
    assert [r[2] for r in rows] == [None, D("50000"), None, D("50000"), None, D("50000")]
    assert "HIST" in storage.known_symbols()


def test_a_long_backfill_creates_its_day_partitions_in_one_statement(storage: PgStorage, db_url: str) -> None:
    from chalicelib.venues.base import HistoryPoint

    statements: list[str] = []
    run = storage.db.run

    class Counting:
        def __init__(self, conn: psycopg.Connection) -> None:
            self._conn = conn

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            statements.append(str(query))
            return self._conn.execute(query, *args, **kwargs)

    storage.db.run = lambda fn, on_retry=None: run(lambda conn: fn(Counting(conn)), on_retry)  # type: ignore[method-assign]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=40)          # 30 days, none of them created by the migration (7 days back)
    points = [HistoryPoint(time_ms=ms(first + timedelta(days=i, hours=8)), funding_rate=D("0.0008"),
                           funding_interval_hours=D(8), mark_price=None) for i in range(30)]
    assert storage.ingest_history("paradex", "LONG", "LONG-USD-PERP", points) == 30
    assert len(statements) <= 8, statements     # ids, listing, backend, partitions, insert: not one per day
    with psycopg.connect(db_url) as conn:
        parts = conn.execute("SELECT DISTINCT f.tableoid::regclass::text FROM funding_rates f "
                             "JOIN symbols s ON s.id = f.symbol_id WHERE s.symbol = 'LONG'").fetchall()
    assert sorted(p for (p,) in parts) == [f"funding_rates_p{first + timedelta(days=i):%Y%m%d}" for i in range(30)]
