"""Cross-venue unit sanity check: is one venue's normalized rate_1h off by a unit factor (8, 24, 100, their
inverses, or a flipped sign)? Pure: snapshots in, one verdict per venue out.

Why it works: nearly every venue's quiet-market rate is the 0.01 %/8 h interest term (rate_1h 0.0000125),
so the venues' typical rates on their liquid markets agree within a small factor. A venue whose parser
takes 8 h rates for 1 h ones reads ~8x the others; percent taken for fraction ~100x; and so on.

Per venue:
- majors: BTC, ETH, SOL plus its TOP_BY_OI markets by open_interest_usd (at most 3 + TOP_BY_OI markets);
  its level = the median rate_1h over them (needs MIN_MAJORS markets);
- coherent: at least COHERENT_SHARE of its majors carry the sign of that median (a venue whose majors sit
  around zero with mixed signs, or at exactly zero, is never called suspect);
- reference: not "the median of the other venues" (with two bad venues of five, the other four's median is
  the mean of a good and a bad one), but the median level of the largest group of venues that agree with
  each other within AGREE (same sign, ratio in [1/AGREE, AGREE]); at least MIN_GROUP venues, no tie with
  another group, and at least MIN_VENUES judged venues in all;
- ratio = level / reference; `suspect` with `factor` c when ratio is within TOLERANCE of c for a c in
  FACTORS; `ok` otherwise (a ratio off by an unlisted factor is shown, not flagged); `unknown` when
  the venue or the cycle has too little to judge.
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
COHERENT_SHARE = 2 / 3    # two thirds of a venue's majors must share its median's sign
MIN_LEVEL_1H = 2e-6       # |level| below this (16 % of the 0.0000125 baseline) takes no part in the reference
FACTORS = (8.0, 24.0, 100.0, 1 / 8, 1 / 24, 1 / 100, -1.0, -8.0, -24.0, -100.0, -1 / 8, -1 / 24, -1 / 100)


@dataclass(frozen=True, slots=True)
class UnitVerdict:
    dex: str
    status: str                         # ok | suspect | unknown
    factor: Decimal | None = None       # the unit factor it is off by (dimensionless), when suspect
    ratio: Decimal | None = None        # measured level / reference (dimensionless)
    median_rate_1h: Decimal | None = None     # the venue's level: median rate_1h of its majors (fraction per hour)
    reference_rate_1h: Decimal | None = None  # the agreeing venues' median level (fraction per hour)
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


def _agree(a: float, b: float) -> bool:
    return a * b > 0 and abs(math.log(abs(a) / abs(b))) <= math.log(AGREE)


def _reference(levels: dict[str, float]) -> tuple[float | None, str]:
    """Median level of the largest agreeing group (None and why when there is no clear one)."""
    strong = {d: v for d, v in levels.items() if abs(v) >= MIN_LEVEL_1H}
    groups = {frozenset(u for u, w in strong.items() if _agree(v, w)) for v in strong.values()}
    best = max((len(g) for g in groups), default=0)
    top = [g for g in groups if len(g) == best]
    if best < MIN_GROUP:
        return None, f"no {MIN_GROUP} venues agree on a level (|median rate_1h| >= {MIN_LEVEL_1H})"
    if len(top) > 1:
        return None, "two equally large groups of venues disagree: no reference"
    return float(median(strong[d] for d in top[0])), ""


def check(snapshots: Iterable[MarketSnapshot]) -> dict[str, UnitVerdict]:
    """{dex: UnitVerdict} over the latest (fresh) snapshots of every venue."""
    by_dex: dict[str, list[MarketSnapshot]] = {}
    for s in snapshots:
        by_dex.setdefault(s.dex, []).append(s)
    chosen = {dex: majors(snaps) for dex, snaps in by_dex.items()}
    levels = {dex: float(median(s.rate_1h for s in m)) for dex, m in chosen.items() if len(m) >= MIN_MAJORS}
    out: dict[str, UnitVerdict] = {}
    for dex in sorted(chosen):
        if dex not in levels:
            out[dex] = UnitVerdict(dex, "unknown", majors=len(chosen[dex]),
                                   reason=f"{len(chosen[dex])} liquid markets, {MIN_MAJORS} needed")
    if len(levels) < MIN_VENUES:
        for dex in levels:
            out[dex] = UnitVerdict(dex, "unknown", median_rate_1h=_dec(levels[dex]), majors=len(chosen[dex]),
                                   reason=f"{len(levels)} venues with enough markets, {MIN_VENUES} needed")
        return dict(sorted(out.items()))
    reference, why = _reference(levels)
    for dex, level in levels.items():
        m = chosen[dex]
        if reference is None:
            out[dex] = UnitVerdict(dex, "unknown", median_rate_1h=_dec(level), majors=len(m), reason=why)
            continue
        ratio = level / reference
        coherent = sum(1 for s in m if s.rate_1h != 0 and (s.rate_1h > 0) == (level > 0)) >= COHERENT_SHARE * len(m)
        factor = next((f for f in FACTORS if _near(ratio, f)), None)
        if factor is not None and level != 0 and coherent:
            status, reason = "suspect", (f"median rate_1h {level:.3g} over {len(m)} majors is {ratio:.3g}x the "
                                         f"agreeing venues' {reference:.3g}: a unit error of x{_factor(factor)}?")
        else:
            status, factor = "ok", None
            reason = f"ratio {ratio:.3g} to the reference: " + (
                "within the agreeing range" if _agree(level, reference) else
                "off by no known unit factor" if coherent else "majors around zero")
        out[dex] = UnitVerdict(dex, status, factor=None if factor is None else _factor(factor),
                               ratio=_dec(ratio, 4), median_rate_1h=_dec(level), reference_rate_1h=_dec(reference),
                               majors=len(m), reason=reason)
    return dict(sorted(out.items()))


def _dec(value: float, digits: int = 3) -> Decimal:
    """A float statistic as a Decimal with `digits` significant digits (display, not arithmetic)."""
    return Decimal(f"{value:.{digits}g}")


def _factor(f: float) -> Decimal:
    """8 -> 8, 1/24 -> 0.04167, -1 -> -1."""
    return Decimal(f"{f:.4g}") if abs(f) < 1 else Decimal(round(f))
