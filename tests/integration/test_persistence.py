"""Persistence fields, realized returns and lifecycle history end to end, checked by hand on a scripted history.

Real PostgreSQL and Redis (tests/conftest.py); WebSocket frames over real HTTP to a loopback @connections
endpoint. The pair is BTC long hyperliquid (1 h interval) / short paradex (8 h interval); fees (make_api):
hyperliquid maker 0.00015, paradex maker 0.00003, so a round trip costs 2 * (0.00015 + 0.00003) = 0.00036 and
at 8 h hold net = divergence (per 8 h) - 0.00036.

Stored history (funding_rates), by clock hour H - k h (H = the current hour's start): hyperliquid rate_8h
0.0001 every hour; paradex rate_8h 0.0005 (divergence +0.0004) except hours k = 3, 4 where it is 0.0000
(divergence -0.0001: the spread flickers), for k = 1..25 (nothing older).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.cache import keys
from chalicelib.core.codec import snapshot_to_dict
from chalicelib.core.serialize import dumps, iso_ms
from chalicelib.services import analyze, ws_registry
from chalicelib.transport.push import ApiGatewayPusher

from .test_rest import Api, make_api, snap
from .ws_endpoint import ConnectionsEndpoint

HOUR = 3_600_000
MIN = 60_000
pytestmark = pytest.mark.integration


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[Api]:
    yield from make_api(db_url, redis_url)


def _hour_start_now() -> tuple[int, int]:
    """(now, the current hour's start), waiting out the last 15 s of an hour so the scripted runs share one."""
    now = int(time.time() * 1000)
    if now % HOUR > HOUR - 15_000 or now % HOUR < 5_000:
        time.sleep((HOUR - now % HOUR + 6_000) / 1000 if now % HOUR > HOUR // 2 else (5_000 - now % HOUR) / 1000 + 1)
        now = int(time.time() * 1000)
    return now, now - now % HOUR


def _history(api: Api, h: int) -> None:
    rows = []
    for k in range(1, 26):
        at = h - k * HOUR + 10 * MIN
        paradex_8h = "0" if k in (3, 4) else "0.0005"
        rows += [snap("hyperliquid", "BTC", "0.0000125", 1, at_ms=at),   # 0.0000125 / 1 h = 0.0001 per 8 h
                 snap("paradex", "BTC", paradex_8h, 8, at_ms=at)]
    api.storage.ingest(rows)


def _analysis(api: Api, at_ms: int, paradex_8h: str, pusher: Any = None) -> dict[str, Any]:
    """One analysis run at `at_ms` with these latest rates (the collectors' Redis lists; the history stays as stored)."""
    for s in (snap("hyperliquid", "BTC", "0.0000125", 1, at_ms=at_ms), snap("paradex", "BTC", paradex_8h, 8, at_ms=at_ms)):
        api.kv.set(keys.latest_rates_dex(s.dex), dumps([snapshot_to_dict(s)]))
    return analyze.run_once({"source": "test"}, settings=wiring.settings(), storage=api.storage, kv=api.kv,
                            pusher=pusher or ApiGatewayPusher(None), now_ms=at_ms)


def _settlements(api: Api, h: int) -> None:
    class P:
        def __init__(self, t: int) -> None:
            self.time_ms, self.funding_rate, self.funding_interval_hours, self.mark_price = (
                t, Decimal("0.0000125"), Decimal(1), Decimal(100))

    # hyperliquid settled 0.0000125 at H-3h, H-2h, H-1h (in the 24 h window) and H-30h (7 d only); paradex none
    api.storage.ingest_settlements("hyperliquid", "BTC", [P(h - k * HOUR) for k in (3, 2, 1, 30)], source="test")


# 24 h window ending H (hours k = 1..24): 22 hours at +0.0004, 2 at -0.0001
MEAN_24 = (22 * 0.0004 + 2 * -0.0001) / 24                       # 0.0086 / 24 = 0.000358333...
VAR_24 = (22 * 0.0004 ** 2 + 2 * 0.0001 ** 2) / 24 - MEAN_24 ** 2  # 1.475e-07 - 1.28403e-07 = 1.90972e-08
CV_24 = math.sqrt(VAR_24) / MEAN_24                                # 1.38193e-04 / 3.58333e-04 = 0.385655
# 7 d window ending H (k = 1..168): data in k = 1..25 only: 23 hours at +0.0004, 2 at -0.0001
MEAN_7D = (23 * 0.0004 + 2 * -0.0001) / 25                       # 0.009 / 25 = 0.00036
VAR_7D = (23 * 0.0004 ** 2 + 2 * 0.0001 ** 2) / 25 - MEAN_7D ** 2  # 1.48e-07 - 1.296e-07 = 1.84e-08
CV_7D = math.sqrt(VAR_7D) / MEAN_7D                                # 1.35647e-04 / 3.6e-04 = 0.376798


def test_a_spread_that_opens_holds_flickers_and_closes(api: Api) -> None:
    now, h = _hour_start_now()
    _history(api, h)
    _settlements(api, h)
    oid = "BTC:hyperliquid:paradex"
    with ConnectionsEndpoint(live={"opps"}) as endpoint:
        ws_registry.connect(api.kv, "opps", now_ms=0, endpoint=endpoint.url)
        ws_registry.handle_message(api.kv, "opps", '{"action":"subscribe","channels":["opportunities"]}', now_ms=0,
                                   known_dexes=["hyperliquid", "paradex"])
        pusher = ApiGatewayPusher(endpoint.url)
        # run 1, H - 2 h + 5 min: divergence 0.0005 - 0.0001 = 0.0004, net 0.0004 - 0.00036 = 0.00004 > 0: OPENED
        t1 = h - 2 * HOUR + 5 * MIN
        first = _analysis(api, t1, "0.0005", pusher)
        assert first["lifecycle"] == {"opened": 1, "changed": 0, "closed": 0} and first["persistence"] == "rebuilt"
        # run 2, H - 1 h + 5 min: divergence 0.00045 (moved 0.00005 < 20 % of 0.0004 = 0.00008): no stored event,
        # but the rates moved, so subscribers get an `updated` frame: alive exactly 1 h since t1
        t2 = h - HOUR + 5 * MIN
        second = _analysis(api, t2, "0.00055", pusher)
        assert second["lifecycle"] == {"opened": 0, "changed": 0, "closed": 0} and second["persistence"] == "rolled"
        (opened, updated) = endpoint.of("opps")
        assert (opened["event"], updated["event"]) == ("opened", "updated")
        frame = updated["data"]
        assert frame["opened_at"] == iso_ms(t1) and frame["alive_hours"] == 1.0
        # its window ends H - 1 h: 24 h = k 2..25 (22 x 0.0004, 2 x -0.0001: the same numbers as MEAN_24);
        # 7 d = k 2..25 too (24 hours of data): sign held 22 of 168 hours
        assert frame["avg_divergence_24h"] == pytest.approx(MEAN_24, rel=1e-9)
        assert frame["cv_24h"] == pytest.approx(CV_24, rel=1e-5)
        assert frame["sign_held_24h"] == pytest.approx(22 / 24, abs=1e-6)
        assert frame["avg_divergence_7d"] == pytest.approx(MEAN_24, rel=1e-9)
        assert frame["sign_held_7d"] == pytest.approx(22 / 168, abs=1e-6)

        # run 3, now + 1 s (the current hour; REST judges staleness on the real clock): divergence 0.0002 - 0.0001 = 0.0001, net < 0: CLOSED (the flicker)
        third = _analysis(api, now + 1000, "0.0002", pusher)
        assert third["lifecycle"] == {"opened": 0, "changed": 0, "closed": 1} and third["persistence"] == "rolled"
        # run 4: 0.0006 - 0.0001 = 0.0005, net 0.00014: OPENED again, a new spell
        t4 = now + 2000
        assert _analysis(api, t4, "0.0006", pusher)["lifecycle"] == {"opened": 1, "changed": 0, "closed": 0}
        # run 5: 0.0007 - 0.0001 = 0.0006: moved 0.0001 >= 20 % of 0.0005 and >= 0.00005: CHANGED
        fifth = _analysis(api, now + 3000, "0.0007", pusher)
        assert fifth["lifecycle"] == {"opened": 0, "changed": 1, "closed": 0} and fifth["persistence"] == "cached"
        last = endpoint.of("opps")[-1]["data"]
        assert last["opened_at"] == iso_ms(t4) and last["alive_hours"] == 0.0   # 1 s after t4: 0.00 h
        assert last["avg_divergence_24h"] == pytest.approx(MEAN_24, rel=1e-9)
        assert last["cv_24h"] == pytest.approx(CV_24, rel=1e-5)
        assert last["avg_divergence_7d"] == pytest.approx(MEAN_7D, rel=1e-9)
        assert last["cv_7d"] == pytest.approx(CV_7D, rel=1e-5)
        assert last["sign_held_7d"] == pytest.approx(23 / 168, abs=1e-6)
        assert last["realized_source"] == "mixed"

    # REST: the same fields on /opportunities, and the realized returns at the query's fee type
    _, body = api.get("/api/v1/opportunities?min_volume=0&symbol=BTC")
    (o,) = [x for x in body["opportunities"] if x["id"] == oid]
    assert o["opened_at"] == iso_ms(t4)
    assert o["alive_hours"] == pytest.approx(max(0, time.time() * 1000 - t4) / HOUR, abs=0.011)
    assert (o["avg_divergence_24h"], o["sign_held_24h"]) == (pytest.approx(MEAN_24, rel=1e-9), pytest.approx(22 / 24))
    assert o["cv_24h"] == pytest.approx(CV_24, rel=1e-5)
    # realized 24 h: long hyperliquid SETTLED 3 x 0.0000125 = 0.0000375 (paid by the long leg); short paradex has
    # no settlements: collected hours k = 1..24, 22 x 0.0005 + 2 x 0 = 0.011 per 8 h -> / 8 = 0.001375 accrued.
    # funding 0.001375 - 0.0000375 = 0.0013375; fees 0.00036; net 0.0009775; APY 0.0009775 * 8760 / 24 * 100 = 35.67875
    r24 = o["realized_24h"]
    assert r24["source"] == "mixed" and (r24["long_settlements"], r24["short_settlements"]) == (3, 24)
    assert r24["long_funding"] == pytest.approx(-0.0000375) and r24["short_funding"] == pytest.approx(0.001375)
    assert r24["fees"] == pytest.approx(0.00036) and r24["net_return"] == pytest.approx(0.0009775)
    assert r24["apy_percent"] == pytest.approx(35.67875)
    # 7 d: long 4 x 0.0000125 = 0.00005 (H-30h counts); short k = 1..25: 23 x 0.0005 / 8 = 0.0014375;
    # net 0.0014375 - 0.00005 - 0.00036 = 0.0010275; APY 0.0010275 * 8760 / 168 * 100 = 5.357678...
    r7 = o["realized_7d"]
    assert (r7["long_settlements"], r7["short_settlements"]) == (4, 25)
    assert r7["net_return"] == pytest.approx(0.0010275) and r7["apy_percent"] == pytest.approx(0.0010275 * 8760 / 168 * 100)
    # taker (make_api: hyperliquid 0.00045, paradex 0.0002): fees 2 * 0.00065 = 0.0013; net 0.0013375 - 0.0013
    _, taker = api.get("/api/v1/opportunities?min_volume=0&min_profit=-1&symbol=BTC&fee_type=taker")
    assert taker["opportunities"][0]["realized_24h"]["fees"] == pytest.approx(0.0013)
    assert taker["opportunities"][0]["realized_24h"]["net_return"] == pytest.approx(0.0000375)

    # filters and sort keys on the persistence fields
    def ids(query: str) -> list[str]:
        return [x["id"] for x in api.get(f"/api/v1/opportunities?min_volume=0&symbol=BTC&{query}")[1]["opportunities"]]

    assert ids("max_cv=0.4") == [oid] and ids("max_cv=0.38") == []                     # cv_24h 0.3857
    assert ids("min_avg_divergence_24h=0.00035") == [oid] and ids("min_avg_divergence_24h=0.00036") == []
    assert ids("min_alive_hours=0") == [oid] and ids("min_alive_hours=1") == []
    assert ids("sort_by=cv_24h&sort_desc=false") == [oid]
    for bad, name in (("max_cv=-1", "max_cv"), ("min_alive_hours=soon", "min_alive_hours"),
                      ("min_avg_divergence_24h=2", "min_avg_divergence_24h")):
        status, err = api.get(f"/api/v1/opportunities?{bad}")
        assert status == 400 and name in json.dumps(err), bad

    # run 6: 0.0001 - 0.0001 = 0: CLOSED. History: the five lifecycle events, newest first
    assert _analysis(api, now + 4000, "0.0001")["lifecycle"] == {"opened": 0, "changed": 0, "closed": 1}
    _, hist = api.get(f"/api/v1/history/opportunities?symbol=BTC&min_profit=-1&start_time={iso_ms(h - 3 * HOUR)}"
                      f"&end_time={iso_ms(h + HOUR)}")
    events = [(e["event"], e["discovered_at"], e["opened_at"]) for e in hist["opportunities"]]
    assert events == [("closed", iso_ms(now + 4000), iso_ms(t4)), ("changed", iso_ms(now + 3000), iso_ms(t4)),
                      ("opened", iso_ms(t4), iso_ms(t4)), ("closed", iso_ms(now + 1000), iso_ms(t1)),
                      ("opened", iso_ms(t1), iso_ms(t1))]
    # a closed row repeats the values last recorded: the changed one's divergence 0.0006, the first spell's 0.0004
    assert [e["divergence"] for e in hist["opportunities"]] == [0.0006, 0.0006, 0.0005, 0.0004, 0.0004]
    assert hist["total_count"] == 5
