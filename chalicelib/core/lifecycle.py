"""Opportunity lifecycle: the events stored as opportunity history (sql/0010). Pure: inputs in, events out.

An opportunity (stable id `SYMBOL:long_dex:short_dex`) is OPEN while the analysis finds it paying after
fees (net_profit_percent > 0 at the analysis' hold period and fee type). Events:

- `opened`: an id not open before (a new spell starts; `opened_at` = this run).
- `changed`: a MATERIAL change against the values last recorded for the spell (see `material`).
- `closed`: an id open before and not found this run; the row repeats the values last recorded.

So history grows with events, not with analysis cycles: an opportunity that holds still costs one
row when it opens and one when it closes, however many cycles it lives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.core.models import Opportunity

# A change is material when the divergence (per 8 h) moved by at least MATERIAL_RELATIVE of the value
# last recorded AND by at least MATERIAL_ABSOLUTE_8H (so noise around a tiny spread records nothing), or
# when a leg's funding interval changed.
MATERIAL_RELATIVE = Decimal("0.2")          # 20 % of the recorded divergence
MATERIAL_ABSOLUTE_8H = Decimal("0.00005")   # 0.5 bp per 8 h
EVENTS = ("opened", "changed", "closed")


@dataclass(frozen=True, slots=True)
class Spell:
    """An open opportunity as last recorded: when it opened and the values of its last event."""

    opened_at_ms: int
    divergence: Decimal                      # per 8 h, as last recorded
    long_interval_hours: Decimal | None = None
    short_interval_hours: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    event: str                               # opened | changed | closed
    id: str                                  # the opportunity id
    time_ms: int                             # the analysis run that saw it
    opened_at_ms: int
    opportunity: Opportunity | None          # values at the event; None for `closed` (storage repeats the last)


def material(spell: Spell, o: Opportunity) -> bool:
    """Did `o` move materially from what `spell` recorded? (thresholds above)"""
    if (o.long_interval_hours, o.short_interval_hours) != (spell.long_interval_hours, spell.short_interval_hours):
        return True
    moved = abs(o.divergence - spell.divergence)
    return moved >= MATERIAL_ABSOLUTE_8H and moved >= MATERIAL_RELATIVE * abs(spell.divergence)


def diff(spells: Mapping[str, Spell], open_now: Sequence[Opportunity], now_ms: int
         ) -> tuple[list[LifecycleEvent], dict[str, Spell]]:
    """(events of this run in id order per kind, the open spells after it)."""
    events: list[LifecycleEvent] = []
    after: dict[str, Spell] = {}
    for o in sorted(open_now, key=lambda x: x.id):
        before = spells.get(o.id)
        if before is None:
            events.append(LifecycleEvent("opened", o.id, now_ms, now_ms, o))
            after[o.id] = _spell(now_ms, o)
        elif material(before, o):
            events.append(LifecycleEvent("changed", o.id, now_ms, before.opened_at_ms, o))
            after[o.id] = _spell(before.opened_at_ms, o)
        else:
            after[o.id] = before
    for oid in sorted(set(spells) - after.keys()):
        events.append(LifecycleEvent("closed", oid, now_ms, spells[oid].opened_at_ms, None))
    return events, after


def _spell(opened_at_ms: int, o: Opportunity) -> Spell:
    return Spell(opened_at_ms, o.divergence, o.long_interval_hours, o.short_interval_hours)


def spell_from_row(row: Mapping[str, Any]) -> Spell:
    """A stored open spell (storage `open_spells` row) as a Spell."""
    return Spell(int(row["opened_at_ms"]), Decimal(row["divergence"]), row.get("long_interval_hours"),
                 row.get("short_interval_hours"))
