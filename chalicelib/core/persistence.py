"""Persistence of an opportunity: how long it has lived, what its divergence did over 24 h / 7 d, what it
really paid. Pure: hourly rates, sums and spells in; fields out.

Divergence statistics work on CLOCK HOURS. A market's hourly rate is the average `rate_8h` of what was
stored in that hour (funding_rates: collected and backfilled rows); a pair's hourly divergence is
`rate_8h(b) - rate_8h(a)` for the hours both legs have one. Over the 24 and 168 COMPLETED hours before
the current one:

- `avg_divergence_*`: mean of the hourly divergences (fraction per 8 h, the opportunity's orientation:
  short leg minus long leg);
- `cv_*`: coefficient of variation, population std / |mean| (unitless; None when the mean is 0);
- `sign_held_*`: hours whose divergence is > 0 (the opportunity's sign) / the window's hours (24 or
  168): an hour without data on either leg counts as not held.

Incremental summary (`Sums`): per unordered pair (`SYM:a:b`, a < b by name) the count, sum, sum of
squares, positive and negative hours of each window. Each clock hour it is ROLLED: the hour just
completed is added, the hours that left the windows are subtracted (`roll`), so a run costs one pass
over the pairs of three hours, whatever the window length. `rebuild` starts it from 168 hours.

Realized returns (`realized_fields`) wire core.backtest.realized: per leg the settled funding of the
window (settlements of that venue, its own instants and interval) or, where the market has no
settlements yet, the collected hourly rates accrued (`source` says which).
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from chalicelib.core.backtest import realized
from chalicelib.core.models import Opportunity

HOUR_MS = 3_600_000
WINDOWS: tuple[tuple[str, int], ...] = (("24h", 24), ("7d", 168))
_EIGHT = Decimal(8)

HourRates = Mapping[tuple[str, str], float]   # (symbol, dex) -> average rate_8h of one clock hour


def hour_start(ms: int) -> int:
    return ms - ms % HOUR_MS


def pair_divergences(rates: HourRates) -> dict[str, float]:
    """{`SYM:a:b` (a < b): rate_8h(b) - rate_8h(a)} of one hour, for every pair with both legs present."""
    by_symbol: dict[str, list[tuple[str, float]]] = {}
    for (symbol, dex), rate in rates.items():
        by_symbol.setdefault(symbol, []).append((dex, rate))
    out: dict[str, float] = {}
    for symbol, legs in by_symbol.items():
        legs.sort()
        for i, (a, ra) in enumerate(legs):
            prefix = f"{symbol}:{a}:"
            for b, rb in legs[i + 1:]:
                out[prefix + b] = rb - ra
    return out


class Sums:
    """Per pair, per window: [n, sum, sum of squares, hours > 0, hours < 0] over [end - window, end), the
    ten numbers of a pair at `acc[index[key]:index[key] + 10]` (one flat list: a Redis round trip is one
    array copy, not 22,500 small lists).

    Per market, per window: [hours, sum of hourly rate_8h] (collected rates, the realized fallback).
    `end_ms` is the start of the first hour NOT included (the current, incomplete hour).
    Stored as bytes (`dump` / `load`: the keys, then one array of doubles).
    """

    __slots__ = ("acc", "end_ms", "index", "markets")

    def __init__(self, end_ms: int, pairs: Mapping[str, list[float]] | None = None,
                 markets: dict[str, list[float]] | None = None) -> None:
        self.end_ms = end_ms
        self.index: dict[str, int] = {}
        self.acc: list[float] = []
        for key, values in (pairs or {}).items():
            self.index[key] = len(self.acc)
            self.acc.extend(values)
        self.markets: dict[str, list[float]] = markets if markets is not None else {}

    @property
    def pairs(self) -> dict[str, list[float]]:
        """{pair key: its ten numbers} of the pairs with data in the 7 d window."""
        acc = self.acc
        return {k: acc[i:i + 10] for k, i in self.index.items() if acc[i + 5] > 0}

    def dump(self) -> bytes:
        live = self.pairs if any(self.acc[i + 5] <= 0 for i in self.index.values()) else None
        keys = list(live) if live is not None else list(self.index)
        flat = array("d", self.acc) if live is None else array("d", [x for v in live.values() for x in v])
        for m in self.markets.values():
            flat.extend(m)
        return _frame({"end_ms": self.end_ms, "pairs": "\n".join(keys), "markets": "\n".join(self.markets)}, flat)

    @classmethod
    def load(cls, raw: bytes) -> Sums:
        head, flat = _unframe(raw)
        values = flat.tolist()
        pair_keys = _lines(head["pairs"])
        market_keys = _lines(head["markets"])
        n = 10 * len(pair_keys)
        sums = cls(int(head["end_ms"]), None, {k: values[n + 4 * i:n + 4 * i + 4] for i, k in enumerate(market_keys)})
        sums.acc = values[:n]
        sums.index = dict(zip(pair_keys, range(0, n, 10), strict=True))
        return sums

    def _apply(self, hour: HourRates, offsets: tuple[int, ...], sign: int) -> None:
        """Add (sign 1) or remove (sign -1) one hour in the windows at `offsets` (0 = 24 h, 1 = 7 d)."""
        index, acc = self.index, self.acc
        both = offsets == (0, 1)
        o = 5 * offsets[0]
        zeros = [0.0] * 10
        for key, d in pair_divergences(hour).items():
            i = index.get(key)
            if i is None:
                if sign < 0:
                    continue   # never added (e.g. the summary started after this hour)
                i = index[key] = len(acc)
                acc.extend(zeros)
            sd, sq, pos, neg = sign * d, sign * d * d, sign if d > 0 else 0, sign if d < 0 else 0
            j = i + o
            acc[j] += sign
            acc[j + 1] += sd
            acc[j + 2] += sq
            acc[j + 3] += pos
            acc[j + 4] += neg
            if both:
                acc[i + 5] += sign
                acc[i + 6] += sd
                acc[i + 7] += sq
                acc[i + 8] += pos
                acc[i + 9] += neg
        markets = self.markets
        for (symbol, dex), rate in hour.items():
            key = f"{symbol}:{dex}"
            m = markets.get(key)
            if m is None:
                if sign < 0:
                    continue
                m = markets[key] = [0.0] * 4
            for w in offsets:
                m[2 * w] += sign
                m[2 * w + 1] += sign * rate
            if sign < 0 and m[2] <= 0:
                del markets[key]


def rebuild(hours: Mapping[int, HourRates], end_ms: int) -> Sums:
    """The summary from scratch: `hours` maps an hour's start (ms) to its rates; only the 168 before
    `end_ms` count (the last 24 of them in the 24 h window too)."""
    sums = Sums(end_ms)
    for start, rates in hours.items():
        if end_ms - 24 * HOUR_MS <= start < end_ms:
            sums._apply(rates, (0, 1), 1)
        elif end_ms - 168 * HOUR_MS <= start < end_ms:
            sums._apply(rates, (1,), 1)
    return sums


def roll(sums: Sums, completed: HourRates, left_24h: HourRates, left_7d: HourRates) -> Sums:
    """Advance by one hour, in place: add the hour [end, end + 1 h) that just completed, remove the hour
    that left the 24 h window ([end - 24 h, ...)) and the one that left the 7 d window ([end - 168 h, ...))."""
    sums._apply(completed, (0, 1), 1)
    sums._apply(left_24h, (0,), -1)
    sums._apply(left_7d, (1,), -1)
    sums.end_ms += HOUR_MS
    return sums


TABLE_WIDTH = 8   # avg24, cv24, pos24, neg24, avg7, cv7, pos7, neg7 (NaN = unknown)


class Table:
    """Public statistics per unordered pair (orientation b - a), as `TABLE_WIDTH` doubles per pair:
    mean divergence (per 8 h), cv, share of the window's hours > 0 and < 0, for 24 h then 7 d."""

    __slots__ = ("end_ms", "flat", "index")

    def __init__(self, end_ms: int, index: dict[str, int], flat: array) -> None:
        self.end_ms, self.index, self.flat = end_ms, index, flat

    def row(self, key: str) -> list[float | None] | None:
        i = self.index.get(key)
        if i is None:
            return None
        return [x if x == x else None for x in self.flat[TABLE_WIDTH * i:TABLE_WIDTH * i + TABLE_WIDTH]]

    def dump(self) -> bytes:
        return _frame({"end_ms": self.end_ms, "pairs": "\n".join(self.index)}, self.flat)

    @classmethod
    def load(cls, raw: bytes) -> Table:
        head, flat = _unframe(raw)
        keys = _lines(head["pairs"])
        return cls(int(head["end_ms"]), dict(zip(keys, range(len(keys)), strict=True)), flat)


EMPTY = Table(0, {}, array("d"))


def _frame(head: dict[str, Any], flat: array) -> bytes:
    """The Redis form of a summary or table: a JSON head, a NUL, then the doubles."""
    return json.dumps(head).encode() + b"\0" + flat.tobytes()


def _unframe(raw: bytes) -> tuple[dict[str, Any], array]:
    head_raw, _, body = raw.partition(b"\0")
    flat = array("d")
    flat.frombytes(body)
    return json.loads(head_raw), flat


def _lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def table(sums: Sums) -> Table:
    """The public statistics of every pair with data in the 7 d window (see the module docstring)."""
    flat = array("d")
    put = flat.extend
    nan, sqrt = math.nan, math.sqrt
    acc = sums.acc
    keys = []
    for key, i in sums.index.items():
        if acc[i + 5] <= 0:
            continue   # every hour of it left the windows
        keys.append(key)
        for o, hours in ((i, 24), (i + 5, 168)):
            n = acc[o]
            if n < 0.5:
                put((nan, nan, 0.0, 0.0))
                continue
            mean = acc[o + 1] / n
            var = acc[o + 2] / n - mean * mean
            put((mean, sqrt(var if var > 0 else 0.0) / abs(mean) if mean else nan, acc[o + 3] / hours,
                 acc[o + 4] / hours))
    return Table(sums.end_ms, dict(zip(keys, range(len(keys)), strict=True)), flat)


_NAMES = ("avg_divergence_24h", "cv_24h", "sign_held_24h", "avg_divergence_7d", "cv_7d", "sign_held_7d")


def fields_for(o: Any, row: list[float | None] | None) -> dict[str, float | None]:
    """The divergence statistics of `o` (long/short orientation) from its pair's `Table.row`."""
    if row is None:
        return dict.fromkeys(_NAMES)
    flip = o.long_dex > o.short_dex   # the table's pair is (a, b) with a < b: divergence b - a
    a24, c24, p24, n24, a7, c7, p7, n7 = row
    return {"avg_divergence_24h": None if a24 is None else (-a24 if flip else a24), "cv_24h": c24,
            "sign_held_24h": n24 if flip else p24,
            "avg_divergence_7d": None if a7 is None else (-a7 if flip else a7), "cv_7d": c7,
            "sign_held_7d": n7 if flip else p7}


def pair_key(symbol: str, dex1: str, dex2: str) -> str:
    a, b = (dex1, dex2) if dex1 < dex2 else (dex2, dex1)
    return f"{symbol}:{a}:{b}"


# Setting the slots of records the caller has just built (core.opportunities.to_opportunity's way):
# cheaper than dataclasses.replace on tens of thousands of pairs.
_S = [Opportunity.__dict__[name].__set__ for name in (
    "opened_at_ms", "alive_hours", "avg_divergence_24h", "cv_24h", "sign_held_24h", "avg_divergence_7d", "cv_7d",
    "sign_held_7d")]


def attach(opps: Iterable[Opportunity], stats: Table, opened: Mapping[str, int], now_ms: int) -> None:
    """Set the persistence fields on records the caller just built (and has not shared yet), in place:
    divergence statistics from `stats`, `opened_at_ms` from the open spells (`opened`, id -> ms) and
    `alive_hours` = (now - opened) in hours (2 decimals)."""
    s_open, s_alive, s_a24, s_c24, s_p24, s_a7, s_c7, s_p7 = _S
    index, flat, w = stats.index, stats.flat, TABLE_WIDTH
    for o in opps:
        long_dex, short_dex = o.long_dex, o.short_dex
        flip = long_dex > short_dex
        i = index.get(f"{o.symbol}:{short_dex}:{long_dex}" if flip else f"{o.symbol}:{long_dex}:{short_dex}")
        if i is None:
            a24 = c24 = p24 = a7 = c7 = p7 = None
        else:
            a24, c24, p24, n24, a7, c7, p7, n7 = flat[w * i:w * i + w]
            if flip:
                a24, a7, p24, p7 = -a24, -a7, n24, n7
            # NaN (x != x) is unknown
            a24, c24, a7, c7 = (a24 if a24 == a24 else None, c24 if c24 == c24 else None,
                                a7 if a7 == a7 else None, c7 if c7 == c7 else None)
        s_a24(o, a24)
        s_c24(o, c24)
        s_p24(o, p24)
        s_a7(o, a7)
        s_c7(o, c7)
        s_p7(o, p7)
        at = opened.get(o.id)
        s_open(o, at)
        s_alive(o, None if at is None else round(max(0, now_ms - at) / HOUR_MS, 2))


# ---- realized returns ---------------------------------------------------------------------------
def leg_sums(settled: Mapping[tuple[str, str], tuple[Decimal, int]], collected: Mapping[str, list[float]],
             window: int) -> dict[str, list[Any]]:
    """{`SYM:dex`: [funding sum (fraction of notional, positive = longs paid), count, source]} of one
    window (0 = 24 h, 1 = 7 d): settled sums where the market has settlements in it, else the collected
    hourly rates accrued (sum of hourly rate_8h / 8 over the hours present; count = those hours)."""
    out: dict[str, list[Any]] = {}
    for key, m in collected.items():
        hours = round(m[2 * window])
        if hours:
            out[key] = [str(Decimal(repr(m[2 * window + 1])) / _EIGHT), hours, "collected_rates"]
    for (dex, symbol), (total, count) in settled.items():
        if count:
            out[f"{symbol}:{dex}"] = [str(total), count, "settlements"]
    return out


def realized_fields(long_leg: list[Any] | None, short_leg: list[Any] | None, fee_long: Decimal, fee_short: Decimal,
                    window_hours: int) -> dict[str, Any] | None:
    """What holding long/short over the window paid (core.backtest.realized), or None when a leg has no data.

    `long_funding` / `short_funding`: what each leg RECEIVED (negative: paid), fractions of notional;
    `fees`: a round trip, 2 x (fee_long + fee_short); `net_return` = funding - fees; `apy_percent`
    annualizes net_return over the window (simple). `source`: settlements | collected_rates | mixed.
    """
    if long_leg is None or short_leg is None:
        return None
    long_sum, short_sum = Decimal(long_leg[0]), Decimal(short_leg[0])
    r = realized(long_sum=long_sum, short_sum=short_sum, settlements=(int(long_leg[1]), int(short_leg[1])),
                 fee_long=fee_long, fee_short=fee_short, window_hours=window_hours)
    sources = {long_leg[2], short_leg[2]}
    return {"window_hours": window_hours, "long_funding": -long_sum, "short_funding": short_sum,
            "funding_return": r.funding_return, "fees": 2 * (fee_long + fee_short), "net_return": r.net_return,
            "apy_percent": r.apy_percent, "long_settlements": r.settlements[0], "short_settlements": r.settlements[1],
            "source": sources.pop() if len(sources) == 1 else "mixed"}


def realized_for(o: Opportunity, legs: Mapping[str, Mapping[str, list[Any]]], fee_long: Decimal,
                 fee_short: Decimal) -> dict[str, Any]:
    """{"realized_24h", "realized_7d", "realized_source"} of one opportunity from `leg_sums` per window."""
    out: dict[str, Any] = {}
    found: set[str] = set()
    for name, hours in WINDOWS:
        window = legs.get(name, {})
        r = realized_fields(window.get(f"{o.symbol}:{o.long_dex}"), window.get(f"{o.symbol}:{o.short_dex}"),
                            fee_long, fee_short, hours)
        out[f"realized_{name}"] = r
        if r is not None:
            found.add(r["source"])
    out["realized_source"] = None if not found else found.pop() if len(found) == 1 else "mixed"
    return out
