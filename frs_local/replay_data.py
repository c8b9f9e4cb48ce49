"""Deterministic venue data for the replay server: one seeded asset universe, five venues' wire shapes.

Shapes (field names, strings vs JSON numbers) are copied from the recorded samples in
shared/dex-fixtures (see tests/fixtures/venues/README.md); the VALUES are generated:

- 140 assets with realistic prices, open interest and volume; each venue lists ~110-130 of them
  (BTC/ETH/SOL everywhere), plus delisted/inactive/non-perp rows every parser must drop.
- Each venue publishes the rate in its own unit and period (DESIGN.md §3): Hyperliquid hourly
  fraction; Lighter /funding-rates an 8 h-equivalent fraction (plus binance/bybit/hyperliquid rows);
  Paradex fraction per funding_period_hours (one 24 h market); GRVT percentage points per
  funding_interval_hours (1/4/8 h); EdgeX (V2, USDC, ids 3000000x) fraction per 240 min.
- Multiplier listings (kPEPE, 1000PEPE, 1000PEPEUSDT ...): prices per 1000 tokens, OI in bundles.
- A few assets carry a persistent cross-venue divergence large enough to beat fees.
- Rates drift smoothly with wall time (sine of minutes + per-minute seeded noise), so consecutive
  collection cycles differ while one minute's answers are stable.
- Settled histories are CONSISTENT with what was published: a settlement at instant T paid the last
  rate the venue published before T (`settled_1h`), in the venue's own wire unit and quantisation:
  Lighter and GRVT write rates with 4 decimals of a percent (0.0001 % = 1e-6 as a fraction; DEX_APIS_2026-12
  §3.1, §4.1-4.2), on their published rates and on their settlements alike. Paradex accrues continuously:
  its settled points are funding_index deltas (the hour's integral of the rate), not the last rate.

Everything here is pure: (seed, now_ms) -> payload. `Universe.pin()` fixes a wire field for a test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

HOUR_MS = 3_600_000
DEXES = ("hyperliquid", "lighter", "paradex", "grvt", "edgex")

# Anchor prices (USD per token) for the well-known assets; the rest are drawn log-uniformly.
ANCHORS: dict[str, float] = {
    "BTC": 95000.0, "ETH": 3400.0, "SOL": 185.0, "BNB": 640.0, "XRP": 2.3, "DOGE": 0.38, "ADA": 0.95,
    "AVAX": 38.0, "LINK": 22.0, "DOT": 7.4, "TRX": 0.25, "LTC": 105.0, "BCH": 480.0, "NEAR": 5.6,
    "APT": 11.0, "ARB": 0.85, "OP": 2.1, "SUI": 3.9, "TIA": 6.2, "INJ": 27.0, "SEI": 0.52,
    "HYPE": 24.0, "AAVE": 310.0, "UNI": 13.5, "MKR": 1800.0, "LDO": 1.9, "ATOM": 7.9, "FIL": 5.8,
    "ETC": 28.0, "XLM": 0.42, "TON": 5.6, "WIF": 2.4, "JUP": 1.05, "ENA": 0.95, "TAO": 480.0,
    "PEPE": 0.0000195, "BONK": 0.0000355, "SHIB": 0.0000245, "FLOKI": 0.000185,
}
# Tokens priced so low that venues list them in bundles of 1000 (HL k-prefix, Lighter/EdgeX/GRVT 1000-prefix).
BUNDLED = ("PEPE", "BONK", "SHIB", "FLOKI")
_OTHER = (  # noqa: SIM905 - a readable block of tickers
    "ALGO VET ICP HBAR EGLD FTM SAND MANA AXS GALA IMX RNDR GRT CRV SNX COMP YFI SUSHI 1INCH BAL ZRX "
    "DYDX GMX PENDLE ORDI STX KAS RUNE KAVA ZEC DASH XMR NEO QTUM IOTA EOS THETA FLOW CHZ ENJ ROSE "
    "CELO ONE KSM ZIL ICX ANKR STORJ SKL BLUR MAGIC GMT APE MASK ENS LRC WOO CFX AGIX FET OCEAN AR "
    "MINA ASTR ACH HOOK ID RDNT ARKM CYBER TRB BIGTIME MEME PYTH JTO STRK DYM ALT MANTA PIXEL PORTAL "
    "W ETHFI OMNI TNSR SAGA REZ BB NOT IO ZK ZRO LISTA POPCAT MEW BRETT TURBO MOG NEIRO GOAT PNUT ACT "
    "MOVE ME VIRTUAL AI16Z"
).split()
ASSET_NAMES: tuple[str, ...] = tuple(dict.fromkeys([*ANCHORS, *_OTHER]))[:140]

# Persistent divergence: (asset, venue, extra hourly rate). 8 h divergence 0.0016-0.0036 beats the
# ~0.0007 round-trip maker fees of any venue pair, so these show up as opportunities.
DIVERGENT: tuple[tuple[str, str, float], ...] = (
    ("WIF", "hyperliquid", 0.00030), ("SUI", "grvt", -0.00025), ("TIA", "paradex", 0.00035),
    ("ENA", "lighter", 0.00022), ("JUP", "edgex", -0.00020), ("DOGE", "grvt", 0.00045),
)
ALWAYS_LISTED = ("BTC", "ETH", "SOL", "PEPE", "DOGE", "WIF", "SUI", "TIA", "ENA", "JUP")
DELISTED_HL = ("LOOM", "FTT", "BADGER")
GRVT_INTERVALS = (1, 4, 8)


def _u(*parts: Any) -> float:
    """A deterministic uniform [0, 1) from any key (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def num(x: float, digits: int = 6) -> str:
    """A plain decimal string with `digits` significant digits, never exponent notation."""
    if x == 0 or not math.isfinite(x):
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def pct4(x: float) -> float:
    """A rate quantised as Lighter and GRVT write it: 4 decimals of a percent (x in fraction, result fraction)."""
    return round(x * 100, 4) / 100


def rate_str(x: float) -> str:
    """Rates as the venues write them: plain decimal, up to 10 decimals."""
    text = f"{x:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    price: float          # USD per token
    oi_usd: float
    volume_usd: float
    bias_1h: float        # persistent asset sentiment (hourly fraction)
    amp_1h: float         # amplitude of the slow drift
    phase: float
    period_min: float


@dataclass
class Universe:
    """The seeded market universe and the per-venue listings derived from it."""

    seed: int = 1
    assets: dict[str, Asset] = field(init=False)
    listings: dict[str, tuple[str, ...]] = field(init=False)
    pins: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.assets = {}
        for i, name in enumerate(ASSET_NAMES):
            u = lambda k, n=name: _u(self.seed, n, k)  # noqa: E731
            price = ANCHORS.get(name) or math.exp(math.log(0.02) + u("price") * (math.log(60) - math.log(0.02)))
            rank = 1.0 / (1 + i) ** 0.9
            oi = 4e9 * rank * (0.6 + 0.8 * u("oi")) + 2e5
            self.assets[name] = Asset(
                name=name, price=price, oi_usd=oi, volume_usd=oi * (0.8 + 2.5 * u("vol")),
                bias_1h=1.25e-5 + (u("bias") - 0.5) * 4e-5, amp_1h=4e-6 + 1.2e-5 * u("amp"),
                phase=2 * math.pi * u("phase"), period_min=20 + 40 * u("period"),
            )
        self.listings = {
            dex: tuple(n for n in ASSET_NAMES if n in ALWAYS_LISTED or _u(self.seed, dex, n, "listed") > 0.13)
            for dex in DEXES
        }

    # ------------------------------------------------------------------ dynamics

    def rate_1h(self, dex: str, name: str, now_ms: int) -> float:
        """Hourly fraction for (venue, asset) at now: asset bias + slow sine + per-minute noise + venue skew."""
        a = self.assets[name]
        minutes = now_ms / 60_000
        minute = int(minutes)
        drift = a.amp_1h * math.sin(2 * math.pi * minutes / a.period_min + a.phase)
        noise = (_u(self.seed, dex, name, minute) - 0.5) * 4e-6
        skew = (_u(self.seed, dex, name, "skew") - 0.5) * 1e-5
        extra = sum(x for asset, venue, x in DIVERGENT if asset == name and venue == dex)
        return a.bias_1h + drift + noise + skew + extra

    def settled_1h(self, dex: str, name: str, at_ms: int) -> float:
        """What a settlement at `at_ms` paid, per hour: the last rate the venue published before that instant."""
        return self.rate_1h(dex, name, at_ms - 1)

    def price(self, dex: str, name: str, now_ms: int) -> float:
        """Mark price per token: slow drift, a few basis points apart between venues."""
        a = self.assets[name]
        minutes = now_ms / 60_000
        wiggle = 0.01 * math.sin(2 * math.pi * minutes / (a.period_min * 3) + a.phase)
        venue_bp = (_u(self.seed, dex, name, "px") - 0.5) * 6e-4
        return a.price * (1 + wiggle + venue_bp)

    def pin(self, dex: str, dex_symbol: str, field_name: str, value: Any) -> None:
        """Serve `value` for that wire field of that market (tests: hand-computed expectations)."""
        self.pins[(dex, dex_symbol, field_name)] = value

    def _pinned(self, dex: str, dex_symbol: str, row: dict[str, Any]) -> dict[str, Any]:
        for (d, s, f), v in self.pins.items():
            if d == dex and s == dex_symbol:
                row[f] = v
        return row

    def multiplier(self, name: str) -> int:
        return 1000 if name in BUNDLED else 1

    # ------------------------------------------------------------------ hyperliquid

    def hl_name(self, name: str) -> str:
        return f"k{name}" if name in BUNDLED else name

    def hyperliquid_meta_and_ctxs(self, now_ms: int) -> list[Any]:
        universe: list[dict[str, Any]] = []
        ctxs: list[dict[str, Any]] = []
        for name in self.listings["hyperliquid"]:
            m = self.multiplier(name)
            px = self.price("hyperliquid", name, now_ms) * m
            a = self.assets[name]
            universe.append({"name": self.hl_name(name), "szDecimals": 2 if px < 100 else 4,
                             "maxLeverage": 50 if name in ("BTC", "ETH") else 10, "marginTableId": 50})
            ctx = {
                "dayNtlVlm": num(a.volume_usd * 0.3, 12), "funding": rate_str(self.rate_1h("hyperliquid", name, now_ms)),
                "impactPxs": [num(px * 0.9997), num(px * 1.0003)], "markPx": num(px), "midPx": num(px * 1.00001),
                "openInterest": num(a.oi_usd * 0.35 / px, 8), "oraclePx": num(px * 0.9999),
                "premium": rate_str(self.rate_1h("hyperliquid", name, now_ms) - 1.25e-5),
                "prevDayPx": num(px * 0.98), "dayBaseVlm": num(a.volume_usd * 0.3 / px, 8),
            }
            ctxs.append(self._pinned("hyperliquid", self.hl_name(name), ctx))
        for name in DELISTED_HL:   # contexts are still returned for delisted coins, with stale prices
            universe.append({"name": name, "szDecimals": 1, "maxLeverage": 3, "onlyIsolated": True,
                             "isDelisted": True, "marginTableId": 3})
            ctxs.append({"dayNtlVlm": "0.0", "funding": "0.0", "impactPxs": None, "markPx": "0.1",
                         "midPx": None, "openInterest": "0.0", "oraclePx": "0.1", "premium": None,
                         "prevDayPx": "0.1", "dayBaseVlm": "0.0"})
        meta = {"universe": universe, "marginTables": [[50, {"description": "", "marginTiers": [
            {"lowerBound": "0.0", "maxLeverage": 50}]}]], "collateralToken": 0}
        return [meta, ctxs]

    def hyperliquid_funding_history(self, coin: str, start_ms: int, end_ms: int | None, now_ms: int) -> list[Any]:
        name = coin[1:] if coin.startswith("k") and coin[1:] in BUNDLED else coin
        if name not in self.assets or name not in self.listings["hyperliquid"]:
            return []
        end = min(end_ms if end_ms is not None else now_ms, now_ms)
        first = -(-start_ms // HOUR_MS) * HOUR_MS
        out = []
        for t in range(first, end + 1, HOUR_MS):
            r = self.settled_1h("hyperliquid", name, t)
            out.append({"coin": coin, "fundingRate": rate_str(r), "premium": rate_str(r - 1.25e-5), "time": t + 37})
            if len(out) == 500:
                break
        return out

    # ------------------------------------------------------------------ lighter

    def lighter_name(self, name: str) -> str:
        return f"1000{name}" if name in BUNDLED else name

    def _lighter_ids(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(ASSET_NAMES)}

    def lighter_order_book_details(self, now_ms: int) -> dict[str, Any]:
        ids = self._lighter_ids()
        rows = []
        listed = self.listings["lighter"]
        for name in listed:
            m = self.multiplier(name)
            px = self.price("lighter", name, now_ms) * m
            a = self.assets[name]
            inactive = _u(self.seed, "lighter", name, "inactive") < 0.03 and name not in ALWAYS_LISTED
            row = {
                "symbol": self.lighter_name(name), "market_id": ids[name], "market_type": "perp",
                "status": "inactive" if inactive else "active", "taker_fee": "0.0000", "maker_fee": "0.0000",
                "liquidation_fee": "1.0000", "min_base_amount": "0.0050", "min_quote_amount": "10.000000",
                "order_quote_limit": "", "supported_size_decimals": 4, "supported_price_decimals": 2,
                "supported_quote_decimals": 6, "size_decimals": 4, "price_decimals": 2, "quote_multiplier": 1,
                "default_initial_margin_fraction": 500, "min_initial_margin_fraction": 200,
                "maintenance_margin_fraction": 120, "closeout_margin_fraction": 80,
                "last_trade_price": float(num(px)), "daily_trades_count": int(a.volume_usd / 4000),
                "daily_base_token_volume": float(num(a.volume_usd * 0.2 / px, 10)),
                "daily_quote_token_volume": float(num(a.volume_usd * 0.2, 12)),
                "daily_price_low": float(num(px * 0.97)), "daily_price_high": float(num(px * 1.03)),
                "daily_price_change": round((_u(self.seed, name, "chg") - 0.5) * 8, 6),
                "open_interest": float(num(a.oi_usd * 0.12 / px, 10)),
                "mark_price": num(px), "index_price": num(px * 1.0001),
                "funding_clamp_small": "0.0500", "funding_clamp_big": "4.0000", "base_interest_rate": "0.0100",
                "daily_chart": {}, "is_frozen": False,
                "market_config": {"market_margin_mode": 0, "insurance_fund_account_index": 281474976710655,
                                  "liquidation_mode": 0, "force_reduce_only": False, "trading_hours": "",
                                  "hidden": False},
            }
            rows.append(self._pinned("lighter", self.lighter_name(name), row))
        spot = [{"symbol": "ETH/USDC", "market_id": 2048, "market_type": "spot", "status": "active",
                 "last_trade_price": float(num(self.price("lighter", "ETH", now_ms)))}]
        return {"code": 200, "order_book_details": rows, "spot_order_book_details": spot}

    def lighter_funding_rates(self, now_ms: int) -> dict[str, Any]:
        """Lighter's own rows as 8 h-equivalent fractions (JSON floats; 8 x the hourly rate quantised to 0.0001 %)
        + other exchanges' rows to drop."""
        ids = self._lighter_ids()
        rows = []
        for name in self.listings["lighter"]:
            symbol = self.lighter_name(name)
            row = {"market_id": ids[name], "exchange": "lighter", "symbol": symbol,
                   "rate": float(rate_str(pct4(self.rate_1h("lighter", name, now_ms)) * 8))}
            rows.append(self._pinned("lighter", symbol, row))
            for ex in ("binance", "bybit", "hyperliquid"):
                if _u(self.seed, ex, name, "foreign") < 0.6:
                    rows.append({"market_id": ids[name], "exchange": ex, "symbol": symbol,
                                 "rate": float(rate_str(self.rate_1h("lighter", name, now_ms) * 8 + 0.003))})
        return {"code": 200, "funding_rates": rows}

    def lighter_fundings(self, market_id: int, start_s: int, end_s: int, now_ms: int) -> dict[str, Any]:
        """/fundings: percent per hour, unsigned, paying side in `direction`; a window with more than 750 hours keeps
        only the NEWEST 750 (what LDATA observed live: "silently truncates to the most-recent rows")."""
        names = {i: n for n, i in self._lighter_ids().items()}
        name = names.get(market_id)
        out: list[dict[str, Any]] = []
        if name in self.listings["lighter"]:
            first = -(-start_s * 1000 // HOUR_MS) * HOUR_MS
            last = min(end_s * 1000, now_ms) // HOUR_MS * HOUR_MS
            for t in range(max(first, last - 749 * HOUR_MS), last + 1, HOUR_MS):
                r = pct4(self.settled_1h("lighter", name, t))     # the 4-dp percent IS the settled rate
                px = self.price("lighter", name, t) * self.multiplier(name)
                out.append({"timestamp": t // 1000, "value": num(abs(r) * px, 6), "rate": rate_str(abs(r) * 100),
                            "direction": "long" if r >= 0 else "short"})
        return {"code": 200, "resolution": "1h", "fundings": out}

    # ------------------------------------------------------------------ paradex

    def paradex_period(self, name: str) -> int:
        return 24 if name == "TAO" else 8   # one market on a 24 h reference period (ccxt notes such markets)

    def paradex_markets(self, now_ms: int) -> dict[str, Any]:
        rows = []
        for name in self.listings["paradex"]:
            rows.append({
                "symbol": f"{name}-USD-PERP", "base_currency": name, "quote_currency": "USD",
                "settlement_currency": "USDC", "order_size_increment": "1", "price_tick_size": "0.00001",
                "min_notional": "100", "open_at": 1717065600000, "expiry_at": 0, "asset_kind": "PERP",
                "position_limit": "2000000", "price_bands_width": "0.2", "max_open_orders": 50,
                "max_funding_rate": "0.05", "max_funding_rate_change": "0.0005", "interest_rate": "0.0001",
                "clamp_rate": "0.0005", "funding_multiplier": 1,
                "funding_period_hours": self.paradex_period(name), "max_tob_spread": "0.2",
            })
        for name in ("BTC", "ETH"):   # perpetual options: same feed, not perpetual futures
            for strike in (0.9, 1.1):
                k = round(ANCHORS[name] * strike, -2)
                rows.append({"symbol": f"{name}-USD-{int(k)}-C", "base_currency": name, "quote_currency": "USD",
                             "settlement_currency": "USDC", "asset_kind": "PERP_OPTION", "open_at": 1717065600000,
                             "expiry_at": 0, "funding_period_hours": 24, "option_type": "CALL",
                             "strike_price": str(int(k))})
        return {"results": rows}

    def paradex_summary(self, now_ms: int) -> dict[str, Any]:
        rows = []
        for name in self.listings["paradex"]:
            px = self.price("paradex", name, now_ms)
            a = self.assets[name]
            period = self.paradex_period(name)
            symbol = f"{name}-USD-PERP"
            rate = self.rate_1h("paradex", name, now_ms) * period
            rows.append(self._pinned("paradex", symbol, {
                "symbol": symbol, "oracle_price": num(px * 0.9999, 10), "mark_price": num(px, 10),
                "last_traded_price": num(px * 1.0002), "bid": num(px * 0.9998), "ask": num(px * 1.0002),
                "bid_size": "1.5", "ask_size": "2.1", "volume_24h": num(a.volume_usd * 0.08, 16),
                "total_volume": num(a.volume_usd * 40, 16), "created_at": now_ms,
                "underlying_price": num(px * 1.0001, 10), "open_interest": num(a.oi_usd * 0.05 / px, 8),
                "funding_rate": rate_str(rate), "future_funding_rate": rate_str(rate * 1.01),
                "price_change_rate_24h": num((_u(self.seed, name, "chg") - 0.5) * 0.08, 4),
            }))
        for name in ("BTC", "ETH"):
            for strike in (0.9, 1.1):
                k = int(round(ANCHORS[name] * strike, -2))
                rows.append({"symbol": f"{name}-USD-{k}-C", "mark_price": num(ANCHORS[name] * 0.05),
                             "funding_rate": "", "open_interest": "3.2", "volume_24h": "12000",
                             "created_at": now_ms, "bid": "", "ask": ""})
        return {"results": rows}

    def paradex_smooth_rate_1h(self, name: str, t_ms: int) -> float:
        """Paradex history's hourly rate: the asset's drift without the per-minute noise, so that its
        funding_index has a closed form (index = integral of rate x spot) and delta-index history is exact."""
        a = self.assets[name]
        extra = sum(x for asset, venue, x in DIVERGENT if asset == name and venue == "paradex")
        skew = (_u(self.seed, "paradex", name, "skew") - 0.5) * 1e-5
        return a.bias_1h + skew + extra + a.amp_1h * math.sin(2 * math.pi * (t_ms / 60_000) / a.period_min + a.phase)

    def paradex_funding_index(self, name: str, t_ms: int) -> float:
        """USDC per 1 base accrued since epoch: spot x integral of the hourly rate (spot held at the anchor price)."""
        a = self.assets[name]
        extra = sum(x for asset, venue, x in DIVERGENT if asset == name and venue == "paradex")
        skew = (_u(self.seed, "paradex", name, "skew") - 0.5) * 1e-5
        period_h = a.period_min / 60
        phase = 2 * math.pi * (t_ms / 60_000) / a.period_min + a.phase
        integral = (a.bias_1h + skew + extra) * t_ms / HOUR_MS - a.amp_1h * period_h / (2 * math.pi) * math.cos(phase)
        return a.price * integral

    def paradex_funding_data(self, market: str, start_ms: int, end_ms: int, page_size: int, cursor: str | None,
                             now_ms: int) -> dict[str, Any]:
        """Readings every 5 s (as live), newest first, cursor-paged; funding_premium = rate x spot (USDC per base per
        period) and funding_index its running integral, so delta index between instants is the accrued funding."""
        name = market.removesuffix("-USD-PERP")
        if name not in self.listings["paradex"]:
            return {"next": None, "prev": None, "results": []}
        step = 5_000
        end = min(end_ms, now_ms)
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        period = self.paradex_period(name)
        results: list[dict[str, Any]] = []
        t = end // step * step - offset * step
        while t >= start_ms and len(results) < page_size:
            rate = self.paradex_smooth_rate_1h(name, t) * period
            results.append({"market": market, "funding_index": repr(self.paradex_funding_index(name, t)),
                            "funding_premium": repr(rate * self.assets[name].price),
                            "funding_rate": rate_str(rate), "funding_rate_8h": rate_str(rate * 8 / period),
                            "funding_period_hours": period, "created_at": t})
            t -= step
        more = t >= start_ms
        nxt = base64.urlsafe_b64encode(str(offset + len(results)).encode()).decode() if more else None
        return {"next": nxt, "prev": None, "results": results}

    # ------------------------------------------------------------------ grvt

    def grvt_interval(self, name: str) -> int:
        if name in ("BTC", "ETH"):
            return 8
        return GRVT_INTERVALS[int(_u(self.seed, "grvt", name, "interval") * 3)]

    def grvt_instrument_name(self, name: str) -> str:
        return f"{self.grvt_base(name)}_USDT_Perp"

    def grvt_base(self, name: str) -> str:
        """GRVT names its 1000-token bundles with an uppercase K (KPEPE, KBONK, KSHIB; currency enum)."""
        return f"K{name}" if name in ("PEPE", "BONK", "SHIB") else f"1000{name}" if name in BUNDLED else name

    def grvt_instruments(self, now_ms: int) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for i, name in enumerate(self.listings["grvt"]):
            interval = self.grvt_interval(name)
            rows.append({
                "instrument": self.grvt_instrument_name(name), "instrument_hash": f"0x{0x030000 + i:06x}",
                "base": self.grvt_base(name), "quote": "USDT", "kind": "PERPETUAL", "venues": ["ORDERBOOK", "RFQ"],
                "settlement_period": "PERPETUAL",
                # the live API mixes strings and ints for these (ccxt comments show both)
                "base_decimals": 9 if i % 2 else "9", "quote_decimals": 6 if i % 2 else "6",
                "tick_size": num(self.assets[name].price * 1e-4, 1), "min_size": "0.001",
                "create_time": str(1764303867576216941 + i * 1_000_000_007), "max_position_size": "1000.0",
                "funding_interval_hours": interval if i % 2 else str(interval),
                "adjusted_funding_rate_cap": "0.75", "adjusted_funding_rate_floor": "-0.75", "min_notional": "100.0",
            })
        for name in ("BTC", "ETH"):   # dated futures share the endpoint and are not perpetuals
            rows.append({"instrument": f"{name}_USDT_Fut_20Oct23", "base": name, "quote": "USDT", "kind": "FUTURE",
                         "settlement_period": "MONTHLY", "tick_size": "0.1", "min_size": "0.001"})
        return {"result": rows}

    def grvt_market(self, instrument: str) -> str | None:
        for name in self.listings["grvt"]:
            if self.grvt_instrument_name(name) == instrument:
                return name
        return None

    def grvt_ticker(self, instrument: str, now_ms: int) -> dict[str, Any] | None:
        name = self.grvt_market(instrument)
        if name is None:
            return None
        m = self.multiplier(name)
        px = self.price("grvt", name, now_ms) * m
        a = self.assets[name]
        interval = self.grvt_interval(name)
        pct = pct4(self.rate_1h("grvt", name, now_ms) * interval) * 100   # percentage points per interval, 4 dp
        period_ms = interval * HOUR_MS
        next_ms = (now_ms // period_ms + 1) * period_ms
        vol_q = a.volume_usd * 0.05
        t = {
            "event_time": str(now_ms * 1_000_000 + 25055), "instrument": instrument, "mark_price": num(px, 14),
            "index_price": num(px * 1.0003, 14), "last_price": num(px * 0.9999), "last_size": "0.001",
            "mid_price": num(px), "best_bid_price": num(px * 0.99995), "best_bid_size": "5.332",
            "best_ask_price": num(px * 1.00005), "best_ask_size": "0.009",
            # live: funding_rate_8h_curr == funding_rate, both per interval despite the name (DEX_APIS_2026-12 §3.1)
            "funding_rate_8h_curr": rate_str(pct), "funding_rate_8h_avg": rate_str(pct),
            "interest_rate": "0.0", "forward_price": "0.0",
            "buy_volume_24h_b": num(vol_q * 0.49 / px, 10), "sell_volume_24h_b": num(vol_q * 0.51 / px, 10),
            "buy_volume_24h_q": num(vol_q * 0.49, 14), "sell_volume_24h_q": num(vol_q * 0.51, 14),
            "high_price": num(px * 1.02), "low_price": num(px * 0.98), "open_price": num(px * 0.99),
            "open_interest": num(a.oi_usd * 0.02 / px, 12), "long_short_ratio": "1.472543",
            "funding_rate": rate_str(pct), "next_funding_time": str(next_ms * 1_000_000),
        }
        return {"result": self._pinned("grvt", instrument, t)}

    def grvt_funding(self, instrument: str, start_ms: int, end_ms: int, limit: int, cursor: str | None,
                     now_ms: int) -> dict[str, Any]:
        name = self.grvt_market(instrument)
        if name is None:
            return {"result": [], "next": ""}
        interval = self.grvt_interval(name)
        step = interval * HOUR_MS
        first = int(cursor) if cursor else -(-start_ms // step) * step
        end = min(end_ms, now_ms)
        out: list[dict[str, Any]] = []
        t = first
        while t <= end and len(out) < limit:
            pct = pct4(self.settled_1h("grvt", name, t) * interval) * 100
            out.append({"instrument": instrument, "funding_rate": rate_str(pct), "funding_time": str(t * 1_000_000),
                        "mark_price": num(self.price("grvt", name, t) * self.multiplier(name), 14),
                        "funding_rate_8_h_avg": rate_str(pct), "funding_interval_hours": interval})
            t += step
        return {"result": out, "next": str(t) if t <= end else ""}

    # ------------------------------------------------------------------ edgex (V2; V1 answers as live V1 does)

    def edgex_contract_id(self, name: str) -> str:
        return str(30000001 + ASSET_NAMES.index(name))          # V2 ids 3000000x (V1 used 1000000x)

    def edgex_coin_id(self, name: str) -> str:
        return str(1001 + ASSET_NAMES.index(name))

    def edgex_base(self, name: str) -> str:
        return f"1000{name}" if name in BUNDLED else name

    def edgex_name(self, name: str) -> str:
        return f"{self.edgex_base(name)}USDC"

    def _edgex_envelope(self, data: Any, now_ms: int) -> dict[str, Any]:
        trace = hashlib.blake2b(repr((self.seed, now_ms)).encode(), digest_size=16).hexdigest()
        return {"code": "SUCCESS", "data": data, "msg": None, "errorParam": None,
                "requestTime": str(now_ms - 4), "responseTime": str(now_ms), "traceId": trace}

    def edgex_disabled(self, name: str) -> bool:
        return name not in ALWAYS_LISTED and _u(self.seed, "edgex", name, "disabled") < 0.03

    def _edgex_by_id(self) -> dict[str, str]:
        return {self.edgex_contract_id(n): n for n in self.listings["edgex"]}

    def edgex_metadata(self, now_ms: int) -> dict[str, Any]:
        coins = [{"coinId": "1000", "coinName": "USDC"}]
        contracts = []
        for name in self.listings["edgex"]:
            base = self.edgex_base(name)
            coins.append({"coinId": self.edgex_coin_id(name), "coinName": base})
            enabled = not self.edgex_disabled(name)
            contracts.append({
                "contractId": self.edgex_contract_id(name), "contractName": self.edgex_name(name),
                "baseCoinId": self.edgex_coin_id(name), "quoteCoinId": "1000", "tickSize": "0.1", "stepSize": "0.001",
                "minOrderSize": "0.001", "maxOrderSize": "100", "defaultTakerFeeRate": "0.00045",
                "defaultMakerFeeRate": "0.0004", "defaultLeverage": "10", "liquidateFeeRate": "0.01",
                "enableTrade": enabled, "enableDisplay": enabled, "enableOpenPosition": enabled,
                "fundingInterestRate": "0.0003", "fundingImpactMarginNotional": "10", "fundingMaxRate": "0.004",
                "fundingMinRate": "-0.004", "fundingRateIntervalMin": "240", "isStock": False, "isFx": False,
            })
        data = {"global": {"collateralCoinId": "1000", "maxFundingRate": 12000}, "coinList": coins,
                "contractList": contracts}
        return self._edgex_envelope(data, now_ms)

    def _edgex_funding_row(self, name: str, at_ms: int, now_ms: int, *, settlement: bool) -> dict[str, Any]:
        """A getLatestFundingRate row (settlement=False: running forecast for the next 4 h boundary, `fundingRate`
        the last settled one) or a getFundingRatePage settlement row (settlement=True, at a boundary)."""
        period = 4 * HOUR_MS
        settled_at = at_ms // period * period
        px = self.price("edgex", name, at_ms) * self.multiplier(name)
        row = {"contractId": self.edgex_contract_id(name), "fundingTime": str(settled_at),
               "fundingTimestamp": str(settled_at if settlement else now_ms), "oraclePrice": num(px, 18),
               "markPrice": num(px, 18), "indexPrice": num(px * 1.0002, 15),
               "fundingRate": rate_str(self.settled_1h("edgex", name, settled_at) * 4), "isSettlement": settlement,
               "forecastFundingRate": "" if settlement else rate_str(self.rate_1h("edgex", name, now_ms) * 4),
               "previousFundingRate": rate_str(self.settled_1h("edgex", name, settled_at - period) * 4),
               "interestRate": "0.0003", "predictedFundingRate": "0.00005000", "fundingRateIntervalMin": "240",
               "fundingIndex": num(px, 18)}
        return row if settlement else self._pinned("edgex", self.edgex_name(name), row)

    def edgex_latest_funding(self, contract_ids: str | None, now_ms: int) -> dict[str, Any]:
        """getLatestFundingRate?contractId=<comma-joined ids> (many in one call)."""
        by_id = self._edgex_by_id()
        wanted = [i for i in (contract_ids or "").split(",") if i in by_id]
        return self._edgex_envelope([self._edgex_funding_row(by_id[i], now_ms, now_ms, settlement=False)
                                     for i in wanted], now_ms)

    def edgex_ticker(self, contract_id: str | None, now_ms: int) -> dict[str, Any]:
        """V2 getTicker answers ONE contract: no id, an unknown id or comma-joined ids -> data: []."""
        name = self._edgex_by_id().get(contract_id or "")
        if name is None:
            return self._edgex_envelope([], now_ms)
        px = self.price("edgex", name, now_ms) * self.multiplier(name)
        a = self.assets[name]
        period = 4 * HOUR_MS
        funding_time = now_ms // period * period
        row = {
            "contractId": self.edgex_contract_id(name), "contractName": self.edgex_name(name),
            "priceChange": num(px * 0.01), "priceChangePercent": "0.010000", "trades": str(int(a.volume_usd / 9000)),
            "size": num(a.volume_usd * 0.03 / px, 10), "value": num(a.volume_usd * 0.03, 14),
            "high": num(px * 1.02), "low": num(px * 0.98), "open": num(px * 0.99), "close": num(px),
            "highTime": str(now_ms - 3_600_000), "lowTime": str(now_ms - 7_200_000),
            "startTime": str(now_ms - 86_400_000), "endTime": str(now_ms), "lastPrice": num(px),
            "indexPrice": num(px * 1.0002, 15), "oraclePrice": num(px, 18), "markPrice": num(px, 18),
            "openInterest": num(a.oi_usd * 0.01 / px, 10),
            "fundingRate": rate_str(self.rate_1h("edgex", name, now_ms) * 4),
            "fundingTime": str(funding_time), "nextFundingTime": str(funding_time + period),
        }
        return self._edgex_envelope([self._pinned("edgex", row["contractName"], row)], now_ms)

    def edgex_funding_page(self, contract_id: str, size: int, offset: str, start_ms: int, end_ms: int,
                           now_ms: int) -> dict[str, Any]:
        """Settlement rows every 4 h, newest first (as V2 pages them); offsetData = the next (older) boundary."""
        name = self._edgex_by_id().get(contract_id)
        rows: list[dict[str, Any]] = []
        step = 4 * HOUR_MS
        end = min(end_ms, now_ms)
        t = int(offset) if offset else (end - 1) // step * step
        if name is not None:
            while t >= start_ms and len(rows) < size:
                rows.append(self._edgex_funding_row(name, t, now_ms, settlement=True))
                t -= step
        more = name is not None and t >= start_ms
        return self._edgex_envelope({"dataList": rows, "nextPageOffsetData": str(t) if more else ""}, now_ms)

    def edgex_v1(self, path: str, now_ms: int) -> dict[str, Any]:
        """The deprecated V1 API as it answered on 2026-09-13 (DEX_APIS_2026-12 §2.1): getMetaData still lists the
        V1 contracts (ids 1000000x, USDT), every data call (funding, ticker, history) answers SUCCESS with data: []."""
        if path != "/meta/getMetaData":
            return self._edgex_envelope([], now_ms)
        contracts = [{"contractId": str(10000001 + ASSET_NAMES.index(n)), "contractName": f"{self.edgex_base(n)}USDT",
                      "baseCoinId": self.edgex_coin_id(n), "quoteCoinId": "1000", "enableTrade": True,
                      "enableDisplay": True, "fundingRateIntervalMin": "240", "defaultTakerFeeRate": "0.00055",
                      "defaultMakerFeeRate": "0.0002"} for n in self.listings["edgex"]]
        coins = [{"coinId": "1000", "coinName": "USDT"},
                 *({"coinId": self.edgex_coin_id(n), "coinName": self.edgex_base(n)} for n in self.listings["edgex"])]
        return self._edgex_envelope({"global": {"appName": "edgeX"}, "coinList": coins, "contractList": contracts}, now_ms)


def garbage_body() -> bytes:
    """What a broken upstream might send with a 200: truncated JSON."""
    return b'{"result": [{"instrument": "BTC_USDT_Perp", "funding_rate": 0.00'


def wrong_shape_body() -> bytes:
    """Valid JSON with the wrong shape: must raise ParseError, never yield zeros."""
    return json.dumps({"error": None, "data": "maintenance"}).encode()

