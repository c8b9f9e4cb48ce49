"""Soak: N minutes at a paced request rate over mixed REST routes on the local stack (issue 12).

Starts `frs local --replay` (its own PostgreSQL, Redis and replay venues under a temp data dir, collecting
every --interval seconds, so reads race the collectors and the analysis the whole time), waits for it to be
ready, then sends --rate requests/s open loop (each request has a scheduled send time; latency is counted
from it, so queueing shows; the service time from the write is printed too) over --connections keep-alive
connections, cycling through ROUTES (each cached route HOT_WEIGHT times per database route). Every
--report seconds it prints the window's requests, errors (non-2xx or a broken connection), p50/p99 (ms)
and the stack's RSS (the `frs local` process: gateway, app, scheduler; MiB). At the end: totals, and RSS
at start / middle / end (flat = no leak).

    python bench/soak.py                    # 10 minutes at 200 req/s
    python bench/soak.py --minutes 1 --rate 50

Exit status 1 when any request failed. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _http import request  # noqa: E402

V1 = "/api/v1"
HOT = (   # cached reads (memory -> Redis -> database): what clients poll
    f"{V1}/funding-rates", f"{V1}/funding-rates?basis=apr", f"{V1}/funding-rates/hyperliquid",
    f"{V1}/funding-rates/hyperliquid/BTC", f"{V1}/opportunities", f"{V1}/opportunities?hold_hours=24&fee_type=taker",
    f"{V1}/opportunities/best", f"{V1}/opportunities/symbol/BTC", f"{V1}/opportunities/compare?dex1=hyperliquid&dex2=lighter",
    f"{V1}/dexes", f"{V1}/dexes/hyperliquid", f"{V1}/health",
)
COLD = (  # straight from PostgreSQL on every call (one connection per process: they queue behind each other)
    f"{V1}/history/funding-rates/hyperliquid/BTC?period=24h", f"{V1}/stats/funding-rates/BTC?period=7d",
    f"{V1}/history/opportunities?period=24h", f"{V1}/dexes/lighter/calibration", f"{V1}/metrics",
)
HOT_WEIGHT = 4   # each hot route 4x as often as each database route: 48 of every 53 requests are hot reads
ROUTES = (*HOT * HOT_WEIGHT, *COLD)


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class LocalStack:
    """`frs local --replay` as a subprocess in its own process group; its output is kept for the report."""

    def __init__(self, port: int, interval: int, data_dir: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "ANALYSIS_FUNCTION_NAME", "WS_MANAGEMENT_URL")
               and not k.endswith("_API_URL")}
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.cli", "local", "--replay", "--port", str(port), "--interval",
             str(interval), "--data-dir", data_dir],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"frs local ready: (http://\S+)", line)
            if m:
                self.url = m.group(1)
                self.ready.set()

    def wait(self, timeout: float) -> str:
        if not self.ready.wait(timeout):
            tail = "\n".join(self.lines[-40:])
            raise SystemExit(f"frs local not ready after {timeout:.0f} s:\n{tail}")
        return self.url

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


async def soak(port: int, rate: float, seconds: float, connections: int, report_s: float, pid: int) -> dict:
    host = f"127.0.0.1:{port}"
    raws = [f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: soak\r\n\r\n".encode() for path in ROUTES]
    jobs: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
    window: list[float] = []
    all_ms: list[float] = []
    service_ms: list[float] = []     # from the moment the request was written (the server's share)
    errors: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    win_errors = 0
    rss: list[tuple[float, float]] = []

    async def worker() -> None:
        nonlocal win_errors
        reader = writer = None
        while True:
            job = await jobs.get()
            if job is None:
                break
            due, i = job
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 23)
                assert reader is not None
                sent = time.perf_counter()
                status = await request(reader, writer, raws[i % len(raws)])
                service_ms.append((time.perf_counter() - sent) * 1000)
                statuses[status] += 1
                if not 200 <= status < 300:
                    errors[f"{status} {ROUTES[i % len(ROUTES)]}"] += 1
                    win_errors += 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[f"{type(exc).__name__} {ROUTES[i % len(ROUTES)]}"] += 1
                win_errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
            ms = (time.perf_counter() - due) * 1000
            window.append(ms)
            all_ms.append(ms)
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter()
    rss.append((0.0, rss_mib(pid)))
    print(f"{'t (s)':>6} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8}  load", flush=True)
    i = 0
    next_report = start + report_s
    while (now := time.perf_counter()) - start < seconds:
        while start + i / rate <= now:       # every request whose send time has come (open loop)
            jobs.put_nowait((start + i / rate, i))
            i += 1
        if now >= next_report:
            r = rss_mib(pid)
            rss.append((now - start, r))
            print(f"{now - start:6.0f} {len(window):9d} {win_errors:7d} {pct(window, 50):8.1f} "
                  f"{pct(window, 99):8.1f} {r:8.1f}  {os.getloadavg()[0]:.1f}", flush=True)
            window.clear()
            win_errors = 0
            next_report += report_s
        await asyncio.sleep(0.002)
    unsent = 0
    while not jobs.empty():   # requests whose send time came but no connection was free: not sent, counted
        jobs.get_nowait()
        unsent += 1
    for _ in workers:
        jobs.put_nowait(None)
    await asyncio.gather(*workers)
    rss.append((time.perf_counter() - start, rss_mib(pid)))
    return {"sent": i, "seconds": time.perf_counter() - start, "ms": all_ms, "errors": errors, "statuses": statuses,
            "rss": rss, "service_ms": service_ms, "unsent": unsent}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second (open loop)")
    ap.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    ap.add_argument("--interval", type=int, default=15, help="collection interval of the stack (s)")
    ap.add_argument("--report", type=float, default=60.0, help="seconds per printed window")
    ap.add_argument("--port", type=int, default=0, help="0 = a free port")
    args = ap.parse_args()

    from frs_local.servers import free_port

    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="frs-soak-") as data_dir:
        stack = LocalStack(port, args.interval, data_dir)
        try:
            url = stack.wait(300)
            print(f"soak: {url}, {args.rate:.0f} req/s for {args.minutes:g} min over {len(HOT)} cached routes "
                  f"(x{HOT_WEIGHT}) and {len(COLD)} database routes, "
                  f"{args.connections} connections, collection every {args.interval} s, "
                  f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
            time.sleep(2 * args.interval)   # a couple of collection cycles: opportunities exist
            out = asyncio.run(soak(port, args.rate, args.minutes * 60, args.connections, args.report, stack.proc.pid))
        finally:
            stack.stop()
    ms, errors, rss = out["ms"], out["errors"], out["rss"]
    tracebacks = sum(1 for line in stack.lines if line.startswith("Traceback"))
    mid = min(rss, key=lambda r: abs(r[0] - out["seconds"] / 2))
    print(f"\nsoak: {len(ms)} requests in {out['seconds']:.0f} s ({len(ms) / out['seconds']:.1f} req/s achieved, "
          f"{args.rate:.0f} asked; {out['unsent']} never sent: the stack fell behind); errors {sum(errors.values())}; "
          f"statuses {dict(sorted(out['statuses'].items()))}")
    print(f"latency from scheduled send: p50 {pct(ms, 50):.1f} ms, p99 {pct(ms, 99):.1f} ms, max {max(ms):.1f} ms; "
          f"from the write (service): p50 {pct(out['service_ms'], 50):.1f} ms, p99 {pct(out['service_ms'], 99):.1f} ms")
    print(f"RSS of frs local (MiB): start {rss[0][1]:.1f}, middle {mid[1]:.1f} (t={mid[0]:.0f} s), end {rss[-1][1]:.1f} "
          f"(end/start {rss[-1][1] / rss[0][1]:.2f}x); tracebacks in the stack log: {tracebacks}")
    for what, n in errors.most_common(10):
        print(f"  error x{n}: {what}")
    return 1 if errors or out["unsent"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
