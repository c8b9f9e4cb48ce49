"""Hyperliquid quirks: hourly fraction, k-listings, delisted and HIP-3 rows, universe/ctx alignment, history cadence."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.venues import hyperliquid as hl
from chalicelib.venues.base import ParseError
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def ctx(funding="0.0000125", mark="14.3161", oi="688.11", **extra):
    return {"funding": funding, "markPx": mark, "oraclePx": mark, "openInterest": oi, "dayNtlVlm": "1000", **extra}


def test_docs_example_btc(recorded):
    result = hl.parse(hl.SPEC, recorded("hyperliquid"), now_ms=NOW_MS)
    btc = next(s for s in result.snapshots if s.symbol == "BTC")
    # fixture: funding "0.0000125" (hourly fraction), markPx "14.3161", openInterest "688.11" (base)
    assert btc.funding_rate == D("0.0000125") and btc.funding_interval_hours == 1
    assert btc.rate_8h == D("0.0001")                       # 0.0000125 * 8: the 0.01 %/8h interest component
    assert btc.open_interest_usd == D("688.11") * D("14.3161")
    assert btc.volume_24h_usd == D("1169046.29406") and btc.index_price == D("14.32")
    assert btc.best_bid is None and btc.best_ask is None    # no BBO in this payload; impactPxs are not one
    assert btc.next_funding_time_ms == 1764777600000        # 15:12:10 -> 16:00:00 UTC
    assert btc.quote == "USDC" and btc.multiplier == 1


def test_k_listing_delisted_and_hip3_rows():
    # kPEPE markPx "0.001565" is the real 2023 allMids value for kPEPE (price per 1000 PEPE)
    meta = {"universe": [{"name": "kPEPE"}, {"name": "LOOM", "isDelisted": True}, {"name": "xyz:XYZ100"}]}
    payload = [meta, [ctx(mark="0.001565", oi="2000"), ctx(), ctx()]]
    result = hl.parse(hl.SPEC, {"metaAndAssetCtxs": payload}, now_ms=NOW_MS)
    assert result.skipped == 2 and not result.rejects
    (pepe,) = result.snapshots
    assert (pepe.symbol, pepe.dex_symbol, pepe.multiplier) == ("PEPE", "kPEPE", D(1000))
    assert pepe.mark_price == D("0.000001565")               # 0.001565 / 1000 per token
    assert pepe.open_interest_base == D(2000000)             # 2000 bundles x 1000 tokens
    assert pepe.open_interest_usd == D("3.130")              # 2000 x 0.001565, unchanged by the scaling


@pytest.mark.parametrize(("bad", "reason"), [
    (ctx(funding="NaN"), "NaN"),
    (ctx(funding="0.06"), "absurd"),                         # 6 % per hour > 5 %
    (ctx(funding="abc"), "non-numeric funding rate"),
    (ctx(mark=None), "missing mark price"),
    (ctx(mark="0.0"), "mark price is 0"),
    ({"markPx": "1"}, "missing funding rate"),
])
def test_bad_records_are_rejected_with_reason(bad, reason):
    payload = [{"universe": [{"name": "BTC"}, {"name": "ETH"}]}, [bad, ctx()]]
    result = hl.parse(hl.SPEC, {"metaAndAssetCtxs": payload}, now_ms=NOW_MS)
    assert [s.symbol for s in result.snapshots] == ["ETH"]
    (reject,) = result.rejects
    assert reject.dex_symbol == "BTC" and reason in reject.reason


@pytest.mark.parametrize(("payload", "message"), [
    ([{"universe": [{"name": "BTC"}]}, []], "universe has 1 assets but assetCtxs 0"),
    ([{"universe": []}], "expected \\[meta, assetCtxs\\]"),
    ([{"universe": {}}, []], "'universe' is dict, expected list"),
    ([{"universe": ["BTC"]}, [ctx()]], "expected object"),
])
def test_wrong_shape_raises(payload, message):
    with pytest.raises(ParseError, match=f"hyperliquid.*{message}"):
        hl.parse(hl.SPEC, {"metaAndAssetCtxs": payload}, now_ms=NOW_MS)


def test_history_2023_rows_are_8h_apart(fixture_json):
    rows = fixture_json("hyperliquid", "fundingHistory.BTC.with_endTime.json")
    points, cursor = hl.parse_history(hl.SPEC, rows, dex_symbol="BTC")
    assert len(points) == len(rows) == 34 and cursor is None          # < 500 rows: last page
    assert {p.funding_interval_hours for p in points} == {D(8)}         # timestamps 28 800 s apart
    assert points[0].time_ms == 1683849600048 and points[0].funding_rate == D("-0.00061334")
    assert points[0].funding_rate / points[0].funding_interval_hours == D("-0.0000766675")


def test_history_switch_to_hourly_and_paging():
    h = 3600000
    rows = [{"coin": "BTC", "fundingRate": "0.0001", "premium": "0", "time": t}
            for t in (0, 8 * h, 16 * h, 17 * h, 18 * h)]
    points, _ = hl.parse_history(hl.SPEC, rows, dex_symbol="BTC")
    assert [p.funding_interval_hours for p in points] == [8, 8, 8, 1, 1]
    full = [{"coin": "BTC", "fundingRate": "0.00001", "time": i * h} for i in range(500)]
    _, cursor = hl.parse_history(hl.SPEC, full, dex_symbol="BTC")
    assert cursor == 499 * h + 1
    req = hl.history_requests(hl.SPEC, "BTC", 0, 1000 * h, cursor)
    assert req.json == {"type": "fundingHistory", "coin": "BTC", "startTime": 499 * h + 1, "endTime": 1000 * h}
    assert hl.history_requests(hl.SPEC, "BTC", 0, 10, 10) is None


def test_min_order_size_is_the_size_lot_in_base_units(recorded):
    result = hl.parse(hl.SPEC, recorded("hyperliquid"), now_ms=NOW_MS)
    by = {s.symbol: s for s in result.snapshots}
    # docs example universe: BTC szDecimals 5 -> 10^-5 BTC; ETH szDecimals 4 -> 10^-4 ETH
    assert by["BTC"].min_order_size == D("0.00001") and by["ETH"].min_order_size == D("0.0001")


def test_min_order_size_of_a_k_listing_is_in_tokens():
    # kPEPE szDecimals 0 -> 1 kPEPE = 1000 PEPE; no szDecimals -> None, never 0
    meta = {"universe": [{"name": "kPEPE", "szDecimals": 0}, {"name": "ETH"}]}
    result = hl.parse(hl.SPEC, {"metaAndAssetCtxs": [meta, [ctx(mark="0.001565"), ctx()]]}, now_ms=NOW_MS)
    by = {s.symbol: s for s in result.snapshots}
    assert by["PEPE"].min_order_size == D(1000) and by["ETH"].min_order_size is None
