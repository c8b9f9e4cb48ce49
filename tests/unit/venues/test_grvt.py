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
    # a legacy per-minute row ("0" h, 2025-10-15T02:11Z): one observation for its clock hour, not an 8 h settlement
    assert p.time_ms == 1760493600000                               # 1760494260000 ms, floored to 02:00Z
    assert p.funding_rate == D("-0.00000425")                       # -0.0034 % = -0.000034 per 8 h, / 8 per 1 h
    assert p.funding_interval_hours == 1
    assert p.mark_price == D("112721.159060304")
    assert cursor == payload["next"]
    req = grvt.history_requests(grvt.SPEC, "BTC_USDT_Perp", 1760000000000, 1760100000000, cursor)
    assert req.json == {"instrument": "BTC_USDT_Perp", "start_time": "1760000000000000000",
                        "end_time": "1760100000000000000", "limit": 1000, "cursor": cursor}


def test_4h_perp_recorded_2026_09_13_is_per_interval(fixture_json):
    """ENA is a 4 h perp: funding_rate "0.005" == funding_rate_8h_curr "0.005" (both per 4 h interval, percent);
    an 8 h-normalised field would read 0.01 on a resting market, as the 8 h perps do."""
    ticker = fixture_json("grvt", "ticker.ENA_USDT_Perp.2026-09-13.json")
    assert ticker["result"]["funding_rate"] == ticker["result"]["funding_rate_8h_curr"] == "0.005"
    payloads = {"all_instruments": fixture_json("grvt", "all_instruments.2026-09-13.json"),
                "ticker:ENA_USDT_Perp": ticker}
    result = grvt.parse(grvt.SPEC, payloads, now_ms=NOW_MS)
    ena = next(s for s in result.snapshots if s.dex_symbol == "ENA_USDT_Perp")
    assert ena.funding_interval_hours == 4                         # int 4 in all_instruments
    assert ena.funding_rate == D("0.00005")                        # 0.005 % per 4 h
    assert ena.rate_1h == D("0.0000125")                           # 0.00005 / 4: the 0.01 %/8 h baseline
    assert ena.open_interest_usd == D("1894021.0") * D("0.136397169")
    assert ena.volume_24h_usd == D("2155654.6054")                 # 1078679.3556 + 1076975.2498
    assert ena.next_funding_time_ms == 1789344000000               # ns / 1e6
    assert len(result.rejects) == 5                                # the other 5 instruments: no ticker fetched


def test_uppercase_k_multipliers_are_an_explicit_list():
    ticker = {"result": {"funding_rate": "0.005", "mark_price": "0.01744", "open_interest": "100"}}
    payloads = {"all_instruments": {"result": [
        {"instrument": f"{b}_USDT_Perp", "base": b, "kind": "PERPETUAL", "funding_interval_hours": 4}
        for b in ("KBONK", "KPEPE", "KSHIB", "KAITO", "KAS")]}}
    payloads |= {f"ticker:{b}_USDT_Perp": ticker for b in ("KBONK", "KPEPE", "KSHIB", "KAITO", "KAS")}
    got = {s.dex_symbol: s for s in grvt.parse(grvt.SPEC, payloads, now_ms=NOW_MS).snapshots}
    assert {k: (s.symbol, s.multiplier) for k, s in got.items()} == {
        "KBONK_USDT_Perp": ("BONK", 1000), "KPEPE_USDT_Perp": ("PEPE", 1000), "KSHIB_USDT_Perp": ("SHIB", 1000),
        "KAITO_USDT_Perp": ("KAITO", 1), "KAS_USDT_Perp": ("KAS", 1)}
    assert got["KBONK_USDT_Perp"].mark_price == D("0.00001744")     # 0.01744 per 1000 BONK / 1000
    assert got["KBONK_USDT_Perp"].open_interest_base == D("100000")  # 100 bundles x 1000
    assert got["KAITO_USDT_Perp"].mark_price == D("0.01744")


def test_history_recorded_settlements_2026_09_13(fixture_json):
    payload = fixture_json("grvt", "funding.BTC_USDT_Perp.2026-09-13.json")
    points, cursor = grvt.parse_history(grvt.SPEC, payload, dex_symbol="BTC_USDT_Perp")
    # newest first on the wire, 8 h apart; percent / 100
    assert [(p.time_ms, p.funding_rate, p.funding_interval_hours) for p in points] == [
        (1789228800000, D("0.000086"), 8), (1789257600000, D("0.000066"), 8),
        (1789286400000, D("0.000077"), 8), (1789315200000, D("0.000061"), 8)]
    assert points[-1].mark_price == D("77098.400057842")
    assert cursor == payload["next"]


def test_legacy_per_minute_rows_become_one_hourly_observation():
    """funding_interval_hours "0" (before 2025-10-10): per-minute readings of an 8 h-basis rate. 3 readings in
    the 02:00 hour and 1 in the 03:00 hour -> 2 points, each the hour's LAST reading / 8, for a 1 h interval."""
    t0 = 1760493600000                                              # 2025-10-15T02:00:00Z
    rows = [{"funding_rate": pct, "funding_time": str((t0 + m * 60_000) * 1_000_000), "mark_price": "112721.1",
             "funding_interval_hours": "0"} for pct, m in (("-0.0034", 11), ("-0.0036", 12), ("-0.0040", 59), ("0.0008", 61))]
    points, _ = grvt.parse_history(grvt.SPEC, {"result": rows, "next": ""}, dex_symbol="BTC_USDT_Perp")
    assert [(p.time_ms, p.funding_rate, p.funding_interval_hours) for p in points] == [
        (t0, D("-0.000005"), 1),                                    # -0.0040 % = -0.00004 per 8 h, / 8
        (t0 + 3_600_000, D("0.000001"), 1)]                         # 0.0008 % = 0.000008 per 8 h, / 8


def test_min_order_size_raised_to_the_min_notional(fixture_json):
    payloads = {"all_instruments": fixture_json("grvt", "all_instruments.2026-09-13.json"),
                "ticker:BTC_USDT_Perp": fixture_json("grvt", "ticker.BTC_USDT_Perp.2026-09-13.json")}
    btc = next(s for s in grvt.parse(grvt.SPEC, payloads, now_ms=NOW_MS).snapshots if s.symbol == "BTC")
    # BTC_USDT_Perp: min_size "0.001" BTC; min_notional "100.0" USDT at mark 76747.199999999 = 0.001303 BTC,
    # rounded up to the 0.001 lot = 0.002 BTC > 0.001 -> 0.002 BTC
    assert btc.min_order_size == D("0.002")


def test_min_order_size_without_min_notional(recorded):
    btc = next(s for s in grvt.parse(grvt.SPEC, recorded("grvt"), now_ms=NOW_MS).snapshots if s.symbol == "BTC")
    # all_instruments.ccxt-comment BTC_USDT_Perp: min_size "0.001", min_notional "100.0"; ticker mark 92697.300078773:
    # 100 / 92697.3 = 0.001079 -> rounded up to the lot: 0.002 BTC
    assert btc.min_order_size == D("0.002")
