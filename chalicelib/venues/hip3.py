"""Hyperliquid HIP-3 builder-deployed dexes, one venue each: https://hyperliquid.gitbook.io/hyperliquid-docs/hyperliquid-improvement-proposals-hips/hip-3-builder-deployed-perpetuals"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from chalicelib.core.models import FeeSchedule, ParseResult, Reject
from chalicelib.venues import base as vb
from chalicelib.venues import hyperliquid
from chalicelib.venues.base import Request, VenueSpec

SPEC = VenueSpec(
    id="hip3",
    display_name="Hyperliquid HIP-3 dexes (collector)",
    base_url_env="HIP3_API_URL",
    default_base_url="https://api.hyperliquid.xyz",
    funding_interval_hours=Decimal(1),   # same engine as core HL: hourly settlement [C]
    rate_scale=Decimal(1),               # ctx.funding: fraction per hour, ALREADY x the dex's funding multiplier [C]
    quote="USDC",                        # fallback only: each dex's collateral = spotMeta.tokens[meta.collateralToken]
    fees=FeeSchedule(maker=Decimal("0.0003"), taker=Decimal("0.0009")),  # 2x the validator-perp base tier (HIP-3
                                         # docs) [M]; growth-mode assets are >= 90 % cheaper: admin API per dex
    rate_limit=vb.RateLimit(requests_per_minute=40, weight_per_minute=800,  # 20 weight per call; core HL keeps the
                            source="HL docs rate limits: 1200 weight/min/IP shared with core (which uses ~20-60)"),
    multiplier_prefixes=(("k", Decimal(1000)),),
    docs_url="https://hyperliquid.gitbook.io/hyperliquid-docs/hyperliquid-improvement-proposals-hips/hip-3-builder-deployed-perpetuals",
    notes="Family collector: perpDexs (index 0 = core, skipped) lists the dexes; each becomes venue "
          "'hyperliquid-<name>' (metaAndAssetCtxs with dex=<name>, coins 'name:COIN'). A dex that appears tomorrow "
          "is collected with no code change (up to MAX_DEXES per cycle). Markets whose assetToFundingMultiplier is 0 "
          "have funding DISABLED: rejected with that reason, never stored as a neutral 0. OI = openInterest (base) x "
          "markPx and dayNtlVlm are in the dex's collateral (USDC/USDH/USDe ~ USD).",
    family_prefix="hyperliquid-",
)
MAX_DEXES = 30   # 2 + 30 calls x 20 weight = 640 weight/min at one cycle a minute


def requests(spec: VenueSpec) -> list[Request]:
    return [Request(k, "POST", "/info", json={"type": k}) for k in ("perpDexs", "spotMeta")]


def _dexes(spec: VenueSpec, payloads: dict[str, Any]) -> list[dict[str, Any]]:
    body = vb.need(payloads, "perpDexs", list, spec, "payloads")
    return [d for d in body[1:MAX_DEXES + 1] if isinstance(d, dict) and str(d.get("name") or "").isalnum()]


def follow_up(spec: VenueSpec, payloads: dict[str, Any]) -> list[Request]:
    dexes = _dexes(spec, payloads) if isinstance(payloads.get("perpDexs"), list) else []
    return [Request(f"meta:{d['name']}", "POST", "/info", json={"type": "metaAndAssetCtxs", "dex": d["name"]}) for d in dexes]


def venue_spec(spec: VenueSpec, dex_id: str, quote: str | None = None) -> VenueSpec:
    """The spec of one discovered dex (what storage registers: id inside, display name outside)."""
    return dataclasses.replace(spec, id=dex_id, display_name=f"Hyperliquid {dex_id.removeprefix(spec.family_prefix)}",
                               family_prefix="", quote=quote or spec.quote)


def _dex(spec: VenueSpec, dex: dict[str, Any], body: Any, tokens: dict[Any, str], now_ms: int) -> list[Any]:
    """One dex's metaAndAssetCtxs -> snapshots, rejects and a count of skipped (delisted) assets."""
    meta, ctxs = vb.need(body, 0, dict, spec, "meta"), vb.rows(body, 1, spec, "assetCtxs")
    universe = vb.rows(meta, "universe", spec, "meta")
    if len(body) != 2 or len(universe) != len(ctxs):
        raise vb.ParseError(f"{spec.id}: expected [meta, assetCtxs] of equal length")
    spec = dataclasses.replace(spec, quote=tokens.get(meta.get("collateralToken"), spec.quote))
    off = {c for c, m in dex.get("assetToFundingMultiplier") or [] if vb.finite_or_none(m) == 0}
    out: list[Any] = []
    for asset, ctx in zip(universe, ctxs, strict=True):
        coin = str(asset.get("name", ""))
        if asset.get("isDelisted") or not coin.startswith(f"{dex['name']}:"):
            out.append(1)
        elif coin in off:
            out.append(Reject(dex=spec.id, dex_symbol=coin, reason="funding disabled (multiplier 0)"))
        else:
            out.append(vb.build_snapshot(
                spec, coin, base=coin.split(":", 1)[1], now_ms=now_ms, rate=ctx.get("funding"), mark=ctx.get("markPx"),
                index=ctx.get("oraclePx"), oi_base=ctx.get("openInterest"), volume_usd=ctx.get("dayNtlVlm"),
                next_funding_ms=vb.next_full_hour_ms(now_ms), min_size=vb.size_decimals(asset.get("szDecimals"))))
    return out


def parse(spec: VenueSpec, payloads: dict[str, Any], *, now_ms: int) -> ParseResult:
    """Wire: perpDexs [null, {name, fullName, assetToFundingMultiplier: [[coin, "m"]]}...]; spotMeta {tokens:
    [{name, index}]}; meta:<dex> = [{universe: [{name "dex:COIN", isDelisted?}], collateralToken}, [ctx...]]
    (ctx as core Hyperliquid). A dex whose payload is missing or malformed is rejected alone, with the reason."""
    dexes = _dexes(spec, payloads)
    tokens = {t.get("index"): str(t.get("name")) for t in vb.rows(payloads.get("spotMeta"), "tokens", spec, "spotMeta")}
    results: list[Any] = []
    for d in dexes:
        dex_spec = venue_spec(spec, f"{spec.family_prefix}{d['name']}")
        try:
            results.extend(_dex(dex_spec, d, payloads.get(f"meta:{d['name']}"), tokens, now_ms))
        except vb.ParseError as exc:
            results.append(Reject(dex=dex_spec.id, dex_symbol="*", reason=f"metaAndAssetCtxs: {exc}"))
    return vb.collect(spec, [r for r in results if not isinstance(r, int)], sum(1 for r in results if isinstance(r, int)))


# history: the core module's, unchanged (coin keeps its "dex:" prefix, e.g. "xyz:XYZ100"; hourly rows)
history_requests, parse_history = hyperliquid.history_requests, hyperliquid.parse_history
HISTORY_PAGE_ROWS = hyperliquid.HISTORY_PAGE_ROWS
