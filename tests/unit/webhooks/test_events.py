"""Which webhook gets which event: filters, material change, closed-after-told, thresholds, retry schedule."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chalicelib.core.filters import FilterError
from chalicelib.webhooks import events as ev


def opp(oid: str = "BTC:lighter:paradex", *, apy: str = "20", div: str = "0.0005", symbol: str = "BTC",
        long_dex: str = "lighter", short_dex: str = "paradex", volume: str = "5000000") -> dict:
    return {"id": oid, "symbol": symbol, "long_dex": long_dex, "short_dex": short_dex, "divergence": D(div),
            "net_profit_percent": D("0.0003"), "annualized_apy": D(apy), "min_volume_24h": D(volume)}


def sub(sid: str = "wh_a", types=ev.EVENT_TYPES, **filters) -> ev.Subscription:
    return ev.Subscription(sid, frozenset(types), ev.parse_filters(filters))


def events(*pairs) -> list[ev.Event]:
    return ev.normalize([{"type": t, "data": d} for t, d in pairs], now_ms=1_000)


def test_filter_is_the_rest_opportunity_filter_with_its_defaults() -> None:
    subs = [sub("wh_btc", symbol="btc"), sub("wh_eth", symbol="ETH"), sub("wh_all")]
    thin = opp("SOL:lighter:paradex", symbol="SOL", volume="50000")   # below the default min_volume_24h 100000
    plan = ev.plan(events(("opportunity.opened", opp()), ("opportunity.opened", thin)), subs, {})
    assert [(s, e.data["id"]) for s, e in plan.deliveries] == [
        ("wh_btc", "BTC:lighter:paradex"), ("wh_all", "BTC:lighter:paradex")]


def test_dex_filters_apply_to_both_legs_and_to_venue_events() -> None:
    s = sub(include_dexes=["lighter", "paradex"])
    x = sub("wh_x", exclude_dexes="paradex")
    got = ev.plan(events(("opportunity.opened", opp()), ("opportunity.opened", opp("BTC:grvt:paradex", long_dex="grvt")),
                         ("venue.degraded", {"dex": "grvt", "reason": "HTTP 502"}),
                         ("venue.recovered", {"dex": "lighter"})), [s, x], {})
    assert [(w, e.type, e.data.get("id") or e.data["dex"]) for w, e in got.deliveries] == [
        ("wh_a", "opportunity.opened", "BTC:lighter:paradex"), ("wh_a", "venue.recovered", "lighter"),
        ("wh_x", "venue.degraded", "grvt"), ("wh_x", "venue.recovered", "lighter")]


def test_only_subscribed_types_are_delivered() -> None:
    s = sub(types=["opportunity.closed", "venue.degraded"])
    got = ev.plan(events(("opportunity.opened", opp()), ("venue.degraded", {"dex": "grvt"})), [s], {})
    assert [e.type for _, e in got.deliveries] == ["venue.degraded"]


def test_updated_goes_out_only_on_a_material_change_against_what_the_webhook_was_told() -> None:
    s = sub(min_apy_change="5", min_divergence_change="0.0002")
    told = {("wh_a", "BTC:lighter:paradex"): (D("20"), D("0.0005"))}
    small = opp(apy="24.9", div="0.00069")    # |24.9-20| = 4.9 < 5 ; |0.00069-0.0005| = 0.00019 < 0.0002
    apy_move = opp(apy="25", div="0.0005")    # |25-20| = 5 >= 5
    div_move = opp(apy="20", div="0.0003")    # |0.0003-0.0005| = 0.0002 >= 0.0002
    assert ev.plan(events(("opportunity.updated", small)), [s], told).deliveries == []
    for data in (apy_move, div_move):
        got = ev.plan(events(("opportunity.updated", data)), [s], told)
        assert [e.data["annualized_apy"] for _, e in got.deliveries] == [data["annualized_apy"]]
        assert got.notified == {("wh_a", "BTC:lighter:paradex"): (data["annualized_apy"], data["divergence"])}


def test_updated_compares_with_the_last_value_sent_in_the_same_batch() -> None:
    s = sub()   # defaults: 5 APY points, 0.0001 divergence
    batch = events(("opportunity.opened", opp(apy="20", div="0.0005")),
                   ("opportunity.updated", opp(apy="23", div="0.00055")),   # 3 points, 0.00005: not material
                   ("opportunity.updated", opp(apy="26", div="0.00058")))   # 26-20 = 6 points: material
    got = ev.plan(batch, [s], {})
    assert [(e.type, e.data["annualized_apy"]) for _, e in got.deliveries] == [
        ("opportunity.opened", D("20")), ("opportunity.updated", D("26"))]


def test_closed_goes_only_to_webhooks_that_heard_of_the_opportunity() -> None:
    closed = {"id": "BTC:lighter:paradex", "symbol": "BTC", "long_dex": "lighter", "short_dex": "paradex"}
    told = {("wh_a", "BTC:lighter:paradex"): (D("20"), D("0.0005"))}
    got = ev.plan(events(("opportunity.closed", closed)), [sub("wh_a"), sub("wh_b")], told)
    assert [w for w, _ in got.deliveries] == ["wh_a"]
    assert got.notified == {("wh_a", "BTC:lighter:paradex"): None}


def test_rate_threshold_crossings_per_webhook_threshold() -> None:
    s50, s10 = sub("wh_50", rate_threshold_apr="50"), sub("wh_10", rate_threshold_apr="10")
    up = {"dex": "grvt", "symbol": "ETH", "previous_annualized_rate": D("-40"), "annualized_rate": D("-55"),
          "rate_8h": D("-0.00050228")}
    got = ev.plan(events(("funding_rate.changed", up)), [s50, s10], {})
    # |-40| < 50 <= |-55|: wh_50 crosses above; for wh_10 both |-40| and |-55| are >= 10: no crossing
    assert [(w, e.type, e.data["direction"], e.data["threshold_apr"]) for w, e in got.deliveries] == [
        ("wh_50", "funding_rate.threshold", "above", D("50"))]
    down = {**up, "previous_annualized_rate": D("12"), "annualized_rate": D("9.99")}
    (only,) = ev.plan(events(("funding_rate.changed", down)), [s50, s10], {}).deliveries
    assert only[0] == "wh_10" and only[1].data["direction"] == "below"
    again = ev.plan(events(("funding_rate.changed", down)), [s10], {}).deliveries
    assert again[0][1].id == only[1].id          # the same change gives the same event id


def test_event_ids_are_stable_and_given_ids_are_kept() -> None:
    a = ev.normalize([{"type": "venue.degraded", "data": {"dex": "grvt"}}], 1)
    b = ev.normalize([{"type": "venue.degraded", "data": {"dex": "grvt"}}], 2)
    c = ev.normalize([{"type": "venue.degraded", "data": {"dex": "edgex"}}], 1)
    assert a[0].id == b[0].id != c[0].id and a[0].id.startswith("evt_")
    assert ev.normalize([{"type": "x", "id": "evt_given", "data": {}}], 1)[0].id == "evt_given"


@pytest.mark.parametrize(("filters", "parameter"), [
    ({"symbol": {"a": 1}}, "filters.symbol"), ({"min_divergence": "abc"}, "filters.min_divergence"),
    ({"limit": 5}, "filters.limit"), ({"bogus": 1}, "filters.bogus"), ({"min_apy_change": -1}, "filters.min_apy_change"),
    ({"min_volume_24h": 10, "max_volume_24h": 5}, "filters.min_volume"),   # cross-field: the REST name (alias min_volume_24h), as REST answers
])
def test_bad_filters_name_the_field(filters: dict, parameter: str) -> None:
    with pytest.raises(FilterError) as err:
        ev.parse_filters(filters)
    assert err.value.parameter == parameter


def test_retry_schedule_is_exponential_with_bounded_jitter_over_about_a_day() -> None:
    # nominal 5 s * 4^(n-1), capped at 10 h: 5, 20, 80, 320, 1280, 5120, 20480, 36000, 36000
    assert [ev.retry_delay_s(n, 0.5) for n in range(1, 10)] == [5, 20, 80, 320, 1280, 5120, 20480, 36000, 36000]
    assert sum(ev.retry_delay_s(n, 0.5) for n in range(1, ev.MAX_ATTEMPTS)) == 99_305   # 27.6 h
    assert ev.retry_delay_s(3, 0.0) == 64.0 and ev.retry_delay_s(3, 0.999999) == pytest.approx(96.0)  # 80 x [0.8, 1.2)


def test_token_bucket_refills_at_the_per_minute_rate() -> None:
    ok, left, _ = ev.take_token(None, None, 0, per_minute=60, burst=2)      # full bucket: 2 -> 1
    assert ok and left == 1
    ok, left, _ = ev.take_token(left, 0, 0, per_minute=60, burst=2)          # 1 -> 0
    assert ok and left == 0
    ok, left, wait = ev.take_token(left, 0, 400, per_minute=60, burst=2)     # 400 ms x 1/1000 per ms = 0.4
    assert not ok and left == pytest.approx(0.4) and wait == 601             # (1-0.4)/0.001 = 600 ms, +1
    ok, _, _ = ev.take_token(0.4, 400, 1001, per_minute=60, burst=2)         # 0.4 + 601 ms x 0.001 = 1.001
    assert ok
