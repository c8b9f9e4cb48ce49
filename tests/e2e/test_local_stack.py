"""`frs local --replay` as a user runs it: a subprocess, a WebSocket subscriber, REST, then Ctrl-C.

Starts the whole stack (private PostgreSQL and redis-server in a temporary data directory, the
replay server, the local gateway and scheduler), subscribes over WebSocket with SPEC's subscribe
message, reads REST, then sends SIGINT and checks that everything it started is gone.
The waits are generous (first initdb, slow CI); nothing asserts on speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from chalicelib.venues import BY_ID, REGISTRY
from frs_local.servers import PostgresServer, free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0  # the first run includes initdb
UPDATES_TIMEOUT = 45.0  # "within two cycles" of 3 s, with room for a slow machine
STOP_TIMEOUT = 45.0
COLLECTORS = {m.SPEC.id for m in REGISTRY}                  # one schedule and health entry each (hip3 included)
VENUES = {d for d in COLLECTORS if not BY_ID[d].SPEC.family_prefix} | {"hyperliquid-xyz", "hyperliquid-flx"}


class Stack:
    """The `frs local` subprocess and its output, read by a thread into a queue."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "ANALYSIS_FUNCTION_NAME", "WS_MANAGEMENT_URL")
               and not k.endswith("_API_URL")}
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.cli", "local", "--replay", "--port", str(port),
             # 6 s: ten collectors; analysis drops rates older than 3 intervals, and a 9 s window was shorter
             # than one cycle on a loaded 2-core box (empty opportunity lists between cycles)
             "--interval", "6", "--data-dir", str(data_dir)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group: the finally can kill all of it
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        for line in list(self.lines):
            if m := regex.search(line):
                return m
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} within {timeout:.0f} s:\n{self.output()}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"frs local exited ({self.proc.poll()}) before {pattern!r}:\n{self.output()}")
            if m := regex.search(line):
                return m

    def kill(self) -> None:
        if self.proc.poll() is None:
            with_suppress(lambda: os.killpg(self.proc.pid, signal.SIGKILL))
            with_suppress(lambda: self.proc.wait(10))
        # a SIGKILLed stack stops nothing: its redis-server dies with it (PR_SET_PDEATHSIG), but PostgreSQL runs
        # detached (pg_ctl) and would outlive the test with its data directory deleted under it
        pg = self.data_dir / "pg"
        if (pg / "postmaster.pid").exists():
            with_suppress(lambda: PostgresServer(pg, 0, started_by_us=True).stop())


def with_suppress(fn) -> None:
    with contextlib.suppress(Exception):  # cleanup path: best effort, the assertions already ran or failed
        fn()


def processes_mentioning(text: str) -> list[str]:
    """`pid cmdline` of every live process whose command line contains `text` (a /proc scan)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


def processes_in_group(pgid: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ...
            found.append(f"{entry.name} {stat[:80]}")
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="frs-e2e-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def receive_updates(url: str) -> dict[str, dict]:
    """Subscribe as SPEC.md says and return the first frame of each update type."""
    wanted = {"funding_rate_update", "opportunity_update"}
    first: dict[str, dict] = {}
    with connect(url, open_timeout=30) as ws:
        ws.send(json.dumps({"action": "subscribe", "channels": ["funding_rates", "opportunities"]}))
        deadline = time.monotonic() + UPDATES_TIMEOUT
        while not wanted <= set(first):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"within {UPDATES_TIMEOUT:.0f} s got only {sorted(first)}")
            message = json.loads(ws.recv(timeout=remaining))
            for frame in message["frames"] if message.get("type") == "updates" else [message]:
                first.setdefault(frame.get("type"), frame)
    return first


def test_frs_local_replay_end_to_end(data_dir: Path) -> None:
    port = free_port()
    stack = Stack(data_dir, port)
    try:
        ready = stack.wait_for_line(r"frs local ready: (http://\S+)", READY_TIMEOUT)
        base = ready.group(1)
        assert base == f"http://127.0.0.1:{port}"
        table = "\n".join(stack.lines)
        assert "private" in table and "replay" in table
        # the table names every venue that collects (it once listed only the five with a settings default URL)
        listed = re.search(r"^\s*venues\s+(.+?): replay", table, re.M).group(1).split(", ")
        assert set(listed) == COLLECTORS, listed
        redis_port = int(re.search(r"redis://127\.0\.0\.1:(\d+)", table).group(1))
        pg_port = int(re.search(r"postgresql://\S+@127\.0\.0\.1:(\d+)/", table).group(1))

        frames = receive_updates(f"ws://127.0.0.1:{port}/api/v1/ws")
        rate = frames["funding_rate_update"]["data"]
        assert rate["dex_name"] in VENUES and rate["symbol"] and "funding_rate" in rate
        opp = frames["opportunity_update"]["data"]
        assert opp["long_dex"] != opp["short_dex"] and {opp["long_dex"], opp["short_dex"]} <= VENUES

        # the channel path subscribes a bare {"action": "subscribe"} to that channel only
        with connect(f"ws://127.0.0.1:{port}/api/v1/ws/opportunities", open_timeout=30) as ws:
            ws.send(json.dumps({"action": "subscribe"}))
            ack = json.loads(ws.recv(timeout=30))
            assert ack["type"] == "subscribed" and ack["channels"] == ["opportunities"], ack

        with httpx.Client(base_url=base, timeout=30) as client:
            r = client.get("/api/v1/opportunities")
            assert r.status_code == 200, r.text
            opportunities = r.json()["opportunities"]
            assert opportunities, r.text
            for opp in opportunities:
                assert opp["long_dex"] != opp["short_dex"]
                assert {opp["long_dex"], opp["short_dex"]} <= VENUES
            # every dexes row: the collectors (hip3's own row keeps its logs) and the discovered hyperliquid-xyz,
            # whose row the first hip3 ingest creates: it shows once the REST cache of dexes rows turns over
            deadline, names = time.monotonic() + 150, set()   # memory + Redis copies: up to 2 x CACHE_TTL_SECONDS
            while names != COLLECTORS | {"hyperliquid-xyz"} and time.monotonic() < deadline:
                r = client.get("/api/v1/health")
                assert r.status_code == 200, r.text
                names = {d["dex_name"] for d in r.json()["dex_health"]}
                time.sleep(1)
            assert names == COLLECTORS | {"hyperliquid-xyz"}

        # a cycle printed one line per venue and the top opportunities
        stack.wait_for_line(r"cycle \d+", 30)
        stack.wait_for_line(r"#1 \S+ +long \S+ / short \S+", 30)

        stack.proc.send_signal(signal.SIGINT)
        try:
            code = stack.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"frs local did not stop within {STOP_TIMEOUT:.0f} s:\n{stack.output()}") from None
        stack._reader.join(10)
        assert code == 0, stack.output()
        assert "stopped everything it started" in stack.output(5)
        assert processes_mentioning(str(data_dir)) == []
        assert processes_in_group(stack.proc.pid) == []
        for name, p in (("gateway", port), ("redis", redis_port), ("postgres", pg_port)):
            assert not port_open(p), f"{name} port {p} still open"
    finally:
        stack.kill()   # and its postmaster (pg_ctl runs it outside our process group)
