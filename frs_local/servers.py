"""Start and stop a private PostgreSQL and redis-server on loopback (tests and `frs local`).

PostgreSQL comes from the Debian binaries under /usr/lib/postgresql/<ver>/bin; initdb/pg_ctl
refuse to run as root, so when we are root they run as the `postgres` user (runuser).
Nothing here is imported by a Lambda.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class ServerUnavailable(RuntimeError):
    """The server binaries are not installed (a test under CI=true must fail on this, not skip)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def find_pg_bin() -> Path:
    override = os.environ.get("FRS_PG_BIN")
    candidates = [override] if override else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for cand in candidates:
        if cand and Path(cand, "pg_ctl").exists():
            return Path(cand)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise ServerUnavailable(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); "
        "install them with: apt-get install -y postgresql"
    )


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PostgresServer:
    """A throwaway (or persistent, for `frs local`) cluster listening on 127.0.0.1:port."""

    data_dir: Path
    port: int
    user: str = "postgres"
    started_by_us: bool = False

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def start(self, timeout: float = 30.0) -> PostgresServer:
        bin_dir = find_pg_bin()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # the postgres user must be able to reach (parents: o+x) and own the directory; the
            # directory itself stays 0700, or a restart of an existing cluster fails with
            # "data directory ... has invalid permissions" (initdb only fixes it on the first run)
            for parent in self.data_dir.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
            shutil.chown(self.data_dir, "postgres", "postgres")
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                _as_postgres([str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                              "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-N"]),
                check=True, capture_output=True, timeout=120,
            )
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200 -c shared_buffers=256MB")
        log = self.data_dir / "server.log"
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log),
                          "-o", opts, "-w", "-t", str(int(timeout)), "start"]),
            check=True, capture_output=True, timeout=timeout + 10,
        )
        self.started_by_us = True
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not open port {self.port}; see {log}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if not self.started_by_us:
            return
        bin_dir = find_pg_bin()
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
            capture_output=True, timeout=60,
        )
        self.started_by_us = False


def _die_with_parent() -> None:
    """In the child, before exec (Linux): ask for SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG), so a
    killed `frs local` or test session leaves no redis-server behind. Elsewhere a no-op."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class RedisServer:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def binary() -> str:
        found = shutil.which("redis-server")
        if not found:
            raise ServerUnavailable("redis-server not found; install it with: apt-get install -y redis-server")
        return found

    def start(self, timeout: float = 15.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # own session: a terminal's Ctrl-C reaches `frs local`, which then stops redis in order
            # (after the last cycle), instead of redis dying first under a running handler
            start_new_session=True,
            # and if the process that started it dies without stopping it (SIGKILL, a crash), it goes too
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not open port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
