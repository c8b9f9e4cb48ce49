"""Extended quirks: hourly, 6-decimal rounding, nextFundingRate is a timestamp, OI in both units, session suffix."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from chalicelib.venues import extended
from chalicelib.venues.base import ParseError
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def test_recorded_btc_eth_and_1000pepe(recorded):
    result = extended.parse(extended.SPEC, recorded("extended"), now_ms=NOW_MS)
    snaps = {s.dex_symbol: s for s in result.snapshots}
    btc, eth, pepe = snaps["BTC-USD"], snaps["ETH-USD"], snaps["1000PEPE-USD"]
    # 0.000013 per hour = the 0.0000125 baseline rounded to 6 decimals (+4 %), not a x8 reading
    assert btc.funding_interval_hours == 1 and btc.rate_1h == D("0.000013")
    assert btc.mark_price == D("77060.427881750001") and (btc.best_bid, btc.best_ask) == (D("77089"), D("77090"))
    assert btc.next_funding_time_ms == 1789340400000               # nextFundingRate is the next payment TIME
    assert btc.volume_24h_usd == D("72466662.264900")              # dailyVolume (USD)
    # OI: openInterestBase 579.77510 x mark = 44,677,717 USD; the venue's own USD figure 44,808,704.9 agrees to 0.3 %
    assert btc.open_interest_usd == D("579.77510") * D("77060.427881750001")
    assert abs(btc.open_interest_usd / D("44808704.907173") - 1) < D("0.005")
    assert eth.rate_1h == D("0.000013") and eth.open_interest_usd == D("12042.155") * D("2497.85795765")
    assert eth.volume_24h_usd == D("40920283.185200")
    assert (pepe.symbol, pepe.multiplier, pepe.mark_price) == ("PEPE", 1000, D("0.000003396223971"))
    assert snaps["MU_24_5-USD"].symbol == "MU"                     # session suffix: symbol from uiName "MU-USD"
    assert result.skipped == 0 and not result.rejects and all(s.quote == "USDC" for s in result.snapshots)


def test_inactive_markets_are_skipped_and_a_bad_envelope_is_a_parse_error(recorded):
    payloads = copy.deepcopy(recorded("extended"))
    payloads["markets"]["data"][0]["status"] = "DELISTED"
    assert extended.parse(extended.SPEC, payloads, now_ms=NOW_MS).skipped == 1
    with pytest.raises(ParseError, match="extended"):
        extended.parse(extended.SPEC, {"markets": {"status": "ERROR", "data": []}}, now_ms=NOW_MS)


def test_history_rows_are_hourly_and_page_backwards(fixture_json):
    points, cursor = extended.parse_history(extended.SPEC, fixture_json("extended", "funding.BTC-USD.ai-rates.json"),
                                            dex_symbol="BTC-USD")
    assert [p.time_ms for p in points] == [1789326000772, 1789329600932, 1789333200772, 1789336801693]
    assert {p.funding_rate for p in points} == {D("0.000013")} and cursor is None
    req = extended.history_requests(extended.SPEC, "BTC-USD", 1, 2_000_000_000_000, 1789326000771)
    assert req.path == "/api/v1/info/BTC-USD/funding" and req.params["endTime"] == "1789326000771"


def test_min_order_size_from_trading_config(recorded):
    payloads = copy.deepcopy(recorded("extended"))
    # info-markets.ai-rates is trimmed: tradingConfig values of BTC-USD from the x10 python SDK's test fixture
    # (get_btc_usd_market_json_data: minOrderSize "0.0001", minOrderSizeChange "0.00001"; read 2026-12-02)
    for m in payloads["markets"]["data"]:
        if m["name"] == "BTC-USD":
            m["tradingConfig"] |= {"minOrderSize": "0.0001", "minOrderSizeChange": "0.00001"}
    by = {s.dex_symbol: s for s in extended.parse(extended.SPEC, payloads, now_ms=NOW_MS).snapshots}
    assert by["BTC-USD"].min_order_size == D("0.0001") and by["ETH-USD"].min_order_size is None
