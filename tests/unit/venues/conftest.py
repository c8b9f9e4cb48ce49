"""Recorded payloads per venue, keyed like each module's Request.key (what transport hands to parse())."""

from __future__ import annotations

from typing import Any

import pytest

NOW_MS = 1764774730025   # 2025-12-03T15:12:10Z, the GRVT ticker's event_time; any fixed instant works


@pytest.fixture
def recorded(fixture_json):
    """recorded(dex) -> payloads of the venue's recorded fixtures, as transport would pass them."""

    def load(dex: str) -> dict[str, Any]:
        if dex == "hyperliquid":
            return {"metaAndAssetCtxs": fixture_json("hyperliquid", "metaAndAssetCtxs.docs-example.json")}
        if dex == "lighter":   # the real orderBookDetails predates mark_price: see the constructed file's note
            return {"orderBookDetails": fixture_json("lighter", "orderBookDetails.constructed.json"),
                    "funding-rates": fixture_json("lighter", "funding-rates.ccxt-comment.json")}
        if dex == "paradex":
            return {"markets": fixture_json("paradex", "markets.ccxt-comment.json"),
                    "summary": fixture_json("paradex", "markets_summary.ALL.ccxt-comment.json")}
        if dex == "grvt":
            return {"all_instruments": fixture_json("grvt", "all_instruments.ccxt-comment.json"),
                    "ticker:BTC_USDT_Perp": fixture_json("grvt", "ticker.BTC_USDT_Perp.ccxt-comment.json")}
        if dex == "edgex":   # V2, recorded 2026-09-13 (README): BTC has its one-contract getTicker, ETH has none
            return {"getMetaData": fixture_json("edgex", "getMetaData.v2.2026-09-13.json"),
                    "getLatestFundingRate": fixture_json("edgex", "getLatestFundingRate.v2.2026-09-13.json"),
                    "getTicker:30000001": fixture_json("edgex", "getTicker.30000001.v2.2026-09-13.json")}
        raise KeyError(f"no recorded payloads for {dex}: add them here when registering a venue")

    return load
