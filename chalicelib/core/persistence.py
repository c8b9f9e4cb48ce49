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
STALE_AFTER_MS = 3 * HOUR_MS   # REST serves no statistics from a summary not rolled for this long (analysis stopped)
WINDOWS: tuple[tuple[str, int], ...] = (("24h", 24), ("7d", 168))
_EIGHT = Decimal(8)

HourRates = Mapping[tuple[str, str], float]   # (symbol, dex) -> average rate_8h of one clock hour


def hour_start(ms: int) -> int:
    return ms - ms % HOUR_MS


# Column layout of the summary: per pair, per window (24 h then 7 d), hours with both legs, sum of the hourly
# divergences, sum of their squares, hours > 0, hours < 0; per market, per window, hours and sum of rate_8h.
PAIR_COLUMNS = ("n24", "s24", "q24", "p24", "m24", "n7", "s7", "q7", "p7", "m7")
MARKET_COLUMNS = ("n24", "s24", "n7", "s7")


class Sums:
    """The incremental summary, COLUMN-wise: `cols[c][k]` is column `PAIR_COLUMNS[c]` of pair k, whose legs
    are the markets `pa[k]` and `pb[k]` (positions in `mkeys`, "SYM:dex"; pa's dex name < pb's) and whose
    key is `keys[k]` ("SYM:a:b"); `mcols[c][m]` is column `MARKET_COLUMNS[c]` of market m.

    The pairs are every two markets of one symbol the summary knows (a pair whose legs never shared an hour
    in the 7 d window has n7 = 0 and is absent from the public table). Column-wise because the hourly roll is
    then a few list comprehensions over aligned columns (C loops over 22,500 floats) instead of a Python
    statement per pair and number. Stored as bytes (`dump` / `load`); `Table.load` reads the same bytes.
    `end_ms` is the start of the first hour NOT included (the current, incomplete hour).
    """

    __slots__ = ("_by_symbol", "cols", "end_ms", "keys", "mcols", "mkeys", "pa", "pb")

    def __init__(self, end_ms: int) -> None:
        self.end_ms = end_ms
        self.keys: list[str] = []
        self.pa: list[int] = []
        self.pb: list[int] = []
        self.cols: list[list[float]] = [[] for _ in PAIR_COLUMNS]
        self.mkeys: list[str] = []
        self.mcols: list[list[float]] = [[] for _ in MARKET_COLUMNS]
        self._by_symbol: dict[str, list[tuple[str, int]]] | None = None   # symbol -> [(dex, market position)]

    @property
    def index(self) -> dict[str, int]:
        """{pair key: its position} of the pairs with data in the 7 d window."""
        n7 = self.cols[5]
        return {k: i for i, k in enumerate(self.keys) if n7[i] > 0}

    @property
    def pairs(self) -> dict[str, list[float]]:
        """{pair key: its ten numbers, PAIR_COLUMNS order} of the pairs with data in the 7 d window."""
        cols = self.cols
        return {k: [c[i] for c in cols] for k, i in self.index.items()}

    @property
    def markets(self) -> dict[str, list[float]]:
        """{"SYM:dex": [hours 24 h, sum of rate_8h 24 h, hours 7 d, sum 7 d]} of the markets with data in 7 d."""
        mcols = self.mcols
        return {k: [c[m] for c in mcols] for m, k in enumerate(self.mkeys) if mcols[2][m] > 0}

    def _add_market(self, key: str) -> None:
        """A market the summary has not seen: its columns, and a pair with every known market of its symbol."""
        symbol, _, dex = key.rpartition(":")
        if self._by_symbol is None:   # built on first need: a roll without a new market never needs it
            self._by_symbol = {}
            for pos, k in enumerate(self.mkeys):
                sym, _, d = k.rpartition(":")
                self._by_symbol.setdefault(sym, []).append((d, pos))
        m = len(self.mkeys)
        self.mkeys.append(key)
        for c in self.mcols:
            c.append(0.0)
        peers = self._by_symbol.setdefault(symbol, [])
        for other, o in peers:
            a, b, pa, pb = (dex, other, m, o) if dex < other else (other, dex, o, m)
            self.keys.append(f"{symbol}:{a}:{b}")
            self.pa.append(pa)
            self.pb.append(pb)
            for c in self.cols:
                c.append(0.0)
        peers.append((dex, m))

    def _vector(self, hour: HourRates, grow: bool) -> tuple[list[float], list[bool]]:
        """(the hour's rate_8h per known market, 0.0 where it has none; whether it has one). `grow`: new
        markets added first (an hour being added), else ignored (an hour being removed: a market the summary
        does not know was never added, e.g. the summary started after that hour)."""
        rates = {f"{symbol}:{dex}": rate for (symbol, dex), rate in hour.items()}
        if grow:
            for key in sorted(rates.keys() - set(self.mkeys)):
                self._add_market(key)
        get = rates.get
        return [get(k, 0.0) for k in self.mkeys], [k in rates for k in self.mkeys]

    def _apply(self, plus: HourRates | None, minus24: HourRates | None, minus7: HourRates | None,
               plus_24h: bool = True) -> None:
        """Add the hour `plus` to the 7 d window (and the 24 h one if `plus_24h`), remove `minus24` from the
        24 h window and `minus7` from the 7 d one (None: nothing). The callers remove exactly hours they added.

        Every step is a `map` of an operator over aligned columns (C loops, no Python statement per pair):
        an absent rate is 0.0 with its presence flag False, so a pair's divergence times its presence
        (both legs present) is its contribution, and True/False add as 1/0."""
        vectors = [None if h is None else self._vector(h, i == 0) for i, h in enumerate((plus, minus24, minus7))]
        pa, pb = self.pa, self.pb
        parts: list[tuple[list[Any], ...] | None] = []
        for v in vectors:
            if v is None:
                parts.append(None)
                continue
            r, has = v
            # 1.0 where both legs have a rate (floats, not bools: float + bool is the slow path)
            present = [1.0 if has[a] and has[b] else 0.0 for a, b in zip(pa, pb, strict=True)]
            d = [r[b] - r[a] if ok else 0.0 for a, b, ok in zip(pa, pb, present, strict=True)]   # rate_8h(b) - rate_8h(a)
            parts.append((present, d, [x * x for x in d], [1.0 if x > 0.0 else 0.0 for x in d],
                          [1.0 if x < 0.0 else 0.0 for x in d], [1.0 if x else 0.0 for x in has], r))
        add_both, rem24, rem7 = parts
        cols, mcols = self.cols, self.mcols
        for w, rem in ((0, rem24), (1, rem7)):
            add = None if w == 0 and not plus_24h else add_both
            base = 5 * w
            for j in range(5):
                cols[base + j] = _net(cols[base + j], None if add is None else add[j], None if rem is None else rem[j])
            for j in range(2):
                mcols[2 * w + j] = _net(mcols[2 * w + j], None if add is None else add[5 + j],
                                        None if rem is None else rem[5 + j])
            if rem is not None:
                _zero_empty(cols, base, mcols, 2 * w)

    def compact(self) -> None:
        """Drop the markets with no hour left in the 7 d window and the pairs on them (a delisted market)."""
        mn7 = self.mcols[2]
        if all(n > 0.5 for n in mn7):
            return
        keep = [m for m, n in enumerate(mn7) if n > 0.5]
        new_pos = {m: i for i, m in enumerate(keep)}
        pairs = [k for k in range(len(self.keys)) if self.pa[k] in new_pos and self.pb[k] in new_pos]
        self.keys = [self.keys[k] for k in pairs]
        self.pa = [new_pos[self.pa[k]] for k in pairs]
        self.pb = [new_pos[self.pb[k]] for k in pairs]
        self.cols = [[c[k] for k in pairs] for c in self.cols]
        self.mkeys = [self.mkeys[m] for m in keep]
        self.mcols = [[c[m] for m in keep] for c in self.mcols]
        self._by_symbol = None   # positions changed: rebuilt on the next new market

    def dump(self) -> bytes:
        self.compact()
        flat = array("d")
        for c in (*self.cols, *self.mcols):
            if isinstance(c, list):
                flat.fromlist(c)
            else:
                flat.extend(c)   # a column the roll did not rewrite (still the loaded array)
        legs = array("i", self.pa)
        legs.fromlist(self.pb)
        return _frame(self.end_ms, self.keys, self.mkeys, flat, legs)

    @classmethod
    def load(cls, raw: bytes) -> Sums:
        end_ms, sums_keys, market_keys, body = _split(raw)
        sums = cls(end_ms)
        sums.keys, sums.mkeys = sums_keys, market_keys
        p, m = len(sums.keys), len(sums.mkeys)
        flat = array("d")
        flat.frombytes(body[:8 * (10 * p + 4 * m)])
        legs = array("i")
        legs.frombytes(body[8 * (10 * p + 4 * m):])
        # arrays, not lists: the roll reads each column once and writes a new list
        sums.cols = [flat[c * p:(c + 1) * p] for c in range(10)]   # type: ignore[misc]
        sums.mcols = [flat[10 * p + c * m:10 * p + (c + 1) * m] for c in range(4)]   # type: ignore[misc]
        sums.pa, sums.pb = legs[:p].tolist(), legs[p:].tolist()
        return sums


def _net(col: Iterable[float], plus: list[Any] | None, minus: list[Any] | None) -> list[float]:
    """col + plus - minus, element-wise (None: no term)."""
    if plus is not None and minus is not None:
        return [x + a - b for x, a, b in zip(col, plus, minus, strict=True)]
    if plus is not None:
        return [x + a for x, a in zip(col, plus, strict=True)]
    if minus is not None:
        return [x - b for x, b in zip(col, minus, strict=True)]
    return list(col)


def _zero_empty(cols: list[list[float]], base: int, mcols: list[list[float]], mbase: int) -> None:
    """A window whose count returned to 0 gets sums of exactly 0 (no rounding residue survives it)."""
    n = cols[base]
    if min(n, default=1.0) < 0.5:
        for k, x in enumerate(n):
            if x < 0.5:
                for j in range(5):
                    cols[base + j][k] = 0.0
    mn = mcols[mbase]
    if min(mn, default=1.0) < 0.5:
        for k, x in enumerate(mn):
            if x < 0.5:
                mcols[mbase][k] = mcols[mbase + 1][k] = 0.0


def rebuild(hours: Mapping[int, HourRates], end_ms: int) -> Sums:
    """The summary from scratch: `hours` maps an hour's start (ms) to its rates; only the 168 before
    `end_ms` count (the last 24 of them in the 24 h window too)."""
    sums = Sums(end_ms)
    for start in sorted(hours):
        if end_ms - 168 * HOUR_MS <= start < end_ms:
            sums._apply(hours[start], None, None, plus_24h=start >= end_ms - 24 * HOUR_MS)
    sums.compact()
    return sums


def roll(sums: Sums, completed: HourRates, left_24h: HourRates, left_7d: HourRates) -> Sums:
    """Advance by one hour, in place: add the hour [end, end + 1 h) that just completed, remove the hour
    that left the 24 h window ([end - 24 h, ...)) and the one that left the 7 d window ([end - 168 h, ...)).
    One pass per column, the three hours netted in it."""
    sums._apply(completed, left_24h or None, left_7d or None)
    sums.end_ms += HOUR_MS
    return sums


class Table:
    """Public statistics per unordered pair (orientation b - a), derived on read from the pair's ten sums
    (the summary's columns): mean divergence (per 8 h), cv, share of the window's hours > 0 and < 0, for 24 h
    then 7 d. Derived per row read, not per roll: a REST response reads its returned rows only, the
    analysis its open opportunities. `flat` holds the ten columns one after the other (`n` pairs each)."""

    __slots__ = ("_rows", "end_ms", "flat", "index", "n")

    def __init__(self, end_ms: int, index: dict[str, int], flat: array | list[float], n: int) -> None:
        self.end_ms, self.index, self.flat, self.n = end_ms, index, flat, n   # index: key -> pair position
        self._rows: list[tuple[Any, ...]] | None = None

    def rows(self) -> list[tuple[Any, ...]]:
        """Every pair's eight statistics (`row` order, None unknown; a pair with no hour in 7 d: None), derived
        once per table column-wise: what attaching to most pairs (a REST query filtering on persistence, per
        request) reads instead of deriving pair by pair."""
        if self._rows is None:
            flat, n = self.flat, self.n
            cols = [flat[c * n:(c + 1) * n] for c in range(10)]
            derived: list[Any] = []
            for base, hours in ((0, 24.0), (5, 168.0)):
                count, total, squares, pos, neg = cols[base:base + 5]
                mean = [t / c if c >= 0.5 else None for t, c in zip(total, count, strict=True)]
                var = [q / c - m * m if m is not None else 0.0 for q, c, m in zip(squares, count, mean, strict=True)]
                derived += (mean, [math.sqrt(v if v > 0 else 0.0) / abs(m) if m else None
                                   for v, m in zip(var, mean, strict=True)],
                            [x / hours for x in pos], [x / hours for x in neg])
            rows: list[Any] = list(zip(*derived, strict=True))
            for i, n7 in enumerate(cols[5]):
                if n7 < 0.5:
                    rows[i] = None
            self._rows = rows
        return self._rows

    def row(self, key: str) -> list[float | None] | None:
        """[avg24, cv24, pos24, neg24, avg7, cv7, pos7, neg7] of a pair (None: unknown), or None when absent."""
        i = self.index.get(key)
        if i is None or self.flat[i + 5 * self.n] < 0.5:   # no hour of both legs in the 7 d window
            return None
        return [*_window(self.flat, i, self.n, 24.0), *_window(self.flat, i + 5 * self.n, self.n, 168.0)]

    @classmethod
    def load(cls, raw: bytes) -> Table:
        """The table of a dumped summary (`Sums.dump`): the pairs' columns (markets and legs ignored)."""
        end_ms, keys, _, body = _split(raw)
        n = len(keys)
        flat = array("d")
        flat.frombytes(body[:80 * n])
        return cls(end_ms, dict(zip(keys, range(n), strict=True)), flat, n)


EMPTY = Table(0, {}, array("d"), 0)


def _window(flat: Any, o: int, n: int, hours: float) -> tuple[float | None, float | None, float, float]:
    """(mean divergence, cv, share of the window's hours > 0, share < 0) of one window whose five sums start
    at flat[o] (columns `n` apart); mean and cv None when unknown (no hour; cv also when the mean is 0)."""
    count = flat[o]
    if count < 0.5:
        return None, None, 0.0, 0.0
    mean = flat[o + n] / count
    var = flat[o + 2 * n] / count - mean * mean
    return (mean, math.sqrt(var if var > 0 else 0.0) / abs(mean) if mean else None, flat[o + 3 * n] / hours,
            flat[o + 4 * n] / hours)


def _frame(end_ms: int, pair_keys: list[str], market_keys: list[str], *parts: array) -> bytes:
    """The Redis form of a summary: a JSON head (end, counts, the keys' text length), a NUL, the pair keys
    then the market keys (UTF-8, one per line), then the arrays' bytes."""
    text = "\n".join((*pair_keys, *market_keys)).encode()
    head = {"end_ms": end_ms, "pairs": len(pair_keys), "markets": len(market_keys), "text": len(text)}
    return b"".join((json.dumps(head).encode(), b"\0", text, *(p.tobytes() for p in parts)))


def _split(raw: bytes) -> tuple[int, list[str], list[str], memoryview]:
    """(end_ms, pair keys, market keys, the arrays' bytes) of `_frame`'s bytes."""
    head_raw, _, _ = raw.partition(b"\0")
    head = json.loads(head_raw)
    start = len(head_raw) + 1
    text = raw[start:start + head["text"]].decode()
    keys = text.split("\n") if text else []
    n = head["pairs"]
    return int(head["end_ms"]), keys[:n], keys[n:], memoryview(raw)[start + head["text"]:]


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
    index, flat, n = stats.index, stats.flat, stats.n
    # many records (REST attaching to every candidate): read the table's derived rows; few: derive per pair
    rows = stats.rows() if isinstance(opps, list) and 8 * len(opps) > n else None
    for o in opps:
        long_dex, short_dex = o.long_dex, o.short_dex
        flip = long_dex > short_dex
        i = index.get(f"{o.symbol}:{short_dex}:{long_dex}" if flip else f"{o.symbol}:{long_dex}:{short_dex}")
        row = None if i is None else rows[i] if rows is not None else None if flat[i + 5 * n] < 0.5 else (
            *_window(flat, i, n, 24.0), *_window(flat, i + 5 * n, n, 168.0))
        if row is None:   # unknown pair, or no hour of both legs in the 7 d window
            a24 = c24 = p24 = a7 = c7 = p7 = None
        else:
            a24, c24, p24, n24, a7, c7, p7, n7 = row
            if flip:
                p24, p7 = n24, n7
                a24 = None if a24 is None else -a24
                a7 = None if a7 is None else -a7
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
                    window_hours: int, long_interval: Decimal | None = None,
                    short_interval: Decimal | None = None) -> dict[str, Any] | None:
    """What holding long/short over the window paid (core.backtest.realized), or None when a leg has no data.

    `long_funding` / `short_funding`: what each leg RECEIVED (negative: paid), fractions of notional;
    `fees`: a round trip, 2 x (fee_long + fee_short); `net_return` = funding - fees; `apy_percent`
    annualizes net_return over the window (simple). `source`: settlements | collected_rates | mixed.
    `coverage`: the share of the window the data covers, the smaller of the two legs' (a settled leg: settlements x
    its funding interval / window; a collected leg: hours present / window; None when a settled leg's interval is
    unknown). Below 1 the APY understates what the pair paid while it had data (e.g. a market listed a day ago).
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
            "source": sources.pop() if len(sources) == 1 else "mixed",
            "coverage": _coverage((long_leg, long_interval), (short_leg, short_interval), window_hours=window_hours)}


def _coverage(*legs: tuple[list[Any], Decimal | None], window_hours: int) -> float | None:
    shares = []
    for leg, interval in legs:
        count = int(leg[1])
        if leg[2] == "collected_rates":
            shares.append(count / window_hours)
        elif interval is None or interval <= 0:
            return None
        else:
            shares.append(count * float(interval) / window_hours)
    return round(min(1.0, *shares), 4)


def realized_for(o: Opportunity, legs: Mapping[str, Mapping[str, list[Any]]], fee_long: Decimal,
                 fee_short: Decimal) -> dict[str, Any]:
    """{"realized_24h", "realized_7d", "realized_source"} of one opportunity from `leg_sums` per window."""
    out: dict[str, Any] = {}
    found: set[str] = set()
    for name, hours in WINDOWS:
        window = legs.get(name, {})
        r = realized_fields(window.get(f"{o.symbol}:{o.long_dex}"), window.get(f"{o.symbol}:{o.short_dex}"),
                            fee_long, fee_short, hours, o.long_interval_hours, o.short_interval_hours)
        out[f"realized_{name}"] = r
        if r is not None:
            found.add(r["source"])
    out["realized_source"] = None if not found else found.pop() if len(found) == 1 else "mixed"
    return out
