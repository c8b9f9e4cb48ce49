"""Cold-start benchmark: `import` of a Lambda's handler module + its first invocation, in a FRESH interpreter.

Scenarios (each run N times in new `python` processes; medians reported):

  route            import app; app.app(GET /api/v1/funding-rates as an API Gateway proxy event)
  route-health     import app; app.app(GET /api/v1/health)
  collector        import chalicelib.handlers.scheduled; collect_hyperliquid(EventBridge event)  [FRS_CHAIN=off]
  collector+chain  the same, chaining the analysis as on AWS: boto3 lambda.invoke (Stubber-answered)
  analysis         import chalicelib.handlers.scheduled; analyze({"source": "collector", ...})
  bare-chalice     the reference (issue 18): a Chalice app with one route returning a JSON body, built and
                   called the same way (import chalice, app(event)): what any Chalice route Lambda pays

Runs are interleaved (run 1 of every scenario, then run 2, ...) so the scenarios share the box's
load; the route's total is printed as a ratio to bare-chalice and to the interpreter floor, with the
load average (target: route <= 0.2 s on a quiet box).

Bytecode: Lambda's /var/task is read-only, so Python cannot cache compiled modules there; the package
carries them instead (infra/precompile.py, run by infra/deploy.sh). By default the bench reproduces that:
app.py, chalicelib and the bare reference are byte-compiled first (checked-hash .pyc, removed again at the
end), site-packages already are. `--source` times the same with every project module compiled from source
at each start (a package without that step). PYTHONDONTWRITEBYTECODE=1 in every run, so nothing else changes.

Against real servers: PostgreSQL and redis-server are started here (or DATABASE_URL / REDIS_URL
are used), venues come from the replay server, and one warm-up cycle fills the database and
Redis first, so the route reads real rows through the real cache tiers. `python -c pass` is
reported as the interpreter's own floor; `-X importtime` of `import app` lists the heaviest modules.

    python bench/coldstart.py            # 5 runs per scenario, bytecode as packaged
    python bench/coldstart.py --runs 9 --json
    python bench/coldstart.py --source   # project modules compiled from source at every start
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTEXT = textwrap.dedent("""
    class Context:
        function_name, aws_request_id, memory_limit_in_mb = "bench", "req-1", 512
        def get_remaining_time_in_millis(self):
            return 10_000
""")

SCHEDULE_EVENT = {"version": "0", "id": "bench-event", "detail-type": "Scheduled Event", "source": "aws.events",
                  "account": "000000000000", "time": "2025-10-06T12:00:00Z", "region": "us-east-1",
                  "resources": [], "detail": {}}


def rest_event(path: str) -> dict:
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {"Host": "localhost"},
            "multiValueHeaders": {"Host": ["localhost"]}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
            "requestContext": {"resourcePath": path, "httpMethod": "GET", "path": f"/api{path}", "requestId": "r1",
                               "stage": "api", "identity": {"sourceIp": "127.0.0.1"}},
            "body": None, "isBase64Encoded": False}


def script(module: str, call: str, setup: str = "") -> str:
    """t0 .. import of the handler module .. t1 .. first invocation .. t2, printed as JSON."""
    return "\n".join([
        "import time, json",
        "t0 = time.perf_counter()",
        f"import {module} as entry",
        "t1 = time.perf_counter()",
        CONTEXT,
        setup,
        "t1b = time.perf_counter()",
        f"result = {call}",
        "t2 = time.perf_counter()",
        "mods = __import__('sys').modules",
        "print(json.dumps({'import_ms': (t1 - t0) * 1000, 'call_ms': (t2 - t1b) * 1000,"
        " 'total_ms': (t1 - t0 + t2 - t1b) * 1000,"
        " 'status': str(result.get('statusCode') or result.get('status') or ('ok' if 'open' in result else '?'))[:40],"
        " 'heavy': sorted(m for m in ('boto3', 'redis', 'psycopg', 'httpx', 'pydantic', 'aws_lambda_powertools')"
        " if m in mods)}))",
    ])


STUB_INVOKE = textwrap.dedent("""
    import boto3
    from botocore.stub import Stubber, ANY
    from chalicelib import wiring
    client = boto3.client("lambda", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response("invoke", {"StatusCode": 202}, {"FunctionName": "bench-analyze", "InvocationType": "Event", "Payload": ANY})
    stub.activate()
    wiring.override(lambda_client=client)
""")


def scenarios() -> dict[str, tuple[str, dict[str, str]]]:
    ev = repr(SCHEDULE_EVENT)
    return {
        "route": (script("app", f"entry.app({rest_event('/api/v1/funding-rates')!r}, Context())"), {}),
        "route-health": (script("app", f"entry.app({rest_event('/api/v1/health')!r}, Context())"), {}),
        "collector": (script("chalicelib.handlers.scheduled", f"entry.collect_hyperliquid({ev}, Context())"),
                      {"FRS_CHAIN": "off"}),
        "collector+chain": (script("chalicelib.handlers.scheduled", f"entry.collect_hyperliquid({ev}, Context())",
                                   STUB_INVOKE),
                            {"FRS_CHAIN": "lambda", "ANALYSIS_FUNCTION_NAME": "bench-analyze"}),
        "analysis": (script("chalicelib.handlers.scheduled",
                            "entry.analyze({'source': 'collector', 'dex': 'hyperliquid'}, Context())"), {}),
        "bare-chalice": (script("bench_bare_app", f"entry.app({rest_event('/api/v1/funding-rates')!r}, Context())"),
                         {"PYTHONPATH": str(ROOT / "bench" / "_coldstart")}),
    }


CODE = (ROOT / "chalicelib", ROOT / "bench" / "_coldstart")


def _drop_bytecode() -> None:
    for top in CODE:
        for cache in top.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    for pyc in (ROOT / "__pycache__").glob("app.*.pyc"):
        pyc.unlink()


@contextlib.contextmanager
def bytecode(compiled: bool):  # type: ignore[no-untyped-def]
    """The project's modules byte-compiled (as infra/precompile.py ships them) or not at all, for the runs."""
    _drop_bytecode()
    try:
        if compiled:   # checked-hash: a file left behind by an interrupted run can never shadow edited source
            mode = py_compile.PycInvalidationMode.CHECKED_HASH
            compileall.compile_file(ROOT / "app.py", quiet=1, invalidation_mode=mode)
            for top in CODE:
                compileall.compile_dir(top, quiet=1, invalidation_mode=mode)
        yield
    finally:
        _drop_bytecode()


def run_once(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def interpreter_floor(runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def importtime(module: str, env: dict[str, str] | None = None, top: int = 12) -> list[tuple[str, float]]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stderr
    rows = []
    for line in out.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            rows.append((name.rstrip(), int(cumulative) / 1000))
    # the name column is " " + two spaces per nesting level: keep the direct imports of `module`
    children = [(n.strip(), ms) for n, ms in rows if len(n) - len(n.lstrip(" ")) == 3]
    return sorted(children, key=lambda r: -r[1])[:top]


def package_costs() -> dict[str, float]:
    costs = {}
    for module in ("chalice", "pydantic", "aws_lambda_powertools.logging", "aws_lambda_powertools.metrics",
                   "boto3", "redis", "psycopg", "httpx"):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                             text=True, check=True).stderr
        last = [ln for ln in out.splitlines() if ln.rstrip().endswith(f"| {module}")]
        costs[module] = round(int(last[-1].split("|")[1]) / 1000, 1) if last else float("nan")
    return costs


def prepare(stack: contextlib.ExitStack) -> dict[str, str]:
    """Real PostgreSQL + Redis + replay venues, migrated, one warm-up cycle stored; stopped when `stack` closes."""
    from _servers import own_servers

    from frs_local.replay import ReplayServer

    own = stack.enter_context(own_servers(database="frs_coldstart", redis="required", prefix="frs-coldstart-"))
    db_url, redis_url = own.db_url, own.redis_url
    assert db_url is not None and redis_url is not None
    replay = ReplayServer(port=0, seed=1).start()
    stack.callback(replay.stop)
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "LOG_LEVEL": "WARNING", **replay.base_urls()}
    warm = script("chalicelib.handlers.scheduled", f"[entry.collect_hyperliquid({SCHEDULE_EVENT!r}, Context()), "
                  f"entry.collect_paradex({SCHEDULE_EVENT!r}, Context())][-1]")
    run_once(warm, {**env, "FRS_CHAIN": "inprocess"})
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--source", action="store_true", help="project modules compiled from source at every start")
    args = parser.parse_args()
    with contextlib.ExitStack() as servers:
        env = prepare(servers)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        results = {}
        load_before = os.getloadavg()
        every: dict[str, list[dict]] = {name: [] for name in scenarios()}
        with bytecode(compiled=not args.source):
            for _ in range(args.runs):
                for name, (code, extra) in scenarios().items():
                    every[name].append(run_once(code, {**env, **extra}))
            app_top = importtime("app", env)
        for name, samples in every.items():
            results[name] = {k: round(statistics.median(s[k] for s in samples), 1)
                             for k in ("import_ms", "call_ms", "total_ms")}
            results[name]["status"] = samples[-1]["status"]
            results[name]["heavy_modules_loaded"] = samples[-1]["heavy"]
        report = {"runs": args.runs, "bytecode": "from source" if args.source else "precompiled",
                  "python_floor_ms": round(interpreter_floor(args.runs), 1),
                  "load_before": [round(x, 2) for x in load_before],
                  "load_after": [round(x, 2) for x in os.getloadavg()],
                  "scenarios": results, "package_import_ms": package_costs(),
                  "import_app_top": app_top}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"python -c pass (interpreter floor, not included below): {report['python_floor_ms']} ms; "
          f"median of {args.runs} fresh processes; project bytecode: {report['bytecode']}")
    print(f"{'scenario':<16}{'import':>10}{'1st call':>10}{'total':>10}  status  heavy modules loaded")
    for name, r in report["scenarios"].items():
        print(f"{name:<16}{r['import_ms']:>9.1f} {r['call_ms']:>9.1f} {r['total_ms']:>9.1f}   {r['status']:<6}  "
              f"{', '.join(r['heavy_modules_loaded'])}")
    route, bare = report["scenarios"]["route"]["total_ms"], report["scenarios"]["bare-chalice"]["total_ms"]
    print(f"route cold start {route:.1f} ms = {route / bare:.2f}x bare-chalice ({bare:.1f} ms) = "
          f"{route / report['python_floor_ms']:.2f}x the interpreter floor; load {report['load_before']} -> "
          f"{report['load_after']} (target <= 0.2 s quiet)")
    print("package import cost (ms, alone):", report["package_import_ms"])
    print("import app, heaviest top-level imports (ms):", report["import_app_top"])
    from _measured import emit

    r = report["scenarios"]["route"]
    emit("coldstart" + ("-source" if args.source else ""),
         f"`bench/coldstart.py{' --source' if args.source else ''}`: route Lambda `import app` + first call (`GET "
         f"/funding-rates` on real PostgreSQL/Redis) in a fresh interpreter, project bytecode {report['bytecode']}, vs "
         f"a bare Chalice route Lambda, interleaved, median of {args.runs}",
         f"**{route:.0f} ms** (import {r['import_ms']:.0f} + first call {r['call_ms']:.0f}) = {route / bare:.1f}x bare "
         f"Chalice ({bare:.0f} ms); heavy modules loaded: {', '.join(r['heavy_modules_loaded']) or 'none'} "
         f"(load {report['load_before'][0]} -> {report['load_after'][0]})", "<= 0.2 s quiet",
         None if args.source else route <= 200)
    return 0


if __name__ == "__main__":
    sys.exit(main())
