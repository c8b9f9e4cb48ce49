"""`frs maintain`: create day partitions ahead, drop expired ones, purge old collection logs."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ahead-days", type=int, default=7, help="create partitions up to today + N days (default 7)")
    parser.add_argument("--retention-days", type=int, default=None,
                        help="drop data older than N days (default: HISTORY_RETENTION_DAYS, 90)")


def run(args: argparse.Namespace) -> int:
    from chalicelib.settings import SettingsError, get_settings

    settings = get_settings()
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set: expected postgresql://user@host:port/dbname")
    if args.ahead_days < 0:
        raise SettingsError(f"--ahead-days={args.ahead_days}: expected an integer >= 0")
    retention = settings.history_retention_days if args.retention_days is None else args.retention_days
    if retention < 1:
        raise SettingsError(f"--retention-days={retention}: expected an integer >= 1")

    from chalicelib import wiring  # the composition root builds the adapter

    wiring.override(settings=settings)
    try:
        result = wiring.storage().maintain(ahead_days=args.ahead_days, retention_days=retention)
    finally:
        wiring.reset()   # closes what it built
    print(json.dumps(result, indent=2))
    return 0
