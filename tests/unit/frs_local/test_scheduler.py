"""Local scheduler: schedule expressions, jobs read from the app, cycles fired in worker threads."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from chalice import Chalice, Cron, Rate

from frs_local.scheduler import JobResult, Schedule, ScheduleError, Scheduler, describe, jobs_from_app


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("expr", "seconds"), [(Rate(5, unit=Rate.MINUTES), 300), (Rate(1, unit=Rate.MINUTES), 60),
                                               ("rate(2 hours)", 7200), ("rate(1 day)", 86400)])
def test_rate(expr, seconds: int) -> None:
    schedule = Schedule.parse(expr)
    assert schedule.period_s == seconds
    assert (schedule.next_after(at("2026-11-24T13:00:00")) - at("2026-11-24T13:00:00")).total_seconds() == seconds


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        (Cron(17, 3, "*", "*", "?", "*"), "2026-11-24T13:00:00", "2026-11-25T03:17:00"),
        (Cron(17, 3, "*", "*", "?", "*"), "2026-11-24T03:16:59", "2026-11-24T03:17:00"),
        (Cron(17, 3, "*", "*", "?", "*"), "2026-11-24T03:17:00", "2026-11-25T03:17:00"),
        ("cron(0/15 * * * ? *)", "2026-11-24T13:07:00", "2026-11-24T13:15:00"),
        ("cron(0 12 ? * MON-FRI *)", "2026-11-28T13:00:00", "2026-11-30T12:00:00"),  # Saturday -> Monday
        ("cron(0 0 1 JAN ? *)", "2026-11-24T13:00:00", "2027-01-01T00:00:00"),
        ("cron(30 9 29 2 ? *)", "2026-11-24T13:00:00", "2028-02-29T09:30:00"),
        ("cron(0 8 ? * 1 *)", "2026-11-24T13:00:00", "2026-11-29T08:00:00"),  # AWS: 1 = Sunday
    ],
)
def test_cron_next_after(expr, after: str, expected: str) -> None:
    assert Schedule.parse(expr).next_after(at(after)) == at(expected)


@pytest.mark.parametrize("expr", ["rate(0 minutes)", "rate(5 weeks)", "cron(* * * *)", "cron(0 25 * * ? *)",
                                  "cron(0 12 L * ? *)", "every day"])
def test_unsupported_expressions_are_refused_clearly(expr: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(expr)


def tiny_app(calls: list[str], gate: threading.Event | None = None) -> Chalice:
    app = Chalice("tiny")

    def collector(dex: str):
        def handler(event):
            calls.append(f"{dex}:{event.detail_type}:{event.context.function_name}")
            if dex == "slow" and gate is not None:
                gate.wait(10)
            if dex == "broken":
                raise RuntimeError("venue exploded")
            return {"dex": dex, "status": "success", "markets": 3, "timings_ms": {"fetch": 5.0, "total": 7.0}}

        handler.__name__ = f"collect_{dex}"
        return app.schedule(Rate(1, unit=Rate.MINUTES), name=f"collect-{dex}")(handler)

    for dex in ("fast", "slow", "broken"):
        collector(dex)

    @app.schedule(Cron(17, 3, "*", "*", "?", "*"), name="maintenance")
    def maintenance(event):
        calls.append("maintenance")
        return {"partitions": 2}

    @app.schedule(Rate(5, unit=Rate.MINUTES), name="health-check")
    def health_check(event):
        calls.append("health")
        return {}

    @app.on_sns_message(topic="ignored")
    def not_a_schedule(event):
        raise AssertionError("never fired")

    return app


def test_jobs_come_from_the_apps_schedules() -> None:
    jobs = {j.name: j for j in jobs_from_app(tiny_app([]))}
    assert set(jobs) == {"collect-fast", "collect-slow", "collect-broken", "maintenance", "health-check"}
    assert jobs["collect-fast"].collector and jobs["collect-fast"].schedule is None
    assert not jobs["maintenance"].collector
    assert describe(jobs["collect-fast"], 3) == "every 3 s"
    assert "rate(5 minutes)" in describe(jobs["health-check"], 3)
    assert "cron(17 3 * * ? *)" in describe(jobs["maintenance"], 3)


def test_cycles_fire_every_collector_in_threads_and_a_slow_one_never_blocks_the_rest() -> None:
    calls: list[str] = []
    gate = threading.Event()
    cycles: list[tuple[int, dict[str, JobResult]]] = []

    async def main() -> None:
        scheduler = Scheduler(jobs_from_app(tiny_app(calls, gate)), interval_s=0.2,
                              on_cycle=lambda n, results: cycles.append((n, {r.name: r for r in results})))
        task = asyncio.create_task(scheduler.run())
        for _ in range(200):  # generous: up to 10 s for three fast cycles
            if sum(1 for c in calls if c.startswith("fast")) >= 3:
                break
            await asyncio.sleep(0.05)
        gate.set()
        scheduler.stop()
        await asyncio.wait_for(task, 10)
        assert await scheduler.drain(5) == []

    asyncio.run(main())
    assert calls[:2] == ["maintenance", "health"] or set(calls[:2]) == {"maintenance", "health"}
    fast = [c for c in calls if c.startswith("fast")]
    slow = [c for c in calls if c.startswith("slow")]
    assert len(fast) >= 3
    assert len(slow) < len(fast)  # skipped while still running, not stacked
    assert fast[0] == "fast:Scheduled Event:collect-fast"
    first = cycles[0][1]
    assert first["collect-fast"].ok and first["collect-fast"].value["markets"] == 3
    assert not first["collect-broken"].ok and "venue exploded" in first["collect-broken"].error
