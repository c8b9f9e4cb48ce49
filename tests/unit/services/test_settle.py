"""services/settle.py: verdict changes announced as venue events; a Redis outage costs the frames, never the
webhooks nor the run (unit: fakes for Redis and the emit port)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from chalicelib.services import settle

REPORTS = {"lighter": {"verdict": {"status": "unit_mismatch", "factor": D("8.0000"), "suspected": "x8", "samples": 30}},
           "edgex": {"verdict": {"status": "verified", "factor": D("1.0000"), "suspected": None, "samples": 30}}}


class DownRedis:
    def publish(self, *args: Any) -> int:
        raise ConnectionError("connection refused")

    def smembers(self, *args: Any) -> set[bytes]:
        raise ConnectionError("connection refused")


def test_redis_outage_skips_the_frames_but_the_webhooks_still_go_out():
    events = settle.verdict_events({}, REPORTS, now_ms=1_790_000_000_000)
    assert [(e["event"], e["dex_name"], e["previous"]) for e in events] == [("unit_mismatch", "lighter", None)]
    emitted: list[Any] = []
    out = settle.publish_events(events, kv=DownRedis(), pusher=object(), emit=lambda evs: emitted.extend(evs) or {"ok": 1},
                                now_ms=1_790_000_000_000)
    assert out["published"] == 0 and out["ws"] is None and out["webhooks"] == {"ok": 1}
    assert [(e["type"], e["data"]["dex_name"], e["data"]["factor"]) for e in emitted] == [("venue.unit_mismatch", "lighter", D(8))]
    assert emitted[0]["data"]["timestamp"] == "2026-09-21T14:13:20Z"     # 1 790 000 000 s after the epoch, UTC


def test_no_change_announces_nothing():
    before = {"lighter": "unit_mismatch", "edgex": "verified"}
    assert settle.verdict_events(before, REPORTS, now_ms=5) == []
    assert settle.publish_events([], kv=DownRedis(), pusher=None, emit=None, now_ms=5) == {
        "events": 0, "ws": None, "published": 0, "webhooks": {}}


def test_throttled_runs_the_first_call_then_at_most_once_per_interval() -> None:
    import time as _time

    from chalicelib.services.settle import Throttled

    calls: list[float] = []
    t = Throttled(lambda: calls.append(_time.monotonic()), every=0.2)
    for _ in range(5):
        t()                        # 5 calls at once: one runs
    assert len(calls) == 1
    _time.sleep(0.25)
    t()
    t()                            # after the interval: one more, the second dropped
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.2
