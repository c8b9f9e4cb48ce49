"""EdgeX quirks: 4 h fraction per fundingRateIntervalMin, envelope code, oraclePrice as mark, coinList fallback."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.venues import edgex
from chalicelib.venues.base import ParseError
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def test_btc_per_240_minutes(recorded):
    result = edgex.parse(edgex.SPEC, recorded("edgex"), now_ms=NOW_MS)
    (btc,) = result.snapshots
    assert (btc.symbol, btc.dex_symbol, btc.funding_interval_hours) == ("BTC", "BTCUSDT", D(4))   # 240 / 60
    assert btc.funding_rate == D("-0.00012236")
    assert btc.rate_1h == D("-0.00003059")                          # -0.00012236 / 4
    mark = D("101636.3750002346932888031005859375")                 # oraclePrice, kept to the last digit
    assert btc.mark_price == mark and btc.index_price == D("101676.380723500")
    assert btc.open_interest_usd == D("0.105") * mark
    assert btc.volume_24h_usd == D("50821443.7464")                 # `value` (quote), not `size` (base)
    assert btc.next_funding_time_ms == 1734609600000 and btc.venue_ts_ms == 1734597508250
    assert [(r.dex_symbol, r.reason) for r in result.rejects] == [("ETHUSDT", "no ticker for this contract")]


def test_follow_up_fetches_contracts_the_bulk_answer_lacks(recorded):
    payloads = recorded("edgex")
    (req,) = edgex.follow_up(edgex.SPEC, payloads)
    assert (req.key, req.path, req.params) == ("getTicker:10000002", "/api/v1/public/quote/getTicker", {"contractId": "10000002"})
    # ETH's coin is absent from the example coinList: the base comes from contractName
    eth = dict(payloads["getTicker"]["data"][0], contractId="10000002", contractName="ETHUSDT", oraclePrice="3900",
               fundingRate="0.0001")
    payloads[req.key] = {"code": "SUCCESS", "data": [eth]}
    assert edgex.follow_up(edgex.SPEC, payloads) == []
    snaps = {s.symbol: s for s in edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS).snapshots}
    assert snaps["ETH"].dex_symbol == "ETHUSDT" and snaps["ETH"].rate_1h == D("0.000025")


def test_disabled_contracts_are_skipped(recorded):
    payloads = recorded("edgex")
    payloads["getMetaData"]["data"]["contractList"][1]["enableTrade"] = False
    result = edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS)
    assert result.skipped == 1 and not result.rejects and len(result.snapshots) == 1


def test_bulk_failure_without_follow_up_is_a_parse_error(recorded):
    payloads = recorded("edgex")
    payloads["getTicker"] = {"code": "INVALID_PARAM", "msg": "contractId required", "data": None}
    with pytest.raises(ParseError, match="edgex: getTicker: code is 'INVALID_PARAM'"):
        edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS)
    assert [r.key for r in edgex.follow_up(edgex.SPEC, payloads)] == ["getTicker:10000001", "getTicker:10000002"]


def test_meta_code_not_success(recorded):
    payloads = recorded("edgex")
    payloads["getMetaData"]["code"] = "ERROR"
    with pytest.raises(ParseError, match="edgex: getMetaData: code is 'ERROR'"):
        edgex.parse(edgex.SPEC, payloads, now_ms=NOW_MS)


def test_history_constructed_page():
    payload = {"code": "SUCCESS", "data": {"nextPageOffsetData": "abc", "dataList": [
        {"contractId": "10000001", "fundingTimestamp": "1734609600000", "fundingRate": "0.00005", "oraclePrice": "100"},
        {"contractId": "10000001", "fundingTime": "1734595200000", "fundingRate": "-0.00012236", "oraclePrice": "101"}]}}
    points, cursor = edgex.parse_history(edgex.SPEC, payload, dex_symbol="BTCUSDT#10000001")
    assert [(p.time_ms, p.funding_rate / p.funding_interval_hours) for p in points] == [
        (1734595200000, D("-0.00003059")), (1734609600000, D("0.0000125"))]
    assert cursor == "abc"
    req = edgex.history_requests(edgex.SPEC, "BTCUSDT#10000001", 1, 2, None)
    assert req.params["contractId"] == "10000001" and req.params["filterSettlementFundingRate"] == "true"
    assert "offsetData" not in req.params
    assert edgex.history_requests(edgex.SPEC, "10000001", 1, 2, "abc").params["offsetData"] == "abc"


def test_history_price_of_a_bundled_listing_is_per_token() -> None:
    # 1000PEPEUSDT quotes one 1000-token bundle: oraclePrice 12.5 per bundle = 12.5 / 1000 = 0.0125 per PEPE,
    # the same per-token unit the live snapshot uses; the rate (fraction per 4 h) is not scaled.
    payload = {"code": "SUCCESS", "data": {"dataList": [
        {"fundingTimestamp": "1734595200000", "fundingRate": "0.0001", "oraclePrice": "12.5"}]}}
    points, _ = edgex.parse_history(edgex.SPEC, payload, dex_symbol="1000PEPEUSDT#10000099")
    assert points[0].mark_price == Decimal("0.0125")
    assert points[0].funding_rate == Decimal("0.0001")
    assert points[0].funding_interval_hours == Decimal(4)
