"""`frs local`: the whole service on one machine without Docker (DESIGN.md §2, third column).

Starts, in order: the replay server (`--replay`, wired through the `<DEX>_API_URL` variables), a
private PostgreSQL under `<data-dir>/pg` (unless DATABASE_URL is set) migrated with
storage.migrate, a private redis-server under `<data-dir>/redis` (unless REDIS_URL is set; without
one, the in-memory fallback, announced), then the Chalice app behind the local gateway (REST,
WebSocket, @connections) and the scheduler driving the app's own schedules. Prints what runs where,
a `frs local ready: <url>` line once listening, and one block per collection cycle. SIGINT/SIGTERM
stop everything it started and exit 0; the next run reuses `<data-dir>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import importlib
import logging
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("frs.local")

PG_PORT = 54329  # fixed so the DSN stays the same across runs; a free port when taken
REDIS_PORT = 63799
DB_NAME = "frs"
READY = "frs local ready:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replay", action="store_true",
                        help="serve recorded-shape venue data from the in-process replay server (no internet)")
    parser.add_argument("--port", type=int, default=8000, help="gateway port for REST and WebSocket (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="gateway bind address")
    parser.add_argument("--interval", type=int, default=None, metavar="SECONDS",
                        help="seconds between collection cycles (default: $COLLECTION_INTERVAL_SECONDS or 60)")
    parser.add_argument("--data-dir", default=".frs", type=Path,
                        help="where the private PostgreSQL and Redis keep their data (default: ./.frs)")
    parser.add_argument("--seed", type=int, default=1, help="replay server seed (with --replay)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request and handler at DEBUG")


def out(line: str = "") -> None:
    print(line, flush=True)


def mask_dsn(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    """One `frs local` per data directory (flock: released by the kernel if we crash)."""
    path = data_dir / "frs-local.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "?"
        handle.close()
        raise SystemExit(f"frs local: {data_dir} is in use by another frs local (pid {other}); "
                         "stop it or pass --data-dir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _pick_port(preferred: int) -> int:
    from frs_local.servers import free_port, port_open

    return preferred if not port_open(preferred) else free_port()


def _recover_postgres(pg_dir: Path) -> str | None:
    """A previous run that crashed may have left postmaster.pid (and maybe a live postmaster)."""
    from frs_local.servers import PostgresServer

    pid_file = pg_dir / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text(errors="replace").splitlines()
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else 0
    if pid and _alive(pid) and "postgres" in _proc_cmdline(pid):
        # we hold the data-dir lock, so no other frs local owns it: an orphan from a crashed run
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else PG_PORT
        PostgresServer(pg_dir, port, started_by_us=True).stop()
        return f"stopped PostgreSQL pid {pid} left running by an earlier run"
    pid_file.unlink()
    return f"removed stale postmaster.pid (pid {pid} is gone) left by an earlier run"


def _stop_postgres(server: Any) -> None:
    """Stop the private cluster, also when `start()` was interrupted after the postmaster came up."""
    if server.started_by_us or (server.data_dir / "postmaster.pid").exists():
        server.started_by_us = True
        server.stop()


def _recover_redis(redis_dir: Path) -> str | None:
    pid_file = redis_dir / "frs-redis.pid"
    if not pid_file.exists():
        return None
    raw = pid_file.read_text().strip()
    pid_file.unlink()
    pid = int(raw) if raw.isdigit() else 0
    # the program itself must be redis-server (its title: "/usr/bin/redis-server 127.0.0.1:PORT"), not any
    # process whose command line mentions redis (a pytest run of test_redis_client.py killed itself that way)
    program = (_proc_cmdline(pid).split() or [""])[0] if pid else ""
    if pid and _alive(pid) and Path(program).name == "redis-server":
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return f"stopped redis-server pid {pid} left running by an earlier run"
    return None


class Stack:
    """Everything `frs local` starts, stopped in reverse order by `close()`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data_dir: Path = Path(args.data_dir).expanduser().resolve()
        self.exit = contextlib.ExitStack()
        self.rows: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.replay: Any = None
        self.gateway: Any = None
        self.app: Any = None
        self.interval = 60
        self.management_port = 0   # the gateway's loopback-only @connections port (chosen in load_app)

    # --- pieces ------------------------------------------------------------------------------
    def environment(self) -> None:
        env = os.environ
        if env.pop("ANALYSIS_FUNCTION_NAME", None):
            self.notes.append("ANALYSIS_FUNCTION_NAME ignored: the local stack chains the analysis in-process")
        # botocore signs the @connections calls; the local gateway ignores the signature
        if not env.get("AWS_ACCESS_KEY_ID") and not env.get("AWS_PROFILE"):
            env["AWS_ACCESS_KEY_ID"] = "local"
            env["AWS_SECRET_ACCESS_KEY"] = "local"
        if not env.get("AWS_REGION") and not env.get("AWS_DEFAULT_REGION"):
            env["AWS_DEFAULT_REGION"] = "us-east-1"
        if not env.get("LOG_LEVEL"):  # keep the per-cycle lines readable; -v or LOG_LEVEL=INFO for all
            env["LOG_LEVEL"] = "DEBUG" if self.args.verbose else "WARNING"
            self.notes.append(f"app log level {env['LOG_LEVEL']} (set LOG_LEVEL=INFO or pass -v for every event)")
        if not self.args.verbose and not env.get("POWERTOOLS_METRICS_DISABLED"):
            env["POWERTOOLS_METRICS_DISABLED"] = "true"  # EMF lines are for CloudWatch, not a terminal
        from chalicelib.settings import Settings

        interval = self.args.interval
        if interval is None:
            # parsed as the app parses it: a malformed value stops start-up naming the variable (README)
            raw = env.get("COLLECTION_INTERVAL_SECONDS", "")
            interval = Settings.from_env({"COLLECTION_INTERVAL_SECONDS": raw}).collection_interval_seconds
        if interval < 1:
            raise SystemExit("frs local: --interval must be >= 1 second")
        self.interval = interval
        env["COLLECTION_INTERVAL_SECONDS"] = str(interval)
        Settings.from_env()  # what the user set, checked before anything starts: the message names the variable

    def start_replay(self) -> None:
        from frs_local.replay import ReplayServer

        self.replay = ReplayServer(port=0, seed=self.args.seed).start()
        self.exit.callback(self.replay.stop)
        os.environ.update(self.replay.base_urls())

    def start_postgres(self) -> None:
        from chalicelib.storage.migrate import migrate

        external = os.environ.get("DATABASE_URL", "").strip()
        if external:
            dsn, where = external, "external ($DATABASE_URL)"
        else:
            from frs_local.servers import PostgresServer

            pg_dir = self.data_dir / "pg"
            if note := _recover_postgres(pg_dir):
                self.notes.append(note)
            first = not (pg_dir / "PG_VERSION").exists()
            if first:
                out(f"frs local: initializing PostgreSQL in {pg_dir} (first run only) ...")
            server = PostgresServer(pg_dir, _pick_port(PG_PORT))
            # registered before start: Ctrl-C/SIGTERM during `pg_ctl start` must not leave the postmaster behind
            self.exit.callback(_stop_postgres, server)
            server.start(timeout=60)
            self._ensure_database(server.dsn)
            dsn, where = server.dsn_for(DB_NAME), f"private, data in {pg_dir}"
        applied = migrate(dsn)
        os.environ["DATABASE_URL"] = dsn
        self.rows.append(("database", f"{mask_dsn(dsn)}  ({where}; {len(applied)} migration(s) applied now)"))

    @staticmethod
    def _ensure_database(admin_dsn: str) -> None:
        import psycopg

        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')

    def start_redis(self) -> None:
        from frs_local.servers import RedisServer, ServerUnavailable

        env = os.environ
        use_redis = env.get("USE_REDIS", "").strip().lower() not in ("0", "false", "no", "off")
        if not use_redis:
            self.rows.append(("redis", "in-memory fallback (USE_REDIS=false): analysis and REST share this process"))
            return
        if env.get("REDIS_URL", "").strip():
            self.rows.append(("redis", f"{mask_dsn(env['REDIS_URL'])}  (external $REDIS_URL)"))
            return
        try:
            RedisServer.binary()
        except ServerUnavailable:
            self.rows.append(("redis", "in-memory fallback (redis-server not installed: apt-get install "
                                       "redis-server); works here because analysis and REST share this process"))
            return
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        if note := _recover_redis(redis_dir):
            self.notes.append(note)
        server = RedisServer(redis_dir, _pick_port(REDIS_PORT))
        self.exit.callback(server.stop)  # before start: an interrupt while it starts must not orphan it
        server.start()
        if server.process is not None:
            pid_file = redis_dir / "frs-redis.pid"
            pid_file.write_text(str(server.process.pid))
            self.exit.callback(lambda: pid_file.unlink(missing_ok=True))
        env["REDIS_URL"] = server.url
        self.rows.append(("redis", f"{server.url}  (private redis-server, data in {redis_dir})"))

    def load_app(self, port: int) -> None:
        from chalicelib import wiring
        from chalicelib.settings import reset_settings_cache
        from frs_local.servers import free_port

        # @connections is not on the public port: a loopback port of its own that only this machine reaches
        self.management_port = free_port()
        os.environ["WS_MANAGEMENT_URL"] = f"http://127.0.0.1:{self.management_port}"
        reset_settings_cache()
        wiring.reset()
        self.exit.callback(wiring.reset)  # closes the app's database and Redis connections first
        root = str(Path(__file__).resolve().parents[1])
        try:
            self.app = importlib.import_module("app").app
        except ModuleNotFoundError as exc:
            if exc.name != "app" or root in sys.path:
                raise
            sys.path.insert(0, root)
            self.app = importlib.import_module("app").app
        from frs_local.webhook_queue import install  # webhooks: SQS stand-in feeding webhook-deliver

        self.exit.callback(install(self.app).stop)
        self.rows.append(("webhooks", "in-process delivery queue -> the app's webhook-deliver handler"))

    def venue_rows(self) -> None:
        from chalicelib.settings import get_settings
        from chalicelib.venues import NAMES

        settings = get_settings()
        source = "replay (recorded-shape data, drifting; every response says so)" if self.replay else "live"
        names = [dex for dex in NAMES if not settings.enabled_dexes or dex in settings.enabled_dexes]
        self.rows.append(("venues", f"{', '.join(names)}: {source}"))
        if self.replay:
            self.rows.append(("replay server", self.replay.url))

    # --- output ------------------------------------------------------------------------------
    def table(self) -> None:
        width = max(len(k) for k, _ in self.rows)
        out("frs local: what runs where")
        for key, value in self.rows:
            out(f"  {key.ljust(width)}  {value}")
        for note in self.notes:
            out(f"  note: {note}")

    def report_cycle(self, number: int, results: list[Any]) -> None:
        stamp = time.strftime("%H:%M:%S")
        out(f"[{stamp}] cycle {number}")
        for result in sorted(results, key=lambda r: r.name):
            out("  " + venue_line(result))
        try:
            status, body = self.gateway.call_rest("GET", "/api/v1/opportunities?limit=3")
        except Exception as exc:
            out(f"  top opportunities: unavailable ({type(exc).__name__}: {exc})")
            return
        items = body.get("opportunities") if isinstance(body, dict) else body
        if status != 200 or not isinstance(items, list):
            out(f"  top opportunities: HTTP {status} {str(body)[:160]}")
            return
        if not items:
            out("  top opportunities: none above the default filters yet")
        for rank, opp in enumerate(items[:3], 1):
            out("  " + opportunity_line(rank, opp))


def admin_guard() -> Any:
    """The gateway's BodyGuard for the admin routes (api/routes.py, tag "Admin"): the app's own
    X-API-Key check (api/system.check_admin, constant-time) and error body, run on the request head."""
    from chalicelib.api import system
    from chalicelib.api.errors import ApiError
    from chalicelib.api.routes import ROUTES
    from frs_local.gateway import BodyGuard, HttpResponse

    paths = [re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(r.path))) for r in ROUTES if r.tag == "Admin"]

    def check(headers: list[tuple[str, str]]) -> Any:
        try:
            system.check_admin({k.lower(): v for k, v in headers})
        except ApiError as exc:
            return HttpResponse.json(exc.status, exc.body())
        return None

    return BodyGuard(paths, check)


def _public(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def venue_line(result: Any) -> str:
    """`hyperliquid  success  142 markets  fetch 85 ms  total 120 ms` from a collector's summary."""
    name = result.name.removeprefix("collect-").removeprefix("collect_")
    if not result.ok:
        return f"{name:<12} FAILED   {result.error}  ({result.seconds * 1000:.0f} ms)"
    summary = result.value if isinstance(result.value, dict) else {}
    status = str(summary.get("status", "ok"))
    markets = summary.get("markets", "?")
    timings = summary.get("timings_ms") or {}
    fetch = timings.get("fetch")
    total = timings.get("total", round(result.seconds * 1000))
    parts = [f"{name:<12}", f"{status:<8}", f"{markets!s:>4} markets"]
    if fetch is not None:
        parts.append(f"fetch {float(fetch):.0f} ms")
    parts.append(f"total {float(total):.0f} ms")
    if summary.get("rejected"):
        parts.append(f"{summary['rejected']} rejected")
    analysis = (summary.get("analysis") or {}).get("result")
    if isinstance(analysis, dict) and analysis.get("coalesced"):
        parts.append("analysis: joined the running one")  # one analysis at a time; it reruns for us
    elif isinstance(analysis, dict) and analysis.get("opportunities") is not None:
        text = f"analysis: {analysis['opportunities']} pairs"
        if analysis.get("open") is not None:
            text += f", {analysis['open']} open"
        frames = (analysis.get("ws") or {}).get("frames_delivered")
        if frames is not None:
            text += f", {frames} ws frames"
        parts.append(text)
    parts.append(f"errors: {summary['error']}" if summary.get("error") else "errors: -")
    return "  ".join(parts)


def opportunity_line(rank: int, opp: dict[str, Any]) -> str:
    def pct(key: str, scale: float = 1.0) -> str:
        value = opp.get(key)
        return "?" if value is None else f"{float(value) * scale:.4f}%"

    return (f"#{rank} {opp.get('symbol', '?'):<6} long {opp.get('long_dex', '?')} / short {opp.get('short_dex', '?')}"
            f"  divergence/8h {pct('divergence', 100)}  net {pct('net_profit_percent', 100)}"
            f"  APY {pct('annualized_apy')}")


async def _serve(stack: Stack, port: int) -> None:
    from frs_local.gateway import Gateway
    from frs_local.scheduler import Scheduler, describe, jobs_from_app

    loop = asyncio.get_running_loop()
    stopping, hurry = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:  # first: stop in order; second: stop waiting for handlers in flight
        (hurry if stopping.is_set() else stopping).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    gateway = Gateway(stack.app, stack.args.host, port, management_port=stack.management_port,
                      body_guard=admin_guard())
    stack.gateway = gateway
    jobs = jobs_from_app(stack.app)
    scheduler = Scheduler(jobs, float(stack.interval), app_name=getattr(stack.app, "app_name", "frs"),
                          on_cycle=stack.report_cycle)
    await gateway.start()
    try:
        stack.rows[:0] = [
            ("REST", f"{gateway.url}/api/v1/  (e.g. {gateway.url}/api/v1/opportunities)"),
            *_doc_rows(stack.app, gateway.url),
            ("WebSocket", f"{gateway.ws_url}  (+ /funding-rates, /opportunities)"),
            ("@connections", f"{gateway.management_url}/@connections/{{id}}  (WS_MANAGEMENT_URL; loopback only)"),
        ]
        stack.rows.append(("interval", f"collectors every {stack.interval} s"))
        for job in jobs:
            if not job.collector:
                stack.rows.append((f"schedule {job.name}", describe(job, stack.interval)))
        stack.table()
        out(f"{READY} {gateway.url}")
        runner = asyncio.create_task(scheduler.run())
        await _first(runner, stopping)
        if runner.done() and runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
        out("frs local: stopping ... (Ctrl-C again: don't wait for handlers still running)")
        scheduler.stop()
        from chalicelib.services import settle

        settle.stop_all()   # a paced settlement pass would otherwise hold the exit for minutes
        await _first(runner, hurry, timeout=15)
        runner.cancel()
        drain = asyncio.create_task(scheduler.drain(10))
        await _first(drain, hurry)
        left = [j.name for j in jobs if j.running]
        if left:
            out(f"frs local: not waiting any longer for {', '.join(left)}")
    finally:
        await gateway.stop(timeout=2 if hurry.is_set() else 10)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _first(task: asyncio.Future[Any], event: asyncio.Event, timeout: float | None = None) -> None:
    """Wait until `task` is done or `event` is set (or `timeout`)."""
    waiter = asyncio.create_task(event.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


def _doc_rows(app: Any, url: str) -> list[tuple[str, str]]:
    docs = [r for r in ("/docs", "/api/v1/docs") if r in app.routes]
    spec = [r for r in ("/api/v1/openapi.json", "/openapi.json") if r in app.routes]
    if not docs and not spec:
        return []
    text = "  ".join([f"{url}{docs[0]}"] if docs else []) + (f"  (OpenAPI: {url}{spec[0]})" if spec else "")
    return [("docs", text.strip())]


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not verbose:
        for noisy in ("websockets", "botocore", "boto3", "urllib3", "httpx", "httpcore", "frs.local.gateway"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from frs_local.servers import free_port, port_open

    _logging(args.verbose)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # start-up: unwind on SIGTERM too
    stack = Stack(args)
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    if port_open(port, _public(args.host)):
        out(f"frs local: port {port} is already in use; pass --port (0 picks a free one)")
        return 1
    try:
        with _lock(stack.data_dir), stack.exit:
            stack.environment()
            if args.replay:
                stack.start_replay()
            stack.start_postgres()
            stack.start_redis()
            stack.load_app(port)
            stack.venue_rows()
            # runs first when the stack unwinds: a second Ctrl-C must not cut `pg_ctl stop` short
            stack.exit.callback(_ignore_signals)
            asyncio.run(_serve(stack, port))
        out("frs local: stopped everything it started")
        return 0
    except KeyboardInterrupt:
        out("frs local: interrupted during start-up; stopped what had started")
        return 0
    except Exception as exc:  # stopped what had started (ExitStack); say why in one line
        detail = f"{type(exc).__name__}: {exc}"
        stderr = getattr(exc, "stderr", None)
        if stderr:
            detail += f"\n  {stderr.decode(errors='replace').strip() if isinstance(stderr, bytes) else stderr}"
        if isinstance(exc, subprocess.CalledProcessError) and "postgresql" in str(exc.cmd):
            detail += f"\n  see {stack.data_dir / 'pg' / 'server.log'}"
        out(f"frs local: failed: {detail}")
        if args.verbose:
            traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
