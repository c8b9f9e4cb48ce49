"""Aster quirks: per-symbol, changing interval; lastFundingRate is the upcoming estimate; OI per symbol; history gaps."""

from __future__ import annotations

import copy
from decimal import Decimal

from chalicelib.venues import aster
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def by_symbol(result):
    return {s.dex_symbol: s for s in result.snapshots}


def test_recorded_btc_eth_and_a_1h_market(recorded):
    result = aster.parse(aster.SPEC, recorded("aster"), now_ms=NOW_MS)
    snaps = by_symbol(result)
    btc, eth, sushi = snaps["BTCUSDT"], snaps["ETHUSDT"], snaps["SUSHIUSDT"]
    # BTCUSDT: lastFundingRate 0.00003274 over its 8 h interval -> 0.00003274 / 8 = 0.0000040925 per hour
    assert (btc.symbol, btc.funding_rate, btc.funding_interval_hours) == ("BTC", D("0.00003274"), 8)
    assert btc.rate_1h == D("0.0000040925")
    assert btc.mark_price == D("77852.06061232") and btc.index_price == D("77866.89217391")
    # OI: 10659.509 BTC (base, /openInterest) x mark 77852.06061232 = 829,862,... USD
    assert btc.open_interest_usd == D("10659.509") * D("77852.06061232")
    assert D("829_000_000") < btc.open_interest_usd < D("830_000_000")
    assert btc.volume_24h_usd == D("1059790811.37")                 # ticker quoteVolume (USDT)
    assert btc.next_funding_time_ms == 1789171200000                # 2026-09-12T00:00Z, an 8 h boundary
    # ETHUSDT: 0.00009770 / 8 = 0.0000122125 per hour (close to the 0.0000125 quiet baseline, not x8 off)
    assert eth.rate_1h == D("0.0000122125") and eth.funding_interval_hours == 8
    assert eth.open_interest_usd is None                             # no /openInterest payload recorded for ETH
    assert eth.volume_24h_usd == D("914660373.81")
    # SUSHIUSDT runs on a 1 h interval: the published -0.00000112 IS the hourly rate
    assert sushi.funding_interval_hours == 1 and sushi.rate_1h == D("-0.00000112")
    assert sushi.next_funding_time_ms == 1789149600000              # 2026-09-11T18:00Z, the next whole hour
    assert result.skipped == 2 and not result.rejects               # GNSUSD, BTCUSD: USD-quoted, not in exchangeInfo
    assert all(s.quote == "USDT" for s in result.snapshots)


def test_interval_is_read_per_cycle_a_change_to_4h_rescales(recorded):
    payloads = copy.deepcopy(recorded("aster"))
    next(r for r in payloads["fundingInfo"] if r["symbol"] == "SUSHIUSDT")["fundingIntervalHours"] = 4
    sushi = by_symbol(aster.parse(aster.SPEC, payloads, now_ms=NOW_MS))["SUSHIUSDT"]
    assert sushi.funding_interval_hours == 4 and sushi.rate_1h == D("-0.00000028")   # -0.00000112 / 4


def test_a_market_without_an_interval_is_rejected_not_assumed_8h(recorded):
    payloads = copy.deepcopy(recorded("aster"))
    payloads["fundingInfo"] = [r for r in payloads["fundingInfo"] if r["symbol"] != "ETHUSDT"]
    result = aster.parse(aster.SPEC, payloads, now_ms=NOW_MS)
    assert [(r.dex_symbol, r.reason) for r in result.rejects] == [("ETHUSDT", "no fundingIntervalHours in fundingInfo")]


def test_open_interest_follow_up_for_the_busiest_markets(recorded):
    reqs = aster.follow_up(aster.SPEC, recorded("aster"))
    # quoteVolume: BTC 1.06e9 > ETH 9.1e8 > SUSHI 1.2e4
    assert [r.params["symbol"] for r in reqs] == ["BTCUSDT", "ETHUSDT", "SUSHIUSDT"]
    assert all(r.path == "/fapi/v1/openInterest" and r.key == f"oi:{r.params['symbol']}" for r in reqs)
    assert aster.follow_up(aster.SPEC, {}) == []


def test_history_interval_from_gaps(fixture_json):
    points, cursor = aster.parse_history(aster.SPEC, fixture_json("aster", "fundingRate.BTCUSDT.ai-rates.json"),
                                         dex_symbol="BTCUSDT")
    # rows 28,800,000 ms apart (1789056000000 - 1789027200000) = 8 h
    assert [p.funding_interval_hours for p in points] == [8] * 5 and cursor is None
    assert points[-1].funding_rate == D("0.00002863") and points[-1].time_ms == 1789142400000
    switched = [{"fundingTime": 1789142400000 + i * 3_600_000, "fundingRate": "0.0000125"} for i in range(3)]
    points, _ = aster.parse_history(aster.SPEC, switched, dex_symbol="BTCUSDT")
    assert [p.funding_interval_hours for p in points] == [1, 1, 1]   # the same symbol after a move to 1 h


def test_min_order_size_from_lot_size_and_min_notional_filters(recorded):
    payloads = copy.deepcopy(recorded("aster"))
    # exchangeInfo.ai-rates is trimmed (no filters): the Binance-style filters of the docs are added here, values
    # the test's own. BTCUSDT mark "77852.06061232": 5 / 77852.06 = 0.0000642 -> lot 0.001 -> 0.001 = minQty
    # ETHUSDT mark "2576.57302325": 50 / 2576.573 = 0.019406 -> rounded up to the 0.001 lot = 0.020 > minQty 0.001
    for m in payloads["exchangeInfo"]["symbols"]:
        notional = "50" if m["symbol"] == "ETHUSDT" else "5"
        m["filters"] = [{"filterType": "LOT_SIZE", "minQty": "0.001", "stepSize": "0.001"},
                        {"filterType": "MIN_NOTIONAL", "notional": notional}]
    by = by_symbol(aster.parse(aster.SPEC, payloads, now_ms=NOW_MS))
    assert by["BTCUSDT"].min_order_size == D("0.001") and by["ETHUSDT"].min_order_size == D("0.020")
    # the recorded payload as it is: no filters -> None, never 0
    assert by_symbol(aster.parse(aster.SPEC, recorded("aster"), now_ms=NOW_MS))["BTCUSDT"].min_order_size is None
