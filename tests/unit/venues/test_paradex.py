"""Paradex quirks: rate per funding_period_hours (8 h default, 24 h markets), PERP filter, delta-funding_index history."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.venues import paradex
from chalicelib.venues.base import ParseError
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def test_btc_missing_from_markets_uses_8h_default(recorded):
    # markets fixture holds only BODEN, so BTC-USD-PERP falls back to the 8 h reference period
    (btc,) = paradex.parse(paradex.SPEC, recorded("paradex"), now_ms=NOW_MS).snapshots
    assert (btc.symbol, btc.dex_symbol, btc.funding_interval_hours) == ("BTC", "BTC-USD-PERP", D(8))
    assert btc.funding_rate == D("0.01629574927887")
    assert btc.rate_1h == D("0.00203696865985875")          # 0.01629574927887 / 8
    assert btc.open_interest_usd == D("162.272") * D("68465.17449906")
    assert (btc.best_bid, btc.best_ask) == (D("68477.6"), D("69578.2"))
    assert btc.volume_24h_usd == D("5815541.397939004") and btc.index_price == D("67367.37268422")
    assert btc.next_funding_time_ms is None and btc.venue_ts_ms == 1718170156580


def test_24h_market_and_non_perps(fixture_json):
    summary = fixture_json("paradex", "markets_summary.ALL.ccxt-comment.json")["results"][0]
    markets = {"results": [
        {"symbol": "BTC-USD-PERP", "base_currency": "BTC", "asset_kind": "PERP", "funding_period_hours": 24},
        {"symbol": "ETH-USD-PERP-OPT", "asset_kind": "PERP_OPTION", "funding_period_hours": 8}]}
    rows = [summary, dict(summary, symbol="ETH-USD-PERP-OPT"), dict(summary, symbol="BTC-USD-96000-C", funding_rate="")]
    result = paradex.parse(paradex.SPEC, {"markets": markets, "summary": {"results": rows}}, now_ms=NOW_MS)
    assert result.skipped == 2
    (btc,) = result.snapshots
    assert btc.funding_interval_hours == 24
    assert btc.rate_1h == D("0.01629574927887") / 24
    assert btc.rate_8h == D("0.01629574927887") / 3


def test_settlement_grade_history_is_the_change_of_funding_index(fixture_json):
    """STRMT7 recorded 2026-09-04 (boundaries 2026-08-27T00:00Z and 08:00Z, BTC-USD-PERP), 3 earliest rows of each.
    Earliest reading after 00:00Z: t=1787788802539, index 23607.73802230689423, premium 7.88149729280821045,
    rate 0.00009972982897 -> spot = premium / rate = 79028.485. After 08:00Z: index 23615.53063630917497.
    delta = 23615.53063630917497 - 23607.73802230689423 = 7.79261400228074 USDC per BTC (= STRMT7 result.json, a
    short's realised 00:00->08:00 funding); / 79028.485 = 0.0000986051295590538... per 8 h (~0.0001 = Binance's 8 h)."""
    b0, hour = 1787788800000, 3_600_000
    first = paradex.history_requests(paradex.SPEC, "BTC-USD-PERP", b0 - 5000, b0 + 8 * hour, None)
    assert first.params == {"market": "BTC-USD-PERP", "start_at": str(b0), "end_at": str(b0 + 300_000), "page_size": "100"}
    points, cursor = paradex.parse_history(paradex.SPEC, fixture_json("paradex", "funding_data.BTC.boundary-2026-08-27T00.json"),
                                           dex_symbol="BTC-USD-PERP", cursor=None)
    assert points == [] and cursor == f"{b0 + hour}:{b0}:23607.73802230689423:79028.485"
    for h in range(1, 8):        # windows 01:00..07:00 answered nothing (as if down): skipped, the chain holds
        req = paradex.history_requests(paradex.SPEC, "BTC-USD-PERP", b0, b0 + 8 * hour, cursor)
        assert req.params["start_at"] == str(b0 + h * hour)
        points, cursor = paradex.parse_history(paradex.SPEC, {"next": None, "results": []}, dex_symbol="BTC-USD-PERP",
                                               cursor=cursor)
        assert points == []
    assert cursor == f"{b0 + 8 * hour}:{b0}:23607.73802230689423:79028.485"
    (p,), cursor = paradex.parse_history(paradex.SPEC, fixture_json("paradex", "funding_data.BTC.boundary-2026-08-27T08.json"),
                                         dex_symbol="BTC-USD-PERP", cursor=cursor)
    assert (p.time_ms, p.funding_interval_hours) == (b0 + 8 * hour, 8)
    assert p.funding_rate == D("7.79261400228074") / D("79028.485")
    assert str(p.funding_rate).startswith("0.00009860512955905")
    assert p.funding_rate / 8 < D("0.0000125") * 2                  # per hour ~0.0000123: the baseline, not 8x it
    assert cursor.startswith(f"{b0 + 9 * hour}:{b0 + 8 * hour}:23615.53063630917497:")
    assert paradex.history_requests(paradex.SPEC, "BTC-USD-PERP", b0, b0 + 8 * hour, cursor) is None   # past end


def test_hourly_chain_and_first_window_without_data():
    b0, hour = 1787788800000, 3_600_000

    def page(t: int, index: str) -> dict:
        return {"results": [{"created_at": t, "funding_index": index, "funding_premium": "5", "funding_rate": "0.0001"}]}
    _, cursor = paradex.parse_history(paradex.SPEC, page(b0 + 2500, "100"), dex_symbol="X", cursor=f"{b0}")
    (p,), _ = paradex.parse_history(paradex.SPEC, page(b0 + hour + 2500, "100.0625"), dex_symbol="X", cursor=cursor)
    # spot 5 / 0.0001 = 50000; delta 0.0625 USDC per base in 1 h -> 0.0625 / 50000 = 0.00000125 per 1 h
    assert (p.time_ms, p.funding_rate, p.funding_interval_hours) == (b0 + hour, D("0.00000125"), 1)
    with pytest.raises(ParseError, match="paradex: funding/data: no funding_index reading at the first boundary"):
        paradex.parse_history(paradex.SPEC, {"results": []}, dex_symbol="X")


def test_static_markets_list_is_cached_for_an_hour_the_summary_never():
    markets, summary = paradex.requests(paradex.SPEC)
    assert (markets.path, markets.cache_seconds) == ("/v1/markets", 3600)   # ~4 MB; honoured by transport/http.py
    assert (summary.path, summary.cache_seconds) == ("/v1/markets/summary", 0)


def test_min_order_size_from_min_notional_rounded_up_to_the_lot(fixture_json):
    # markets.ccxt-comment: BODEN-USD-PERP order_size_increment "1", min_notional "200" (USD). The summary row is
    # the test's own (mark 0.03): 200 / 0.03 = 6666.67 BODEN, rounded up to the lot of 1 -> 6667 BODEN
    summary = {"results": [{"symbol": "BODEN-USD-PERP", "funding_rate": "0.0001", "mark_price": "0.03"}]}
    result = paradex.parse(paradex.SPEC, {"markets": fixture_json("paradex", "markets.ccxt-comment.json"),
                                          "summary": summary}, now_ms=NOW_MS)
    (boden,) = result.snapshots
    assert boden.min_order_size == D(6667)


def test_min_order_size_unknown_without_the_market_row(recorded):
    # the recorded summary's BTC-USD-PERP has no row in markets.ccxt-comment (BODEN only): None, never 0
    (btc,) = paradex.parse(paradex.SPEC, recorded("paradex"), now_ms=NOW_MS).snapshots
    assert btc.min_order_size is None
