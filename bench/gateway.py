"""Local gateway vs a minimal Python server returning the same bytes, in one run (issue 18, row "local gateway").

The gateway (frs_local.gateway, what `frs local` serves) runs the real app on real
PostgreSQL + Redis with 5 venues x --symbols markets of live snapshots; the cached routes are
GET /api/v1/funding-rates and GET /api/v1/opportunities (the app's in-process cache is warm).
The reference is the smallest honest Python HTTP/1.1 server: asyncio streams, read the request
head, write back the exact bytes the gateway answered for that route (headers and body). Both
run in this process on their own event loop thread; the load comes from a separate process
(this file with --client) so the client never competes for our GIL:

  throughput: --connections keep-alive connections, closed loop, --seconds s per server, --rounds rounds
              alternating reference and gateway -> median requests/s of each
  paced:      --rate requests/s open loop for --paced-seconds (latency counted from the scheduled send
              time, so queueing shows), p50/p99 in ms

A third column, the same REST event through app(event, context) in a loop (no sockets, one thread),
interleaved with the rounds, is the app's own ceiling: the ratio gateway/app is the gateway's share.
A fourth, the gateway with its inline path off (fast_lane=False: every request an event for
app(event, context) on a worker thread, as before issue 18), shows what that path costs: it is
what an uncached route or a cache miss still takes. The gateway answers a repeat request the app's
fast lane holds on its event loop (frs_local/gateway.py `_inline`); the JSON line counts those
(`inline`) and the requests that waited for another's rebuild of an expired entry (`coalesced`;
the app's memory tier keeps an entry 5 s, so the paced run spans expiries).
Prints the ratio gateway/reference (target >= 0.3x) and the gateway's paced p99 (target < 20 ms at
200 req/s), with the load average before and after. Loopback only; bounded durations.

    python bench/gateway.py                   # ~1 min
    python bench/gateway.py --seconds 3 --paced-seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _http import request  # noqa: E402
from _measured import emit  # noqa: E402
from _servers import own_servers  # noqa: E402

ROUTES = ("/api/v1/funding-rates", "/api/v1/opportunities")
ROW_IDS = {"/api/v1/funding-rates": "gateway-rates", "/api/v1/opportunities": "gateway-opportunities"}


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


# ---- the load generator (run in a child process) ------------------------------------------------
async def closed_loop(port: int, path: str, connections: int, seconds: float) -> dict[str, float]:
    raw = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
    done = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        while time.perf_counter() < deadline:
            if await request(reader, writer, raw) == 200:
                done += 1
            else:
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"requests": done, "errors": errors, "seconds": elapsed, "rps": done / elapsed}


async def paced(port: int, path: str, rate: float, seconds: float, connections: int) -> dict[str, float]:
    raw = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port, limit=1 << 22))
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        conn = await idle.get()
        try:
            status = await request(*conn, raw)
        finally:
            idle.put_nowait(conn)
        latencies.append((time.perf_counter() - scheduled) * 1000)
        if status != 200:
            errors += 1

    await asyncio.gather(*(one(i) for i in range(total)))
    while not idle.empty():
        idle.get_nowait()[1].close()
    return {"requests": total, "errors": errors, "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99),
            "max_ms": max(latencies)}


def client_main(args: argparse.Namespace) -> None:
    if args.mode == "closed":
        result = asyncio.run(closed_loop(args.port, args.path, args.connections, args.seconds))
    else:
        result = asyncio.run(paced(args.port, args.path, args.rate, args.seconds, args.connections))
    print(json.dumps(result))


def load(port: int, path: str, mode: str, **kw: float) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--client", mode, "--port", str(port), "--path", path]
    for key, value in kw.items():
        cmd += [f"--{key}", str(value)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- the servers ---------------------------------------------------------------------------------
class Reference:
    """Minimal asyncio HTTP/1.1 server: any request -> the fixed bytes for its path."""

    def __init__(self, replies: dict[str, bytes]) -> None:
        self.replies = replies
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    path = head.split(b" ", 2)[1].decode()
                    writer.write(self.replies[path])
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        async def start() -> None:
            server = await asyncio.start_server(serve, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            self.loop.run_forever()

        threading.Thread(target=main, daemon=True).start()
        ready.wait(10)


def raw_get(port: int, path: str) -> bytes:
    async def go() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:")
        body = await reader.readexactly(length)
        writer.close()
        return head + body

    return asyncio.run(go())


def app_alone(gateway: object, path: str, seconds: float) -> float:
    """The handler's own ceiling: the same REST event through app(event, context) in a loop, no sockets."""
    from frs_local import events as ev

    gw: Any = gateway
    route = gw.routes.match(path)
    headers = [("Host", f"127.0.0.1:{gw.port}"), ("User-Agent", "bench")]
    done, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        event = ev.rest_event(method="GET", path=path, route=route, query=[], headers=headers, body=None,
                              source_ip="127.0.0.1", host=f"127.0.0.1:{gw.port}")
        gw.app(event, ev.lambda_context(gw.function_name))
        done += 1
    return done / (time.perf_counter() - started)


def _bench_api() -> Any:
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def emit_row(path: str, row: dict[str, Any], results: dict[str, Any], args: argparse.Namespace) -> None:
    """README's Measured row for one route (bench/measured.py collects it)."""
    ref, gw = statistics.median(row["reference_rps"]), statistics.median(row["gateway_rps"])
    app_rps, lam = statistics.median(row["app_alone_rps"]), statistics.median(row["lambda_path_rps"])
    gp, rp = row["paced gateway"], row["paced reference"]
    what = ("`bench/gateway.py`: cached `/funding-rates` through the local gateway vs a minimal asyncio server "
            "returning the same bytes" if path == ROUTES[0] else f"`bench/gateway.py`: cached `{path[7:]}`, same run")
    result = (f"{gw:,.0f} vs {ref:,.0f} req/s = **{row['ratio']:.2f}×** ({gp['inline']:,} of {gp['requests']:,} paced "
              f"requests answered on the event loop from the app's fast lane; the app alone {app_rps:,.0f} calls/s: "
              f"{gw / app_rps:.2f}× of it; inline path off, every request through app(event) on a worker: "
              f"{lam:,.0f} req/s = {row['lambda_path_ratio']:.2f}×); paced {args.rate:.0f} req/s × "
              f"{args.paced_seconds:.0f} s p99 **{gp['p99_ms']:.1f} ms** (reference {rp['p99_ms']:.1f} ms), "
              f"{gp['errors']} errors, {gp['coalesced']} waited for one rebuild of an expired entry "
              f"(load {results['load_before']} -> {results['load_after']})")
    emit(ROW_IDS[path], what, result, "≥ 0.3×, p99 < 20 ms", row["ratio"] >= 0.3 and gp["p99_ms"] < 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=100, help="markets per venue (5 venues)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0, help="closed-loop duration per server, route and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--paced-seconds", type=float, default=10.0)
    ap.add_argument("--client", choices=("closed", "paced"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        args.mode = args.client
        if args.mode == "paced":
            args.seconds = args.paced_seconds
        return client_main(args)

    import logging

    logging.disable(logging.WARNING)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from chalicelib import wiring
    from chalicelib.settings import Settings
    from frs_local.gateway import Gateway, GatewayThread

    api = _bench_api()
    own_stack = contextlib.ExitStack()
    own = own_stack.enter_context(own_servers(redis="optional", prefix="frs-bench-gw-"))
    db_url, redis_url = own.db_url, own.redis_url
    runner = lambda_runner = None
    try:
        from chalicelib.storage.repository import PgStorage

        env = {"DATABASE_URL": db_url, "CACHE_TTL_SECONDS": "600"}
        if redis_url:
            env["REDIS_URL"] = redis_url
        wiring.override(settings=Settings.from_env(env))
        storage = PgStorage(db_url)
        storage.ingest(api.live_snapshots(args.symbols, int(time.time() * 1000)))
        wiring.override(storage=storage)
        from app import app

        runner = GatewayThread(Gateway(app, "127.0.0.1", 0)).start()
        gw_port = runner.gateway.port
        lambda_runner = GatewayThread(Gateway(app, "127.0.0.1", 0, fast_lane=False)).start()
        replies = {}
        for path in ROUTES:
            raw_get(gw_port, path)                       # fills the app's cache
            replies[path] = raw_get(gw_port, path)
            assert replies[path].startswith(b"HTTP/1.1 200 "), replies[path][:300]
        reference = Reference(replies)
        print(f"bench/gateway.py  5 venues x {args.symbols} symbols  load average before: {loadavg()}", flush=True)
        results: dict[str, object] = {"load_before": loadavg()}
        for path in ROUTES:
            row: dict[str, object] = {"bytes": len(replies[path])}
            servers = (("reference", reference.port), ("gateway", gw_port), ("lambda_path", lambda_runner.gateway.port))
            for _, port in servers:
                load(port, path, "closed", connections=args.connections, seconds=1)      # warm-up
            rounds: dict[str, list[float]] = {"reference": [], "gateway": [], "lambda_path": [], "app": []}
            for _ in range(args.rounds):     # alternate, so a load swing on the shared box hits all three
                for name, port in servers:
                    rounds[name].append(load(port, path, "closed", connections=args.connections,
                                             seconds=args.seconds)["rps"])
                rounds["app"].append(app_alone(runner.gateway, path, args.seconds))
            ref_rps, gw_rps = statistics.median(rounds["reference"]), statistics.median(rounds["gateway"])
            app_rps = statistics.median(rounds["app"])
            lambda_rps = statistics.median(rounds["lambda_path"])
            row["lambda_path_rps"] = [round(x) for x in rounds["lambda_path"]]
            row["lambda_path_ratio"] = round(lambda_rps / ref_rps, 3)
            row["app_alone_rps"] = [round(x) for x in rounds["app"]]
            row["gateway_vs_app"] = round(gw_rps / app_rps, 3)
            ratio = gw_rps / ref_rps
            row.update(reference_rps=[round(x) for x in rounds["reference"]],
                       gateway_rps=[round(x) for x in rounds["gateway"]], ratio=round(ratio, 3))
            print(f"  {path:<24} {row['bytes']:>6} B  reference {ref_rps:6.0f} req/s  gateway {gw_rps:6.0f} req/s"
                  f"  (medians of {args.rounds} alternating rounds)  ratio {ratio:.2f}x (target >= 0.3x);"
                  f"  the app alone (event -> app(), no HTTP, one thread) {app_rps:.0f} calls/s: the gateway"
                  f" serves {gw_rps / app_rps:.2f}x of the app's own ceiling; every request through app(event) on a"
                  f" worker (inline path off) {lambda_rps:.0f} req/s = {lambda_rps / ref_rps:.2f}x", flush=True)
            inline, coalesced = runner.gateway.inline_served, runner.gateway.coalesced
            paced_runs = {name: load(port, path, "paced", connections=16, rate=args.rate,
                                     **{"paced-seconds": args.paced_seconds})
                          for name, port in (("reference", reference.port), ("gateway", gw_port))}
            gp, rp = paced_runs["gateway"], paced_runs["reference"]
            gp["inline"] = runner.gateway.inline_served - inline
            gp["coalesced"] = runner.gateway.coalesced - coalesced
            row.update({f"paced {name}": run for name, run in paced_runs.items()})
            print(f"  {'':<24} paced {args.rate:.0f} req/s x {args.paced_seconds:.0f} s: gateway p50 "
                  f"{gp['p50_ms']:.2f} ms p99 {gp['p99_ms']:.2f} ms (target < 20 ms), reference p99 "
                  f"{rp['p99_ms']:.2f} ms, errors {gp['errors']:.0f}; {gp['inline']:.0f} of {gp['requests']:.0f}"
                  f" answered inline, {gp['coalesced']:.0f} waited for a rebuild", flush=True)
            results[path] = row
        results["load_after"] = loadavg()
        results["rejected_503"] = runner.gateway.rejected
        results["inline"] = runner.gateway.inline_served
        results["coalesced"] = runner.gateway.coalesced
        print(f"load average after: {results['load_after']}  (2-core box shared with other jobs)")
        print(json.dumps(results))
        for path in ROUTES:
            emit_row(path, results[path], results, args)  # type: ignore[arg-type]
    finally:
        if runner is not None:
            runner.stop()
        if lambda_runner is not None:
            lambda_runner.stop()
        wiring.reset()
        own_stack.close()


if __name__ == "__main__":
    main()
