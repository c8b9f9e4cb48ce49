"""`frs local` pieces that need no server: environment defaults, the data-dir lock, crash leftovers."""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice import Chalice

from frs_local import stack as st
from frs_local.scheduler import JobResult


def args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    st.add_arguments(parser)
    ns = parser.parse_args([])
    for key, value in overrides.items():
        setattr(ns, key, value)
    return ns


def test_defaults_match_the_documented_command() -> None:
    ns = args()
    assert (ns.replay, ns.port, ns.host, ns.interval, ns.data_dir) == (False, 8000, "127.0.0.1", None, Path(".frs"))


TOUCHED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
           "LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED", "COLLECTION_INTERVAL_SECONDS", "ANALYSIS_FUNCTION_NAME")


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Stack.environment() writes os.environ; start each test without these and restore ALL of it after (it also
    sets variables not listed here: left behind, they broke tests/unit/test_observability.py when it ran later)."""
    saved = dict(os.environ)
    for name in TOUCHED:
        monkeypatch.delenv(name, raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_environment_defaults_and_in_process_chaining(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYSIS_FUNCTION_NAME", "frs-prod-analyze")
    stack = st.Stack(args(interval=3))
    stack.environment()
    assert "ANALYSIS_FUNCTION_NAME" not in os.environ  # never invoke a real Lambda from a laptop
    assert any("ANALYSIS_FUNCTION_NAME ignored" in n for n in stack.notes)
    assert os.environ["AWS_ACCESS_KEY_ID"] == "local" and os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["COLLECTION_INTERVAL_SECONDS"] == "3" and stack.interval == 3
    assert os.environ["LOG_LEVEL"] == "WARNING" and os.environ["POWERTOOLS_METRICS_DISABLED"] == "true"


def test_environment_keeps_what_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("COLLECTION_INTERVAL_SECONDS", "15")
    stack = st.Stack(args())
    stack.environment()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREAL" and "AWS_DEFAULT_REGION" not in os.environ
    assert os.environ["LOG_LEVEL"] == "DEBUG" and stack.interval == 15


def test_one_frs_local_per_data_dir(tmp_path: Path) -> None:
    with st._lock(tmp_path):
        assert (tmp_path / "frs-local.lock").read_text() == str(os.getpid())
        with pytest.raises(SystemExit, match=f"in use by another frs local \\(pid {os.getpid()}\\)"), \
                st._lock(tmp_path):
            pass
    with st._lock(tmp_path):  # released on exit
        pass


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_postmaster_pid_from_a_crash_is_removed(tmp_path: Path) -> None:
    pg = tmp_path / "pg"
    pg.mkdir()
    (pg / "postmaster.pid").write_text(f"{_dead_pid()}\n{pg}\n1700000000\n54329\n")
    note = st._recover_postgres(pg)
    assert note is not None and "stale postmaster.pid" in note
    assert not (pg / "postmaster.pid").exists()
    assert st._recover_postgres(pg) is None  # nothing left to recover


def test_a_pid_reused_by_another_program_is_not_mistaken_for_postgres(tmp_path: Path) -> None:
    pg = tmp_path / "pg"
    pg.mkdir()
    (pg / "postmaster.pid").write_text(f"{os.getpid()}\n{pg}\n")  # alive, but pytest, not postgres
    st._recover_postgres(pg)
    assert not (pg / "postmaster.pid").exists()


def test_stale_redis_pid_file_is_dropped_without_killing_anything(tmp_path: Path) -> None:
    (tmp_path / "frs-redis.pid").write_text(str(os.getpid()))  # alive, but not a redis-server
    assert st._recover_redis(tmp_path) is None
    assert not (tmp_path / "frs-redis.pid").exists()


def test_a_process_that_only_mentions_redis_is_not_stopped(tmp_path: Path) -> None:
    # e.g. `pytest tests/integration/test_redis_client.py`: "redis" in its command line, not a redis-server
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "redis-server-lookalike"])
    try:
        (tmp_path / "frs-redis.pid").write_text(str(proc.pid))
        assert st._recover_redis(tmp_path) is None
        assert proc.poll() is None                       # still running
    finally:
        proc.kill()
        proc.wait()


def test_doc_rows_follow_the_apps_routes() -> None:
    app = Chalice("tiny")

    @app.route("/docs")
    def docs():
        return {}

    @app.route("/api/v1/openapi.json")
    def spec():
        return {}

    assert st._doc_rows(app, "http://h:1") == [("docs", "http://h:1/docs  (OpenAPI: http://h:1/api/v1/openapi.json)")]
    assert st._doc_rows(Chalice("bare"), "http://h:1") == []


def test_an_interrupt_while_postgres_starts_still_stops_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from frs_local import servers

    stopped: list[Path] = []

    def start(self, timeout: float = 30.0):  # the postmaster is up, `pg_ctl start -w` has not returned yet
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "postmaster.pid").write_text("4242\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(servers.PostgresServer, "start", start)
    monkeypatch.setattr(servers.PostgresServer, "stop", lambda self: stopped.append(self.data_dir))
    monkeypatch.setattr(st, "_pick_port", lambda port: port)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    stack = st.Stack(args(data_dir=tmp_path))
    with pytest.raises(KeyboardInterrupt), stack.exit:
        stack.start_postgres()
    assert stopped == [tmp_path / "pg"]


def test_postgres_that_never_came_up_is_not_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from frs_local import servers

    def start(self, timeout: float = 30.0):
        raise servers.ServerUnavailable("PostgreSQL server binaries not found")

    monkeypatch.setattr(servers.PostgresServer, "start", start)
    monkeypatch.setattr(servers.PostgresServer, "stop", lambda self: pytest.fail("nothing to stop"))
    monkeypatch.setattr(st, "_pick_port", lambda port: port)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    stack = st.Stack(args(data_dir=tmp_path))
    with pytest.raises(servers.ServerUnavailable), stack.exit:
        stack.start_postgres()


def test_an_interrupt_while_redis_starts_still_stops_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from frs_local import servers

    stopped: list[Path] = []

    def start(self, timeout: float = 15.0):  # spawned, port not open yet
        self.process = object()
        raise KeyboardInterrupt

    monkeypatch.setattr(servers.RedisServer, "binary", staticmethod(lambda: "/usr/bin/redis-server"))
    monkeypatch.setattr(servers.RedisServer, "start", start)
    monkeypatch.setattr(servers.RedisServer, "stop", lambda self: stopped.append(self.data_dir))
    monkeypatch.setattr(st, "_pick_port", lambda port: port)
    for name in ("USE_REDIS", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    stack = st.Stack(args(data_dir=tmp_path))
    with pytest.raises(KeyboardInterrupt), stack.exit:
        stack.start_redis()
    assert stopped == [tmp_path / "redis"]


@pytest.mark.parametrize("value", ["abc", "0", "1.5"])
def test_a_malformed_interval_in_the_environment_stops_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from chalicelib.settings import SettingsError

    monkeypatch.setenv("COLLECTION_INTERVAL_SECONDS", value)
    with pytest.raises(SettingsError, match="COLLECTION_INTERVAL_SECONDS="):
        st.Stack(args()).environment()   # not silently replaced by 60


@pytest.mark.parametrize(("name", "value"), [("DATABASE_URL", "mysql://x"), ("REDIS_URL", "localhost:6379")])
def test_a_malformed_url_stops_start_up_before_anything_starts(monkeypatch: pytest.MonkeyPatch, name: str,
                                                                value: str) -> None:
    from chalicelib.settings import SettingsError

    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name}="):
        st.Stack(args()).environment()


def test_progress_lines() -> None:
    ok = JobResult("collect-grvt", True, {"dex": "grvt", "status": "success", "markets": 42, "rejected": 1,
                                          "error": None, "timings_ms": {"fetch": 12.4, "total": 30.2},
                                          "analysis": {"mode": "inprocess", "result": {"opportunities": 7, "open": 3,
                                                                                 "ws": {"frames_delivered": 12}}}})
    line = st.venue_line(ok)
    assert line.split()[:4] == ["grvt", "success", "42", "markets"]
    assert "fetch 12 ms" in line and "total 30 ms" in line and "1 rejected" in line and "errors: -" in line
    assert "analysis: 7 pairs, 3 open, 12 ws frames" in line
    joined = JobResult("collect-edgex", True, {"status": "success", "markets": 1,
                                               "analysis": {"result": {"coalesced": True}}})
    assert "analysis: joined the running one" in st.venue_line(joined)
    bad = st.venue_line(JobResult("collect-edgex", False, error="ReadTimeout: timed out", seconds=2.5))
    assert "FAILED" in bad and "ReadTimeout" in bad and "2500 ms" in bad
    opp = st.opportunity_line(1, {"symbol": "BTC", "long_dex": "lighter", "short_dex": "grvt", "divergence": 0.0004,
                               "net_profit_percent": 0.0002, "annualized_apy": 21.9})
    assert opp.startswith("#1 BTC") and "long lighter / short grvt" in opp and "APY 21.9000%" in opp
    assert st.mask_dsn("postgresql://u:secret@db:5432/frs") == "postgresql://u:***@db:5432/frs"
    assert st.mask_dsn("postgresql://postgres@127.0.0.1:5/frs") == "postgresql://postgres@127.0.0.1:5/frs"
