"""chalicelib/outage.py: which exceptions are outages, and one log line per state change."""

from __future__ import annotations

import logging

import psycopg
import pytest
import redis

from chalicelib import outage


@pytest.fixture(autouse=True)
def _clean():
    outage.reset()
    yield
    outage.reset()


@pytest.mark.parametrize(("exc", "name"), [
    (psycopg.OperationalError("connection refused"), "database"),
    (psycopg.InterfaceError("connection already closed"), "database"),
    (redis.exceptions.ConnectionError("Error 111 connecting"), "redis"),
    (redis.exceptions.TimeoutError("Timeout reading"), "redis"),
    (ConnectionRefusedError(111, "refused"), "redis"),          # a builtin socket error: the Redis client's
    (psycopg.errors.NumericValueOutOfRange("numeric field overflow"), None),   # bad data, not an outage
    (ValueError("bug"), None),
])
def test_dependency(exc, name):
    assert outage.dependency(exc) == name


def test_one_log_line_per_state_change(caplog):
    caplog.set_level(logging.INFO, logger="chalicelib.outage")
    for _ in range(50):                                          # 50 requests during the outage
        outage.down("database", psycopg.OperationalError("connection refused"))
    assert outage.state("database")["reason"] == "OperationalError: connection refused"
    for _ in range(50):
        outage.up("database")
    outage.up("redis")                                           # was never down: says nothing
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("database unavailable (OperationalError: connection refused)")
    assert messages[1].startswith("database available again after")
    assert outage.state("database") is None
