"""The servers a bench runs against: the ones DATABASE_URL / REDIS_URL name, or its own, started here.

    with own_servers(redis="optional") as s:     # s.db_url: a migrated database; s.redis_url: a URL or None
        ...

Its own PostgreSQL (frs_local.servers: fsync and synchronous_commit off, as the test harness runs it) gets a
database `database`, migrated unless `migrate=False`; its own redis-server is started when `redis` is
"required" (a missing binary fails the bench) or "optional" (None then). Everything started here is stopped,
and its directory removed, when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple


class Servers(NamedTuple):
    db_url: str | None      # None when database=None
    redis_url: str | None   # None when redis=None, or "optional" and no redis-server here
    tmp: Path               # a directory of the bench's own (removed at the end)


@contextlib.contextmanager
def own_servers(*, database: str | None = "frs_bench", migrate: bool = True,
                redis: Literal["required", "optional"] | None = None, use_env: bool = True,
                prefix: str = "frs-bench-") -> Iterator[Servers]:
    """`use_env=False`: always start its own, whatever the environment names (a bench that restarts them)."""
    from frs_local.servers import PostgresServer, RedisServer, ServerUnavailable, free_port

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(tmp, 0o755)   # PostgreSQL runs as the postgres user when we are root
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        db_url = os.environ.get("DATABASE_URL") if use_env else None
        if database is not None and not db_url:
            import psycopg

            pg = PostgresServer(data_dir=tmp / "pg", port=free_port()).start()
            stack.callback(pg.stop)
            with psycopg.connect(pg.dsn, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
            db_url = pg.dsn_for(database)
            print(f"started PostgreSQL on {db_url}", flush=True)
        if db_url and database is not None and migrate:
            from chalicelib.storage.migrate import migrate as apply_migrations

            apply_migrations(db_url)
        redis_url = os.environ.get("REDIS_URL") if use_env and redis else None
        if redis is not None and not redis_url:
            try:
                rs = RedisServer(data_dir=tmp / "redis", port=free_port()).start()
            except ServerUnavailable:
                if redis == "required":
                    raise
            else:
                stack.callback(rs.stop)
                redis_url = rs.url
        yield Servers(db_url if database is not None else None, redis_url, tmp)
