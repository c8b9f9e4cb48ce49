"""Local EventBridge: fire the app's own `@app.schedule` handlers, each in a worker thread.

Jobs come from `app.event_sources` (Chalice's ScheduledEventConfig: rule name, Rate/Cron/string
expression) and the wrapped handlers in `app.handler_map`, so what runs locally is exactly what
`chalice deploy` would wire to EventBridge rules. Collectors (rules named `collect-*`/`collect_*`)
fire together every `--interval` seconds as one *cycle*; the other rules (health check,
maintenance) run once at start, one after the other and before the first cycle, then at their
own rate or cron.
A handler still running when its next tick comes is skipped, never stacked. Chaining to the
analysis function is the app's job (ANALYSIS_FUNCTION_NAME unset: in-process).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from frs_local import events as ev
from frs_local.gateway import run_in_thread

log = logging.getLogger("frs.local.scheduler")

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$", re.I)
_CRON = re.compile(r"^cron\((.+)\)$", re.I)
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}  # AWS: 1 = Sunday


BACKGROUND_AT_START = frozenset({"settlements"})   # minutes of paced requests: never ahead of the first cycle


class ScheduleError(ValueError):
    """A schedule expression this local scheduler cannot evaluate."""


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """One cron field -> the allowed values (None = any). Supports * ? , - / and names."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1

        def num(token: str) -> int:
            token = token.upper()
            if names and token in names:
                return names[token]
            if not token.isdigit():
                raise ScheduleError(f"unsupported cron token {token!r}")
            return int(token)

        if rng in ("*", "?"):
            start, end = lo, hi
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, end = num(a), num(b)
        else:
            start = num(rng)
            end = hi if step_s else start
        if not (lo <= start <= hi and lo <= end <= hi) or step < 1:
            raise ScheduleError(f"cron field {text!r} out of range {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """`rate(...)` (fixed period) or AWS `cron(min hour dom month dow year)`, evaluated in UTC."""

    expression: str
    period_s: float | None = None
    cron: tuple[frozenset[int] | None, ...] | None = None

    @classmethod
    def parse(cls, expr: Any) -> Schedule:
        text = expr.to_string() if hasattr(expr, "to_string") else str(expr)
        text = text.strip()
        if m := _RATE.match(text):
            value, unit = int(m.group(1)), m.group(2).lower().rstrip("s")
            if value < 1:
                raise ScheduleError(f"{text}: rate must be >= 1")
            return cls(text, period_s=float(value * _UNIT_S[unit]))
        if m := _CRON.match(text):
            parts = m.group(1).split()
            if len(parts) != 6:
                raise ScheduleError(f"{text}: AWS cron has 6 fields (min hour day-of-month month day-of-week year)")
            minute, hour, dom, month, dow, year = parts
            fields = (
                _field(minute, 0, 59), _field(hour, 0, 23), _field(dom, 1, 31),
                _field(month, 1, 12, _MONTHS), _field(dow, 1, 7, _DAYS), _field(year, 1970, 2199),
            )
            return cls(text, cron=fields)
        raise ScheduleError(f"unsupported schedule expression {text!r}")

    def next_after(self, after: datetime) -> datetime:
        """The first fire time strictly after `after` (UTC)."""
        if self.period_s is not None:
            return after + timedelta(seconds=self.period_s)
        assert self.cron is not None
        minutes, hours, doms, months, dows, years = self.cron
        t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = after + timedelta(days=366 * 5)
        while t <= limit:
            if years is not None and t.year not in years:
                t = datetime(t.year + 1, 1, 1, tzinfo=UTC)
                continue
            if months is not None and t.month not in months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            aws_dow = (t.isoweekday() % 7) + 1  # Sunday=1 .. Saturday=7
            if (doms is not None and t.day not in doms) or (dows is not None and aws_dow not in dows):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if hours is not None and t.hour not in hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if minutes is not None and t.minute not in minutes:
                t += timedelta(minutes=1)
                continue
            return t
        raise ScheduleError(f"{self.expression}: no fire time within five years")


@dataclass
class JobResult:
    name: str
    ok: bool
    value: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Job:
    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    schedule: Schedule | None  # None: the collector interval drives it
    collector: bool
    running: bool = False
    runs: int = 0
    last: JobResult | None = None


def is_collector(name: str) -> bool:
    return name.startswith(("collect-", "collect_"))


def jobs_from_app(app: Any) -> list[Job]:
    """Every scheduled handler the app registers (its EventBridge rules on AWS)."""
    from chalice.app import ScheduledEventConfig

    jobs: list[Job] = []
    for source in app.event_sources:
        if not isinstance(source, ScheduledEventConfig):
            continue
        handler = app.handler_map.get(source.name)
        if handler is None:
            raise ScheduleError(f"schedule {source.name!r} has no handler in app.handler_map")
        collector = is_collector(source.name)
        schedule = None if collector else Schedule.parse(source.schedule_expression)
        jobs.append(Job(source.name, handler, schedule, collector))
    return jobs


CycleCallback = Callable[[int, list[JobResult]], Any]


@dataclass
class Scheduler:
    """Drive `jobs` on the running asyncio loop; `on_cycle` runs (in a thread) after each collector cycle."""

    jobs: list[Job]
    interval_s: float
    app_name: str = "frs"
    on_cycle: CycleCallback | None = None
    on_result: Callable[[JobResult], Any] | None = None
    startup_wait_s: float = 30.0
    cycles: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _inflight: set[asyncio.Future[Any]] = field(default_factory=set, init=False)

    @property
    def collectors(self) -> list[Job]:
        return [j for j in self.jobs if j.collector]

    async def fire(self, job: Job) -> JobResult | None:
        """Invoke one job's handler in a worker thread with an EventBridge-shaped event."""
        if job.running:
            log.warning("%s: previous run still going, tick skipped", job.name)
            return None
        job.running = True
        event = ev.scheduled_event(f"{self.app_name}-local-{job.name}")
        context = ev.lambda_context(job.name)
        started = time.monotonic()
        future = run_in_thread(job.handler, event, context, name=f"job-{job.name}")
        self._inflight.add(future)

        def finished(_: asyncio.Future[Any]) -> None:  # the thread, not our waiting, decides "running"
            job.running = False
            self._inflight.discard(future)

        future.add_done_callback(finished)
        try:
            value = await asyncio.shield(future)
            result = JobResult(job.name, True, value, seconds=time.monotonic() - started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("%s raised %s: %s", job.name, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            result = JobResult(job.name, False, error=f"{type(exc).__name__}: {exc}",
                               seconds=time.monotonic() - started)
        job.runs += 1
        job.last = result
        if self.on_result is not None:
            self.on_result(result)
        return result

    async def _cycle(self) -> None:
        self.cycles += 1
        number = self.cycles
        outcomes = await asyncio.gather(*(self.fire(j) for j in self.collectors))
        results = [r for r in outcomes if r is not None]
        if self.on_cycle is not None and results:
            try:
                await run_in_thread(self.on_cycle, number, results, name="cycle-report")
            except Exception:
                log.exception("cycle report failed")

    async def _collector_loop(self) -> None:
        next_at = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        while not self._stop.is_set():
            task = asyncio.create_task(self._cycle())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_at += self.interval_s
            delay = max(0.0, next_at - time.monotonic())
            if delay == 0.0:  # a cycle ran longer than the interval: restart the clock, don't burst
                next_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay or 0.01)
        if tasks:
            await asyncio.wait(tasks)

    async def _job_loop(self, job: Job) -> None:
        assert job.schedule is not None
        while not self._stop.is_set():
            now = datetime.now(UTC)
            delay = (job.schedule.next_after(now) - now).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            if not self._stop.is_set():
                await self.fire(job)

    async def run(self) -> None:
        """Start-up jobs first (bounded wait), then every loop until `stop()`. A long job that needs collected
        data anyway (BACKGROUND_AT_START: the settlement pass) starts beside the first cycle, not before it."""
        others = [j for j in self.jobs if not j.collector]
        first = [j for j in others if j.name not in BACKGROUND_AT_START]

        async def startup() -> None:  # one after the other: maintenance makes partitions before anything writes
            for job in first:
                await self.fire(job)

        try:
            await asyncio.wait_for(startup(), timeout=self.startup_wait_s)
        except TimeoutError:
            log.warning("start-up jobs still running after %.0f s; collecting anyway", self.startup_wait_s)
        loops = [asyncio.create_task(self.fire(j)) for j in others if j.name in BACKGROUND_AT_START]
        loops += [asyncio.create_task(self._job_loop(j)) for j in others]
        if self.collectors:
            loops.append(asyncio.create_task(self._collector_loop()))
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()

    def stop(self) -> None:
        self._stop.set()

    async def drain(self, timeout: float) -> list[str]:
        """Wait for handlers in flight; return the names still running after `timeout`."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)
        return [j.name for j in self.jobs if j.running]


def describe(job: Job, interval_s: float) -> str:
    if job.collector:
        return f"every {interval_s:g} s"
    assert job.schedule is not None
    if job.schedule.period_s is not None:
        return f"at start, then every {job.schedule.period_s:g} s ({job.schedule.expression})"
    return f"at start, then {job.schedule.expression} UTC"


__all__ = ["Job", "JobResult", "Schedule", "ScheduleError", "Scheduler", "describe", "is_collector",
           "jobs_from_app"]
