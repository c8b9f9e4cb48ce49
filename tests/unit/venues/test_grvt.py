"""GRVT quirks: percentage points, per-instrument interval (string or int), one ticker per instrument, ns times."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.venues import grvt
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def test_btc_percentage_points_on_8h(recorded):
    result = grvt.parse(grvt.SPEC, recorded("grvt"), now_ms=NOW_MS)
    (btc,) = result.snapshots
    assert btc.funding_interval_hours == 8                        # instrument gives the int 8
    assert btc.funding_rate == D("0.000037")                       # "0.0037" percent -> fraction
    assert btc.rate_1h == D("0.000004625")                         # 0.000037 / 8
    assert btc.volume_24h_usd == D("266955739.1606") + D("268170211.7109")   # buy + sell, quote USDT
    assert btc.open_interest_usd == D("1523.218935908") * D("92697.300078773")
    assert (btc.best_bid, btc.best_ask) == (D("92682.9"), D("92683.0"))
    assert btc.next_funding_time_ms == 1764777600000 and btc.venue_ts_ms == 1764774730025
    # AAVE (string interval "8") is listed but no ticker was fetched: rejected, not zero-filled
    assert [(r.dex_symbol, r.reason[:15]) for r in result.rejects] == [("AAVE_USDT_Perp", "no ticker resul")]


def test_follow_up_asks_one_ticker_per_perpetual(fixture_json):
    instruments = fixture_json("grvt", "all_instruments.ccxt-comment.json")
    payloads = {"all_instruments": {"result": [*instruments["result"], {"instrument": "BTC_USDT_Fut_20Oct23", "kind": "FUTURE"}]}}
    reqs = grvt.follow_up(grvt.SPEC, payloads)
    assert [(r.key, r.method, r.path, r.json) for r in reqs] == [
        ("ticker:AAVE_USDT_Perp", "POST", "/full/v1/ticker", {"instrument": "AAVE_USDT_Perp"}),
        ("ticker:BTC_USDT_Perp", "POST", "/full/v1/ticker", {"instrument": "BTC_USDT_Perp"})]
    payloads["ticker:BTC_USDT_Perp"] = {"result": {}}
    assert [r.key for r in grvt.follow_up(grvt.SPEC, payloads)] == ["ticker:AAVE_USDT_Perp"]


def test_constructed_1h_market(fixture_json):
    ticker = fixture_json("grvt", "ticker.BTC_USDT_Perp.ccxt-comment.json")["result"]
    eth = dict(ticker, instrument="ETH_USDT_Perp", mark_price="3000", funding_rate="0.0012", funding_rate_8h_curr="0.0096")
    payloads = {"all_instruments": {"result": [{"instrument": "ETH_USDT_Perp", "base": "ETH", "kind": "PERPETUAL",
                                                "funding_interval_hours": "1"}]},
                "ticker:ETH_USDT_Perp": {"result": eth}}
    (s,) = grvt.parse(grvt.SPEC, payloads, now_ms=NOW_MS).snapshots
    assert s.funding_interval_hours == 1
    assert s.funding_rate == s.rate_1h == D("0.000012")            # 0.0012 % per 1 h interval
    assert s.rate_8h == D("0.000096") == D("0.0096") / 100          # agrees with funding_rate_8h_curr


def test_history_real_row(fixture_json):
    payload = fixture_json("grvt", "funding.ccxt-comment.json")
    (p,), cursor = grvt.parse_history(grvt.SPEC, payload, dex_symbol="BTC_USDT_Perp")
    assert p.time_ms == 1760494260000                               # ns -> ms
    assert p.funding_rate == D("-0.000034")                         # -0.0034 percent
    assert p.funding_interval_hours == 8                            # "0" on this legacy row -> 8 h default
    assert p.mark_price == D("112721.159060304")
    assert cursor == payload["next"]
    req = grvt.history_requests(grvt.SPEC, "BTC_USDT_Perp", 1760000000000, 1760100000000, cursor)
    assert req.json == {"instrument": "BTC_USDT_Perp", "start_time": "1760000000000000000",
                        "end_time": "1760100000000000000", "limit": 1000, "cursor": cursor}
