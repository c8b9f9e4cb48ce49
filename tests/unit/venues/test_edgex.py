"""EdgeX V2 quirks, on payloads recorded 2026-09-13 (tests/fixtures/venues/edgex/README.md): forecastFundingRate is
the current rate (fundingRate = last settled, predictedFundingRate = the 0.00005 interest baseline), fraction per
fundingRateIntervalMin, one getLatestFundingRate for all contracts, getTicker per contract for OI/volume only,
USDC quote, and the deprecated V1's empty answers reported as what they are."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.venues import edgex
from chalicelib.venues.base import ParseError
from tests.unit.venues.conftest import NOW_MS

D = Decimal
V1_EMPTY = {"code": "SUCCESS", "data": [], "msg": None}    # what V1 answered to every data call on 2026-09-13


def snaps(payloads) -> dict:
    return {s.dex_symbol: s for s in edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS).snapshots}


def test_btc_from_the_recorded_v2_payloads(recorded):
    result = edgex.parse(edgex.SPEC, recorded("edgex"), now_ms=NOW_MS)
    btc = {s.dex_symbol: s for s in result.snapshots}["BTCUSDC"]
    assert (btc.symbol, btc.quote, btc.funding_interval_hours) == ("BTC", "USDC", D(4))   # "240" min / 60
    assert btc.funding_rate == D("-0.00005592")                  # forecastFundingRate, per 4 h
    assert btc.rate_1h == D("-0.00001398")                       # -0.00005592 / 4
    assert btc.funding_rate not in (D("-0.00005067"), D("0.00005"))   # not the settled rate, not the baseline
    mark = D("76767.044808407373464849")                         # getLatestFundingRate markPrice, to the last digit
    assert btc.mark_price == mark and btc.index_price == D("76799.6329068953")
    assert btc.open_interest_base == D("3284.957")               # getTicker openInterest, BTC
    assert btc.open_interest_usd == D("252176441.2126914603149699765")   # 3284.957 x 76767.044808407373464849
    assert btc.volume_24h_usd == D("210414016.4312")             # getTicker `value` (quote), not `size` (base)
    assert btc.next_funding_time_ms == 1789344000000             # fundingTime 1789329600000 (20:00Z) + 4 h
    assert btc.venue_ts_ms == 1789339020000                      # fundingTimestamp 22:37Z


def test_every_enabled_contract_is_priced_without_a_ticker(recorded):
    result = edgex.parse(edgex.SPEC, recorded("edgex"), now_ms=NOW_MS)
    got = {s.dex_symbol: s for s in result.snapshots}
    assert set(got) == {"BTCUSDC", "ETHUSDC", "1000PEPEUSDC", "哈基米USDC"} and result.rejects == ()
    assert result.skipped == 1                                   # ZROUSDC: enableDisplay false
    eth = got["ETHUSDC"]
    assert eth.rate_1h == D("0.0000125")                         # 0.00005000 / 4 = HL's ETH hourly that minute
    assert eth.open_interest_usd is None and eth.volume_24h_usd is None   # no ticker recorded: empty, not zero
    pepe = got["1000PEPEUSDC"]
    assert (pepe.symbol, pepe.multiplier) == ("PEPE", 1000)      # coinName 1000PEPE: 1000-token bundles
    assert pepe.mark_price == D("0.000003353667202044079")       # 0.003353667202044079 per 1000 PEPE / 1000
    hajimi = got["哈基米USDC"]
    assert hajimi.symbol == "HAJIMI"                             # base from coinList, not the contract name
    assert hajimi.rate_1h == D("0.0000132475")                   # 0.00005299 / 4


def test_follow_up_stages(recorded):
    full = recorded("edgex")
    stage2 = edgex.follow_up(edgex.SPEC, {"getMetaData": full["getMetaData"]})
    assert [(r.key, r.path, r.params) for r in stage2] == [
        ("getLatestFundingRate", "/public/funding/getLatestFundingRate",
         {"contractId": "30000001,30000002,30000046,30000169"})]   # enabled contracts only, one call
    stage3 = edgex.follow_up(edgex.SPEC, full)   # in the answer's order; BTC's ticker is there, ZRO is disabled
    assert [(r.key, r.params) for r in stage3] == [("getTicker:30000169", {"contractId": "30000169"}),
                                                   ("getTicker:30000046", {"contractId": "30000046"}),
                                                   ("getTicker:30000002", {"contractId": "30000002"})]
    assert edgex.requests(edgex.SPEC)[0].path == "/public/meta/getMetaData"
    assert edgex.SPEC.default_base_url == "https://edgex-prod-v2.edgex.exchange/api/v2"


def test_v1_empty_answer_is_a_parse_error_saying_what_happened(recorded):
    payloads = {"getMetaData": recorded("edgex")["getMetaData"], "getLatestFundingRate": V1_EMPTY}
    with pytest.raises(ParseError, match=r"edgex: getLatestFundingRate answered SUCCESS with no data for 4 listed "
                                         r"contracts - the deprecated V1 API answers this way: is EDGEX_API_URL "
                                         r"pointing at V1 \(.../api/v1\), not V2"):
        edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS)
    assert edgex.follow_up(edgex.SPEC, payloads) == []            # no 170 pointless ticker calls after that


def test_failed_funding_request_and_bad_ticker(recorded):
    payloads = recorded("edgex")
    del payloads["getLatestFundingRate"]
    with pytest.raises(ParseError, match="edgex: getLatestFundingRate was not fetched"):
        edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS)
    payloads = recorded("edgex")
    payloads["getTicker:30000001"] = {"code": "SUCCESS", "data": []}   # ticker gave nothing: rate still lands
    btc = snaps(payloads)["BTCUSDC"]
    assert btc.rate_1h == D("-0.00001398") and btc.open_interest_usd is None


def test_contract_missing_from_the_funding_answer_is_rejected(recorded):
    payloads = recorded("edgex")
    payloads["getLatestFundingRate"]["data"] = [r for r in payloads["getLatestFundingRate"]["data"]
                                                if r["contractId"] != "30000002"]
    result = edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS)
    assert [(r.dex_symbol, r.reason) for r in result.rejects] == [
        ("ETHUSDC", "no row in getLatestFundingRate for this contract")]


def test_meta_code_not_success(recorded):
    payloads = recorded("edgex")
    payloads["getMetaData"]["code"] = "ERROR"
    with pytest.raises(ParseError, match="edgex: getMetaData: code is 'ERROR'"):
        edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS)
    assert edgex.follow_up(edgex.SPEC, payloads) == []


def test_history_recorded_settlement_page(fixture_json):
    payload = fixture_json("edgex", "getFundingRatePage.30000001.v2.2026-09-13.json")
    points, cursor = edgex.parse_history(edgex.SPEC, payload, dex_symbol="BTCUSDC#30000001")
    # rows come newest first; settled 12:00Z, 16:00Z, 20:00Z on 2026-09-13, 4 h apart
    assert [(p.time_ms, p.funding_rate, p.funding_interval_hours) for p in points] == [
        (1789300800000, D("-0.00005842"), D(4)), (1789315200000, D("-0.0000522"), D(4)),
        (1789329600000, D("-0.00005067"), D(4))]
    assert points[-1].funding_rate / points[-1].funding_interval_hours == D("-0.0000126675")   # -0.00005067 / 4
    assert points[-1].mark_price == D("77238.856686018451196599")
    assert cursor == "0880F48DD58934"
    req = edgex.history_requests(edgex.SPEC, "BTCUSDC#30000001", 1, 2, None)
    assert req.path == "/public/funding/getFundingRatePage"
    assert req.params == {"contractId": "30000001", "size": "100", "filterSettlementFundingRate": "true",
                          "filterBeginTimeInclusive": "1", "filterEndTimeExclusive": "2"}
    assert edgex.history_requests(edgex.SPEC, "30000001", 1, 2, "abc").params["offsetData"] == "abc"


def test_history_price_of_a_bundled_listing_is_per_token() -> None:
    # 1000PEPEUSDC quotes one 1000-token bundle: markPrice 12.5 per bundle = 0.0125 per PEPE; the rate is not scaled
    payload = {"code": "SUCCESS", "data": {"dataList": [
        {"fundingTime": "1734595200000", "fundingRate": "0.0001", "markPrice": "12.5", "isSettlement": True,
         "fundingRateIntervalMin": "240"}]}}
    (point,), cursor = edgex.parse_history(edgex.SPEC, payload, dex_symbol="1000PEPEUSDC#30000046")
    assert (point.mark_price, point.funding_rate, point.funding_interval_hours) == (D("0.0125"), D("0.0001"), D(4))
    assert cursor is None


def test_interval_is_read_per_contract(recorded):
    """fundingRateIntervalMin per contract: from the funding row, else the contract's metadata; 60 min -> 1 h, so
    BTC's -0.00005592 is then already hourly (a fixed 4 h would understate it 4x)."""
    payloads = recorded("edgex")
    btc_row = next(r for r in payloads["getLatestFundingRate"]["data"] if r["contractId"] == "30000001")
    del btc_row["fundingRateIntervalMin"]
    payloads["getMetaData"]["data"]["contractList"][0]["fundingRateIntervalMin"] = "60"
    btc = snaps(payloads)["BTCUSDC"]
    assert (btc.funding_interval_hours, btc.rate_1h) == (1, D("-0.00005592"))
    assert btc.next_funding_time_ms == 1789329600000 + 3_600_000      # fundingTime + 60 min


def test_min_order_size_is_min_order_size_in_base_units(recorded):
    by = {s.dex_symbol: s for s in edgex.parse(edgex.SPEC, recorded("edgex"), now_ms=NOW_MS).snapshots}
    # getMetaData V2: BTCUSDC minOrderSize "0.001", ETHUSDC "0.03"; 1000PEPEUSDC "15000" contracts of 1000 PEPE
    assert by["BTCUSDC"].min_order_size == D("0.001") and by["ETHUSDC"].min_order_size == D("0.03")
    assert by["1000PEPEUSDC"].min_order_size == D(15_000_000)        # 15000 x 1000
