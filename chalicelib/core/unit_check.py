"""Cross-venue unit sanity check: is one venue's normalized rate_1h off by a unit factor (8, 24, 100, their
inverses, or a flipped sign)? Pure: snapshots in, one verdict per venue out.

Why it works: nearly every venue's quiet-market rate is the 0.01 %/8 h interest term (rate_1h 0.0000125),
so the venues' typical rates on their liquid markets agree within a small factor. A venue whose parser
takes 8 h rates for 1 h ones reads ~8x the others; percent taken for fraction ~100x; and so on.

Per venue, on the latest fresh snapshots:
- majors: BTC, ETH, SOL plus its TOP_BY_OI markets by open_interest_usd (at most 3 + TOP_BY_OI markets;
  MIN_MAJORS needed). Rates are compared SYMBOL BY SYMBOL (BTC with BTC): assets differ far more from each
  other than venues do on one asset, so per-symbol ratios are tight where venue-wide medians are not;
- reference venues: the largest group of venues that agree pairwise (the median over common majors of
  rate_v / rate_u lies in [1/AGREE, AGREE]); at least MIN_GROUP venues, no tie with another group, and
  MIN_VENUES judged venues in all. Not "the median of the other venues": with two bad venues of five,
  a good venue's other four have a median halfway between a good and a bad one;
- ratio = median over its majors of rate_1h / (median rate_1h of the reference venues on that symbol,
  itself excluded), symbols whose reference is under MIN_LEVEL_1H in size skipped;
- `suspect` with `factor` c when the ratio is within TOLERANCE of a c in FACTORS and at least
  COHERENT_SHARE of its per-symbol ratios have c's sign (majors at or around zero are never suspect);
  `ok` otherwise (a ratio off by an unlisted factor is shown, not flagged); `unknown` when the venue or
  the cycle has too little to judge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from chalicelib.core.models import MarketSnapshot

CORE_MAJORS = ("BTC", "ETH", "SOL")
TOP_BY_OI = 7             # plus the venue's 7 largest markets by OI: up to 10 majors per venue
MIN_MAJORS = 3            # fewer than 3 liquid markets: the venue's level is one market's mood
MIN_VENUES = 3            # two venues cannot say which of them is wrong
MIN_GROUP = 2             # the reference is what at least two venues agree on
AGREE = 2.5               # venues' quiet levels differ by up to ~2x; the nearest flagged factor is 8/1.5 = 5.3
TOLERANCE = 1.5           # ratio within [c/1.5, c*1.5]: 8 -> [5.3, 12], 24 -> [16, 36], 100 -> [67, 150]; disjoint
COHERENT_SHARE = 0.75     # three quarters of the per-symbol ratios must carry the factor's sign
MIN_LEVEL_1H = 2e-6       # a reference rate below this (16 % of the 0.0000125 baseline) is too small to divide by
FACTORS = (8.0, 24.0, 100.0, 1 / 8, 1 / 24, 1 / 100, -1.0, -8.0, -24.0, -100.0, -1 / 8, -1 / 24, -1 / 100)


@dataclass(frozen=True, slots=True)
class UnitVerdict:
    dex: str
    status: str                         # ok | suspect | unknown
    factor: Decimal | None = None       # the unit factor it is off by (dimensionless), when suspect
    ratio: Decimal | None = None        # measured level / reference (dimensionless)
    median_rate_1h: Decimal | None = None     # median rate_1h of the venue's majors (fraction per hour)
    reference_rate_1h: Decimal | None = None  # median of the agreeing venues' median rate_1h (fraction per hour)
    majors: int = 0                     # markets the level was taken over
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "factor": self.factor, "ratio": self.ratio,
                "median_rate_1h": self.median_rate_1h, "reference_rate_1h": self.reference_rate_1h,
                "majors": self.majors, "reason": self.reason}


def majors(snapshots: Iterable[MarketSnapshot]) -> list[MarketSnapshot]:
    """One venue's liquid majors: BTC, ETH, SOL and its TOP_BY_OI markets by open interest (USD)."""
    snaps = list(snapshots)
    core = [s for s in snaps if s.symbol in CORE_MAJORS]
    rest = sorted((s for s in snaps if s.symbol not in CORE_MAJORS and s.open_interest_usd is not None),
                  key=lambda s: (-(s.open_interest_usd or 0), s.symbol))
    return core + rest[:TOP_BY_OI]


def _near(ratio: float, factor: float) -> bool:
    return ratio * factor > 0 and abs(math.log(abs(ratio) / abs(factor))) <= math.log(TOLERANCE)


def _ratios(mine: dict[str, float], ref: dict[str, float]) -> list[float]:
    """rate / reference rate over the symbols both have, skipping references too small to divide by."""
    return [mine[s] / ref[s] for s in mine if s in ref and abs(ref[s]) >= MIN_LEVEL_1H]


def _group(chosen: dict[str, dict[str, float]], rates: dict[str, dict[str, float]]) -> tuple[frozenset[str], str]:
    """The largest set of venues agreeing pairwise on their common majors (empty and why when none is clear)."""
    def agree(v: str, u: str) -> bool:
        ratios = _ratios(chosen[v], rates[u])
        return len(ratios) >= MIN_MAJORS and 1 / AGREE <= median(ratios) <= AGREE

    groups = {frozenset([v, *(u for u in chosen if u != v and agree(v, u) and agree(u, v))]) for v in chosen}
    best = max((len(g) for g in groups), default=0)
    top = [g for g in groups if len(g) == best]
    if best < MIN_GROUP:
        return frozenset(), f"no {MIN_GROUP} venues agree on their common majors"
    if len(top) > 1:
        return frozenset(), "two equally large groups of venues disagree: no reference"
    return top[0], ""


def check(snapshots: Iterable[MarketSnapshot]) -> dict[str, UnitVerdict]:
    """{dex: UnitVerdict} over the latest (fresh) snapshots of every venue."""
    by_dex: dict[str, list[MarketSnapshot]] = {}
    for s in snapshots:
        by_dex.setdefault(s.dex, []).append(s)
    rates = {dex: {s.symbol: float(s.rate_1h) for s in snaps} for dex, snaps in by_dex.items()}
    picked = {dex: majors(snaps) for dex, snaps in by_dex.items()}
    chosen = {dex: {s.symbol: float(s.rate_1h) for s in m} for dex, m in picked.items() if len(m) >= MIN_MAJORS}
    out = {dex: UnitVerdict(dex, "unknown", majors=len(m), reason=f"{len(m)} liquid markets, {MIN_MAJORS} needed")
           for dex, m in picked.items() if dex not in chosen}
    group, why = _group(chosen, rates) if len(chosen) >= MIN_VENUES else (
        frozenset(), f"{len(chosen)} venues with enough markets, {MIN_VENUES} needed")
    levels = {dex: median(m.values()) for dex, m in chosen.items()}
    reference = median(levels[d] for d in group) if group else None
    for dex, mine in chosen.items():
        level = levels[dex]
        others = [u for u in group if u != dex]
        ref = {s: median(rates[u][s] for u in others if s in rates[u])
               for s in mine if any(s in rates[u] for u in others)}
        ratios = _ratios(mine, ref)
        if reference is None or len(ratios) < MIN_MAJORS:
            out[dex] = UnitVerdict(dex, "unknown", median_rate_1h=_dec(level), majors=len(mine), reason=why or (
                f"{len(ratios)} majors comparable with the reference venues, {MIN_MAJORS} needed"))
            continue
        ratio = median(ratios)
        factor = next((f for f in FACTORS if _near(ratio, f)), None)
        coherent = factor is not None and sum(1 for r in ratios if r * factor > 0) >= COHERENT_SHARE * len(ratios)
        if factor is not None and coherent:
            status, reason = "suspect", (f"rate_1h on {len(ratios)} majors is {ratio:.3g}x the agreeing venues' "
                                         f"on the same symbols: a unit error of x{_factor(factor)}?")
        else:
            note = ("within the agreeing range" if 1 / AGREE <= ratio <= AGREE else
                    "off by no known unit factor" if factor is None else "majors around zero (signs disagree)")
            status, factor, reason = "ok", None, f"{ratio:.3g}x the agreeing venues on {len(ratios)} majors: {note}"
        out[dex] = UnitVerdict(dex, status, factor=None if factor is None else _factor(factor),
                               ratio=_dec(ratio, 4), median_rate_1h=_dec(level), reference_rate_1h=_dec(reference),
                               majors=len(mine), reason=reason)
    return dict(sorted(out.items()))


def _dec(value: float, digits: int = 3) -> Decimal:
    """A float statistic as a Decimal with `digits` significant digits (display, not arithmetic)."""
    return Decimal(f"{value:.{digits}g}")


def _factor(f: float) -> Decimal:
    """8 -> 8, 1/24 -> 0.04167, -1 -> -1."""
    return Decimal(f"{f:.4g}") if abs(f) < 1 else Decimal(round(f))
