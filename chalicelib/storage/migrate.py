"""Forward-only SQL migrations: apply sql/NNNN_slug.sql in order, once each (`frs migrate`).

Each file runs in its own transaction and is recorded in `schema_migrations` with its SHA-256.
A session advisory lock serialises concurrent runs (two deploys, two test workers). A file whose
checksum differs from the applied one is refused: migrations are never edited, a new one is added.
Never run by a Lambda at import time (DESIGN.md §5).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import LiteralString, cast

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"   # repo top level; FRS_SQL_DIR overrides
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
LOCK_KEY = 0x46_52_53_4D_49_47   # "FRSMIG": one lock id for every migrating process

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        TEXT PRIMARY KEY,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


# Earlier texts of a migration that a database may have recorded, accepted as the same migration.
# Only for a fix that leaves every database the old text succeeded on exactly as it was; any change
# of schema or data is a new file. Each entry says what changed.
SUPERSEDED: dict[str, dict[str, str]] = {
    "0002_timeseries.sql": {
        # It read shared_preload_libraries, which a non-superuser migrator may not examine (so it failed
        # wherever TimescaleDB is installed); now it tries CREATE EXTENSION in a guarded block. Where
        # the old text ran, the outcome is the same: TimescaleDB iff the extension could be created.
        "20496c9681eebbcfb3490ec447ecc41e82f76acc43bb1360009d987834c81b7f": "preload check -> guarded CREATE EXTENSION",
    },
}


class MigrationError(RuntimeError):
    """The migration set and the database disagree (edited or missing file); the message says which."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def sql_dir() -> Path:
    override = os.environ.get("FRS_SQL_DIR")
    return Path(override) if override else SQL_DIR


def discover(directory: Path | None = None) -> list[Migration]:
    """Migration files in apply order (by their NNNN prefix)."""
    directory = directory or sql_dir()
    if not directory.is_dir():
        raise MigrationError(f"migration directory not found: {directory} (set FRS_SQL_DIR)")
    files = sorted(p for p in directory.iterdir() if _NAME.match(p.name))
    return [Migration(p.name, p) for p in files]


def migrate(dsn: str, directory: Path | None = None) -> list[str]:
    """Apply pending migrations to `dsn`; returns the names applied ([] when up to date)."""
    import psycopg

    migrations = discover(directory)
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(BOOKKEEPING)
            applied: dict[str, str] = dict(conn.execute("SELECT name, checksum FROM schema_migrations").fetchall())
            by_name = {m.name: m for m in migrations}
            for name, checksum in sorted(applied.items()):
                if name not in by_name:
                    raise MigrationError(f"migration {name} is recorded as applied but its file is missing from "
                                         f"{sql_dir() if directory is None else directory}")
                if by_name[name].checksum != checksum and checksum not in SUPERSEDED.get(name, {}):
                    raise MigrationError(f"migration {name} was changed after it was applied (checksum "
                                         f"{checksum[:12]} in schema_migrations, {by_name[name].checksum[:12]} on "
                                         "disk); migrations are forward-only: add a new file instead")
            for m in migrations:
                if m.name in applied:
                    continue
                with conn.transaction():
                    conn.execute(cast(LiteralString, m.text))
                    conn.execute("INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                                 (m.name, m.checksum))
                applied_now.append(m.name)
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sql-dir", type=Path, default=None, help="migration directory (default: sql/ of the repo)")


def run(args: argparse.Namespace) -> int:
    from chalicelib.settings import SettingsError, get_settings

    url = get_settings().database_url
    if not url:
        raise SettingsError("DATABASE_URL is not set: expected postgresql://user@host:port/dbname")
    try:
        applied = migrate(url, getattr(args, "sql_dir", None))
    except MigrationError as exc:
        print(f"frs migrate: {exc}", file=sys.stderr)
        return 1
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("up to date")
    return 0
