"""EdgeX perps, V2 API: https://edgex-1.gitbook.io/edgeX-documentation/api/public-api (V2 paths: edgex-python-sdk main)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="edgex",
    display_name="EdgeX",
    base_url_env="EDGEX_API_URL",
    default_base_url="https://edgex-prod-v2.edgex.exchange/api/v2",   # the API version is part of the base URL
    funding_interval_hours=Decimal(4),   # fundingRateIntervalMin 240 on all 173 V2 contracts (2026-09-13); read per row
    rate_scale=Decimal(1),               # fraction per interval: ETH 0.00005 / 4 h = HL's 0.0000125 / h (2026-09-13)
    quote="USDC",                        # V2 contracts quote coinId 1000 = USDC (global.collateralCoinId)
    fees=FeeSchedule(maker=Decimal("0.0004"), taker=Decimal("0.00045")),  # V2 metadata defaultMaker/TakerFeeRate
    rate_limit=vb.RateLimit(requests_per_minute=300, source="[U] not published; a cycle is 2 + one getTicker per contract"),
    symbol_suffixes=("USDC", "USDT", "USD"),   # BTCUSDC (V2), BTCUSDT (V1)
    docs_url="https://edgex-1.gitbook.io/edgeX-documentation/api/public-api/funding-api",
    notes="V1 (pro.edgex.exchange/api/v1) is deprecated: data calls answer data: []. getLatestFundingRate (all ids, one call): "
          "forecastFundingRate = running rate for the next settlement (= ticker fundingRate); its fundingRate is the LAST SETTLED "
          "rate, predictedFundingRate the 0.00005 interest baseline (both unused). getTicker (one contract per call): OI, volume.",
)
HISTORY_PAGE_ROWS = 100   # getFundingRatePage size: settlement rows per request


def _contracts(spec: VenueSpec, payloads: dict[str, Any]) -> tuple[dict[Any, Any], list[dict[str, Any]], int]:
    meta = vb.unwrap(spec, payloads.get("getMetaData"), "getMetaData", dict)
    coins = {c.get("coinId"): c.get("coinName") for c in vb.rows(meta, "coinList", spec, "getMetaData.data")}
    contracts = vb.rows(meta, "contractList", spec, "getMetaData.data")
    enabled = [c for c in contracts if c.get("enableTrade") is not False and c.get("enableDisplay") is not False]
    return coins, enabled, len(contracts) - len(enabled)


def _funding(spec: VenueSpec, payloads: dict[str, Any], expected: int) -> dict[Any, dict[str, Any]]:
    found = vb.envelope_rows(spec, payloads.get("getLatestFundingRate"), "getLatestFundingRate")
    if not found and expected:
        raise vb.ParseError(f"{spec.id}: getLatestFundingRate answered SUCCESS with no data for {expected} listed contracts - the deprecated V1 API answers this way: is EDGEX_API_URL pointing at V1 (.../api/v1), not V2 (.../api/v2)?")
    return {r.get("contractId"): r for r in found}


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("getMetaData", "GET", "/public/meta/getMetaData", reuse_unchanged=True)]   # ~1 KB per contract


def follow_up(spec: VenueSpec, payloads: dict[str, Any]) -> list[Request]:
    """Stage 2: one getLatestFundingRate for every enabled contract. Stage 3: getTicker:<id> for those it priced."""
    try:
        ids = [str(c.get("contractId")) for c in _contracts(spec, payloads)[1]]
        if "getLatestFundingRate" not in payloads:
            return [Request("getLatestFundingRate", "GET", "/public/funding/getLatestFundingRate", {"contractId": ",".join(ids)})]
        return [Request(f"getTicker:{i}", "GET", "/public/quote/getTicker", params={"contractId": i})
                for i in _funding(spec, payloads, len(ids)) if i in ids and f"getTicker:{i}" not in payloads]
    except vb.ParseError:
        return []                        # parse() raises it with the reason


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire (strings, in {"code": "SUCCESS", "data"}): getMetaData {"coinList", "contractList": [{..., "minOrderSize" (base), "stepSize"}]}; getLatestFundingRate [{"contractId",
    "forecastFundingRate", "markPrice", "indexPrice", "fundingTime", "fundingRateIntervalMin"}]; getTicker:<id> [{"openInterest", "value"}]."""
    coins, enabled, disabled = _contracts(spec, payloads)
    funding = _funding(spec, payloads, len(enabled))
    tickers = {r.get("contractId"): r for k, b in payloads.items() if k.startswith("getTicker:") and isinstance(b, dict)
               and isinstance(b.get("data"), list) for r in b["data"] if isinstance(r, dict)}
    results: list[MarketSnapshot | Reject] = []
    for c in enabled:
        cid, name = c.get("contractId"), str(c.get("contractName"))
        if (f := funding.get(cid)) is None:
            results.append(Reject(spec.id, name, "no row in getLatestFundingRate for this contract"))
            continue
        interval = vb.minutes_interval(f.get("fundingRateIntervalMin") or c.get("fundingRateIntervalMin"), spec.funding_interval_hours)
        settled, ticker = vb.ms(f.get("fundingTime")), tickers.get(cid) or {}
        results.append(vb.build_snapshot(
            spec, name, now_ms=now_ms, rate=f.get("forecastFundingRate"), mark=f.get("markPrice") or f.get("oraclePrice"),
            interval=interval[0], base=coins.get(c.get("baseCoinId")), index=f.get("indexPrice"), oi_base=ticker.get("openInterest"),
            volume_usd=ticker.get("value"), venue_ts_ms=vb.ms(f.get("fundingTimestamp")), market_id=cid, min_size=c.get("minOrderSize"),
            next_funding_ms=None if settled is None else settled + interval[1], size_step=c.get("stepSize")))
    return vb.collect(spec, results, disabled)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int, cursor: Any) -> Request | None:
    """Keyed by contractId: dex_symbol "BTCUSDC#30000001" (see base.history_id). cursor: nextPageOffsetData."""
    params = {"contractId": vb.history_id(spec, dex_symbol, "contractId"), "size": str(HISTORY_PAGE_ROWS), "filterSettlementFundingRate": "true",
              "filterBeginTimeInclusive": str(start_ms), "filterEndTimeExclusive": str(end_ms)} | ({"offsetData": str(cursor)} if cursor else {})
    return Request("getFundingRatePage", "GET", "/public/funding/getFundingRatePage", params=params)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: {"data": {"dataList": [{"fundingTime", "fundingRate", "isSettlement", "markPrice", "fundingRateIntervalMin"}], "nextPageOffsetData"}}."""
    data, mult = vb.unwrap(spec, payload, "getFundingRatePage", dict), vb.normalize_symbol(dex_symbol.split("#")[0], spec)[1]
    points = [vb.HistoryPoint(t, rate, vb.interval_hours(r.get("fundingRateIntervalMin"), spec.funding_interval_hours * 60) / 60,
                              None if (px := vb.finite_or_none(r.get("markPrice") or r.get("oraclePrice"))) is None else px / mult)
              for r in vb.rows(data, "dataList", spec, "getFundingRatePage.data") if r.get("isSettlement") is not False
              if (t := vb.ms(r.get("fundingTimestamp") or r.get("fundingTime"))) is not None and (rate := vb.finite_or_none(r.get("fundingRate"))) is not None]
    return sorted(points, key=lambda p: p.time_ms), (data.get("nextPageOffsetData") or None) if points else None
