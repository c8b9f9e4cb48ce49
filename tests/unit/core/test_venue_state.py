"""core/venue_state.py: collection verdicts with reasons, and venue events on state change only."""

from __future__ import annotations

from chalicelib.core.venue_state import Baseline, collection_verdict, merge_states, transitions


def test_budget_cut_is_degraded_with_the_count_of_markets_not_fetched() -> None:
    # GRVT at a 10 s interval: 600/min refills 100 tokens a cycle; all_instruments takes 1, 99 tickers go out,
    # 124 - 99 = 25 of the 124 per-market tickers are not made, and the parser rejects those 25 markets.
    v = collection_verdict(fatal=None, markets=99, rejected=25, unfetched=25, follow_ups=124,
                           requests_per_minute=600)
    assert v.status == "degraded"
    assert v.reasons == ("budget: 25 of 124 markets not fetched (rate limit 600/min)",)   # not "25 rejected" too


def test_no_data_and_fatal_errors_fail_with_the_reason() -> None:
    assert collection_verdict(fatal=None, markets=0, rejected=0).reasons == (
        "no data: the venue answered with no markets",)
    assert collection_verdict(fatal=None, markets=0, rejected=7).reasons == ("no usable markets (7 rejected)",)
    v = collection_verdict(fatal="HTTP 503 from x after 2 attempts", markets=0, rejected=0)
    assert (v.status, v.reason) == ("failed", "HTTP 503 from x after 2 attempts")


def test_most_markets_rejected_is_degraded_a_few_is_success() -> None:
    v = collection_verdict(fatal=None, markets=40, rejected=80)
    assert v.status == "degraded"
    assert v.reasons == ("80 of 120 markets rejected (67 %)",)        # 80 / 120 = 0.667 > 0.5
    ok = collection_verdict(fatal=None, markets=118, rejected=2)        # 2 / 120 = 1.7 %: routine
    assert (ok.status, ok.reasons) == ("success", ())


def test_market_count_drop_against_the_baseline() -> None:
    usual = Baseline(markets=120, samples=10)
    # 90 < (1 - 0.2) * 120 = 96 -> degraded; lost 1 - 90/120 = 25 %
    v = collection_verdict(fatal=None, markets=90, rejected=0, baseline=usual)
    assert v.status == "degraded"
    assert v.reasons == ("market count dropped: 90 usable vs a usual 120 (-25 %, median of the last 10 runs)",)
    assert collection_verdict(fatal=None, markets=96, rejected=0, baseline=usual).status == "success"  # 96 = 96
    # two runs are not a baseline yet (MIN_BASELINE_SAMPLES = 3)
    assert collection_verdict(fatal=None, markets=10, rejected=0, baseline=Baseline(120, 2)).status == "success"


def test_failed_follow_ups_are_degraded() -> None:
    v = collection_verdict(fatal=None, markets=99, rejected=1, follow_ups=100, follow_up_errors=("HTTP 404 from t",))
    assert v.reasons == ("1 follow-up requests failed (first: HTTP 404 from t)",)


def test_transitions_only_on_change() -> None:
    before = {"grvt": {"collection": "success", "units": "ok"}, "paradex": {"collection": "degraded", "units": "ok"}}
    now = merge_states(before, {"grvt": {"status": "degraded", "reason": "budget: 25 of 124 markets not fetched"},
                                "paradex": {"status": "success", "reason": None}},
                       {"grvt": {"status": "ok"}, "paradex": {"status": "suspect", "factor": 100, "reason": "x100"}})
    events = transitions(before, now, timestamp="T")
    assert [(e["event"], e["dex_name"]) for e in events] == [
        ("degraded", "grvt"), ("recovered", "paradex"), ("unit_suspect", "paradex")]
    assert events[0]["reason"] == "budget: 25 of 124 markets not fetched"
    assert events[2]["factor"] == 100
    assert transitions(now, merge_states(now, {"grvt": {"status": "degraded", "reason": "other"}}, {})) == []


def test_unknown_unit_verdict_keeps_the_previous_state_and_first_sight_announces_only_problems() -> None:
    suspect = {"hyperliquid": {"collection": "success", "units": "suspect", "unit_factor": 8}}
    still = merge_states(suspect, {}, {"hyperliquid": {"status": "unknown"}})
    assert still["hyperliquid"]["units"] == "suspect" and transitions(suspect, still) == []
    cleared = merge_states(suspect, {}, {"hyperliquid": {"status": "ok", "factor": None}})
    assert [e["event"] for e in transitions(suspect, cleared)] == ["unit_ok"]
    first = merge_states({}, {"lighter": {"status": "success"}, "edgex": {"status": "failed", "reason": "no data"}},
                         {"lighter": {"status": "ok"}})
    assert [(e["event"], e["dex_name"]) for e in transitions({}, first)] == [("failed", "edgex")]
