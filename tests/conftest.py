"""Test harness: a real PostgreSQL and a real redis-server for the session, started from project code.

Tiers by directory: tests/unit (network off), tests/integration (real servers), tests/e2e
(whole local stack as a subprocess), tests/online (live venues, opt-in with `-m online`).
Under CI=true a missing server binary is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from frs_local.servers import PostgresServer, RedisServer, ServerUnavailable, free_port

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_TIERS = ("unit", "integration", "e2e", "online")
S = TypeVar("S", PostgresServer, RedisServer)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        if len(parts) > 1 and parts[0] == "tests" and parts[1] in _TIERS:
            item.add_marker(getattr(pytest.mark, parts[1]))


def _unavailable(exc: Exception) -> None:
    if IN_CI:
        pytest.fail(f"required server missing under CI=true: {exc}", pytrace=False)
    pytest.skip(f"server not available: {exc}")


@pytest.fixture(scope="session")
def _tmp_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="frs-test-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def started(server: S) -> Iterator[S]:
    """`server` (a PostgresServer or RedisServer) running for the block, stopped after it; a missing binary
    fails the test under CI=true and skips it elsewhere. The session's servers and a test's own (one it
    stops and restarts mid-test) both start here."""
    try:
        server.start()
    except ServerUnavailable as exc:
        _unavailable(exc)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_server(_tmp_root: Path) -> Iterator[PostgresServer]:
    with started(PostgresServer(data_dir=_tmp_root / "pg", port=free_port())) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(_tmp_root: Path) -> Iterator[RedisServer]:
    with started(RedisServer(data_dir=_tmp_root / "redis", port=free_port())) as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A database with every migration applied; each test clones it (CREATE DATABASE ... TEMPLATE)."""
    import psycopg

    from chalicelib.storage.migrate import migrate

    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS frs_template")
        conn.execute("CREATE DATABASE frs_template")
    migrate(pg_server.dsn_for("frs_template"))
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute("ALTER DATABASE frs_template WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
    return "frs_template"


_db_counter = itertools.count()


@pytest.fixture
def empty_db_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database with NO migrations (for migration tests)."""
    import psycopg

    name = f"frs_empty_{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.dsn_for(name)
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_server: PostgresServer, pg_template: str) -> Iterator[str]:
    """A fresh, fully migrated database for one test (cloned from the template in ~50 ms)."""
    import psycopg

    name = f"frs_test_{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {pg_template}')
    yield pg_server.dsn_for(name)
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session redis-server, flushed before each test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def fixture_json():
    """Load a recorded venue payload: fixture_json('hyperliquid', 'metaAndAssetCtxs.docs-example.json')."""
    import json

    def load(dex: str, name: str):
        return json.loads((FIXTURES / "venues" / dex / name).read_text())

    return load
