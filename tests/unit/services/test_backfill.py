"""Backfill planning: windows over missing UTC days, full days only recorded, estimates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.services.backfill import (
    DAY_MS,
    VenueProgress,
    Window,
    day_start_ms,
    estimate_requests,
    plan_windows,
    progress_line,
)

D0 = date(2026, 11, 20)
T0 = day_start_ms(D0)          # 2026-11-20T00:00Z


def test_day_start_is_utc_midnight():
    # 1970..2025: 56 years, 14 leap days (1972..2024) -> 20,454 days to 2026-01-01;
    # Jan..Oct 2026 = 304 days, + 19 -> 2026-11-20 is day 20,777
    assert T0 == 20777 * DAY_MS


def test_nothing_done_groups_days_by_chunk_and_today_is_partial():
    end = T0 + 9 * DAY_MS + 5 * 3_600_000            # 2026-11-29 05:00Z: days 20..28 full, 29 partial
    windows = plan_windows(D0, end, set(), chunk_days=4)
    assert [(w.start_ms, w.end_ms) for w in windows] == [
        (T0, T0 + 4 * DAY_MS), (T0 + 4 * DAY_MS, T0 + 8 * DAY_MS), (T0 + 8 * DAY_MS, end)]
    assert windows[0].full_days == (D0, date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23))
    # the last window holds the 28th (full) and the 29th (partial): only the 28th may be recorded
    assert windows[2].full_days == (date(2026, 11, 28),)


def test_done_days_are_skipped_and_split_windows():
    end = T0 + 6 * DAY_MS                            # exactly midnight of the 26th: days 20..25 full
    done = {date(2026, 11, 22), date(2026, 11, 23)}
    windows = plan_windows(D0, end, done, chunk_days=7)
    # 20, 21 | (22, 23 done) | 24, 25, and the 26th starts at `end`: an empty-length partial day
    assert [(w.start_ms, w.end_ms) for w in windows] == [
        (T0, T0 + 2 * DAY_MS), (T0 + 4 * DAY_MS, end)]
    assert windows[1].full_days == (date(2026, 11, 24), date(2026, 11, 25))
    # alone in its window, the day starting exactly at `end` is no window at all (it cost a request per market)
    assert plan_windows(D0, end, set(), chunk_days=6) == [Window(T0, end, tuple(D0 + timedelta(days=i) for i in range(6)))]


def test_everything_done_but_today():
    end = T0 + 2 * DAY_MS + 1000
    done = {D0, date(2026, 11, 21), date(2026, 11, 22)}   # the 22nd "done" while still running: refetched
    windows = plan_windows(D0, end, done, chunk_days=7)
    assert windows == [Window(T0 + 2 * DAY_MS, end, ())]


def test_estimate_requests_pages_by_settlements():
    week = Window(T0, T0 + 7 * DAY_MS, ())
    assert estimate_requests(week, 1.0, 500) == 1      # 168 hourly settlements fit one 500-row page
    assert estimate_requests(week, 1.0, 100) == 2      # 168 / 100 -> 2 pages
    assert estimate_requests(week, 4.0, 100) == 1      # 42 four-hourly settlements
    assert estimate_requests(week, 1.0, None) == 1     # unknown page size: one request per window


def test_progress_line_states_rate_eta_and_errors():
    p = VenueProgress("lighter", 60, status="running", markets=10, markets_done=4, windows=20, windows_done=5,
                      rows=1200, requests=7, errors=1, started=100.0)
    line = progress_line(p, now=110.0)
    # 1200 rows in 10 s = 120 rows/s; 5 windows took 10 s -> 15 left take 30 s
    assert "markets 4/10" in line and "windows 5/20" in line and "120 rows/s" in line
    assert "ETA 0m30s" in line and "errors 1" in line


def test_paced_budget_leaves_its_reserve_to_the_collectors():
    import threading

    from chalicelib.services.backfill import PacedBudget
    from chalicelib.transport.budget import TokenBucket

    now = [0.0]
    bucket = TokenBucket(60, 1.0, clock=lambda: now[0])      # 60 requests/min, full
    stop = threading.Event()
    paced = PacedBudget(bucket, stop, reserve=15)
    for _ in range(45):                                       # 60 - 15: what the settlement run may spend now
        assert paced.take()
    stop.set()                                                # the 46th would dig into the reserve: it waits
    assert paced.take() is False
    assert bucket.available == 15 and bucket.take()           # a collector still finds its tokens


@pytest.mark.parametrize(("dex", "interval_h", "expected"), [
    ("paradex", 8.0, 168),      # a request per hour boundary, whatever the 8 h funding period: 7 x 24
    ("hyperliquid", 1.0, 1),    # 168 hourly rows, 500 per page
    ("edgex", 4.0, 1),          # 42 four-hourly settlements, 100 per page
    ("lighter", 1.0, 1),        # 168 hourly rows, 720 per window
    ("grvt", 8.0, 1),           # 21 settlements, 1000 per page
])
def test_the_dry_run_estimate_pages_as_each_venue_module_does(monkeypatch, dex, interval_h, expected):
    # one market, a week with nothing stored yet: the estimate comes from the module's HISTORY_PAGE_ROWS (and
    # Paradex's HISTORY_ROW_HOURS), not "one request per window" (no module declared the page size before)
    from chalicelib.services import backfill
    from chalicelib.venues import get_venue

    monkeypatch.setattr(backfill, "list_markets", lambda module, settings, symbols: [
        backfill.Market("BTC", "BTC", "BTC", interval_h)])
    job = backfill.Job(get_venue(dex), VenueProgress(dex, 60))
    backfill.plan_venue(job, None, None, None, D0, T0 + 7 * DAY_MS, chunk_days=7)   # type: ignore[arg-type]
    assert job.progress.windows == 1 and job.progress.est_requests == expected
