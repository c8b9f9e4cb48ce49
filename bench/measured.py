"""Run the benches behind README's "Measured" table and rewrite their rows from what they print.

    python bench/measured.py                 # every bench below; README rows with the same id are replaced
    python bench/measured.py fanout gateway  # only these
    python bench/measured.py --dry-run       # print the rows, leave README.md alone

Each bench prints its rows as `MEASURED {json}` lines (bench/_measured.py). A README row carries its id in a
leading HTML comment (`| <!-- id --> what | result | target |`); a row whose id this run produced is replaced,
every other row stays as it was (a bench not run here keeps its last figures, with the load they were taken at).
New ids are appended at the end of the table. The load average before and after each bench is printed: the
box is shared, so ratios (measured against a reference in the same run) are what the rows lead with.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HEADER = "## Measured"

# name -> the bench command (arguments after `python`); one command per row group (issue 18: "one command each")
BENCHES: dict[str, list[str]] = {
    "fanout": ["bench/fanout.py"],
    "opportunities": ["bench/opportunities.py"],
    "gateway": ["bench/gateway.py"],
    "overhead": ["bench/api.py", "--overhead-only"],
    "coldstart": ["bench/coldstart.py"],
    "parse": ["bench/venues_parse.py"],
    "persistence": ["bench/persistence.py"],
    "backtest": ["bench/backtest.py"],
}
ROW_ID = re.compile(r"^\|\s*<!--\s*([\w.-]+)\s*-->")


def run(name: str, timeout: float) -> list[dict[str, object]]:
    cmd = [sys.executable, *BENCHES[name]]
    print(f"== {name}: {' '.join(BENCHES[name])}  (load before {os.getloadavg()[0]:.2f})", flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    rows = [json.loads(line[len("MEASURED "):]) for line in proc.stdout.splitlines() if line.startswith("MEASURED ")]
    print(f"   {len(rows)} row(s) in {time.monotonic() - t0:.0f} s, exit {proc.returncode}, load after "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    if proc.returncode != 0 or not rows:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"bench {name} failed (exit {proc.returncode}, {len(rows)} rows)")
    return rows


def render(row: dict[str, object]) -> str:
    met = {True: " (met)", False: " (not met)", None: ""}[row["met"]]  # type: ignore[index]
    return f"| <!-- {row['id']} --> {row['what']} | {row['result']} | {row['target']}{met} |"


def rewrite(text: str, rows: list[dict[str, object]]) -> str:
    """README text with the Measured table's rows of these ids replaced (or appended)."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    end = first
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    pending = {str(r["id"]): render(r) for r in rows}
    table = lines[first:end]
    for i, line in enumerate(table):
        m = ROW_ID.match(line)
        if m and m.group(1) in pending:
            table[i] = pending.pop(m.group(1))
    table += list(pending.values())
    return "\n".join(lines[:first] + table + lines[end:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", choices=[*BENCHES, []], help="benches to run (default: all)")
    ap.add_argument("--dry-run", action="store_true", help="print the rows; do not write README.md")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per bench")
    args = ap.parse_args()
    rows: list[dict[str, object]] = []
    for name in args.names or list(BENCHES):
        rows += run(name, args.timeout)
    for row in rows:
        print(render(row))
    if not args.dry_run:
        README.write_text(rewrite(README.read_text(), rows))
        print(f"README.md: {len(rows)} row(s) written")


if __name__ == "__main__":
    main()
