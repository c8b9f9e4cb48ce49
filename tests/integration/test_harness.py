"""The harness itself: real servers answer, and each test gets its own isolated database."""

from __future__ import annotations

import psycopg
import redis


def test_postgres_is_real_and_isolated(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        assert int(version) >= 150000
        conn.execute("CREATE TABLE harness_probe (x int)")
        conn.execute("INSERT INTO harness_probe VALUES (41), (1)")
        assert conn.execute("SELECT sum(x) FROM harness_probe").fetchone()[0] == 42


def test_next_test_gets_a_clean_database(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('harness_probe')").fetchone()[0]
    assert exists is None


def test_redis_is_real_and_flushed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 0
    client.set("frs:probe", "1")
    assert client.info("server")["redis_version"]
    client.close()
