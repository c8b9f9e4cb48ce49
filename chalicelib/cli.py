"""`frs`: the operator's command line. Each subcommand imports only what it needs."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, help). The module provides `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "local": ("frs_local.stack", "run the whole stack on this machine (PostgreSQL, Redis, gateway, scheduler)"),
    "migrate": ("chalicelib.storage.migrate", "apply pending SQL migrations to $DATABASE_URL"),
    "collect": ("chalicelib.services.collect_cli", "fetch, normalize and (with DATABASE_URL) store venue snapshots"),
    "backfill": ("chalicelib.services.backfill", "load a market's funding history from its venue"),
    "settle": ("chalicelib.services.calibrate_cli", "fetch new settlements of every venue, then calibrate"),
    "calibrate": ("chalicelib.services.calibrate_cli", "each venue's published-vs-settled verdict and accuracy"),
    "backtest": ("chalicelib.services.backtest", "backtest a long/short pair on settled funding, with fees"),
    "replay-server": ("frs_local.replay", "serve recorded-shape venue responses on loopback"),
    "maintain": ("chalicelib.storage.maintenance_cli", "create partitions ahead, drop expired ones"),
    "webhook-key": ("chalicelib.webhooks.keys", "issue a webhook API key (printed once; only its hash is stored)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frs", description="Funding Rate Service")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        if name in sys.argv[1:2]:  # import only the chosen subcommand's module
            importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    from chalicelib.settings import SettingsError

    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except SettingsError as exc:
        print(f"frs {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
