"""Cached inputs of the REST queries: latest snapshots, DEX rows, fee schedules, known symbols.

Each goes memory -> Redis -> database through the two-tier cache. The latest snapshots live in
Redis under keys.latest_rates() as a JSON list of snapshot dicts (written by the analysis each
cycle; written back here with CACHE_TTL_SECONDS when Redis had nothing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.api.cache import CACHE, Cached
from chalicelib.api.errors import not_found
from chalicelib.cache import keys
from chalicelib.core.codec import snapshot_from_dict, snapshot_to_dict
from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.core.serialize import dumps

if TYPE_CHECKING:
    from chalicelib.core.opportunities import RatedMarkets

SNAPSHOTS = "snapshots"
DEXES = "dex_metadata"
FEES = "dex_metadata:fees"
SYMBOLS = "symbols"


@dataclass(frozen=True, slots=True)
class RatesIndex:
    """Latest snapshots indexed for the REST reads."""

    snapshots: tuple[MarketSnapshot, ...]
    by_symbol: dict[str, dict[str, MarketSnapshot]]
    by_dex: dict[str, dict[str, MarketSnapshot]]
    # symbol (on two venues or more) -> its markets with rate_8h / rate_1h, sorted by rate_8h
    # (core.opportunities.rated_markets): what every leg table of this entry shares, whatever the fees
    rated: RatedMarkets

    @classmethod
    def build(cls, snapshots: Iterable[MarketSnapshot]) -> RatesIndex:
        from chalicelib.core.opportunities import rated_markets

        snaps = tuple(sorted(snapshots, key=lambda s: (s.symbol, s.dex)))
        by_symbol: dict[str, dict[str, MarketSnapshot]] = {}
        by_dex: dict[str, dict[str, MarketSnapshot]] = {}
        for s in snaps:
            by_symbol.setdefault(s.symbol, {})[s.dex] = s
            by_dex.setdefault(s.dex, {})[s.symbol] = s
        return cls(snaps, by_symbol, by_dex, rated_markets(by_symbol))


def ttl() -> int:
    return wiring.settings().cache_ttl_seconds


def kv() -> Any:
    try:
        return wiring.kv()
    except Exception:  # no Redis configured and no fallback: the database tier still answers
        return None


def _newest(snaps: Iterable[MarketSnapshot]) -> int | None:
    return max((s.fetched_at_ms for s in snaps), default=None)


def _decode_snapshots(raw: bytes | str) -> list[MarketSnapshot]:
    data = json.loads(raw)
    if isinstance(data, dict):  # tolerate an envelope {"snapshots": [...]}
        data = data.get("snapshots") or data.get("data") or []
    return [snapshot_from_dict(d) for d in data]


def snapshots() -> Cached:
    """RatesIndex of the latest snapshot per (dex, symbol)."""

    def read_redis(client: Any) -> tuple[RatesIndex, int | None, int] | None:
        raw = client.get(keys.latest_rates())
        if not raw:
            return None
        index = RatesIndex.build(_decode_snapshots(raw))
        return index, _newest(index.snapshots), len(raw)

    def load_db() -> tuple[RatesIndex, int | None, int]:
        index = RatesIndex.build(wiring.storage().latest_snapshots())
        return index, _newest(index.snapshots), 600 * len(index.snapshots)

    def write_redis(client: Any, index: RatesIndex) -> None:
        if index.snapshots and ttl() > 0:
            client.set(keys.latest_rates(), dumps([snapshot_to_dict(s) for s in index.snapshots]), ex=ttl())

    return CACHE.fetch(SNAPSHOTS, ttl=ttl(), kv=kv(), read_redis=read_redis, load_db=load_db,
                       write_redis=write_redis)


def dex_rows() -> Cached:
    """{name: row} of the `dexes` table (fees, health columns, supported symbols)."""
    redis_key = keys.dex_metadata("all")

    def read_redis(client: Any) -> tuple[dict[str, dict[str, Any]], None, int] | None:
        raw = client.get(redis_key)
        return (json.loads(raw), None, len(raw)) if raw else None

    def load_db() -> tuple[dict[str, dict[str, Any]], None, int]:
        rows = {row["name"]: row for row in wiring.storage().dexes()}
        return rows, None, 2000 * len(rows)

    def write_redis(client: Any, rows: dict[str, Any]) -> None:
        if ttl() > 0:
            client.set(redis_key, dumps(rows), ex=ttl())

    return CACHE.fetch(DEXES, ttl=ttl(), kv=kv(), read_redis=read_redis, load_db=load_db, write_redis=write_redis)


def fee_schedules() -> dict[str, FeeSchedule]:
    """Current fees: memory -> Redis (the analysis' copy under the current fees_version, Decimal-exact codec)
    -> database; while the database is down, the last known schedules (fees change rarely, by hand)."""
    from chalicelib.core.codec import fees_from_json, fees_to_json

    def read_redis(client: Any) -> tuple[dict[str, FeeSchedule], None, int] | None:
        raw = client.get(keys.fee_schedules(client.get(keys.fees_version())))
        return (fees_from_json(raw), None, len(raw)) if raw else None

    def write_redis(client: Any, fees: dict[str, FeeSchedule]) -> None:
        if fees and ttl() > 0:
            client.set(keys.fee_schedules(client.get(keys.fees_version())), fees_to_json(fees), ex=ttl())

    cached = CACHE.fetch(FEES, ttl=ttl(), kv=kv(), read_redis=read_redis,
                         load_db=lambda: (wiring.storage().fee_schedules(), None, 4000), write_redis=write_redis)
    return cached.value


def known_dexes() -> set[str]:
    return set(dex_rows().value)


def known_symbols() -> set[str]:
    cached = CACHE.fetch(SYMBOLS, ttl=ttl(), kv=None, read_redis=lambda _: None,
                         load_db=lambda: (set(wiring.storage().known_symbols()), None, 20000))
    return cached.value


def require_dex(name: str | None, parameter: str = "dex") -> None:
    if name is not None and name not in known_dexes():
        raise not_found(parameter, name, "dex")


def require_dexes(names: Iterable[str] | None, parameter: str) -> None:
    for name in names or ():
        require_dex(name, parameter)


def require_symbol(symbol: str | None, parameter: str = "symbol", index: RatesIndex | None = None) -> None:
    """404 unless the symbol is listed somewhere (pass the request's index so `source` stays honest)."""
    if symbol is None:
        return
    if symbol in (index or snapshots().value).by_symbol or symbol in known_symbols():
        return
    raise not_found(parameter, symbol, "symbol")


PERSISTENCE = "persistence"


def persistence() -> Cached:
    """(core.persistence.Table, legs' realized sums, {id: opened_at ms}) the analysis last wrote
    (services/persistence.py).

    Redis only for the statistics (a summary of hours, rebuilt by the analysis); without Redis the open
    spells still come from the database (`opportunity_open`), so opened_at / alive_hours stay known.
    """
    from chalicelib.core.persistence import EMPTY, STALE_AFTER_MS, Table, hour_start

    def read_redis(client: Any) -> tuple[tuple[Table, dict[str, Any], dict[str, int]], None, int] | None:
        # the statistics are the analysis' summary itself (core.persistence.Table reads its bytes)
        raw_sums, raw_legs, raw_opened = client.mget([keys.persistence_sums(), keys.persistence_legs(),
                                                      keys.opportunity_opened()])
        if not raw_sums and not raw_opened:
            return None
        table = Table.load(raw_sums) if raw_sums else EMPTY
        if table.end_ms < hour_start(int(time.time() * 1000)) - STALE_AFTER_MS:
            table = EMPTY   # the analysis stopped rolling it: old statistics are not shown as current
        value = (table, json.loads(raw_legs) if raw_legs else {}, json.loads(raw_opened) if raw_opened else {})
        return value, None, sum(len(r or b"") for r in (raw_sums, raw_legs, raw_opened))

    def load_db() -> tuple[tuple[Table, dict[str, Any], dict[str, int]], None, int]:
        spells = wiring.storage().open_spells()
        return (EMPTY, {}, {k: s.opened_at_ms for k, s in spells.items()}), None, 100 * len(spells)

    return CACHE.fetch(PERSISTENCE, ttl=ttl(), kv=kv(), read_redis=read_redis, load_db=load_db)
