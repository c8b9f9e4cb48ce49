"""Replay server: recorded-shape venue responses on loopback, with per-venue fault injection.

Each venue lives under its own prefix, so `<DEX>_API_URL=http://127.0.0.1:P/<dex>` works with
the venue modules' paths unchanged (e.g. `POST /hyperliquid/info`, `GET /paradex/v1/markets`).
Data comes from frs_local.replay_data (seeded, drifting with wall time). Every response
carries `X-Data-Source: replay seed=<S>` (DESIGN.md §6: never fake data silently).

EdgeX speaks V2 under /edgex/api/v2/public/...; its V1 paths (/edgex/api/v1/public/...) answer as the live,
deprecated V1 does (metadata, then `{"code": "SUCCESS", "data": []}` for every data call). `--edgex-api v1`
(or REPLAY_EDGEX_API=v1, or ReplayServer(edgex_api="v1")) exports EDGEX_API_URL=.../edgex/api/v1, pointing the
EdgeX collector at V1 so the failure it reports can be seen.

Faults, per venue (CLI `--fault grvt=500`, `POST /_control/faults {"grvt": "500"}`, or
`ReplayServer.set_fault`):
    "500" / "502" / any HTTP status   that status with a JSON error body
    "429" / "429:S"                   429 with `Retry-After: S` (default 1)
    "garbage"                         200 with a truncated JSON body
    "shape"                           200 with valid JSON of the wrong shape
    "latency:MS"                      answer normally after MS milliseconds
`DELETE /_control/faults` clears them; `GET /_control/health` says what is served.

Unit errors, per venue (CLI `--rate-scale hyperliquid=8`, `ReplayServer(rate_scales={...})` or
`set_rate_scale`): every funding rate that venue serves is multiplied by the factor, in its own wire
unit, as a venue that changed its unit would (the cross-venue unit check must flag it).

Python API (the local stack and tests):
    server = ReplayServer(port=0, seed=1).start()
    os.environ.update(server.base_urls())     # {"HYPERLIQUID_API_URL": "http://127.0.0.1:P/hyperliquid", ...}
    server.set_fault("grvt", "500"); server.clear_faults(); server.stop()
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from frs_local import replay_more
from frs_local.replay_data import DEXES, Universe, garbage_body, wrong_shape_body

EDGEX_APIS = ("v2", "v1")   # which EdgeX API base_urls() points the collector at (v1: the deprecated, empty one)
SERVED = DEXES + replay_more.DEXES   # replay_more: Aster, Extended, Backpack, Pacifica, HIP-3 (recorded rows)

Clock = Callable[[], int]   # epoch milliseconds


def _wall_ms() -> int:
    return int(time.time() * 1000)


_SERVING = threading.local()   # .history: this request thread is serving a settled-history endpoint
HISTORY_ENDPOINTS = ("/api/v1/fundings", "/full/v1/funding", "/funding/getFundingRatePage")   # + HL fundingHistory


class ScaledUniverse(Universe):
    """The seeded universe with some venues' rates multiplied by a factor (a simulated unit error):
    `scales` everywhere, `settled_scales` only in the settled histories (what a venue paid disagrees
    with what it published: the calibration's case)."""

    scales: dict[str, float]
    settled_scales: dict[str, float]

    def rate_1h(self, dex: str, name: str, now_ms: int) -> float:
        settled = self.settled_scales.get(dex, 1.0) if getattr(_SERVING, "history", False) else 1.0
        return super().rate_1h(dex, name, now_ms) * self.scales.get(dex, 1.0) * settled


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str                 # status | garbage | shape | latency
    status: int = 200
    retry_after: str | None = None
    latency_ms: int = 0
    times: int | None = None  # None = until cleared

    @classmethod
    def parse(cls, text: str, times: int | None = None) -> Fault:
        raw = text.strip().lower()
        name, _, arg = raw.partition(":")
        if name == "garbage":
            return cls("garbage", times=times)
        if name == "shape":
            return cls("shape", times=times)
        if name == "latency":
            if not arg.isdigit():
                raise ValueError(f"latency fault needs milliseconds, e.g. latency:800 (got {text!r})")
            return cls("latency", latency_ms=int(arg), times=times)
        if name.isdigit() and 400 <= int(name) <= 599:
            status = int(name)
            retry_after = (arg or "1") if status == 429 else (arg or None)
            return cls("status", status=status, retry_after=retry_after, times=times)
        raise ValueError(f"unknown fault {text!r}: expected 500|429[:seconds]|garbage|shape|latency:MS|<4xx/5xx>")


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without NODELAY, Nagle + delayed ACK add ~40 ms each
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:   # quiet; the CLI prints its own line
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Data-Source", f"replay seed={self.server.replay.seed}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode(), headers)

    def _dispatch(self, method: str) -> None:
        replay = self.server.replay
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self._body() if method in ("POST", "DELETE") else None
        parts = url.path.lstrip("/").split("/", 1)
        prefix, rest = parts[0], "/" + (parts[1] if len(parts) > 1 else "")
        try:
            if prefix == "_control":
                self._control(method, rest, body)
                return
            if prefix not in SERVED:
                self._json(404, {"error": f"unknown venue prefix /{prefix}; serving {', '.join(SERVED)}"})
                return
            replay.count(prefix)
            fault = replay.take_fault(prefix)
            if fault is not None and fault.kind != "latency":
                self._fault(fault)
                return
            if fault is not None:
                time.sleep(fault.latency_ms / 1000)
            _SERVING.history = rest.endswith(HISTORY_ENDPOINTS) or (
                isinstance(body, dict) and body.get("type") == "fundingHistory")
            try:
                status, payload = route(replay.universe, prefix, method, rest, query, body, replay.clock())
            finally:
                _SERVING.history = False
            self._json(status, payload)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _fault(self, fault: Fault) -> None:
        if fault.kind == "garbage":
            self._send(200, garbage_body())
        elif fault.kind == "shape":
            self._send(200, wrong_shape_body())
        else:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            self._json(fault.status, {"error": f"injected fault: HTTP {fault.status}"}, headers)

    def _control(self, method: str, rest: str, body: Any) -> None:
        replay = self.server.replay
        if rest == "/health" and method == "GET":
            self._json(200, replay.health())
        elif rest == "/faults" and method == "GET":
            self._json(200, replay.faults_view())
        elif rest == "/faults" and method == "DELETE":
            replay.clear_faults()
            self._json(200, replay.faults_view())
        elif rest == "/faults" and method == "POST":
            if not isinstance(body, dict):
                self._json(400, {"error": 'expected a JSON object like {"grvt": "500"}'})
                return
            try:
                for dex, spec in body.items():
                    if isinstance(spec, dict):
                        replay.set_fault(dex, str(spec.get("kind", "")), times=spec.get("times"))
                    else:
                        replay.set_fault(dex, str(spec) if spec is not None else "")
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, replay.faults_view())
        else:
            self._json(404, {"error": f"unknown control endpoint {method} {rest}"})


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    replay: ReplayServer


def _int(raw: Any, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


def route(u: Universe, dex: str, method: str, path: str, query: dict[str, str], body: Any,
          now_ms: int) -> tuple[int, Any]:
    """(status, JSON payload) for one venue request; pure apart from the universe's pins."""
    body = body if isinstance(body, dict) else {}
    if dex == "hyperliquid" and method == "POST" and path == "/info":
        kind = body.get("type")
        if kind == "metaAndAssetCtxs":
            return 200, u.hyperliquid_meta_and_ctxs(now_ms)
        if kind == "fundingHistory":
            return 200, u.hyperliquid_funding_history(str(body.get("coin")), _int(body.get("startTime"), 0),
                                                      body.get("endTime"), now_ms)
        return 422, {"error": f"Failed to deserialize the JSON body into the target type: type {kind!r}"}
    if dex == "lighter" and method == "GET":
        if path == "/api/v1/orderBookDetails":
            return 200, u.lighter_order_book_details(now_ms)
        if path == "/api/v1/funding-rates":
            return 200, u.lighter_funding_rates(now_ms)
        if path == "/api/v1/fundings":
            return 200, u.lighter_fundings(_int(query.get("market_id"), -1), _int(query.get("start_timestamp"), 0),
                                           _int(query.get("end_timestamp"), now_ms // 1000), now_ms)
    if dex == "paradex" and method == "GET":
        if path == "/v1/markets":
            return 200, u.paradex_markets(now_ms)
        if path == "/v1/markets/summary":
            summary = u.paradex_summary(now_ms)
            market = query.get("market")
            if not market:
                return 400, {"error": "VALIDATION_ERROR", "message": "market is required"}
            if market != "ALL":
                summary = {"results": [r for r in summary["results"] if r["symbol"] == market]}
            return 200, summary
        if path == "/v1/funding/data":
            return 200, u.paradex_funding_data(str(query.get("market")), _int(query.get("start_at"), 0),
                                               _int(query.get("end_at"), now_ms),
                                               min(_int(query.get("page_size"), 100), 5000), query.get("cursor"), now_ms)
    if dex == "grvt" and method == "POST":
        if path == "/full/v1/all_instruments":
            return 200, u.grvt_instruments(now_ms)
        if path == "/full/v1/ticker":
            ticker = u.grvt_ticker(str(body.get("instrument")), now_ms)
            if ticker is None:
                return 400, {"code": 3000, "message": "instrument not found", "status": 400}
            return 200, ticker
        if path == "/full/v1/funding":
            return 200, u.grvt_funding(str(body.get("instrument")), _int(body.get("start_time"), 0) // 1_000_000,
                                       _int(body.get("end_time"), now_ms * 1_000_000) // 1_000_000,
                                       min(_int(body.get("limit"), 500), 1000), body.get("cursor"), now_ms)
    if dex == "edgex" and method == "GET":
        if path.startswith("/api/v1/public/"):        # deprecated V1: metadata still listed, data calls empty
            return 200, u.edgex_v1(path.removeprefix("/api/v1/public"), now_ms)
        if path == "/api/v2/public/meta/getMetaData":
            return 200, u.edgex_metadata(now_ms)
        if path == "/api/v2/public/funding/getLatestFundingRate":
            return 200, u.edgex_latest_funding(query.get("contractId"), now_ms)
        if path == "/api/v2/public/quote/getTicker":
            return 200, u.edgex_ticker(query.get("contractId") or None, now_ms)
        if path == "/api/v2/public/funding/getFundingRatePage":
            return 200, u.edgex_funding_page(str(query.get("contractId")), min(_int(query.get("size"), 100), 100),
                                             query.get("offsetData", ""), _int(query.get("filterBeginTimeInclusive"), 0),
                                             _int(query.get("filterEndTimeExclusive"), now_ms), now_ms)
    if dex in replay_more.DEXES:
        return replay_more.route(u, dex, method, path, query, body, now_ms)
    return 404, {"error": f"replay: no route for {method} /{dex}{path}"}


class ReplayServer:
    """A ThreadingHTTPServer on loopback serving the five venues; start() returns self."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", seed: int = 1, clock: Clock | None = None,
                 faults: dict[str, str] | None = None, edgex_api: str | None = None,
                 rate_scales: dict[str, float] | None = None) -> None:
        self.host, self.port, self.seed = host, port, seed
        self.edgex_api = (edgex_api or os.environ.get("REPLAY_EDGEX_API") or "v2").strip().lower()
        if self.edgex_api not in EDGEX_APIS:
            raise ValueError(f"edgex_api / REPLAY_EDGEX_API: expected one of {', '.join(EDGEX_APIS)}, got {self.edgex_api!r}")
        self.clock: Clock = clock or _wall_ms
        self.universe = ScaledUniverse(seed)
        self.universe.scales = {}
        self.universe.settled_scales = {}
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for dex, kind in (faults or {}).items():
            self.set_fault(dex, kind)
        for dex, factor in (rate_scales or {}).items():
            self.set_rate_scale(dex, factor)

    # ---- lifecycle
    def start(self) -> ReplayServer:
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.replay = self
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(target=httpd.serve_forever, name=f"replay:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- addresses
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, dex: str) -> str:
        """EdgeX's base carries its API version (/edgex/api/v2, or /edgex/api/v1 with edgex_api="v1")."""
        return f"{self.url}/{dex}" + (f"/api/{self.edgex_api}" if dex == "edgex" else "")

    def base_urls(self) -> dict[str, str]:
        """Environment for the collectors: {"HYPERLIQUID_API_URL": "http://127.0.0.1:P/hyperliquid", ...}."""
        # a registered venue without replay data gets URLs here too: a 404, never a live call
        from chalicelib.venues import REGISTRY

        names = dict.fromkeys([*SERVED, *(m.SPEC.id for m in REGISTRY)])
        return {f"{dex.upper()}_API_URL": self.base_url(dex) for dex in names}

    # ---- faults
    def set_fault(self, dex: str, kind: str, *, times: int | None = None) -> None:
        """Inject a fault for every request under /<dex> (times=N: only the next N). "" or "none" clears."""
        if dex not in SERVED:
            raise ValueError(f"unknown dex {dex!r}; expected one of {', '.join(SERVED)}")
        with self._lock:
            if kind.strip().lower() in ("", "none", "ok"):
                self._faults.pop(dex, None)
            else:
                self._faults[dex] = Fault.parse(kind, times)

    def set_settlement_scale(self, dex: str, factor: float) -> None:
        """Serve `dex`'s SETTLED histories multiplied by `factor` (its published rates unchanged; 1 restores)."""
        if dex not in DEXES:
            raise ValueError(f"unknown dex {dex!r}; expected one of {', '.join(DEXES)}")
        with self._lock:
            self.universe.settled_scales[dex] = float(factor)

    def set_rate_scale(self, dex: str, factor: float) -> None:
        """Serve `dex`'s funding rates multiplied by `factor` (1 restores them)."""
        if dex not in DEXES:
            raise ValueError(f"unknown dex {dex!r}; expected one of {', '.join(DEXES)}")
        with self._lock:
            self.universe.scales[dex] = float(factor)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, dex: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(dex)
            if fault is not None and fault.times is not None:
                left = fault.times - 1
                if left <= 0:
                    del self._faults[dex]
                else:
                    self._faults[dex] = Fault(fault.kind, fault.status, fault.retry_after, fault.latency_ms, left)
            return fault

    def faults_view(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": {d: _describe(f) for d, f in self._faults.items()}}

    def count(self, dex: str) -> None:
        with self._lock:
            self.requests[dex] += 1

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "source": "replay", "seed": self.seed, "now_ms": self.clock(), "edgex_api": self.edgex_api,
                "venues": {**{d: len(self.universe.listings[d]) for d in DEXES}, **replay_more.counts(self.universe)},
                "requests": dict(self.requests), **self.faults_view(),
                "rate_scales": {d: f for d, f in self.universe.scales.items() if f != 1.0}}


def _describe(f: Fault) -> str:
    text = {"status": str(f.status), "latency": f"latency:{f.latency_ms}"}.get(f.kind, f.kind)
    if f.retry_after and f.kind == "status":
        text += f":{f.retry_after}"
    return text if f.times is None else f"{text} x{f.times}"


# ---------------------------------------------------------------- frs replay-server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated universe")
    parser.add_argument("--fault", action="append", default=[], metavar="DEX=KIND",
                        help="inject a fault: 500, 429[:seconds], garbage, shape, latency:MS (repeatable)")
    parser.add_argument("--edgex-api", choices=EDGEX_APIS, default=None,
                        help="EdgeX API the exported EDGEX_API_URL points at: v2 (current) or v1 (deprecated: "
                             "metadata only, every data call answers data: []); default $REPLAY_EDGEX_API or v2")
    parser.add_argument("--rate-scale", action="append", default=[], metavar="DEX=FACTOR",
                        help="serve DEX's funding rates multiplied by FACTOR, e.g. hyperliquid=8 (repeatable)")


def run(args: argparse.Namespace) -> int:
    faults = {}
    for item in args.fault:
        dex, sep, kind = item.partition("=")
        if not sep:
            print(f"frs replay-server: --fault expects DEX=KIND, got {item!r}")
            return 2
        faults[dex.strip().lower()] = kind
    scales = {}
    for item in getattr(args, "rate_scale", []):
        dex, sep, factor = item.partition("=")
        try:
            scales[dex.strip().lower()] = float(factor)
        except ValueError:
            sep = ""
        if not sep:
            print(f"frs replay-server: --rate-scale expects DEX=FACTOR (a number), got {item!r}")
            return 2
    try:
        server = ReplayServer(args.port, host=args.host, seed=args.seed, faults=faults,
                              edgex_api=getattr(args, "edgex_api", None), rate_scales=scales).start()
    except (ValueError, OSError) as exc:
        print(f"frs replay-server: {exc}")
        return 2
    print(f"replay server on {server.url} (seed {server.seed}); point the collectors at it with:", flush=True)
    for key, value in server.base_urls().items():
        print(f"  export {key}={value}", flush=True)
    if faults:
        print(f"faults: {server.faults_view()['faults']}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
