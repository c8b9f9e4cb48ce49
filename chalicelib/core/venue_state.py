"""Venue states: one collection's verdict (success | degraded | failed, with reasons) and the state changes
an analysis cycle announces (degraded, failed, recovered, unit_suspect, unit_ok). Pure: inputs in, verdict out.

Collection verdict (thresholds below are data, each with its why):

- failed   : a fatal error (circuit open, a first-stage request failed, the payload's shape is wrong), or the
             venue answered with no usable market at all;
- degraded : markets left unfetched because the request budget ran out, follow-up requests that failed,
             more than REJECT_SHARE of the markets rejected, or fewer usable markets than
             (1 - DROP_SHARE) x the venue's baseline (the median `markets` of its last BASELINE_RUNS
             collections that stored data, in collection_logs: a lasting change becomes the new normal
             after about half that window, so a venue is never degraded for ever by a wave of delistings);
- success  : none of the above. A few rejected records are routine (one market without a mark price) and
             stay visible as `rejected` in the collection log.

The old `partial` status is gone: partial meant "something missing" and maps to `degraded`
(sql/0004_venue_states.sql rewrites old rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SUCCESS, DEGRADED, FAILED = "success", "degraded", "failed"
REJECT_SHARE = 0.5        # more than half the markets rejected: the payload's semantics changed, not one bad row
DROP_SHARE = 0.2          # a fifth of the usual markets gone in one cycle: listings do not move that fast
BASELINE_RUNS = 10        # collections that stored data the baseline looks back over (10 minutes at 60 s)
MIN_BASELINE_SAMPLES = 3  # fewer runs than this: no baseline yet, no drop check


@dataclass(frozen=True, slots=True)
class Baseline:
    """The venue's usual market count: median `markets` of its last `samples` collections that stored data."""

    markets: float
    samples: int


@dataclass(frozen=True, slots=True)
class CollectionVerdict:
    status: str                      # success | degraded | failed
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        return "; ".join(self.reasons) or None


def collection_verdict(*, fatal: str | None, markets: int, rejected: int, unfetched: int = 0,
                       follow_ups: int = 0, follow_up_errors: tuple[str, ...] = (),
                       requests_per_minute: int | None = None, baseline: Baseline | None = None) -> CollectionVerdict:
    """markets: usable snapshots; rejected: records failing validation; unfetched: follow-up requests the
    budget did not cover (each follow-up stage fetches one market per request: GRVT ticker, EdgeX contract),
    of `follow_ups` planned; follow_up_errors: reasons of follow-ups that failed for other causes."""
    if fatal:
        return CollectionVerdict(FAILED, (fatal,))
    # a market whose follow-up was never fetched (or failed) is rejected by the parser too: count it once
    bad = max(0, rejected - unfetched - len(follow_up_errors))
    seen = markets + bad
    if markets == 0:
        return CollectionVerdict(FAILED, (f"no usable markets ({rejected} rejected)" if rejected
                                          else "no data: the venue answered with no markets",))
    reasons: list[str] = []
    if unfetched:
        limit = f" (rate limit {requests_per_minute}/min)" if requests_per_minute else ""
        reasons.append(f"budget: {unfetched} of {follow_ups or unfetched} markets not fetched{limit}")
    if follow_up_errors:
        reasons.append(f"{len(follow_up_errors)} follow-up requests failed (first: {follow_up_errors[0]})")
    if seen and bad / seen > REJECT_SHARE:
        reasons.append(f"{bad} of {seen} markets rejected ({round(100 * bad / seen)} %)")
    if baseline is not None and baseline.samples >= MIN_BASELINE_SAMPLES and baseline.markets > 0 \
            and markets < (1 - DROP_SHARE) * baseline.markets:
        lost = 1 - markets / baseline.markets
        reasons.append(f"market count dropped: {markets} usable vs a usual {baseline.markets:g} "
                       f"(-{round(100 * lost)} %, median of the last {baseline.samples} runs)")
    return CollectionVerdict(DEGRADED if reasons else SUCCESS, tuple(reasons))


# ---- state changes ----------------------------------------------------------------------------
NORMAL = {"collection": SUCCESS, "units": "ok"}


def merge_states(previous: Mapping[str, Mapping[str, Any]], collection: Mapping[str, Mapping[str, Any]],
                 units: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The new per-venue state {dex: {"collection", "collection_reason", "units", "unit_factor", "unit_reason"}}.

    `collection`: {dex: {"status", "reason"}} (the venue's newest collection log row); `units`: {dex: unit
    verdict dict}. A venue missing from an input, or a unit verdict of "unknown" (too little data to judge),
    keeps its previous value: a state only changes on a decisive verdict."""
    out: dict[str, dict[str, Any]] = {}
    for dex in sorted(set(previous) | set(collection) | set(units)):
        state = dict(previous.get(dex) or {})
        if dex in collection:
            state["collection"] = collection[dex].get("status")
            state["collection_reason"] = collection[dex].get("reason")
        verdict = units.get(dex)
        if verdict is not None and verdict.get("status") in ("ok", "suspect"):
            state["units"] = verdict["status"]
            state["unit_factor"] = verdict.get("factor")
            state["unit_reason"] = verdict.get("reason")
        out[dex] = state
    return out


def transitions(previous: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]],
                *, timestamp: str | None = None) -> list[dict[str, Any]]:
    """Venue events for what CHANGED (never a repeat of an unchanged state), in dex order:

    collection -> degraded | failed (entering either, or moving between them), recovered (back to success);
    units -> unit_suspect (entering suspect), unit_ok (leaving it). A venue seen for the first time is
    compared with the normal state, so only a problem is announced, never a "recovered" nobody saw lost."""
    events: list[dict[str, Any]] = []
    for dex in sorted(current):
        now, before = current[dex], {**NORMAL, **(previous.get(dex) or {})}
        status, was = now.get("collection"), before.get("collection")
        if status is not None and status != was:
            event = "recovered" if status == SUCCESS else status
            events.append({"event": event, "dex_name": dex, "timestamp": timestamp, "previous": was,
                           "status": status, "reason": now.get("collection_reason")})
        units, was_units = now.get("units"), before.get("units")
        if units is not None and units != was_units and "suspect" in (units, was_units):
            events.append({"event": "unit_suspect" if units == "suspect" else "unit_ok", "dex_name": dex,
                           "timestamp": timestamp, "previous": was_units, "status": units,
                           "factor": now.get("unit_factor"), "reason": now.get("unit_reason")})
    return events
