"""EdgeX perps: https://edgex-1.gitbook.io/edgeX-documentation/api/public-api/quote-api (and metadata-api, funding-api)"""

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
    default_base_url="https://pro.edgex.exchange",
    funding_interval_hours=Decimal(4),   # docs: fundingTime -> nextFundingTime = 4 h; per contract fundingRateIntervalMin
    rate_scale=Decimal(1),               # fraction per interval ("0.00005 for 4h", third-party collector) [U]
    quote="USDT",                        # contracts quote coinId 1000 = USDT (metadata coinList)
    fees=FeeSchedule(maker=Decimal("0.0002"), taker=Decimal("0.00055")),  # metadata defaultMaker/TakerFeeRate
    rate_limit=vb.RateLimit(requests_per_minute=120, source="[U] not published; conservative"),
    symbol_suffixes=("USDT", "USD"),     # BTCUSDT (v1) / BTCUSD (newer)
    docs_url="https://edgex-1.gitbook.io/edgeX-documentation/api/public-api/quote-api",
    notes="[U] fundingRate = fraction per fundingRateIntervalMin (240 min) -> rate_1h = rate/4. No mark price in "
          "the ticker: oraclePrice is the mark, indexPrice the index. getTicker in bulk (contractId 'Required: "
          "No'); contracts it lacks are fetched singly in follow_up. Base from coinList, else contractName.",
)


def _contracts(spec: VenueSpec, payloads: dict[str, Any]) -> tuple[dict[Any, Any], list[dict[str, Any]], int]:
    meta = vb.unwrap(spec, payloads.get("getMetaData"), "getMetaData", dict)
    coins = {c.get("coinId"): c.get("coinName") for c in vb.rows(meta, "coinList", spec, "getMetaData.data")}
    contracts = vb.rows(meta, "contractList", spec, "getMetaData.data")
    enabled = [c for c in contracts if c.get("enableTrade") is not False and c.get("enableDisplay") is not False]
    return coins, enabled, len(contracts) - len(enabled)      # coinId -> name, enabled, number disabled


def _tickers(payloads: dict[str, Any]) -> tuple[dict[Any, dict[str, Any]], Any]:
    """contractId -> ticker row from the bulk and any per-contract answers that succeeded; + responseTime."""
    ok = [b for k, b in payloads.items() if k.startswith("getTicker") and isinstance(b, dict)
          and b.get("code") == "SUCCESS" and isinstance(b.get("data"), list)]
    found = {r.get("contractId"): r for b in ok for r in b["data"] if isinstance(r, dict)}
    return found, ok[0].get("responseTime") if ok else None


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("getMetaData", "GET", "/api/v1/public/meta/getMetaData"),
            Request("getTicker", "GET", "/api/v1/public/quote/getTicker")]   # bulk form: no contractId


def follow_up(spec: VenueSpec, payloads: dict[str, Any]) -> list[Request]:
    """Per-contract getTicker (key "getTicker:<contractId>") for enabled contracts the bulk answer lacks."""
    have = _tickers(payloads)[0]
    return [Request(f"getTicker:{c['contractId']}", "GET", "/api/v1/public/quote/getTicker",
                    params={"contractId": str(c["contractId"])})
            for c in _contracts(spec, payloads)[1]
            if c.get("contractId") not in have and f"getTicker:{c.get('contractId')}" not in payloads]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: getMetaData {"code": "SUCCESS", "data": {"coinList": [{"coinId", "coinName"}], "contractList":
    [{"contractId", "contractName", "baseCoinId", "enableTrade", "enableDisplay", "fundingRateIntervalMin"}]}};
    getTicker[:<id>] {"code": "SUCCESS", "data": [{"contractId", "fundingRate", "oraclePrice", "indexPrice",
    "openInterest" (base), "value" (24h quote), "nextFundingTime" ms}], "responseTime"} - all strings."""
    coins, enabled, disabled = _contracts(spec, payloads)
    tickers, ts = _tickers(payloads)
    if not tickers:   # neither the bulk nor any per-contract answer is usable: say why
        vb.unwrap(spec, payloads.get("getTicker"), "getTicker", list)
    results: list[MarketSnapshot | Reject] = []
    for c in enabled:
        name, t = str(c.get("contractName")), tickers.get(c.get("contractId"))
        if t is None:
            results.append(Reject(spec.id, name, "no ticker for this contract"))
            continue
        minutes = vb.interval_hours(c.get("fundingRateIntervalMin"), spec.funding_interval_hours * 60)
        results.append(vb.build_snapshot(
            spec, name, now_ms=now_ms, rate=t.get("fundingRate"), mark=t.get("oraclePrice"),
            interval=minutes / 60, base=coins.get(c.get("baseCoinId")), index=t.get("indexPrice"),
            oi_base=t.get("openInterest"), volume_usd=t.get("value"),
            next_funding_ms=vb.ms(t.get("nextFundingTime")), venue_ts_ms=vb.ms(ts)))
    return vb.collect(spec, results, disabled)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int, cursor: Any) -> Request | None:
    """Keyed by contractId: dex_symbol "BTCUSDT#10000001" (see base.history_id). cursor: offsetData."""
    params = {"contractId": vb.history_id(spec, dex_symbol, "contractId"), "size": "100", "filterSettlementFundingRate": "true",
              "filterBeginTimeInclusive": str(start_ms), "filterEndTimeExclusive": str(end_ms),
              **({"offsetData": str(cursor)} if cursor else {})}
    return Request("getFundingRatePage", "GET", "/api/v1/public/funding/getFundingRatePage", params=params)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire [U: SDK funding/client.py, no recorded sample]: {"code": "SUCCESS", "data": {"dataList":
    [{"fundingTimestamp" (or "fundingTime") ms, "fundingRate", "oraclePrice"}], "nextPageOffsetData"}}; 4 h default."""
    data, mult = vb.unwrap(spec, payload, "getFundingRatePage", dict), vb.normalize_symbol(dex_symbol.split("#")[0], spec)[1]
    points = [vb.HistoryPoint(t, rate, spec.funding_interval_hours, None if (px := vb.finite_or_none(r.get("oraclePrice"))) is None else px / mult)
              for r in vb.rows(data, "dataList", spec, "getFundingRatePage.data")
              if (t := vb.ms(r.get("fundingTimestamp") or r.get("fundingTime"))) is not None and (rate := vb.finite_or_none(r.get("fundingRate"))) is not None]
    return sorted(points, key=lambda p: p.time_ms), (data.get("nextPageOffsetData") or None) if points else None


def history_keys(spec: VenueSpec, payloads: dict[str, Any]) -> dict[str, str]:
    """{contractName: "NAME#<contractId>"} from getMetaData (history is keyed by contractId)."""
    return {str(c.get("contractName")): f"{c.get('contractName')}#{c.get('contractId')}"
            for c in _contracts(spec, payloads)[1]}
