"""The analysis lambda: sources, opportunities, hot keys, opened/updated/closed, pub/sub, filtered pushes, fee versions;
the events it hands the webhooks."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.cache import keys
from chalicelib.core.codec import snapshot_to_dict
from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.core.serialize import dumps
from chalicelib.services import ws_registry
from chalicelib.services.analyze import emit_events, outbound_events, venue_webhook_events
from chalicelib.webhooks.events import event_id, normalize
from tests.fakes import Env, snap

D = Decimal
pytestmark = pytest.mark.usefixtures("env")


def subscribe(env: Env, cid: str, **message: Any) -> None:
    ws_registry.connect(env.kv, cid, now_ms=0, endpoint="https://x.execute-api.us-east-1.amazonaws.com/ws")
    reply = ws_registry.handle_message(env.kv, cid, json.dumps({"action": "subscribe", **message}), now_ms=0,
                                       known_dexes=["hyperliquid", "paradex", "lighter", "grvt", "edgex"])
    assert reply["type"] == "subscribed", reply


def run(client: Client) -> dict[str, Any]:
    return client.lambda_.invoke("analyze", {"source": "collector", "dex": "hyperliquid", "correlation_id": "c-1"}).payload


def test_three_runs_open_close_update_and_push_only_matching_changes(env: Env) -> None:
    now = int(time.time() * 1000)
    hl = [snap("hyperliquid", "BTC", "0.0000125", 1, at_ms=now), snap("hyperliquid", "ETH", "0.00005", 1, at_ms=now)]
    env.kv.set(keys.latest_rates_dex("hyperliquid"), dumps([snapshot_to_dict(s) for s in hl]))   # a collector's list
    env.storage.ingest([snap("paradex", "BTC", "0.0009", 8, at_ms=now), snap("paradex", "ETH", "-0.0002", 8, at_ms=now)])
    published: list[tuple[str, dict[str, Any]]] = []
    env.kv.listeners.append(lambda channel, message: published.append((channel, json.loads(message))))
    subscribe(env, "a-btc-rates", channels=["funding_rates"], filters={"symbols": ["BTC"]})
    subscribe(env, "b-lighter-paradex-opps", channels=["opportunities"], filters={"dexes": ["lighter", "paradex"]})
    subscribe(env, "c-paradex-batch", channels=["funding_rates", "opportunities"], filters={"dexes": ["paradex"]},
              format="batch")
    subscribe(env, "d-all-opps", channels=["opportunities"])

    with Client(app) as client:
        first = run(client)
        # BTC: long hyperliquid (rate_8h 0.0001), short paradex (0.0009): net 0.0001*8 - 2*(0.00015+0.00003) = 0.00044
        # ETH: long paradex (-0.0002), short hyperliquid (0.0004): divergence 0.0006, net 0.0006 - 0.00036 = 0.00024
        from chalicelib.venues import REGISTRY  # every registered venue is asked for; two have rates

        assert first["sources"] == {**{m.SPEC.id: "none" for m in REGISTRY}, "hyperliquid": "redis",
                                    "paradex": "database"}
        assert (first["snapshots"], first["opportunities"], first["open"], first["written"]) == (4, 2, 2, 2)
        assert first["events"] == {"opened": 2, "updated": 0, "closed": 0} and first["rates_changed"] == 4
        assert first["correlation_id"] == "c-1" and first["fees_source"] == "database"
        opps = [e["data"] for e in published[1][1]["events"]]          # the opportunities channel, net desc
        assert [(o["id"], o["net_profit_percent"]) for o in opps] == [("BTC:hyperliquid:paradex", 0.00044),
                                                                      ("ETH:paradex:hyperliquid", 0.00024)]
        assert opps[0]["annualized_apy"] == pytest.approx(48.18)        # 0.00044 * 1095 * 100
        assert len(json.loads(env.kv.get(keys.latest_rates()))) == 4
        latest = {(r["dex"], r["symbol"]): r for r in json.loads(env.kv.get(keys.latest_rates()))}
        assert latest[("paradex", "ETH")]["funding_rate"] == "-0.0002"      # storage form: native, lossless
        assert list(env.kv.scan_iter(f"{keys.PREFIX}:opportunities:*")) == [keys.opportunity_state().encode()]  # no unread lists
        assert env.kv.get(keys.latest_rates_dex("paradex")) is not None   # came from the database: cached now

        frames = env.pusher.frames
        assert [(f["type"], f["data"]["dex_name"]) for f in frames["a-btc-rates"]] == [
            ("funding_rate_update", "hyperliquid"), ("funding_rate_update", "paradex")]
        btc_hl = frames["a-btc-rates"][0]["data"]
        # 0.0000125 per 1 h interval: rate_8h = 0.0000125 * 8 = 0.0001 (the frame's basis), APR 0.0000125 * 876000 = 10.95
        assert {k: btc_hl[k] for k in ("dex_name", "symbol", "basis", "funding_rate", "native_rate", "rate_1h",
                                       "rate_8h", "annualized_rate", "funding_interval_hours", "mark_price")} == {
            "dex_name": "hyperliquid", "symbol": "BTC", "basis": "8h", "funding_rate": 0.0001, "native_rate": 0.0000125,
            "rate_1h": 0.0000125, "rate_8h": 0.0001, "annualized_rate": 10.95, "funding_interval_hours": 1,
            "mark_price": 100}
        assert "b-lighter-paradex-opps" not in frames          # both opportunities have a hyperliquid leg
        (batch,) = frames["c-paradex-batch"]
        assert batch["type"] == "funding_rate_batch" and [d["symbol"] for d in batch["data"]] == ["BTC", "ETH"]
        assert [(f["type"], f["event"], f["data"]["id"]) for f in frames["d-all-opps"]] == [
            ("opportunity_update", "opened", "BTC:hyperliquid:paradex"),
            ("opportunity_update", "opened", "ETH:paradex:hyperliquid")]
        assert [c for c, _ in published] == [keys.channel("funding_rates"), keys.channel("opportunities")]
        assert published[0][1]["type"] == "funding_rate_batch" and len(published[0][1]["data"]) == 4

        # Run 2: paradex BTC falls to 0.0003/8h -> divergence 0.0002, net 0.0002 - 0.00036 < 0: BTC closes.
        env.pusher.frames.clear()
        env.kv.delete(keys.latest_rates_dex("paradex"))
        env.storage.ingest([snap("paradex", "BTC", "0.0003", 8, at_ms=now)])
        second = run(client)
        assert second["events"] == {"opened": 0, "updated": 0, "closed": 1} and second["rates_changed"] == 1
        assert [f["data"]["funding_rate"] for f in env.pusher.frames["a-btc-rates"]] == [0.0003]
        assert [(f["event"], f["data"]) for f in env.pusher.frames["d-all-opps"]] == [
            ("closed", {"id": "BTC:hyperliquid:paradex", "symbol": "BTC", "long_dex": "hyperliquid", "short_dex": "paradex"})]
        assert list(json.loads(env.kv.get(keys.opportunity_state()))) == ["ETH:paradex:hyperliquid"]
        assert env.storage.fee_reads == 1 and second["fees_source"] == "redis"

        # Run 3: an admin fee change (hyperliquid maker 0) bumps fees_version -> fees re-read:
        # ETH net 0.0006 - 2*(0 + 0.00003) = 0.00054 (updated); BTC net 0.0002 - 0.00006 = 0.00014 (opens again)
        env.pusher.frames.clear()
        env.storage.fees["hyperliquid"] = FeeSchedule(maker=Decimal(0), taker=Decimal("0.00045"))
        env.kv.incr(keys.fees_version())
        third = run(client)
        assert env.storage.fee_reads == 2 and third["fees_source"] == "database"
        assert third["events"] == {"opened": 1, "updated": 1, "closed": 0} and third["rates_changed"] == 0
        assert [(f["event"], f["data"]["id"], f["data"]["net_profit_percent"]) for f in env.pusher.frames["d-all-opps"]] == [
            ("updated", "ETH:paradex:hyperliquid", 0.00054), ("opened", "BTC:hyperliquid:paradex", 0.00014)]
        assert "a-btc-rates" not in env.pusher.frames         # no rate moved: nothing to say


def test_a_stale_venue_is_left_out_of_opportunities(env: Env) -> None:
    now = int(time.time() * 1000)
    env.storage.ingest([snap("hyperliquid", "BTC", "0.0000125", 1, at_ms=now),
                        snap("paradex", "BTC", "0.0009", 8, at_ms=now - 10 * 60_000)])   # 10 min old > 3 x 60 s
    with Client(app) as client:
        summary = run(client)
    assert summary["snapshots"] == 2 and summary["opportunities"] == 0 and summary["open"] == 0


def test_overlapping_runs_coalesce_into_one_rerun(env: Env) -> None:
    from chalicelib.services import analyze

    now = int(time.time() * 1000)
    env.storage.ingest([snap("hyperliquid", "BTC", "0.0000125", 1, at_ms=now), snap("paradex", "BTC", "0.0009", 8, at_ms=now)])
    env.kv.set(analyze.LOCK_KEY, "another-container")                  # a run is in progress elsewhere
    with Client(app) as client:
        assert run(client) == {"trigger": "hyperliquid", "correlation_id": "c-1", "coalesced": True}
        assert env.kv.get(analyze.PENDING_KEY) == b"1" and env.storage.opportunities == []
        env.kv.delete(analyze.LOCK_KEY)                                  # the other run finished...
        env.kv.set(analyze.PENDING_KEY, "1")                             # ...after another collector asked again
        summary = run(client)
    assert summary["reruns"] == 0 and summary["events"] == {"opened": 1, "updated": 0, "closed": 0}
    assert env.kv.get(analyze.LOCK_KEY) is None and env.kv.get(analyze.PENDING_KEY) is None


def test_a_collector_asking_during_a_run_gets_exactly_one_rerun(env: Env) -> None:
    from chalicelib.services import analyze

    now = int(time.time() * 1000)
    env.storage.ingest([snap("hyperliquid", "BTC", "0.0000125", 1, at_ms=now), snap("paradex", "BTC", "0.0009", 8, at_ms=now)])
    write = env.storage.write_lifecycle
    passes: list[int] = []

    def write_while_another_collector_chains(events: Any, spells: Any) -> int:
        passes.append(len(events))
        if len(passes) == 1:          # during the first pass only
            assert run(client) == {"trigger": "hyperliquid", "correlation_id": "c-1", "coalesced": True}
        return write(events, spells)

    env.storage.write_lifecycle = write_while_another_collector_chains  # type: ignore[method-assign]
    with Client(app) as client:
        summary = run(client)
    assert summary["reruns"] == 1 and passes == [1, 0]   # opened in the first pass; the rerun stored nothing
    assert summary["events"] == {"opened": 0, "updated": 0, "closed": 0}   # the rerun saw nothing new
    assert env.kv.get(analyze.LOCK_KEY) is None and env.kv.get(analyze.PENDING_KEY) is None


class _RedisDown:
    """redis-py while the server is unreachable: every command raises redis.exceptions.ConnectionError."""

    def __init__(self, kv: Any = None, *, after: int = 0) -> None:
        self.kv, self.after = kv, after        # `after` commands succeed on `kv` first (Redis dies mid-run)

    def __getattr__(self, name: str) -> Any:
        import redis

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.after > 0:
                self.after -= 1
                return getattr(self.kv, name)(*args, **kwargs)
            raise redis.exceptions.ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

        return call


@pytest.mark.parametrize("after", [0, 3, 6], ids=["down-from-the-start", "dies-while-loading", "dies-after-storing"])
def test_a_redis_outage_still_stores_the_cycles_opportunities(env: Env, after: int) -> None:
    from chalicelib import wiring
    from chalicelib.services import analyze

    now = int(time.time() * 1000)
    env.storage.ingest([snap("hyperliquid", "BTC", "0.0000125", 1, at_ms=now), snap("paradex", "BTC", "0.0009", 8, at_ms=now)])
    subscribe(env, "d-all-opps", channels=["opportunities"])
    # after=3: lock, pending flag and the rates' mget succeed, the fee lookup fails;
    # after=6: the fees are cached too, the first cache read after storing fails (and the unlock)
    wiring.override(kv=_RedisDown(env.kv, after=after))
    with Client(app) as client:
        summary = run(client)
    # net = 0.0001 * 8 - 2 * (0.00015 + 0.00003) = 0.00044, from the database rows
    ((stored,),) = env.storage.opportunities
    assert (stored.id, stored.net_profit_percent) == ("BTC:hyperliquid:paradex", Decimal("0.00044"))
    assert summary["redis"] == "unavailable" and summary["written"] == 1 and summary["open"] == 1
    assert summary["sources"]["paradex"] == "database" and summary["fees_source"] == "database"
    assert summary["ws"]["frames_delivered"] == 0 and env.pusher.frames == {}
    assert env.kv.get(keys.opportunity_state()) is None                 # nothing half-written to the cache
    if after:
        assert env.kv.get(analyze.LOCK_KEY) is not None                 # left to expire (LOCK_MS): Redis was gone


def test_venue_events_on_change_only_and_suspect_legs_marked(env: Env) -> None:
    now = int(time.time() * 1000)
    quiet = {"BTC": "0.0000125", "ETH": "0.000013", "SOL": "0.000012"}            # rate_1h, fraction per hour
    for dex in ("lighter", "paradex", "grvt"):
        env.storage.ingest([snap(dex, sym, rate, 1, at_ms=now) for sym, rate in quiet.items()])
    # hyperliquid serves the same market x8: 0.0001, 0.000104, 0.000096 per hour
    env.storage.ingest([snap("hyperliquid", sym, str(Decimal(rate) * 8), 1, at_ms=now) for sym, rate in quiet.items()])
    env.storage.collections = {"grvt": {"status": "degraded", "reason": "budget: 25 of 124 markets not fetched"},
                               "lighter": {"status": "success", "reason": None}}
    published: list[tuple[str, dict[str, Any]]] = []
    env.kv.listeners.append(lambda channel, message: published.append((channel, json.loads(message))))
    subscribe(env, "all", channels=["opportunities"])
    subscribe(env, "lighter-only", channels=["funding_rates"], filters={"dexes": ["lighter"]})

    with Client(app) as client:
        first = run(client)
        # per symbol hyperliquid / median(lighter, paradex, grvt) = 8 on BTC, ETH and SOL
        assert first["units"]["hyperliquid"] == {"status": "suspect", "factor": 8, "ratio": 8}
        assert {d: u["status"] for d, u in first["units"].items()} == {
            "grvt": "ok", "hyperliquid": "suspect", "lighter": "ok", "paradex": "ok"}
        assert [(e["event"], e["dex_name"]) for e in first["venue_events"]] == [
            ("degraded", "grvt"), ("unit_suspect", "hyperliquid")]
        assert first["venue_events"][0]["reason"] == "budget: 25 of 124 markets not fetched"
        venue_frames = [f for f in env.pusher.frames["all"] if f["type"] == "venue_event"]
        assert [(f["event"], f["data"]["dex_name"], f["data"].get("factor")) for f in venue_frames] == [
            ("degraded", "grvt", None), ("unit_suspect", "hyperliquid", 8)]
        assert not [f for f in env.pusher.frames.get("lighter-only", []) if f["type"] == "venue_event"]
        assert keys.channel("venues") in [c for c, _ in published]
        # the three quiet venues agree to the last digit, so only pairs with a hyperliquid leg pay after fees:
        # kept, and marked in the frames and the stored metadata
        opened = [f["data"] for f in env.pusher.frames["all"] if f["type"] == "opportunity_update"]
        assert opened and all("hyperliquid" in (o["long_dex"], o["short_dex"]) for o in opened)
        assert {tuple(d["unit_suspect_dexes"]) for d in opened} == {("hyperliquid",)}
        stored = env.storage.opportunities[-1]
        assert len(stored) == len(opened) and {o.metadata["unit_suspect_dexes"][0] for o in stored} == {"hyperliquid"}

        env.pusher.frames.clear()
        assert run(client)["venue_events"] == []                                   # nothing changed: no event
        assert not [f for f in env.pusher.frames.get("all", []) if f["type"] == "venue_event"]

        env.storage.collections["grvt"] = {"status": "success", "reason": None}
        third = run(client)
        assert [(e["event"], e["dex_name"], e["previous"]) for e in third["venue_events"]] == [
            ("recovered", "grvt", "degraded")]


# ---- what the analysis hands the webhooks: lifecycle events with stable ids, rate changes, failures contained

def grvt_snap(rate: str, fetched: int = 1_000) -> MarketSnapshot:
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
    before, now = grvt_snap("0.0004", 1_000), grvt_snap("0.0006", 61_000)
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


def test_venue_tracker_events_reach_webhooks_under_their_subscribable_type() -> None:
    """The tracker's flat records ({"event": "degraded", ...}) carry no webhook type: before this mapping a
    webhook subscribed to venue.degraded never heard of a degraded venue (normalize read "degraded")."""
    from chalicelib.webhooks.events import VENUE_TYPES, normalize

    tracker = [{"event": "degraded", "dex_name": "grvt", "reason": "budget"},
               {"event": "failed", "dex_name": "edgex", "reason": "parse: HTTP 200 without data"},
               {"event": "recovered", "dex_name": "lighter"},
               {"event": "unit_suspect", "dex_name": "hyperliquid", "factor": 8},
               {"event": "unit_ok", "dex_name": "hyperliquid"}]
    typed = normalize(venue_webhook_events(tracker), now_ms=5)
    assert [(e.type, e.data["dex_name"], e.data["event"]) for e in typed] == [
        ("venue.degraded", "grvt", "degraded"), ("venue.degraded", "edgex", "failed"),
        ("venue.recovered", "lighter", "recovered"), ("venue.unit_suspect", "hyperliquid", "unit_suspect"),
        ("venue.recovered", "hyperliquid", "unit_ok")]
    assert all(e.type in VENUE_TYPES for e in typed)
