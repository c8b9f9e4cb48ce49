"""Calibration: what a venue PUBLISHED before each settlement against what it PAID. Pure functions.

Input: pairs (settlement, the last rate the service collected for that market before it), both in
`rate_1h` terms (fraction per hour, positive: longs pay). Output per venue:

- the implied factor = a robust slope of settled on published through the origin: the least-absolute-
  deviation slope, i.e. the median of settled / published weighted by |published| (equal weights: the
  plain median), over pairs whose PUBLISHED rate is above a noise floor. Why: a ratio's noise is its
  denominator's (a rate near zero, or quantised like Lighter's and GRVT's 0.0001 %, swings the ratio
  most), so those pairs count least; one odd market does not move it; the floor is on the published side
  only, so a venue paying x1/100 (settled values near zero) is still measured, not "too few samples".
  Negative = the sign is flipped;
- sign agreement (share of such pairs with the same sign) and the sample count;
- a verdict: `verified` (factor within VERIFIED_BAND of 1 and signs mostly agree), `unit_mismatch`
  (anything else with enough samples: a factor near 8, 1/8, 24, 100, 1/100, or a sign flip names
  the likely unit error in `suspected`), `unverified` (too few samples above the noise floor);
- forecast accuracy: bias and mean absolute error of published - settled (in rate_1h and in APR
  percentage points), and the sign hit rate, per window (24 h / 7 d / 30 d), per venue and market.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

HOURS_PER_YEAR = Decimal(8760)
NOISE_FLOOR_1H = Decimal("0.000002")     # |rate_1h| below 0.0002 %/h: too close to 0 for a ratio to mean much
MIN_SAMPLES = 12                         # pairs above the floor needed for a verdict
VERIFIED_BAND = Decimal("1.5")           # factor within [1/1.5, 1.5] and signs agreeing -> verified
MIN_SIGN_AGREEMENT = Decimal("0.6")
NAMED_FACTORS = (Decimal(8), Decimal(24), Decimal(100), Decimal(2), Decimal(1) / 8, Decimal(1) / 24,
                 Decimal(1) / 100, Decimal("0.5"))
NAMED_TOLERANCE = Decimal("0.2")         # within ±20 % of a named factor: that is the suspected error
WINDOWS_H = (24, 168, 720)               # accuracy windows: 24 h, 7 d, 30 d
VERIFIED, UNVERIFIED, UNIT_MISMATCH = "verified", "unverified", "unit_mismatch"


@dataclass(frozen=True, slots=True)
class Pair:
    dex: str
    symbol: str
    time_ms: int               # settlement instant
    settled_1h: Decimal | float     # what the settlement paid, per hour of its interval
    published_1h: Decimal | float   # the last collected rate_1h before it


@dataclass(frozen=True, slots=True)
class Verdict:
    dex: str
    status: str                # verified | unverified | unit_mismatch
    factor: Decimal | None     # settled / published (median); None when unverified for lack of samples
    sign_agreement: Decimal | None
    samples: int               # pairs above the noise floor
    pairs: int                 # all pairs in the window
    suspected: str | None      # e.g. "x8", "x1/100", "sign flipped", "x2.7 (no known unit error)"
    window_hours: int

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "factor": self.factor, "sign_agreement": self.sign_agreement,
                "samples": self.samples, "pairs": self.pairs, "suspected": self.suspected,
                "window_hours": self.window_hours}


def _name(factor: Decimal) -> str:
    if factor < 0:
        magnitude = _name(-factor)
        return "sign flipped" if magnitude == "x1" else f"sign flipped and {magnitude}"
    for named in (Decimal(1), *NAMED_FACTORS):
        if abs(factor / named - 1) <= NAMED_TOLERANCE:
            return f"x1/{int(1 / named)}" if named < 1 else f"x{int(named)}"
    return f"x{factor:.3g} (no known unit error)"


def robust_slope(points: Sequence[tuple[float, float]]) -> float:
    """The slope f minimising sum |settled - f x published| over (published, settled) points (published != 0):
    the weighted median of settled / published with weights |published|. When the cumulative weight reaches
    exactly half at a point, the mean of it and the next ratio (equal weights: the ordinary median)."""
    ranked = sorted((s / p, abs(p)) for p, s in points)
    half = sum(w for _, w in ranked) / 2
    run = 0.0
    for i, (ratio, w) in enumerate(ranked):
        run += w
        if run > half * (1 + 1e-12):
            return ratio
        if run >= half * (1 - 1e-12):
            return (ratio + ranked[i + 1][0]) / 2 if i + 1 < len(ranked) else ratio
    return ranked[-1][0]


def _dec(x: float, places: str = "0.0001") -> Decimal:
    return Decimal(format(x, ".12g")).quantize(Decimal(places))


def calibrate(dex: str, pairs: Iterable[Pair], *, window_hours: int, noise_floor: Decimal = NOISE_FLOOR_1H,
              min_samples: int = MIN_SAMPLES) -> Verdict:
    """The verdict for one venue from its pairs within the window (the caller selects the window)."""
    return verdict(dex, ((p.published_1h, p.settled_1h) for p in pairs), window_hours=window_hours,
                   noise_floor=noise_floor, min_samples=min_samples)


def verdict(dex: str, points: Iterable[tuple[Decimal | float, Decimal | float]], *, window_hours: int,
            noise_floor: Decimal = NOISE_FLOOR_1H, min_samples: int = MIN_SAMPLES) -> Verdict:
    """The verdict from (published_1h, settled_1h) points. Floats: a unit verdict needs 4 significant digits,
    not Decimal's 28 (and floats are ~10x faster)."""
    floor = float(noise_floor)
    strong, total = [], 0
    for published, settled in points:
        total += 1
        pub = float(published)
        if pub > floor or pub < -floor:
            strong.append((pub, float(settled)))
    if len(strong) < min_samples:
        return Verdict(dex, UNVERIFIED, None, None, len(strong), total,
                       f"{len(strong)} pairs above the noise floor, {min_samples} needed", window_hours)
    f = robust_slope(strong)
    agree = sum(1 for pub, st in strong if (st > 0) == (pub > 0) and st != 0) / len(strong)
    factor, agreement = _dec(f), _dec(agree)
    verified = factor > 0 and 1 / VERIFIED_BAND <= factor <= VERIFIED_BAND and agreement >= MIN_SIGN_AGREEMENT
    return Verdict(dex, VERIFIED if verified else UNIT_MISMATCH, factor, agreement, len(strong), total,
                   None if verified else _name(factor), window_hours)


@dataclass(frozen=True, slots=True)
class Accuracy:
    samples: int
    bias_1h: Decimal | None            # mean(published - settled), fraction per hour (+: published too high)
    mae_1h: Decimal | None             # mean |published - settled|, fraction per hour
    bias_apr_points: Decimal | None    # the same in APR percentage points (x 8760 x 100)
    mae_apr_points: Decimal | None
    sign_hit_rate: Decimal | None      # share of pairs (both non-zero) whose signs agree

    def as_dict(self) -> dict[str, object]:
        return {"samples": self.samples, "bias_1h": self.bias_1h, "mae_1h": self.mae_1h,
                "bias_apr_points": self.bias_apr_points, "mae_apr_points": self.mae_apr_points,
                "sign_hit_rate": self.sign_hit_rate}


_TO_APR = 8760 * 100
_N, _SIGNED, _HITS, _DIFF, _ABS = range(5)     # one accuracy cell: [n, signed, hits, sum diff, sum |diff|]


def _d(x: float) -> Decimal:
    """Statistics are summed in binary floating point; 12 significant digits are kept."""
    return Decimal(format(x, ".12g"))


def _cell() -> list[float]:
    return [0, 0, 0, 0.0, 0.0]


def _add(cell: list[float], p: Pair) -> None:
    pub, st = float(p.published_1h), float(p.settled_1h)
    diff = pub - st
    cell[_N] += 1
    cell[_DIFF] += diff
    cell[_ABS] += diff if diff >= 0 else -diff
    if pub and st:
        cell[_SIGNED] += 1
        cell[_HITS] += (pub > 0) == (st > 0)


def _result(cell: list[float]) -> Accuracy:
    n = int(cell[_N])
    if not n:
        return Accuracy(0, None, None, None, None, None)
    bias, mae = cell[_DIFF] / n, cell[_ABS] / n
    return Accuracy(n, _d(bias), _d(mae), _d(bias * _TO_APR), _d(mae * _TO_APR),
                    _d(cell[_HITS] / cell[_SIGNED]) if cell[_SIGNED] else None)


def _cumulative(bands: list[list[float]]) -> list[list[float]]:
    """Disjoint age bands [0, w0), [w0, w1), ... -> windows [0, w0), [0, w1), ..."""
    out, run = [], _cell()
    for band in bands:
        run = [a + b for a, b in zip(run, band, strict=True)]
        out.append(run)
    return out


def accuracy(pairs: Sequence[Pair]) -> Accuracy:
    cell = _cell()
    for p in pairs:
        _add(cell, p)
    return _result(cell)


Bands = Mapping[str, Sequence[Sequence[float]]]
"""{symbol: one accuracy cell [n, signed, hits, sum(pub - set), sum |pub - set|] per age band}: band k holds the
pairs with windows[k-1] <= age < windows[k] (hours, ascending; band 0 from age 0). Built here from pairs
(`bands`), or summed by the database over stored pairs (storage `calibration_bands`, the settlement run's path)."""


def bands(pairs: Iterable[Pair], *, now_ms: int, windows_h: Sequence[int] = WINDOWS_H) -> dict[str, list[list[float]]]:
    """Each pair adds to ONE age band of its market; pairs older than the widest window are left out."""
    limits = [h * 3_600_000 for h in sorted(windows_h)]
    markets: dict[str, list[list[float]]] = {}
    for p in pairs:
        age = now_ms - p.time_ms
        for band, limit in enumerate(limits):
            if age < limit:
                cells = markets.get(p.symbol)
                if cells is None:
                    cells = markets[p.symbol] = [_cell() for _ in limits]
                _add(cells[band], p)
                break
    return markets


def summarize(dex: str, recent: Iterable[tuple[Decimal | float, Decimal | float]], markets: Bands, *,
              verdict_window_hours: int = 72, windows_h: Sequence[int] = WINDOWS_H,
              per_market: bool = True) -> dict[str, object]:
    """Verdict over `recent` ((published_1h, settled_1h) of the verdict window), accuracy per window for the venue
    and (optionally) per market from the bands: windows are cumulative sums of the bands, the venue the sum of
    its markets."""
    windows = sorted(windows_h)
    n_bands = len(windows)
    venue_bands = [[sum(m[b][k] for m in markets.values()) for k in range(5)] if markets else _cell()
                   for b in range(n_bands)]
    names = [f"{h}h" for h in windows]
    judged = verdict(dex, recent, window_hours=verdict_window_hours)
    out: dict[str, object] = {"dex": dex, "verdict": judged.as_dict(),
                              "accuracy": {n: _result(c).as_dict() for n, c in zip(names, _cumulative(venue_bands), strict=True)}}
    if per_market:
        out["markets"] = {sym: {n: _result(c).as_dict() for n, c in zip(names, _cumulative([list(b) for b in cells]),
                                                                         strict=True) if c[_N]}
                          for sym, cells in sorted(markets.items())}
    return out


def report(dex: str, pairs: Sequence[Pair], *, now_ms: int, verdict_window_hours: int = 72,
           windows_h: Sequence[int] = WINDOWS_H, per_market: bool = True) -> dict[str, object]:
    """`summarize` over in-memory pairs: the verdict window's pairs and their bands, in one pass each."""
    verdict_cut = now_ms - verdict_window_hours * 3_600_000
    return summarize(dex, [(p.published_1h, p.settled_1h) for p in pairs if p.time_ms >= verdict_cut],
                     bands(pairs, now_ms=now_ms, windows_h=windows_h),
                     verdict_window_hours=verdict_window_hours, windows_h=windows_h, per_market=per_market)
