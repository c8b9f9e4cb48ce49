"""Venue watch, run by every analysis cycle: the cross-venue unit check, each venue's newest collection
outcome, and the venue events (degraded / failed / recovered / unit_suspect / unit_ok) for what CHANGED.

State lives in Redis: keys.venue_states() (what the last cycle saw, to diff against) and keys.unit_check()
(the verdicts the REST handlers show). Without Redis there is no previous state to diff against, so no
event is emitted (rather than re-announcing every problem each cycle); the verdicts are still computed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.cache import keys
from chalicelib.core.models import MarketSnapshot
from chalicelib.core.serialize import dumps
from chalicelib.core.unit_check import UnitVerdict, check
from chalicelib.core.venue_state import merge_states, transitions

STATE_TTL_S = 7 * 24 * 3600     # forgetting the state re-announces current problems once, nothing worse


@dataclass(frozen=True, slots=True)
class VenueWatch:
    units: dict[str, UnitVerdict]
    events: list[dict[str, Any]] = field(default_factory=list)   # venue_event data, in dex order

    @property
    def suspect(self) -> frozenset[str]:
        return frozenset(d for d, v in self.units.items() if v.status == "suspect")


def watch(snapshots: Sequence[MarketSnapshot], *, storage: Any, kv: Any, timestamp: str, ttl: int,
          redis_ok: bool) -> VenueWatch:
    """Judge units on the fresh snapshots, read the collection states, diff, store; returns verdicts + events."""
    units = check(snapshots)
    verdicts = {d: v.to_dict() for d, v in units.items()}
    if not redis_ok:
        return VenueWatch(units)
    collections = {d: {"status": r.get("status"), "reason": r.get("reason")}
                   for d, r in storage.latest_collections().items()}
    previous = json.loads(kv.get(keys.venue_states()) or "{}")
    current = merge_states(previous, collections, verdicts)
    events = transitions(previous, current, timestamp=timestamp)
    kv.set(keys.venue_states(), dumps(current), ex=STATE_TTL_S)
    kv.set(keys.unit_check(), dumps({"checked_at": timestamp, "venues": verdicts}), ex=ttl)
    return VenueWatch(units, events)


def mark(opportunity: Any, suspect: frozenset[str]) -> Any:
    """The opportunity with metadata.unit_suspect_dexes = its legs flagged unit_suspect (kept, not dropped)."""
    legs = [d for d in (opportunity.long_dex, opportunity.short_dex) if d in suspect]
    if not legs:
        return opportunity
    return dataclasses.replace(opportunity, metadata={**opportunity.metadata, "unit_suspect_dexes": legs})
