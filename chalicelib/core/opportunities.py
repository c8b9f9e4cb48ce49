"""Funding-rate arbitrage opportunities: every venue pair of every symbol, costed (DESIGN.md §4).

Pure: snapshots, fee schedules and `now_ms` come in, frozen `Opportunity` records go out. Only
normalized rates are compared (`rate_8h`, `rate_1h`), never a venue's raw per-interval rate, so a
1 h venue and an 8 h venue are compared on the same basis. Long the lower `rate_8h`, short the higher.

Hot loop notes (bench/opportunities.py): everything that depends on one snapshot (rates, 2 × fee,
spread) is computed once per snapshot, not once per pair (`leg_table`: the first REST query after
a snapshot refresh pays for it, so it is one comprehension per symbol and one key-less sort); the
pair loop only does the pair math and yields plain rows; records are built from rows afterwards
(`to_opportunity`), and a filtered query can skip most of both (`Prune`, core.select).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from itertools import compress
from operator import itemgetter

from chalicelib.core.fees import FEE_TYPES, fee_for
from chalicelib.core.models import FeeSchedule, MarketSnapshot, Opportunity
from chalicelib.core.units import APR_PER_1H, EIGHT, HOURS_PER_YEAR, HUNDRED

DEFAULT_HOLD_HOURS = Decimal(8)
DEFAULT_VALID_FOR_MS = 60_000
LONG_HEAVY = Decimal("1.2")    # SPEC Q4: oi_ratio > 1.2 -> long_heavy
SHORT_HEAVY = Decimal("0.8")   # SPEC Q4: oi_ratio < 0.8 -> short_heavy
_ZERO = Decimal(0)
_TWO = Decimal(2)
_BPS = Decimal(10000)


def latest_snapshots(snapshots: Iterable[MarketSnapshot], *, now_ms: int,
                     max_age_ms: int | None = None) -> dict[str, dict[str, MarketSnapshot]]:
    """symbol -> dex -> the freshest snapshot, dropping ones older than `max_age_ms` (None = no limit).

    A duplicate (symbol, dex) keeps the highest `fetched_at_ms`; an exact tie is broken on the
    record's own values so the result does not depend on input order.
    """
    out: dict[str, dict[str, MarketSnapshot]] = {}
    get = out.get
    for s in snapshots:
        if max_age_ms is not None and now_ms - s.fetched_at_ms > max_age_ms:
            continue
        venues = get(s.symbol)
        if venues is None:   # not setdefault: its spare {} per snapshot made the GC run several times per build
            out[s.symbol] = {s.dex: s}
            continue
        prev = venues.get(s.dex)
        if prev is None or s.fetched_at_ms > prev.fetched_at_ms or (
                s.fetched_at_ms == prev.fetched_at_ms and _tiebreak(s) > _tiebreak(prev)):
            venues[s.dex] = s
    return out


def _tiebreak(s: MarketSnapshot) -> str:
    """Total order over every field (rare path: two records of one market with one fetch time)."""
    return repr(s)


def oi_imbalance(oi_ratio: Decimal | None) -> str | None:
    """SPEC Q4 label of long_oi / short_oi: long_heavy > 1.2, short_heavy < 0.8, else balanced."""
    if oi_ratio is None:
        return None
    if oi_ratio > LONG_HEAVY:
        return "long_heavy"
    if oi_ratio < SHORT_HEAVY:
        return "short_heavy"
    return "balanced"


# An Opportunity as a plain tuple: same field names and order, without metadata. Building 22,500
# frozen dataclasses costs more than all of the pair math (every field goes through
# object.__setattr__), so the engine produces rows; filters read the same attribute names from
# either form, and only what a caller keeps becomes an Opportunity (`to_opportunity`).
# Persistence fields are not the engine's: core.persistence.attach sets them on records afterwards.
PERSISTENCE_FIELDS: tuple[str, ...] = ("opened_at_ms", "alive_hours", "avg_divergence_24h", "avg_divergence_7d",
                                       "cv_24h", "cv_7d", "sign_held_24h", "sign_held_7d")
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Opportunity)
                                    if f.name != "metadata" and f.name not in PERSISTENCE_FIELDS)
OpportunityRow = namedtuple("OpportunityRow", ROW_FIELDS)  # type: ignore[misc]


# Opportunity is a frozen slotted dataclass: its generated __init__ sets each of 35 fields through
# object.__setattr__, which made construction cost more than the pair math. Setting the slots through
# their descriptors gives the identical object (a test compares it with Opportunity(*row) and checks
# that Opportunity has no __post_init__ this would skip) at ~60 % of the time.
_SLOT_SETTERS = tuple(Opportunity.__dict__[name].__set__ for name in ROW_FIELDS)
_SET_METADATA = Opportunity.__dict__["metadata"].__set__
_PERSISTENCE_SETTERS = tuple(Opportunity.__dict__[name].__set__ for name in PERSISTENCE_FIELDS)
_new = object.__new__


def to_opportunity(row: tuple) -> Opportunity:
    """An engine row as the frozen Opportunity record (metadata empty)."""
    o = _new(Opportunity)
    for setter, value in zip(_SLOT_SETTERS, row, strict=True):
        setter(o, value)
    for unset in _PERSISTENCE_SETTERS:
        unset(o, None)
    _SET_METADATA(o, {})
    return o


@dataclass(frozen=True, slots=True)
class Prune:
    """Necessary conditions a caller's filter implies, applied before the pair math (never after).

    Each one only skips work that the filter would reject anyway; the caller still applies its
    full filter to the rows, so pruning can change speed but never the result.
    """

    symbols: frozenset[str] | None = None                  # only these symbols
    dexes: frozenset[str] | None = None                    # only these venues (None = all)
    leg: Callable[[list[tuple]], list[bool]] | None = None  # of a symbol's legs, which every kept pair's legs pass
    min_divergence: Decimal | None = None                  # divergence (rate_8h) at least this
    min_net: Decimal | None = None                         # net_profit_percent at least this


def find_opportunities(snapshots: Iterable[MarketSnapshot], fees: Mapping[str, FeeSchedule], *, now_ms: int,
                       hold_hours: Decimal = DEFAULT_HOLD_HOURS, fee_type: str = "maker",
                       volume_30d: Mapping[str, Decimal] | None = None,
                       valid_for_ms: int = DEFAULT_VALID_FOR_MS,
                       max_age_ms: int | None = None) -> list[Opportunity]:
    """Every (symbol, long venue, short venue) once, for symbols listed on at least two venues.

    A venue with no entry in `fees` is left out (its cost is unknown, so its net would be a guess).
    `volume_30d` (dex -> our 30-day volume there) selects fee tiers; missing means 0.
    Output order: symbol, then long `rate_8h`, then short `rate_8h` (ties by dex name).
    """
    rows = opportunity_rows(snapshots, fees, now_ms=now_ms, hold_hours=hold_hours, fee_type=fee_type,
                            volume_30d=volume_30d, valid_for_ms=valid_for_ms, max_age_ms=max_age_ms)
    return [to_opportunity(r) for r in rows]


def opportunity_rows(snapshots: Iterable[MarketSnapshot], fees: Mapping[str, FeeSchedule], *, now_ms: int,
                     hold_hours: Decimal = DEFAULT_HOLD_HOURS, fee_type: str = "maker",
                     volume_30d: Mapping[str, Decimal] | None = None, valid_for_ms: int = DEFAULT_VALID_FOR_MS,
                     max_age_ms: int | None = None, prune: Prune | None = None) -> Iterator[tuple]:
    """find_opportunities as a stream of rows (see OpportunityRow), skipping pairs `prune` excludes.

    Arguments are checked at once; rows are produced lazily, so a caller that keeps only a few
    (a top-k) never holds them all.
    """
    hold = check_hold(hold_hours)
    pr = prune or Prune()
    legs = leg_table(snapshots, fees, now_ms=now_ms, fee_type=fee_type, volume_30d=volume_30d,
                     max_age_ms=max_age_ms, dexes=pr.dexes)
    return pair_rows(legs, pr, PairMath(hold, fee_type, now_ms, now_ms + valid_for_ms))


def check_hold(hold_hours: Decimal) -> Decimal:
    hold = Decimal(hold_hours)
    if not hold.is_finite() or hold <= 0:
        raise ValueError(f"hold_hours must be a positive number, got {hold_hours!r}")
    return hold


# One market as the pair math reads it (computed once per set of snapshots, never per pair, whatever the fees):
# (rate_8h, dex, rate_1h, volume_24h, open_interest_usd, the snapshot: spread, mark, interval); its 2 x fee is
# its table's `fee2[dex]`
Leg = tuple
L_R8, L_DEX, L_R1, L_VOL, L_OI, L_SNAP = range(6)


class RatedMarkets(dict[str, list[Leg]]):
    """symbol -> its markets as legs (see Leg) sorted by (rate_8h, dex), with the venues they come from and
    the oldest fetch time among them (so a leg table can tell that it leaves no market out without a pass)."""

    __slots__ = ("dexes", "oldest_ms")

    def __init__(self) -> None:
        super().__init__()
        self.dexes: frozenset[str] = frozenset()
        self.oldest_ms: int | None = None


def rated_markets(by_symbol: Mapping[str, Mapping[str, MarketSnapshot]]) -> RatedMarkets:
    """symbol -> its markets as legs sorted by (rate_8h, dex); a symbol on one venue left out (it has no pair).

    What a leg table holds that does not depend on the fees: the division and the sort. REST keeps it on the
    snapshot entry (api/data.RatesIndex, built once per snapshot load, like the peer finder's input which its
    database hands over already normalized), so a leg table for a fee type only names its fees (LegTable.fee2).
    `funding_rate / funding_interval_hours` is units.rate_1h and `r1 * EIGHT` units.rate_8h, written out
    because a call per market cost 5 % of the build (test_opportunities pins both to units for every interval
    a venue uses). Venues are taken in name order so that the stable sort on rate_8h alone leaves equal rates
    in dex-name order (no key tuple, no Decimal compared twice per step).
    """
    out = RatedMarkets()
    dexes: set[str] = set()
    oldest: int | None = None
    for symbol, by_dex in by_symbol.items():
        if len(by_dex) < 2:
            continue
        ms = [((r1 := (s := by_dex[dex]).funding_rate / s.funding_interval_hours) * EIGHT, dex, r1,
               s.volume_24h_usd, s.open_interest_usd, s) for dex in sorted(by_dex)]
        ms.sort(key=_RATE_8H)   # stable: long = lower rate_8h; equal rates stay in dex-name order
        out[symbol] = ms
        dexes.update(by_dex)
        first = min(s.fetched_at_ms for s in by_dex.values())
        oldest = first if oldest is None or first < oldest else oldest
    out.dexes, out.oldest_ms = frozenset(dexes), oldest
    return out


def leg_table(snapshots: Iterable[MarketSnapshot], fees: Mapping[str, FeeSchedule], *, now_ms: int,
              fee_type: str = "maker", volume_30d: Mapping[str, Decimal] | None = None,
              max_age_ms: int | None = None, dexes: frozenset[str] | None = None,
              rated: RatedMarkets | None = None) -> LegTable:
    """symbol -> its markets as legs, sorted by (rate_8h, dex); symbols on fewer than two venues left out.

    `rated`: the snapshots already deduplicated and rated (rated_markets of one snapshot per market, REST's
    RatesIndex.rated) instead of `snapshots` to deduplicate (latest_snapshots) and rate: done once per
    snapshot refresh, not again per leg table; `max_age_ms` still applies.

    Everything that depends on one snapshot is here, so a caller can keep the table for as long as
    the snapshots and fees stand (REST keeps one per snapshot entry and fee type) and run any number
    of filtered pair passes over it (`pair_rows`, core.select). A venue with no fee schedule is left out.
    Where no market is left out, the table shares `rated`'s lists (legs are never mutated).
    """
    if fee_type not in FEE_TYPES:
        raise ValueError(f"fee_type must be one of {FEE_TYPES}, got {fee_type!r}")
    vol30 = volume_30d or {}
    fee2 = {dex: _TWO * fee_for(schedule, fee_type, vol30.get(dex, _ZERO)) for dex, schedule in fees.items()
            if dexes is None or dex in dexes}
    table = LegTable(fee2)
    oldest = None
    if rated is None:
        rated = rated_markets(latest_snapshots(snapshots, now_ms=now_ms, max_age_ms=max_age_ms))
    elif max_age_ms is not None:
        oldest = now_ms - max_age_ms   # latest_snapshots' age rule
    if rated.dexes.issubset(fee2) and (oldest is None or rated.oldest_ms is None or rated.oldest_ms >= oldest):
        table.update(rated)   # every market has its fees and is fresh enough: nothing to leave out
        return table
    # Hot path (the first REST query after a snapshot refresh builds this; bench/opportunities.py): one
    # comprehension per symbol, order kept from `rated` (a market left out leaves the others sorted)
    for symbol, ms in rated.items():
        if oldest is None:
            legs = [m for m in ms if m[1] in fee2]
        else:
            legs = [m for m in ms if m[1] in fee2 and m[5].fetched_at_ms >= oldest]
        if len(legs) >= 2:
            table[symbol] = legs
    return table


_RATE_8H = itemgetter(L_R8)


class LegTable(dict[str, list[Leg]]):
    """symbol -> legs (see leg_table), with the 2 x fee per venue it was built with (a leg's is
    `fee2[leg[L_DEX]]`) and a memo for what passes derive from it and reuse (core.select keeps
    its columns and per-hold arrays here, so a kept table serves many queries)."""

    __slots__ = ("fee2", "memo")

    def __init__(self, fee2: Mapping[str, Decimal] | None = None) -> None:
        super().__init__()
        self.fee2: Mapping[str, Decimal] = fee2 or {}
        self.memo: dict[object, object] = {}


@dataclass(frozen=True, slots=True)
class PairMath:
    """What every row of one pass shares: the hold period, fee type and the validity window."""

    hold: Decimal
    fee_type: str
    now_ms: int
    valid_until: int

    @property
    def apy_factor(self) -> Decimal:   # net over `hold` hours -> percent per year
        return HOURS_PER_YEAR / self.hold * HUNDRED


def pair_row(symbol: str, lg: Leg, sg: Leg, div1h: Decimal, est: Decimal, net: Decimal, pm: PairMath,
             apy_factor: Decimal) -> tuple:
    """The OpportunityRow of long leg `lg` and short leg `sg` (the one home of the per-pair derivations).

    `div1h` = short rate_1h - long rate_1h, `est` = 2 x (fee long + fee short), `net` = div1h x hold - est:
    the pass computes them first to decide whether the pair is kept at all.
    """
    l8, ldex, _, lvol, loi, ls = lg
    s8, sdex, _, svol, soi, ss = sg
    lsp, ssp, lmark, smark = ls.spread_bps, ss.spread_bps, ls.mark_price, ss.mark_price
    breakeven: Decimal | None
    mn_oi: Decimal | None
    mx_oi: Decimal | None
    ratio: Decimal | None
    if not div1h:
        breakeven = None
    elif est <= _ZERO:
        breakeven = _ZERO          # fees are a rebate: profitable from the first hour
    else:
        breakeven = est / div1h
    if loi is not None and soi is not None:
        mn_oi, mx_oi = (loi, soi) if loi <= soi else (soi, loi)
        ratio = loi / soi if soi else None
    else:
        mn_oi = mx_oi = ratio = None
    if ratio is None:
        label = None
    else:
        label = "long_heavy" if ratio > LONG_HEAVY else "short_heavy" if ratio < SHORT_HEAVY else "balanced"
    mn_vol = None if lvol is None or svol is None else (lvol if lvol <= svol else svol)
    avg_sp = (lsp + ssp) / _TWO if lsp is not None and ssp is not None else None
    mid = (smark + lmark) / _TWO
    mark_bps = (smark - lmark) / mid * _BPS if mid > _ZERO else None
    return _new_row(OpportunityRow, (
        f"{symbol}:{ldex}:{sdex}", symbol, ldex, sdex, l8, s8, s8 - l8, div1h, est, net,
        net * apy_factor, div1h * APR_PER_1H, breakeven, pm.hold, pm.fee_type, pm.now_ms, pm.valid_until,
        lvol, svol, mn_vol, loi, soi, mn_oi, mx_oi, ratio, label,
        lsp, ssp, avg_sp, mark_bps, lmark, smark, ls.funding_interval_hours, ss.funding_interval_hours))


_new_row = tuple.__new__


def first_at_least(legs: list[Leg], i: int, min_div: Decimal) -> int:
    """The first j > i with legs[j].rate_8h - legs[i].rate_8h >= min_div (len(legs) if none): legs are sorted."""
    l8 = legs[i][0]
    lo, hi = i + 1, len(legs)
    while lo < hi:   # the same subtraction the row's divergence is, so the boundary is exact
        mid = (lo + hi) // 2
        if legs[mid][0] - l8 >= min_div:
            hi = mid
        else:
            lo = mid + 1
    return lo


def pair_rows(table: LegTable, pr: Prune, pm: PairMath) -> Iterator[tuple]:
    """Every pair of a leg table `pr` does not exclude, as rows, in find_opportunities' order."""
    apy_factor = pm.apy_factor
    hold = pm.hold
    min_div, min_net, leg = pr.min_divergence, pr.min_net, pr.leg
    fee_of = table.fee2.__getitem__
    for symbol in sorted(table if pr.symbols is None else pr.symbols & table.keys()):
        rows = table[symbol]
        if pr.dexes is not None:
            rows = [r for r in rows if r[1] in pr.dexes]
        if leg is not None:
            rows = list(compress(rows, leg(rows)))
        n = len(rows)
        f2 = [fee_of(r[1]) for r in rows]   # 2 x fee per leg
        for i in range(n - 1):
            lg = rows[i]
            l1, lf2 = lg[2], f2[i]
            first = i + 1 if min_div is None else first_at_least(rows, i, min_div)
            for j in range(first, n):
                sg = rows[j]
                div1h = sg[2] - l1
                est = lf2 + f2[j]
                net = div1h * hold - est
                if min_net is not None and net < min_net:
                    continue
                yield pair_row(symbol, lg, sg, div1h, est, net, pm, apy_factor)
