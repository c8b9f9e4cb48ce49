"""HIP-3 family: venues discovered from perpDexs, per-dex collateral, funding multiplier 0 = disabled (not 0)."""

from __future__ import annotations

import copy
from decimal import Decimal

from chalicelib.venues import hip3, venue_spec
from tests.unit.venues.conftest import NOW_MS

D = Decimal


def test_recorded_xyz_markets_and_disabled_flx(recorded):
    result = hip3.parse(hip3.SPEC, recorded("hip3"), now_ms=NOW_MS)
    snaps = {s.dex_symbol: s for s in result.snapshots}
    assert set(snaps) == {"xyz:XYZ100", "xyz:AAPL"} and result.skipped == 1     # xyz:DELISTED
    xyz100 = snaps["xyz:XYZ100"]
    # xyz multiplier 0.5 x the 0.0000125 hourly baseline = 0.00000625 per hour, already in ctx.funding
    assert (xyz100.dex, xyz100.symbol, xyz100.rate_1h, xyz100.funding_interval_hours) == (
        "hyperliquid-xyz", "XYZ100", D("0.00000625"), 1)
    assert xyz100.open_interest_usd == D("260117661.440")          # 8837.92 x 29432
    assert xyz100.volume_24h_usd == D("274087289.4394002557")      # dayNtlVlm (collateral units)
    assert xyz100.quote == "USDC"                                   # collateralToken 0 -> spotMeta USDC
    assert snaps["xyz:AAPL"].open_interest_usd == D("84643404.97356")   # 253476.492 x 333.93
    # flx: assetToFundingMultiplier 0.0 -> funding disabled: rejected with the reason, never a neutral 0
    assert {(r.dex, r.dex_symbol, r.reason) for r in result.rejects} == {
        ("hyperliquid-flx", "flx:COIN", "funding disabled (multiplier 0)"),
        ("hyperliquid-flx", "flx:COPPER", "funding disabled (multiplier 0)")}


def test_a_dex_that_appears_tomorrow_is_collected_with_no_code_change(recorded):
    payloads = copy.deepcopy(recorded("hip3"))
    payloads["perpDexs"].append({"name": "newdex", "fullName": "New Dex", "assetToFundingMultiplier": [["newdex:GOLD", "1.0"]]})
    assert [r.key for r in hip3.follow_up(hip3.SPEC, payloads)] == ["meta:xyz", "meta:flx", "meta:newdex"]
    ctx = {"funding": "0.0000125", "openInterest": "10", "markPx": "4000", "oraclePx": "4001", "dayNtlVlm": "40000"}
    payloads["meta:newdex"] = [{"universe": [{"name": "newdex:GOLD"}], "collateralToken": 360}, [ctx]]
    gold = next(s for s in hip3.parse(hip3.SPEC, payloads, now_ms=NOW_MS).snapshots if s.dex == "hyperliquid-newdex")
    assert (gold.symbol, gold.quote, gold.open_interest_usd) == ("GOLD", "USDH", D("40000"))   # 10 x 4000, token 360
    spec = venue_spec("hyperliquid-newdex")
    assert spec is not None and spec.display_name == "Hyperliquid newdex" and spec.fees.taker == D("0.0009")


def test_one_dex_failing_degrades_only_that_dex(recorded):
    payloads = copy.deepcopy(recorded("hip3"))
    del payloads["meta:flx"]
    payloads["meta:xyz"][1].pop()                                   # universe 3 vs ctxs 2
    result = hip3.parse(hip3.SPEC, {**payloads, "meta:flx": None}, now_ms=NOW_MS)
    assert not result.snapshots and {r.dex for r in result.rejects} == {"hyperliquid-xyz", "hyperliquid-flx"}
    assert all(r.dex_symbol == "*" for r in result.rejects)


def test_history_keeps_the_dex_prefix(fixture_json):
    req = hip3.history_requests(hip3.SPEC, "xyz:XYZ100", 1789140000000, 1789150000000, None)
    assert req.json == {"type": "fundingHistory", "coin": "xyz:XYZ100", "startTime": 1789140000000, "endTime": 1789150000000}
    points, _ = hip3.parse_history(hip3.SPEC, fixture_json("hip3", "fundingHistory.xyz_XYZ100.ai-rates.json"),
                                   dex_symbol="xyz:XYZ100")
    assert [(p.funding_rate, p.funding_interval_hours) for p in points] == [(D("0.00000625"), 1)] * 2


def test_min_order_size_from_sz_decimals(recorded):
    result = hip3.parse(hip3.SPEC, recorded("hip3"), now_ms=NOW_MS)
    xyz100 = next(s for s in result.snapshots if s.dex_symbol == "xyz:XYZ100")
    assert xyz100.min_order_size == Decimal("0.0001")       # metaAndAssetCtxs.xyz: szDecimals 4 -> 10^-4
