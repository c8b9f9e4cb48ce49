"""Lighter quirks: /funding-rates is 8 h-equivalent and multi-venue, merge by market_id, status filters, /fundings signs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.venues import lighter
from chalicelib.venues.base import ParseError
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def market(symbol="ETH", market_id=0, **extra):
    return {"symbol": symbol, "market_id": market_id, "status": "active", "market_type": "perp",
            "mark_price": "3013.91", "index_price": "3015.56", "open_interest": 39559.3278,
            "daily_quote_token_volume": 1671431095.263844, "market_config": {"hidden": False}, **extra}


def test_eth_rate_is_8h_equivalent(recorded):
    (eth,) = lighter.parse(lighter.SPEC, recorded("lighter"), now_ms=NOW_MS).snapshots
    raw = D("9.599999999999999e-05")          # the fixture's JSON float, parsed from its repr
    assert eth.funding_interval_hours == 1
    assert eth.funding_rate == raw / 8 == eth.rate_1h
    assert abs(eth.rate_1h - D("0.000012")) < D("1e-19")          # 9.6e-05 / 8 = 1.2e-05
    assert eth.rate_8h == raw                                      # the published 8 h figure comes back
    assert round(eth.annualized_rate, 3) == D("10.512")            # 1.2e-05 * 8760 * 100
    # OI is base units (REST): 39559.3278 ETH x mark 3013.91; volume is already quote (USDC)
    assert eth.open_interest_usd == D("39559.3278") * D("3013.91")
    assert eth.volume_24h_usd == D("1671431095.263844")
    assert eth.next_funding_time_ms == 1764777600000 and eth.quote == "USDC"


def test_real_old_schema_row_without_mark_is_rejected_not_invented(fixture_json):
    payloads = {"orderBookDetails": fixture_json("lighter", "orderBookDetails.ccxt-static-test.json"),
                "funding-rates": fixture_json("lighter", "funding-rates.ccxt-comment.json")}
    result = lighter.parse(lighter.SPEC, payloads, now_ms=NOW_MS)
    assert not result.snapshots
    assert [(r.dex_symbol, r.reason) for r in result.rejects] == [("ETH", "missing mark price")]


def test_other_exchanges_rows_and_filters():
    markets = [market(), market("BTC", 1, status="inactive"), market("SOL", 2, market_config={"hidden": True}),
               market("DOGE", 3, is_frozen=True), market("ETH/USDC", 2048, market_type="spot"),
               market("1000PEPE", 4, mark_price="0.0112"), market("XRP", 5)]
    rates = [{"market_id": 0, "exchange": "binance", "symbol": "ETH", "rate": 0.0004},
             {"market_id": 0, "exchange": "lighter", "symbol": "ETH", "rate": 0.00008},
             {"market_id": 4, "exchange": "lighter", "symbol": "1000PEPE", "rate": -0.00016}]
    result = lighter.parse(lighter.SPEC, {"orderBookDetails": {"order_book_details": markets},
                                          "funding-rates": {"funding_rates": rates}}, now_ms=NOW_MS)
    assert result.skipped == 4 + 1                                  # inactive/hidden/frozen/spot + the binance row
    eth, pepe = result.snapshots
    assert eth.funding_rate == D("0.00001")                         # 0.00008 / 8, binance's 0.0004 ignored
    assert (pepe.symbol, pepe.multiplier, pepe.mark_price) == ("PEPE", D(1000), D("0.0000112"))
    assert pepe.funding_rate == D("-0.00002")
    assert pepe.open_interest_base == D("39559.3278") * 1000
    assert [(r.dex_symbol, r.reason) for r in result.rejects] == [("XRP", "missing funding rate")]


def test_wrong_shape():
    with pytest.raises(ParseError, match=r"lighter.*funding_rates"):
        lighter.parse(lighter.SPEC, {"orderBookDetails": {"order_book_details": []},
                                     "funding-rates": {"funding_rates": {"0": 1}}}, now_ms=NOW_MS)


def test_fundings_history_percent_per_hour_signed_by_direction():
    payload = {"code": 200, "resolution": "1h", "fundings": [
        {"timestamp": 1763535600, "value": "0.1", "rate": "0.0012", "direction": "short"},
        {"timestamp": 1763532000, "value": "0.1", "rate": "0.0012", "direction": "long"},
        {"timestamp": 1763539200, "value": "0.1", "rate": "abc", "direction": "long"}]}
    points, cursor = lighter.parse_history(lighter.SPEC, payload, dex_symbol="ETH#0")
    assert [(p.time_ms, p.funding_rate, p.funding_interval_hours) for p in points] == [
        (1763532000000, D("0.000012"), 1),          # 0.0012 % per hour, longs paid -> positive
        (1763535600000, D("-0.000012"), 1)]         # shorts paid -> negative
    assert cursor == 1763532000000                  # the earliest hour fetched: the next window ends before it


def test_history_needs_the_market_id():
    req = lighter.history_requests(lighter.SPEC, "ETH#0", 1763532000000, 1763539200000, None)
    assert req.path == "/api/v1/fundings"
    assert req.params == {"market_id": "0", "resolution": "1h", "count_back": "0",
                          "start_timestamp": "1763532000", "end_timestamp": "1763539200"}   # 2 h: one window
    with pytest.raises(ValueError, match="market_id"):
        lighter.history_requests(lighter.SPEC, "ETH", 0, 1, None)


def test_backfill_windows_are_at_most_720_hours_walking_back():
    """1000 h backfill from T0 = 1760000000 s: windows [T0+280h, T0+1000h] (720 h = 721 hourly rows < 750),
    then [T0, T0+280h - 1 s]; an empty or exhausted window ends it. No window can lose its older hours."""
    t0, hour = 1_760_000_000_000, 3_600_000
    end = t0 + 1000 * hour
    first = lighter.history_requests(lighter.SPEC, "BTC#1", t0, end, None)
    assert (first.params["start_timestamp"], first.params["end_timestamp"]) == (
        str(1_760_000_000 + 280 * 3600), str(1_760_000_000 + 1000 * 3600))          # 1761008000, 1763600000
    rows = [{"timestamp": (t0 + h * hour) // 1000, "rate": "0.0001", "direction": "long"} for h in range(280, 1001)]
    points, cursor = lighter.parse_history(lighter.SPEC, {"fundings": rows}, dex_symbol="BTC#1")
    assert len(points) == 721 and cursor == t0 + 280 * hour                          # 1000 - 280 + 1 rows
    second = lighter.history_requests(lighter.SPEC, "BTC#1", t0, end, cursor)
    assert (second.params["start_timestamp"], second.params["end_timestamp"]) == (
        str(1_760_000_000), str(1_760_000_000 + 280 * 3600 - 1))                     # 1760000000, 1761007999
    rows = [{"timestamp": (t0 + h * hour) // 1000, "rate": "0.0001", "direction": "long"} for h in range(0, 280)]
    points, cursor = lighter.parse_history(lighter.SPEC, {"fundings": rows}, dex_symbol="BTC#1")
    assert len(points) == 280 and cursor == t0
    assert lighter.history_requests(lighter.SPEC, "BTC#1", t0, end, cursor) is None   # reached start_ms
    assert lighter.parse_history(lighter.SPEC, {"fundings": []}, dex_symbol="BTC#1") == ([], None)
    for req in (first, second):                                                       # each window <= 720 h
        assert int(req.params["end_timestamp"]) - int(req.params["start_timestamp"]) <= 720 * 3600


def test_recorded_fundings_2026_09_11(fixture_json):
    """Real BTC rows: value / (rate / 100) is the price paid on, so the 4-dp percent IS the settled hourly rate."""
    payload = fixture_json("lighter", "fundings.BTC.2026-09-11.json")
    points, _ = lighter.parse_history(lighter.SPEC, payload, dex_symbol="BTC#1")
    assert [(p.time_ms, p.funding_rate) for p in points] == [
        (1789135200000, D("0.000010")), (1789138800000, D("0.000001")),   # 0.0010 % and 0.0001 % per hour, long
        (1789142400000, D("0.000001")), (1789146000000, D("0.000010"))]
    assert D(payload["fundings"][0]["value"]) / (D("0.0010") / 100) == D("79227.6")   # 0.792276 / 0.00001


def test_min_order_size_is_the_larger_of_base_and_quote_minimum(recorded):
    result = lighter.parse(lighter.SPEC, recorded("lighter"), now_ms=NOW_MS)
    (eth,) = result.snapshots
    # orderBookDetails ETH: min_base_amount "0.0050" ETH; min_quote_amount "10.000000" USDC at mark 3013.91
    # = 0.003318 ETH, rounded up to the size_decimals 4 lot = 0.0034 ETH < 0.0050 -> 0.0050 ETH
    assert eth.min_order_size == D("0.0050")


def test_min_order_size_absent_from_the_2026_recording_is_none(fixture_json):
    # the real 2026-09-11 orderBookDetails carries no min_base_amount / min_quote_amount: None, never 0
    payloads = {"orderBookDetails": fixture_json("lighter", "orderBookDetails.2026-09-11.json"),
                "funding-rates": fixture_json("lighter", "funding-rates.2026-09-11.json")}
    result = lighter.parse(lighter.SPEC, payloads, now_ms=NOW_MS)
    assert result.snapshots and all(s.min_order_size is None for s in result.snapshots)
