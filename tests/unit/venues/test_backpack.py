"""Backpack quirks: hourly since 2025-08-20 08:00 UTC (8 h before), accruing newest history row, OI base, kPEPE."""

from __future__ import annotations

import copy
from decimal import Decimal

from chalicelib.venues import backpack
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def test_recorded_btc_eth_and_kpepe(recorded):
    result = backpack.parse(backpack.SPEC, recorded("backpack"), now_ms=NOW_MS)
    snaps = {s.dex_symbol: s for s in result.snapshots}
    btc, eth, pepe = snaps["BTC_USDC_PERP"], snaps["ETH_USDC_PERP"], snaps["kPEPE_USDC_PERP"]
    # fundingInterval 3600000 ms = 1 h: the published rate is the hourly rate
    assert btc.funding_interval_hours == 1 and btc.rate_1h == D("0.0000007945965277712049003927")
    assert btc.mark_price == D("76746.5") and btc.index_price == D("76785.99441873")
    assert btc.open_interest_usd == D("31671243.697890")           # 412.67346 BTC x 76746.5
    assert btc.volume_24h_usd == D("126024537.212937")             # tickers quoteVolume (USDC)
    assert btc.next_funding_time_ms == 1789340400000               # 2026-09-13T23:00Z
    assert eth.rate_1h == D("0.0000120665067208220919909789")
    assert eth.open_interest_usd == D("12363974.838112")           # 4989.6586 x 2477.92
    assert eth.volume_24h_usd == D("8280596.044234")
    # kPEPE: prices per 1000 PEPE -> 0.0033465 / 1000 per token; OI 17,219,200 bundles = 17,219,200,000 PEPE
    assert (pepe.symbol, pepe.multiplier, pepe.mark_price) == ("PEPE", 1000, D("0.0000033465"))
    assert pepe.open_interest_base == D("17219200000") and pepe.open_interest_usd == D("57624.0528")  # 17219200 x 0.0033465
    assert snaps["MU.US_USDC_PERP"].symbol == "MU"                 # tokenized stock keeps its ticker
    assert result.skipped == 1 and not result.rejects              # AMZN.US: PostOnly and not visible


def test_market_interval_field_is_honoured(recorded):
    payloads = copy.deepcopy(recorded("backpack"))
    next(m for m in payloads["markets"] if m["symbol"] == "ETH_USDC_PERP")["fundingInterval"] = 28800000  # 8 h
    eth = next(s for s in backpack.parse(backpack.SPEC, payloads, now_ms=NOW_MS).snapshots if s.symbol == "ETH")
    assert eth.funding_interval_hours == 8 and eth.rate_1h == D("0.0000120665067208220919909789") / 8


def test_history_straddling_the_switch_is_normalized_per_its_own_interval(fixture_json):
    raw = fixture_json("backpack", "fundingRates.BTC_USDC_PERP.straddle-2025-08-20.constructed.json")
    points, cursor = backpack.parse_history(backpack.SPEC, raw, dex_symbol="BTC_USDC_PERP")
    # the newest row (ending 11:00) still accrues: dropped; 2025-08-20T08:00Z = 1755676800000 ends the last 8 h interval
    assert [(p.time_ms, p.funding_interval_hours) for p in points] == [
        (1755619200000, 8), (1755648000000, 8), (1755676800000, 8), (1755680400000, 1), (1755684000000, 1)]
    # 0.0001 per 8 h before and 0.0000125 per 1 h after are the SAME hourly rate: 0.0001 / 8 = 0.0000125
    assert {p.funding_rate / p.funding_interval_hours for p in points} == {D("0.0000125")}
    assert cursor is None


def test_recorded_history_drops_the_accruing_row(fixture_json):
    raw = fixture_json("backpack", "fundingRates.BTC_USDC_PERP.ai-rates.json")
    points, _ = backpack.parse_history(backpack.SPEC, raw, dex_symbol="BTC_USDC_PERP")
    # 23:00Z (= markPrices.nextFundingTimestamp 1789340400000) is still accruing; 22:00Z is the newest settled
    assert len(points) == 5 and points[-1].time_ms == 1789340400000 - 3_600_000
    assert points[-1].funding_rate == D("0.000008311") and points[-1].funding_interval_hours == 1


def test_min_order_size_from_the_quantity_filter(recorded):
    payloads = copy.deepcopy(recorded("backpack"))
    # markets.ai-rates.trimmed has no filters: the documented {filters: {quantity: {minQuantity, stepSize}}} is added
    for m in payloads["markets"]:
        if m["symbol"] == "ETH_USDC_PERP":
            m["filters"] = {"quantity": {"minQuantity": "0.01", "stepSize": "0.01"}}
    by = {s.dex_symbol: s for s in backpack.parse(backpack.SPEC, payloads, now_ms=NOW_MS).snapshots}
    assert by["ETH_USDC_PERP"].min_order_size == D("0.01")
    assert by["PAXG_USDC_PERP"].min_order_size is None                 # no filter published: None, never 0
