"""Calibration: what a venue PUBLISHED before each settlement against what it PAID. Pure functions.

Input: pairs (settlement, the last rate the service collected for that market before it), both in
`rate_1h` terms (fraction per hour, positive: longs pay). Output per venue:

- the implied factor = median of settled / published over pairs where both are above a noise floor
  (a robust ratio: one odd market does not move it); negative = the sign is flipped;
- sign agreement (share of such pairs with the same sign) and the sample count;
- a verdict: `verified` (factor within VERIFIED_BAND of 1 and signs mostly agree), `unit_mismatch`
  (anything else with enough samples: a factor near 8, 1/8, 24, 100, 1/100, or a sign flip names
  the likely unit error in `suspected`), `unverified` (too few samples above the noise floor);
- forecast accuracy: bias and mean absolute error of published - settled (in rate_1h and in APR
  percentage points), and the sign hit rate, per window (24 h / 7 d / 30 d), per venue and market.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

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
    settled_1h: Decimal        # what the settlement paid, per hour of its interval
    published_1h: Decimal      # the last collected rate_1h before it


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


def calibrate(dex: str, pairs: Iterable[Pair], *, window_hours: int, noise_floor: Decimal = NOISE_FLOOR_1H,
              min_samples: int = MIN_SAMPLES) -> Verdict:
    """The verdict for one venue from its pairs within the window (the caller selects the window)."""
    all_pairs = list(pairs)
    strong = [p for p in all_pairs if abs(p.published_1h) > noise_floor and abs(p.settled_1h) > noise_floor]
    if len(strong) < min_samples:
        return Verdict(dex, UNVERIFIED, None, None, len(strong), len(all_pairs),
                       f"{len(strong)} pairs above the noise floor, {min_samples} needed", window_hours)
    factor = Decimal(median([p.settled_1h / p.published_1h for p in strong]))
    agree = Decimal(sum(1 for p in strong if (p.settled_1h > 0) == (p.published_1h > 0))) / len(strong)
    verified = factor > 0 and 1 / VERIFIED_BAND <= factor <= VERIFIED_BAND and agree >= MIN_SIGN_AGREEMENT
    return Verdict(dex, VERIFIED if verified else UNIT_MISMATCH, factor.quantize(Decimal("0.0001")),
                   agree.quantize(Decimal("0.0001")), len(strong), len(all_pairs),
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


def report(dex: str, pairs: Sequence[Pair], *, now_ms: int, verdict_window_hours: int = 72,
           windows_h: Sequence[int] = WINDOWS_H, per_market: bool = True) -> dict[str, object]:
    """Verdict over the verdict window, accuracy per window for the venue and (optionally) per market.

    One pass: each pair adds to ONE age band of its market (bands between consecutive windows); the
    windows are cumulative sums of the bands, the venue the sum of its markets."""
    windows = sorted(windows_h)
    limits = [h * 3_600_000 for h in windows]
    verdict_cut = now_ms - verdict_window_hours * 3_600_000
    markets: dict[str, list[list[float]]] = {}
    recent: list[Pair] = []
    for p in pairs:
        if p.time_ms >= verdict_cut:
            recent.append(p)
        age = now_ms - p.time_ms
        for band, limit in enumerate(limits):
            if age < limit:
                bands = markets.get(p.symbol)
                if bands is None:
                    bands = markets[p.symbol] = [_cell() for _ in limits]
                _add(bands[band], p)
                break
    venue_bands = [[sum(col) for col in zip(*(m[b] for m in markets.values()), strict=True)] if markets else _cell()
                   for b in range(len(limits))]
    names = [f"{h}h" for h in windows]
    verdict = calibrate(dex, recent, window_hours=verdict_window_hours)
    out: dict[str, object] = {"dex": dex, "verdict": verdict.as_dict(),
                              "accuracy": {n: _result(c).as_dict() for n, c in zip(names, _cumulative(venue_bands), strict=True)}}
    if per_market:
        out["markets"] = {sym: {n: _result(c).as_dict() for n, c in zip(names, _cumulative(bands), strict=True) if c[_N]}
                          for sym, bands in sorted(markets.items())}
    return out
