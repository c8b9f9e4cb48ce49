"""What the analysis hands the webhooks: lifecycle events with stable ids, rate changes, failures contained."""

from __future__ import annotations

from decimal import Decimal as D

from chalicelib.core.models import MarketSnapshot
from chalicelib.services.analyze import emit_events, outbound_events
from chalicelib.webhooks.events import event_id, normalize


def snap(rate: str, fetched: int = 1_000) -> MarketSnapshot:
    return MarketSnapshot(dex="grvt", symbol="ETH", dex_symbol="ETH_USDT_Perp", funding_rate=D(rate),
                          funding_interval_hours=D(8), mark_price=D(3000), fetched_at_ms=fetched)


def test_lifecycle_ids_come_from_type_opportunity_and_fingerprint() -> None:
    events = [("opened", {"id": "BTC:a:b"}), ("closed", {"id": "ETH:a:b"})]
    state = {"BTC:a:b": {"fp": "1|2|3"}}
    previous = {"ETH:a:b": {"fp": "4|5|6"}}
    out = outbound_events(events, previous, state, [], [])
    assert [(e["type"], e["id"]) for e in out] == [
        ("opportunity.opened", event_id("opportunity.opened", "BTC:a:b", "1|2|3")),
        ("opportunity.closed", event_id("opportunity.closed", "ETH:a:b", "4|5|6"))]
    assert outbound_events(events, previous, state, [], []) == out     # a repeated run: the same ids


def test_rate_changes_carry_both_annualized_rates() -> None:
    before, now = snap("0.0004", 1_000), snap("0.0006", 61_000)
    (change,) = outbound_events([], {}, {}, [before], [now])
    # 8 h interval: rate_1h = 0.0006 / 8 = 0.000075; APR = 0.000075 x 8760 x 100 = 65.7 %; before 0.00005 -> 43.8 %
    assert change["type"] == "funding_rate.changed"
    assert change["data"]["annualized_rate"] == D("65.7") and change["data"]["previous_annualized_rate"] == D("43.8")
    assert outbound_events([], {}, {}, [], [now]) == []      # a market new this run has no previous rate


def test_a_failing_sink_never_fails_the_analysis() -> None:
    def broken(events):
        raise ConnectionError("database down")

    assert emit_events(broken, [{"type": "venue.degraded", "data": {}}]) == {
        "error": "ConnectionError: database down"}
    assert emit_events(None, [{"type": "venue.degraded", "data": {}}]) == {}


def test_flat_venue_records_are_accepted() -> None:
    (e,) = normalize([{"event": "venue.degraded", "dex": "grvt", "reason": "HTTP 502"}], now_ms=5)
    assert (e.type, dict(e.data), e.occurred_at_ms) == ("venue.degraded", {"dex": "grvt", "reason": "HTTP 502"}, 5)
