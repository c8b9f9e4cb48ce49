"""Hyperliquid perps: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, MarketSnapshot, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="hyperliquid",
    display_name="Hyperliquid",
    base_url_env="HYPERLIQUID_API_URL",
    default_base_url="https://api.hyperliquid.xyz",
    funding_interval_hours=Decimal(1),   # settles every hour (docs: trading/funding) [C]
    rate_scale=Decimal(1),               # `funding` is a fraction per hour [C]
    quote="USDC",                        # main-dex collateral (meta.collateralToken); HIP-3 dexes excluded
    fees=FeeSchedule(maker=Decimal("0.00015"), taker=Decimal("0.00045")),  # base tier (docs: trading/fees)
    rate_limit=vb.RateLimit(requests_per_minute=60, weight_per_minute=1200,  # metaAndAssetCtxs weighs 20
                         source="docs: for-developers/api/rate-limits"),
    multiplier_prefixes=(("k", Decimal(1000)),),  # kPEPE: prices per 1000 tokens (meta lists kPEPE)
    docs_url="https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals",
    notes="funding = hourly fraction [C]. No best bid/ask in the snapshot (left None; impactPxs are not "
          "a BBO). OI USD = openInterest x markPx. History: interval implied by timestamp spacing "
          "(8 h in 2023, 1 h later).",
)
HISTORY_PAGE_ROWS = 500  # fundingHistory returns at most 500 vb.rows; next startTime = last time + 1 (docs: Pagination)


def requests(spec: VenueSpec) -> list[Request]:
    return [Request("metaAndAssetCtxs", "POST", "/info", json={"type": "metaAndAssetCtxs"})]


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: [ {"universe": [{"name", "isDelisted"?}...]}, [{"funding", "markPx", "oraclePx",
    "openInterest", "dayNtlVlm"} (strings) ...] ]; assetCtxs[i] belongs to universe[i]. Order minimum: the size lot
    10^-szDecimals (listed units); the $10 minimum order value of the docs is not in the payload."""
    body = vb.need(payloads, "metaAndAssetCtxs", list, spec, "payloads")
    if len(body) != 2:
        raise vb.ParseError(f"{spec.id}: metaAndAssetCtxs: expected [meta, assetCtxs], got a list of {len(body)}")
    universe = vb.rows(vb.need(body, 0, dict, spec, "metaAndAssetCtxs"), "universe", spec, "meta")
    ctxs = vb.rows(body, 1, spec, "metaAndAssetCtxs")
    if len(universe) != len(ctxs):
        raise vb.ParseError(f"{spec.id}: meta.universe has {len(universe)} assets but assetCtxs {len(ctxs)}")
    results: list[MarketSnapshot | Reject] = []
    skipped = 0
    for asset, ctx in zip(universe, ctxs, strict=True):
        name = str(asset.get("name", ""))
        if asset.get("isDelisted") or ":" in name or "@" in name or not name:  # delisted, HIP-3, spot
            skipped += 1
            continue
        results.append(vb.build_snapshot(
            spec, name, now_ms=now_ms, rate=ctx.get("funding"), mark=ctx.get("markPx"),
            index=ctx.get("oraclePx"), oi_base=ctx.get("openInterest"), volume_usd=ctx.get("dayNtlVlm"),
            next_funding_ms=vb.next_full_hour_ms(now_ms), min_size=vb.size_decimals(asset.get("szDecimals"))))
    return vb.collect(spec, results, skipped)


def history_requests(spec: VenueSpec, dex_symbol: str, start_ms: int, end_ms: int,
                     cursor: Any) -> Request | None:
    """cursor: the next startTime (ms) returned by parse_history, None on the first page."""
    start = int(cursor) if cursor is not None else start_ms
    if start >= end_ms:
        return None
    body = {"type": "fundingHistory", "coin": dex_symbol, "startTime": start, "endTime": end_ms}
    return Request("fundingHistory", "POST", "/info", json=body)


def parse_history(spec: VenueSpec, payload: Any, *, dex_symbol: str) -> tuple[list[vb.HistoryPoint], Any]:
    """Wire: [{"coin", "fundingRate": str, "premium": str, "time": int ms}, ...] ascending."""
    items = vb.rows({"fundingHistory": payload}, "fundingHistory", spec, "fundingHistory")
    good = [(r["time"], rate) for r in items
            if isinstance(r.get("time"), int) and (rate := vb.finite_or_none(r.get("fundingRate"))) is not None]
    times = [t for t, _ in good]
    hours = vb.interval_from_gaps(times, spec.funding_interval_hours)
    points = [vb.HistoryPoint(time_ms=t, funding_rate=rate, funding_interval_hours=h)
              for (t, rate), h in zip(good, hours, strict=True)]
    cursor = times[-1] + 1 if len(items) >= HISTORY_PAGE_ROWS and times else None
    return points, cursor
