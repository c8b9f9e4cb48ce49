"""core/lifecycle.py: opened / material change / closed, and what is NOT an event."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.core.lifecycle import Spell, diff, material
from chalicelib.core.models import Opportunity

D = Decimal


def opp(divergence: str, oid: str = "BTC:a:b", long_h: int = 1, short_h: int = 8) -> Opportunity:
    z = D(0)
    sym, long_dex, short_dex = oid.split(":")
    return Opportunity(oid, sym, long_dex, short_dex, z, D(divergence), D(divergence), z, z, z, z, z, None, D(8),
                       "maker", 0, 0, long_interval_hours=D(long_h), short_interval_hours=D(short_h))


def spell(divergence: str, at: int = 5) -> Spell:
    return Spell(at, D(divergence), D(1), D(8))


def test_material_needs_twenty_percent_and_half_a_basis_point() -> None:
    assert not material(spell("0.0004"), opp("0.00047"))   # moved 0.00007 < 20 % of 0.0004 = 0.00008
    assert material(spell("0.0004"), opp("0.00048"))       # 0.00008: both thresholds met
    assert material(spell("0.0004"), opp("0.00032"))       # down by 0.00008 too
    assert not material(spell("0.0001"), opp("0.00014"))   # 40 % but only 0.00004 < 0.00005 absolute
    assert material(spell("0.0004"), opp("0.0004", long_h=4))   # a leg's interval changed


def test_a_run_opens_changes_keeps_and_closes() -> None:
    spells = {"BTC:a:b": spell("0.0004", at=1), "ETH:a:b": spell("0.001", at=2), "SOL:a:b": spell("0.0003", at=3)}
    now = [opp("0.0004", "BTC:a:b"), opp("0.0015", "ETH:a:b"), opp("0.0002", "DOGE:a:b")]
    events, after = diff(spells, now, 10)
    assert [(e.event, e.id, e.opened_at_ms) for e in events] == [
        ("opened", "DOGE:a:b", 10), ("changed", "ETH:a:b", 2), ("closed", "SOL:a:b", 3)]
    assert events[-1].opportunity is None                      # storage repeats the last recorded values
    assert after["BTC:a:b"] is spells["BTC:a:b"]               # unchanged: nothing recorded, the spell kept
    assert after["ETH:a:b"] == Spell(2, D("0.0015"), D(1), D(8))   # re-based on the recorded change
    assert set(after) == {"BTC:a:b", "ETH:a:b", "DOGE:a:b"}
    assert diff(after, now, 11)[0] == []                       # a steady run stores nothing
