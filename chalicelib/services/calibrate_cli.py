"""`frs calibrate` (print each venue's verdict: published vs settled) and `frs settle` (run one settlement pass).

    frs settle                     fetch new settlements of every enabled venue, then calibrate (what the
                                   hourly `settlements` schedule does)
    frs calibrate [--refresh] [--json]
                                   the verdict table from the database; --refresh recomputes it from the
                                   stored settlements and collected rates first (no venue request)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from chalicelib.settings import Settings, SettingsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refresh", action="store_true", help="recompute the verdicts from stored data first")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")


def _storage(settings: Settings) -> Any:
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set: calibration reads settlements and rates from PostgreSQL")
    from chalicelib import wiring

    return wiring.storage()


def _fmt(v: Any, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict[str, Any]]) -> str:
    out = [f"{'venue':<12} {'verdict':<14} {'factor':>8} {'signs ok':>8} {'samples':>7} {'MAE 24h (APR pts)':>18} "
           f"{'bias 7d (APR pts)':>18} {'sign hit 7d':>11}  note"]
    for r in rows:
        acc = (r.get("report") or {}).get("accuracy", {})
        a24, a7 = acc.get("24h", {}), acc.get("168h", {})
        out.append(f"{r['dex']:<12} {r['status']:<14} {_fmt(r.get('factor'), '.4g'):>8} "
                   f"{_fmt(r.get('sign_agreement'), '.0%'):>8} {r.get('samples', 0):>7} "
                   f"{_fmt(_num(a24.get('mae_apr_points')), '.3f'):>18} {_fmt(_num(a7.get('bias_apr_points')), '+.3f'):>18} "
                   f"{_fmt(_num(a7.get('sign_hit_rate')), '.0%'):>11}  "
                   f"{((r.get('report') or {}).get('verdict') or {}).get('suspected') or ''}")
    return "\n".join(out)


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    storage = _storage(settings)
    if args.command == "settle":
        from chalicelib import wiring
        from chalicelib.services import settle

        # verdict changes are announced as the scheduled run announces them (a change saved here unannounced
        # would never be: the next run sees no change)
        summary = settle.run(settings=settings, storage=storage, kv=wiring.kv(), pusher=wiring.pusher(),
                             emit=wiring.event_sink())
        for v in summary["venues"]:
            print(f"{v['dex_name']:<12} markets {v['markets']:>4}  stored {v['stored']:>6}  requests {v['requests']:>5}  "
                  f"errors {v['errors']}  {v['error'] or ''}", file=sys.stderr)
    elif args.refresh:
        from chalicelib import wiring
        from chalicelib.services import settle
        from chalicelib.venues import REGISTRY

        now_ms = int(time.time() * 1000)
        before = {c["dex"]: c["status"] for c in storage.calibrations()}
        reports = {}
        for m in REGISTRY:
            rep = reports[m.SPEC.id] = settle.calibrate_venue(m.SPEC.id, storage, now_ms=now_ms)
            storage.save_calibration(m.SPEC.id, rep["verdict"], rep)
        settle.publish_events(settle.verdict_events(before, reports, now_ms), kv=wiring.kv(), pusher=wiring.pusher(),
                              emit=wiring.event_sink(), now_ms=now_ms)
    rows = storage.calibrations()
    if getattr(args, "json", False):
        from chalicelib.core.serialize import dumps

        print(dumps([{"dex_name": r["dex"]} | {k: v for k, v in r.items() if k not in ("dex", "report")}
                     | {"accuracy": (r.get("report") or {}).get("accuracy")} for r in rows]))
    else:
        print(table([r | {"report": _plain(r.get("report"))} for r in rows]) if rows else
              "no calibration yet: run `frs settle` (or wait for the hourly settlements schedule)")
    return 0


def _plain(report: Any) -> Any:
    return json.loads(report) if isinstance(report, str) else report
