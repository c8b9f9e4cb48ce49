"""Pacifica quirks: hourly fraction, OI in BASE units (docs say USD), kBONK, spot row, cursor history."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.venues import pacifica
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def test_recorded_btc_eth_and_kbonk(recorded):
    result = pacifica.parse(pacifica.SPEC, recorded("pacifica"), now_ms=NOW_MS)
    snaps = {s.dex_symbol: s for s in result.snapshots}
    btc, eth, bonk = snaps["BTC"], snaps["ETH"], snaps["kBONK"]
    assert btc.funding_interval_hours == 1 and btc.rate_1h == D("0.00000475")   # `funding`: fixed for the next hour
    assert btc.mark_price == D("76922.3") and btc.index_price == D("76956.945987")
    # open_interest 412.34157 is BTC, not USD: 412.34157 x 76922.3 = 31,718,261.95 USD (a USD reading would be $412)
    assert btc.open_interest_usd == D("31718261.950011")
    assert btc.volume_24h_usd == D("158617298.66148")
    assert eth.rate_1h == D("0.00001202") and eth.open_interest_usd == D("25366055.22360")   # 10189.2168 x 2489.5
    assert eth.volume_24h_usd == D("107294496.60556")
    assert (bonk.symbol, bonk.multiplier, bonk.mark_price) == ("BONK", 1000, D("0.000002715"))
    assert btc.next_funding_time_ms == (NOW_MS // 3_600_000 + 1) * 3_600_000
    assert result.skipped == 1 and not result.rejects                            # SOL-USDC is spot


def test_history_stamped_on_the_hour_with_a_cursor_that_stops(fixture_json):
    raw = fixture_json("pacifica", "funding_rate_history.BTC.ai-rates.json")
    points, cursor = pacifica.parse_history(pacifica.SPEC, raw, dex_symbol="BTC")
    # created_at 1789336800497 (~0.5 s after 22:00Z) -> 1789336800000
    assert [p.time_ms for p in points] == [1789329600000, 1789333200000, 1789336800000]
    assert [p.funding_rate for p in points] == [D("0.00000466"), D("0.00000632"), D("0.00000383")]
    assert cursor == ("1111Yd1mZ", 1789329600000)
    assert pacifica.history_requests(pacifica.SPEC, "BTC", 1789330000000, 1789340000000, cursor) is None
    req = pacifica.history_requests(pacifica.SPEC, "BTC", 1789000000000, 1789340000000, cursor)
    assert req.params == {"symbol": "BTC", "limit": "4000", "cursor": "1111Yd1mZ"}


def test_min_order_size_from_the_usd_minimum(recorded):
    by = {s.dex_symbol: s for s in pacifica.parse(pacifica.SPEC, recorded("pacifica"), now_ms=NOW_MS).snapshots}
    # /info ETH: min_order_size "10" (USD), lot_size "0.0001"; /info/prices ETH mark "2489.5":
    # 10 / 2489.5 = 0.0040169 ETH -> rounded up to the lot: 0.0041 ETH
    assert by["ETH"].min_order_size == D("0.0041")
    # kBONK: lot "1" (1 kBONK), mark "0.002715" per 1000 BONK: 10 / 0.002715 = 3683.2 -> 3684 kBONK = 3,684,000 BONK
    assert by["kBONK"].min_order_size == D(3_684_000)
