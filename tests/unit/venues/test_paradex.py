"""Paradex quirks: rate per funding_period_hours (8 h default, 24 h markets), PERP filter, per-second history."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.venues import paradex
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


def test_history_real_row_period_zero_falls_back_to_8h(fixture_json):
    payload = fixture_json("paradex", "funding_data.ccxt-comment.json")
    (point,), cursor = paradex.parse_history(paradex.SPEC, payload, dex_symbol="BTC-USD-PERP")
    assert point.funding_rate == D("-0.00006992598926") and point.funding_interval_hours == 8
    assert point.time_ms == 1764158400000                    # created_at 1764160327843 -> its clock hour 12:00
    assert cursor == payload["next"]


def test_history_per_second_rows_are_downsampled_not_summed():
    hour = 1764158400000
    rows = [{"market": "BTC-USD-PERP", "funding_rate": rate, "funding_period_hours": 8, "created_at": hour + offset}
            for offset, rate in [(1000, "0.0001"), (2000, "0.0002"), (3599000, "0.0003"), (3600000, "0.0004"),
                                 (3601000, "0.0005")]]
    points, cursor = paradex.parse_history(paradex.SPEC, {"next": None, "results": rows[::-1]}, dex_symbol="BTC-USD-PERP")
    assert [(p.time_ms, p.funding_rate) for p in points] == [(hour, D("0.0003")), (hour + 3600000, D("0.0005"))]
    assert cursor is None
    req = paradex.history_requests(paradex.SPEC, "BTC-USD-PERP", 0, 10, "abc")
    assert req.params == {"market": "BTC-USD-PERP", "start_at": "0", "end_at": "10", "page_size": "5000", "cursor": "abc"}


def test_static_markets_list_is_cached_for_an_hour_the_summary_never():
    markets, summary = paradex.requests(paradex.SPEC)
    assert (markets.path, markets.cache_seconds) == ("/v1/markets", 3600)   # ~4 MB; honoured by transport/http.py
    assert (summary.path, summary.cache_seconds) == ("/v1/markets/summary", 0)
