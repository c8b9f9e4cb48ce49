"""One README "Measured" row from a bench run: `emit(...)` prints it as a `MEASURED {json}` line, which
bench/measured.py collects and writes into README.md (the row whose id matches is replaced).

A row: id (stable, e.g. "gateway-rates"), what was measured (the command and its reference), the result (ratios
first, with the load average), the target, and whether it was met (None: no target).
"""

from __future__ import annotations

import json
import os


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def emit(row_id: str, what: str, result: str, target: str, met: bool | None) -> None:
    print("MEASURED " + json.dumps({"id": row_id, "what": what, "result": result, "target": target, "met": met}),
          flush=True)
