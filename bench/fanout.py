"""WebSocket fan-out of one analysis run (issue 18, rows "WebSocket ... subscribers").

Part 1, real: the app's own $connect/$default handlers behind the local gateway (what `frs local`
runs), a private redis-server for the registry, --clients REAL WebSocket clients in --procs child
processes (websockets' asyncio client), each subscribing as a user would (one in --all-every to
every market, alternating `single`/`batch`; the rest to 3 symbols, both channels, alternating formats).
Then one run's updates (5 venues x --symbols changed rates + --events opportunity events) go
through `ws_registry.fan_out` with the app's pusher (boto3 post_to_connection to the gateway's
@connections port). Latency = when a client holds ALL of its messages minus when fan_out started
(the analysis finished); p50/p99/max over clients (target p99 < 1 s at 1,000), and the posts per
connection (one, unless a subscriber's updates exceed API Gateway's 128 KB message limit).

Part 2, simulated: 1,000 / 3,000 / 10,000 registered connections (same subscription mix) posting to
a minimal loopback @connections sink in a child process; fan_out time per connection and the
10,000 / 1,000 time ratio (linear = 10.0). Counts urllib3 "Connection pool is full" warnings.
Loopback only; every wait is bounded. Prints the load average before and after.

    python bench/fanout.py                        # 1,000 real clients, then 1k/3k/10k simulated
    python bench/fanout.py --clients 200 --sizes 1000,2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _measured import emit  # noqa: E402

VENUES = ("hyperliquid", "lighter", "paradex", "grvt", "edgex")


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


ALL_EVERY = int(os.environ.get("FRS_BENCH_ALL_EVERY", "5"))   # one client in N subscribes to everything


def subscription(i: int, symbols: list[str]) -> dict[str, Any]:
    """Client i's subscribe message (deterministic mix: one in ALL_EVERY takes every market)."""
    if ALL_EVERY and i % ALL_EVERY == 0:
        return {"action": "subscribe", "channels": ["funding_rates", "opportunities"],
                "format": "single" if i % (2 * ALL_EVERY) else "batch"}
    rng = random.Random(i)
    return {"action": "subscribe", "channels": ["funding_rates", "opportunities"],
            "filters": {"symbols": rng.sample(symbols[:50], 3)}, "format": "single" if i % 2 else "batch"}


def symbols_of(n: int) -> list[str]:
    return [("BTC", "ETH", "SOL")[i] if i < 3 else f"S{i:03d}" for i in range(n)]


def make_updates(symbols: int, events: int, now_ms: int) -> Any:
    from chalicelib.core.serialize import iso_ms
    from chalicelib.services.ws_registry import Updates

    rng = random.Random(5)
    rates = []
    for sym in symbols_of(symbols):
        for dex in VENUES:
            r1h = rng.randint(-400, 600) / 10_000_000
            rates.append({"dex_name": dex, "symbol": sym, "funding_rate": r1h * 8,
                          "next_funding_time": iso_ms(now_ms + 3_600_000), "rate_1h": r1h, "rate_8h": r1h * 8,
                          "annualized_rate": r1h * 8760, "funding_interval_hours": 8,
                          "mark_price": rng.randint(1, 100_000)})
    opps = []
    for i in range(events):
        sym = symbols_of(symbols)[i % symbols]
        long_dex, short_dex = rng.sample(VENUES, 2)
        opps.append(("opened" if i % 3 else "updated", {
            "id": f"{sym}:{long_dex}:{short_dex}", "symbol": sym, "long_dex": long_dex, "short_dex": short_dex,
            "long_rate": 0.0001, "short_rate": 0.0004, "divergence": 0.0003, "net_profit_percent": 0.00012,
            "annualized_apy": 13.14, "discovered_at": iso_ms(now_ms), "valid_until": iso_ms(now_ms + 60_000)}))
    return Updates(iso_ms(now_ms), rates, opps)


# ---- child: real WebSocket clients ---------------------------------------------------------------
async def clients_main(url: str, first: int, count: int, symbols: int) -> None:
    from websockets.asyncio.client import connect

    raise_fd_limit()
    names = symbols_of(symbols)
    received: dict[int, list[tuple[float, int, int]]] = {i: [] for i in range(first, first + count)}
    sockets: dict[int, Any] = {}
    gate = asyncio.Semaphore(50)          # handshakes in flight

    async def open_one(i: int) -> None:
        async with gate:
            ws = await connect(url, open_timeout=60, max_size=2**20)
            await ws.send(json.dumps(subscription(i, names)))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert reply["type"] == "subscribed", reply
            sockets[i] = ws

    await asyncio.gather(*(open_one(i) for i in received))

    raw: dict[int, list[tuple[float, bytes]]] = {i: [] for i in received}

    async def listen(i: int) -> None:
        # arrival time only: bytes as they come (no UTF-8 decode, no JSON parse while others wait),
        # parsed after the run, so the latency is the service's, not this client's parsing
        ws = sockets[i]
        try:
            while True:
                message = await ws.recv(decode=False)
                raw[i].append((time.time(), message))
        except Exception:
            pass

    tasks = [asyncio.create_task(listen(i)) for i in received]
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)     # the parent says DONE
    for ws in sockets.values():
        await ws.close()
    await asyncio.wait(tasks, timeout=30)
    for i, messages in raw.items():
        for at, message in messages:
            data = json.loads(message)
            received[i].append((at, len(message), len(data["frames"]) if data.get("type") == "updates" else 1))
    print(json.dumps({str(i): v for i, v in received.items()}), flush=True)


# ---- child: a minimal @connections sink ------------------------------------------------------------
async def sink_main() -> None:
    count = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                count += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(count, flush=True)


# ---- parent --------------------------------------------------------------------------------------
class PoolWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


def real_clients(args: argparse.Namespace, kv: Any) -> dict[str, Any]:
    from app import app
    from chalicelib import wiring
    from chalicelib.cache import keys
    from chalicelib.services.ws_registry import fan_out
    from frs_local.gateway import Gateway, GatewayThread

    runner = GatewayThread(Gateway(app, "127.0.0.1", 0, management_port=args.management_port)).start()
    procs: list[subprocess.Popen[str]] = []
    try:
        per = (args.clients + args.procs - 1) // args.procs
        for p in range(args.procs):
            first, count = p * per, min(per, args.clients - p * per)
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "--child-clients", runner.gateway.ws_url, "--first", str(first),
                 "--count", str(count), "--symbols", str(args.symbols)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        deadline = time.monotonic() + 300
        for proc in procs:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if line.strip() != "READY" or time.monotonic() > deadline:
                raise SystemExit(f"bench: clients did not get ready ({line!r})")
        registered = int(kv.scard(keys.ws_connections()) or 0)
        updates = make_updates(args.symbols, args.events, int(time.time() * 1000))
        time.sleep(1.0)       # let the subscribe traffic settle
        started = time.time()
        if os.environ.get("FRS_BENCH_PROFILE"):
            import cProfile
            import pstats

            with cProfile.Profile() as prof:
                counts = fan_out(kv, wiring.pusher(), updates)
            pstats.Stats(prof).sort_stats("cumtime").print_stats(25)
        else:
            counts = fan_out(kv, wiring.pusher(), updates)
        fan_out_s = time.time() - started
        time.sleep(min(10.0, 2 + fan_out_s))
        received: dict[str, list[list[float]]] = {}
        for proc in procs:
            out, _ = proc.communicate("DONE\n", timeout=120)
            received.update(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        runner.stop()
    latencies = [max(at for at, _, _ in msgs) - started for msgs in received.values() if msgs]
    posts = [len(msgs) for msgs in received.values()]
    return {"clients": len(received), "registered": registered, "fan_out_s": round(fan_out_s, 3),
            "counts": counts, "got_updates": len(latencies),
            "p50_s": round(pct(latencies, 50), 3), "p99_s": round(pct(latencies, 99), 3),
            "max_s": round(max(latencies, default=float("nan")), 3),
            "posts_per_client": {str(k): posts.count(k) for k in sorted(set(posts))},
            "max_message_bytes": max((size for msgs in received.values() for _, size, _ in msgs), default=0)}


def simulated(args: argparse.Namespace, kv: Any, size: int) -> dict[str, Any]:
    from chalicelib.services import ws_registry
    from chalicelib.transport.push import ApiGatewayPusher

    sink = subprocess.Popen([sys.executable, __file__, "--child-sink"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        kv.flushdb()
        names = symbols_of(args.symbols)
        for i in range(size):
            cid = f"sim{i:05d}="
            ws_registry.connect(kv, cid, now_ms=0, endpoint=url)
            ws_registry.handle_message(kv, cid, json.dumps(subscription(i, names)), now_ms=0, known_dexes=VENUES)
        updates = make_updates(args.symbols, args.events, int(time.time() * 1000))
        pusher = ApiGatewayPusher(url)
        started = time.perf_counter()
        counts = ws_registry.fan_out(kv, pusher, updates)
        elapsed = time.perf_counter() - started
        out, _ = sink.communicate("DONE\n", timeout=60)
        return {"connections": size, "seconds": round(elapsed, 3), "us_per_connection": round(elapsed / size * 1e6),
                "posts_received": int(out.strip().splitlines()[-1]), "messages": counts["messages"]}
    finally:
        if sink.poll() is None:
            sink.kill()


def main() -> None:
    global ALL_EVERY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--symbols", type=int, default=100, help="symbols per venue with a changed rate (5 venues)")
    ap.add_argument("--events", type=int, default=40, help="opportunity events in the run")
    ap.add_argument("--sizes", default="1000,3000,10000", help="simulated connection counts ('' to skip)")
    ap.add_argument("--all-every", type=int, default=ALL_EVERY,
                    help="one client in N subscribes to every market (0: none); the rest to 3 symbols")
    ap.add_argument("--child-clients", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--child-sink", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_clients:
        return asyncio.run(clients_main(args.child_clients, args.first, args.count, args.symbols))
    if args.child_sink:
        return asyncio.run(sink_main())

    raise_fd_limit()
    os.environ["FRS_BENCH_ALL_EVERY"] = str(args.all_every)     # the client processes use the same mix
    ALL_EVERY = args.all_every
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.basicConfig(level=logging.WARNING)
    for quiet in ("frs.local.gateway", "websockets", "botocore", "chalicelib.transport.push"):
        logging.getLogger(quiet).setLevel(logging.ERROR)
    warnings = PoolWarnings()
    logging.getLogger("urllib3.connectionpool").addHandler(warnings)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)

    import redis
    from _servers import own_servers

    from chalicelib import wiring
    from chalicelib.settings import Settings
    from frs_local.servers import free_port

    servers = contextlib.ExitStack()   # a redis-server of its own: the bench's pub/sub load stays off any other
    redis_url = servers.enter_context(own_servers(database=None, redis="required", use_env=False,
                                                  prefix="frs-bench-fanout-")).redis_url
    assert redis_url is not None
    kv = redis.Redis.from_url(redis_url)
    try:
        args.management_port = free_port()
        wiring.override(settings=Settings.from_env({"REDIS_URL": redis_url,
                                                    "WS_MANAGEMENT_URL": f"http://127.0.0.1:{args.management_port}"}))
        print(f"bench/fanout.py  load average before: {loadavg()}", flush=True)
        results: dict[str, Any] = {"load_before": loadavg()}
        if args.clients:
            real = real_clients(args, kv)
            results["real"] = real
            print(f"  {real['clients']} real WebSocket clients ({real['registered']} registered): fan_out "
                  f"{real['fan_out_s']:.2f} s, all of a client's updates received p50 {real['p50_s']:.3f} s "
                  f"p99 {real['p99_s']:.3f} s max {real['max_s']:.3f} s after the analysis (target p99 < 1 s); "
                  f"posts per client {real['posts_per_client']}, largest {real['max_message_bytes']} B; "
                  f"counts {real['counts']}", flush=True)
        rows = []
        for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
            row = simulated(args, kv, size)
            rows.append(row)
            print(f"  simulated {size:>6} connections: fan_out {row['seconds']:.2f} s "
                  f"({row['us_per_connection']} us/connection), {row['posts_received']} posts", flush=True)
        if len(rows) >= 2:
            # the smallest size once more at the end: the base is the mean of both, so load drift on the
            # shared box during the big run does not read as superlinear growth (or hide it)
            again = simulated(args, kv, rows[0]["connections"])
            print(f"  simulated {again['connections']:>6} connections again: fan_out {again['seconds']:.2f} s", flush=True)
            base = (rows[0]["seconds"] + again["seconds"]) / 2
            growth = rows[-1]["seconds"] / base
            scale = rows[-1]["connections"] / rows[0]["connections"]
            results["scaling"] = {"time_ratio": round(growth, 2), "size_ratio": scale, "base_s": round(base, 3),
                                  "base_again_s": again["seconds"]}
            print(f"  {rows[-1]['connections']:,} vs {rows[0]['connections']:,} (mean of the two runs): time "
                  f"x{growth:.2f} for x{scale:.0f} connections (linear = x{scale:.0f})", flush=True)
        results["simulated"] = rows
        results["pool_full_warnings"] = warnings.count
        results["load_after"] = loadavg()
        print(f"  'Connection pool is full' warnings: {warnings.count}; load average after: {results['load_after']}"
              "  (2-core box shared with other jobs)")
        print(json.dumps(results))
        if args.clients:
            emit("fanout-1000", f"`bench/fanout.py`: {real['clients']:,} real WebSocket clients on the local gateway, one "
                 "analysis run's updates delivered through the in-process `@connections` sink",
                 f"`fan_out` {real['fan_out_s']:.2f} s, every client's updates received p50 {real['p50_s']:.3f} s, "
                 f"**p99 {real['p99_s']:.3f} s**; posts per client {real['posts_per_client']}; {warnings.count} "
                 f"pool-full warnings (load {results['load_before']} -> {results['load_after']})",
                 "p99 < 1 s, no pool warnings", real["p99_s"] < 1.0 and warnings.count == 0)
        if "scaling" in results:
            sc = results["scaling"]
            emit("fanout-scaling", f"`bench/fanout.py`: {rows[-1]['connections']:,} simulated subscribers vs "
                 f"{rows[0]['connections']:,} (boto3 to a loopback `@connections` sink in another process: the AWS "
                 "code path)", f"{rows[-1]['seconds']:.1f} s vs {sc['base_s']:.2f} s = **x{sc['time_ratio']}** for "
                 f"x{sc['size_ratio']:.0f}; {warnings.count} pool-full warnings (load {results['load_after']})",
                 f"<= x{sc['size_ratio']:.0f} (linear)", sc["time_ratio"] <= sc["size_ratio"] and warnings.count == 0)
    finally:
        kv.close()
        wiring.reset()
        servers.close()


if __name__ == "__main__":
    main()
