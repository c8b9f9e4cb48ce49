"""Dashboard page weight and first render in headless Chromium against `frs local --replay`.

Starts `frs local --replay` (private PostgreSQL/Redis in a temp dir) unless --url points at a
running stack, waits for the first analysis cycle, then loads the page N times, each in a fresh
browser profile (cold cache):

  weight        bytes of GET / (one document: HTML + CSS + JS inlined), raw and gzip -9
  first paint   first-contentful-paint (the page's frame and venue strip)
  first render  ms from navigation start until the opportunity table holds its first rows
                (the page's own `frsStats.firstRenderMs`: REST /opportunities answered and drawn)
  reference     the same browser loading the service's /docs page (load event), measured in this run

Targets (issue 16): weight < 150 KB, first render < 1 s on the local stack.

    python bench/dashboard.py               # 7 loads
    python bench/dashboard.py --runs 3 --url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frs_local.servers import free_port  # noqa: E402

ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1400,1000")


def start_stack(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "WS_MANAGEMENT_URL")
           and not k.endswith("_API_URL")}
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "local", "--replay", "--port", str(free_port()),
                             "--interval", "5", "--data-dir", str(data_dir)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    assert proc.stdout is not None
    url = None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if m := re.search(r"frs local ready: (http://\S+)", line):
            url = m.group(1)
        if url and re.search(r"#1 \S+ +long", line):
            # keep reading its output, or a full pipe would stall the stack
            threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
            return proc, url
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit("frs local did not become ready")


def browser(profile: str):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in (*ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def load_once(url: str) -> tuple[float, float, float, float, float]:
    """(first render, first contentful paint, /docs load, DOMContentLoaded, /opportunities fetch start->end) ms."""
    profile = tempfile.mkdtemp(prefix="frs-bench-chromium-")
    drv = browser(profile)
    try:
        drv.get(url + "/docs")
        docs = drv.execute_script("const n=performance.getEntriesByType('navigation')[0]; return n.loadEventEnd;")
        drv.get(url + "/")
        deadline = time.monotonic() + 30
        while (first := drv.execute_script("return window.frsStats && window.frsStats.firstRenderMs")) is None:
            if time.monotonic() > deadline:
                raise SystemExit("the opportunity table never rendered")
            time.sleep(0.02)
        fcp, dcl, fetch_ms = drv.execute_script(
            "const p=performance.getEntriesByName('first-contentful-paint')[0];"
            "const n=performance.getEntriesByType('navigation')[0];"
            "const o=performance.getEntriesByType('resource').find(r => r.name.includes('/opportunities?'));"
            "return [p ? p.startTime : 0, n.domContentLoadedEventEnd, o ? o.responseEnd - o.startTime : 0];")
        return float(first), float(fcp), float(docs), float(dcl), float(fetch_ms)
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--url", help="a running frs local (default: start one)")
    args = ap.parse_args()
    proc, data_dir = None, None
    url = args.url
    if not url:
        data_dir = Path(tempfile.mkdtemp(prefix="frs-bench-dash-"))
        os.chmod(data_dir, 0o755)
        proc, url = start_stack(data_dir)
    try:
        body = httpx.get(url + "/", timeout=30).content
        docs = httpx.get(url + "/docs", timeout=30).content
        print(f"weight: {len(body):,} B raw, {len(gzip.compress(body, 9)):,} B gzip "
              f"(target < 150 KB; /docs page for reference {len(docs):,} B)")
        runs = [load_once(url) for _ in range(args.runs)]
        first = statistics.median(r[0] for r in runs)
        fcp = statistics.median(r[1] for r in runs)
        ref = statistics.median(r[2] for r in runs)
        print(f"first render (table filled): median {first:.0f} ms over {args.runs} cold loads "
              f"(min {min(r[0] for r in runs):.0f}, max {max(r[0] for r in runs):.0f}; target < 1000 ms)")
        print(f"first contentful paint: median {fcp:.0f} ms; DOMContentLoaded median "
              f"{statistics.median(r[3] for r in runs):.0f} ms; GET /opportunities in the page median "
              f"{statistics.median(r[4] for r in runs):.0f} ms; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs")
        print(f"reference /docs load event: median {ref:.0f} ms -> first render / docs load = {first / ref:.2f}x")
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(45)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
