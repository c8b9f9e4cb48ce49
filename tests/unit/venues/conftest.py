"""Recorded payloads per venue, keyed like each module's Request.key (what transport hands to parse())."""

from __future__ import annotations

from typing import Any

import pytest

NOW_MS = 1764774730025   # 2025-12-03T15:12:10Z, the GRVT ticker's event_time; any fixed instant works


# venue -> {Request.key: fixture file} (tests/fixtures/venues/<venue>/README.md cites each file)
MORE = {
    "aster": {"premiumIndex": "premiumIndex.ai-rates.json", "fundingInfo": "fundingInfo.ai-rates.json",
              "exchangeInfo": "exchangeInfo.ai-rates.json", "ticker24hr": "ticker24hr.ai-rates.json",
              "oi:BTCUSDT": "openInterest.BTCUSDT.binance-docs-example.json"},
    "backpack": {"markPrices": "markPrices.ai-rates.json", "openInterest": "openInterest.ai-rates.json",
                 "tickers": "tickers.ai-rates.json", "markets": "markets.ai-rates.trimmed.json"},
    "extended": {"markets": "info-markets.ai-rates.trimmed.json"},
    "pacifica": {"prices": "info_prices.ai-rates.json", "info": "info.ai-rates.json"},
    "hip3": {"perpDexs": "perpDexs.ai-rates.json", "spotMeta": "spotMeta.ai-rates.json",
             "meta:xyz": "metaAndAssetCtxs.xyz.ai-rates.json", "meta:flx": "metaAndAssetCtxs.flx.constructed.json"},
}


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
        if dex == "edgex":
            return {"getMetaData": fixture_json("edgex", "getMetaData.docs-example.json"),
                    "getTicker": fixture_json("edgex", "getTicker.docs-example.json")}
        if dex in MORE:
            return {key: fixture_json(dex, name) for key, name in MORE[dex].items()}
        raise KeyError(f"no recorded payloads for {dex}: add them here when registering a venue")

    return load
