"""services/persistence.py: when the summary is read back, rolled or rebuilt, what is stored, and that a failure
never fails the analysis run (fakes for Redis and storage; the real servers are in tests/integration)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.cache import keys
from chalicelib.core import persistence as core
from chalicelib.services import persistence as svc

H = core.HOUR_MS
NOW = 1000 * H + 5 * 60_000          # 5 minutes into the clock hour starting at 1000 h


class Kv:
    """The three Redis calls refresh() makes (mget, get/set through a pipeline), on a dict."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes: list[str] = []

    def mget(self, names: list[str]) -> list[Any]:
        return [self.data.get(n) for n in names]

    def set(self, name: str, value: Any, ex: int | None = None) -> None:
        self.data[name] = value.encode() if isinstance(value, str) else value
        self.writes.append(name)

    def incr(self, name: str) -> int:
        self.data[name] = str(int(self.data.get(name) or 0) + 1).encode()
        return int(self.data[name])

    def pipeline(self, transaction: bool = False) -> Kv:
        return self

    def execute(self) -> None:
        return None


class Storage:
    """hourly_rates from a dict of hours; realized_sums empty; every call recorded."""

    def __init__(self, hours: dict[int, dict[tuple[str, str], float]]) -> None:
        self.hours = hours
        self.asked: list[list[int]] = []
        self.settled: dict[tuple[str, str], tuple[Decimal, int]] = {}

    def hourly_rates(self, hours: list[int]) -> dict[int, dict[tuple[str, str], float]]:
        self.asked.append(list(hours))
        return {h: self.hours[h] for h in hours if h in self.hours}

    def realized_sums(self, *, since: Any) -> dict[tuple[str, str], tuple[Decimal, int]]:
        return self.settled


def hour(a: float, b: float) -> dict[tuple[str, str], float]:
    return {("BTC", "a"): a, ("BTC", "b"): b}


def test_first_run_rebuilds_then_the_hour_reads_back_then_the_next_hour_rolls() -> None:
    end = 1000 * H
    # the two completed hours before `end`: d = b - a = 0.0003 - 0.0001 = 0.0002, then 0.0001 - 0.0002 = -0.0001
    hours = {end - H: hour(0.0001, 0.0003), end - 2 * H: hour(0.0002, 0.0001)}
    kv, storage = Kv(), Storage(hours)
    stats, legs, how = svc.refresh(kv, storage, NOW)
    assert how == "rebuilt" and len(storage.asked[0]) == 168 and storage.asked[0][0] == end - H
    # mean = (0.0002 - 0.0001) / 2 = 0.00005; one hour of 24 > 0, one < 0
    row = stats.row("BTC:a:b")
    assert row is not None and row[0] == pytest.approx(0.00005) and row[2:4] == [1 / 24, 1 / 24]
    # collected-rate fallback of market a over 24 h: (0.0001 + 0.0002) / 8 per interval-hour sum, 2 hours
    assert legs["24h"]["BTC:a"][1:] == [2, "collected_rates"]
    assert Decimal(legs["24h"]["BTC:a"][0]) == pytest.approx(Decimal("0.0003") / 8)
    assert set(kv.writes) == {keys.persistence_sums(), keys.persistence_legs()}   # one summary, no separate table

    kv.writes.clear()
    again, _, how = svc.refresh(kv, storage, NOW + 30 * 60_000)    # same clock hour: read back, nothing queried
    assert how == "cached" and len(storage.asked) == 1 and kv.writes == []
    assert again.row("BTC:a:b") == row

    hours[end] = hour(0.0, 0.0005)                                 # the hour [end, end + 1 h) completes: d = 0.0005
    _, _, how = svc.refresh(kv, storage, NOW + H)
    assert how == "rolled" and storage.asked[-1] == [end, end - 24 * H, end - 168 * H]
    rolled = core.Table.load(kv.data[keys.persistence_sums()])
    r = rolled.row("BTC:a:b")
    # three hours now: (0.0002 - 0.0001 + 0.0005) / 3 = 0.0002; 2 hours > 0, 1 < 0
    assert r is not None and r[0] == pytest.approx(0.0002) and r[2:4] == [2 / 24, 1 / 24]


def test_a_summary_more_than_an_hour_behind_is_rebuilt_not_rolled() -> None:
    kv, storage = Kv(), Storage({999 * H: hour(0.0001, 0.0002)})
    svc.refresh(kv, storage, NOW)
    _, _, how = svc.refresh(kv, storage, NOW + 2 * H)             # the analysis skipped an hour
    assert how == "rebuilt" and len(storage.asked[-1]) == 168


def test_run_never_fails_the_analysis_when_redis_breaks() -> None:
    class Broken(Kv):
        def mget(self, names: list[str]) -> list[Any]:
            raise ConnectionError("redis went away")

    class Spells(Storage):
        def open_spells(self) -> dict[str, Any]:
            return {}

        def write_lifecycle(self, events: Any, after: Any) -> int:
            return len(events)

    out = svc.run(Broken(), Spells({}), [], {}, NOW, redis_ok=True)
    assert out["persistence"] == "unavailable" and "redis went away" in out["persistence_error"]


def test_new_settlements_refresh_the_realized_sums_within_the_hour() -> None:
    from chalicelib.services.settle import bump_settlements_version

    kv, storage = Kv(), Storage({999 * H: hour(0.0001, 0.0002)})
    _, legs, how = svc.refresh(kv, storage, NOW)
    assert how == "rebuilt" and legs["24h"]["BTC:a"][2] == "collected_rates"
    # the settlement run (at :07) stored BTC on venue a: 3 settlements summing to 0.00012
    storage.settled = {("a", "BTC"): (Decimal("0.00012"), 3)}
    bump_settlements_version(kv)
    stats, legs, how = svc.refresh(kv, storage, NOW + 10 * 60_000)
    assert how == "realized_refreshed" and len(storage.asked) == 1           # no hour queried again
    assert legs["24h"]["BTC:a"] == ["0.00012", 3, "settlements"] and legs["24h"]["BTC:b"][2] == "collected_rates"
    assert stats.row("BTC:a:b") is not None
    _, _, how = svc.refresh(kv, storage, NOW + 11 * 60_000)                   # nothing new since: read back
    assert how == "cached"
