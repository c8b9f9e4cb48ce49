"""A small Redis client (RESP2 over TCP, TLS or a unix socket) for the commands the REST read path sends.

Why: importing redis-py 8 costs more than a route Lambda's whole cold-start budget (it loads
redis.asyncio and with it asyncio: ~0.2 s, issue 18). The REST read path needs a handful of
commands - GET, MGET, SET, DEL, EXISTS, EXPIRE, TTL, INCR, INCRBYFLOAT, SCARD, PING and a
non-transactional pipeline of them; LLEN and LINDEX for /health's ingest-buffer backlog - which are
spoken here directly over a socket.

Every other attribute (publish, rpush, smembers, scan_iter, transactional pipelines, ...) is served by a
redis-py client built on first use with the same URL and timeouts (`_full`): the collectors, the analysis
and pub/sub keep redis-py, and a route never imports it.

Behaviour matches what the callers relied on with redis-py:
- replies: bytes for strings (no decoding), GET/MGET of a missing key None, SET -> True (None when NX
  refused), INCRBYFLOAT -> float, EXPIRE -> bool, PING -> True; an error reply raises ResponseError;
- failures: an unreachable, refusing, resetting or timed-out server raises the builtin ConnectionError /
  TimeoutError (cache/store.is_outage and chalicelib.outage classify them, so reads degrade exactly as
  before); a connection that broke while idle in the pool is retried once on a fresh one;
- URLs: redis://[[user]:password@]host[:port][/db], rediss:// (TLS, e.g. ElastiCache in-transit
  encryption; `?ssl_cert_reqs=none` skips verification), unix:///path/to.sock[?db=N];
- timeouts: socket_timeout for every read/write, socket_connect_timeout for connect + TLS handshake;
- thread-safe: a small pool of connections (the local gateway serves requests on threads).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_IDLE = 8   # pooled connections kept per client


class ResponseError(Exception):
    """Redis answered with an error reply (-ERR, -WRONGTYPE, ...): a bad command, not an outage."""


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):   # redis-py refuses booleans too: a bug, not a value
        raise TypeError("Invalid input of type: 'bool'. Convert to a bytes, string, int or float first.")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return repr(value).encode()
    raise TypeError(f"Invalid input of type: {type(value).__name__!r}. Convert to a bytes, string, int or float first.")


def encode(command: tuple[Any, ...]) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(command)]
    for value in command:
        data = _arg(value)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Reader:
    """Parses RESP2 replies from a binary file object (socket.makefile)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _line(self) -> bytes:
        line = self._stream.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Connection closed by server." if not line else "Protocol error: truncated reply")
        return line[:-2]

    def reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._stream.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError("Connection closed by server.")
            return data[:-2]
        if kind == b"+":
            return rest
        if kind == b":":
            return int(rest)
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.reply() for _ in range(count)]
        if kind == b"-":
            return ResponseError(rest.decode(errors="replace"))
        raise ConnectionError(f"Protocol error: unexpected reply {line[:40]!r}")


class Connection:
    def __init__(self, address: Any, *, timeout: float | None, connect_timeout: float | None,
                 tls: Any = None, hello: list[tuple[Any, ...]] | None = None) -> None:
        self.address = address
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.tls = tls            # (ssl.SSLContext, server_hostname) or None
        self.hello = hello or []  # AUTH / SELECT sent after connecting
        self.sock: socket.socket | None = None
        self.reader: Reader | None = None

    def connect(self) -> None:
        try:
            if isinstance(self.address, str):   # a unix socket path
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.connect_timeout)
                sock.connect(self.address)
            else:   # an ASCII host as bytes: getaddrinfo would import the idna codec for a str (cold start)
                host, port = self.address
                ascii_host = host.encode("ascii") if host.isascii() else host
                sock = socket.create_connection((ascii_host, port), timeout=self.connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                context, hostname = self.tls
                sock = context.wrap_socket(sock, server_hostname=hostname)
            sock.settimeout(self.timeout)
        except TimeoutError:
            raise TimeoutError(f"Timeout connecting to redis at {self.address}") from None
        except OSError as exc:   # refused, unreachable, DNS, TLS handshake
            raise ConnectionError(f"Error connecting to redis at {self.address}: {exc}") from exc
        self.sock, self.reader = sock, Reader(sock.makefile("rb"))
        if self.hello:
            for reply in self.round_trip(self.hello):
                if isinstance(reply, ResponseError):
                    self.close()
                    raise reply

    def round_trip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send every command at once, read one reply per command (error replies are returned, not raised)."""
        assert self.sock is not None and self.reader is not None
        payload = b"".join(encode(c) for c in commands)
        try:
            self.sock.sendall(payload)
            return [self.reader.reply() for _ in commands]
        except TimeoutError:
            self.close()
            raise TimeoutError(f"Timeout reading from redis at {self.address}") from None
        except (ConnectionError, OSError, ValueError) as exc:   # reset, broken pipe, closed, garbled length
            self.close()
            raise ConnectionError(f"Error talking to redis at {self.address}: {exc}") from exc

    def close(self) -> None:
        sock, self.sock, self.reader = self.sock, None, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def _bool(reply: Any) -> bool:
    return bool(reply)


def _set(reply: Any) -> bool | None:
    return True if reply == b"OK" else None


def _float(reply: Any) -> float:
    return float(reply)


def _ping(reply: Any) -> bool:
    return reply == b"PONG"


CALLBACKS: dict[str, Callable[[Any], Any]] = {"SET": _set, "INCRBYFLOAT": _float, "EXPIRE": _bool, "PING": _ping}


def parse_url(url: str, socket_timeout: float | None, socket_connect_timeout: float | None) -> dict[str, Any]:
    """Connection arguments of a redis:// / rediss:// / unix:// URL."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    db = int(query.get("db") or (parts.path.lstrip("/") if parts.scheme != "unix" else "") or 0)
    hello: list[tuple[Any, ...]] = []
    password = unquote(parts.password) if parts.password else query.get("password")
    username = unquote(parts.username) if parts.username else None
    if password:
        hello.append(("AUTH", username, password) if username else ("AUTH", password))
    if db:
        hello.append(("SELECT", db))
    tls = None
    if parts.scheme == "unix":
        address: Any = parts.path
    elif parts.scheme in ("redis", "rediss"):
        address = (parts.hostname or "localhost", parts.port or 6379)
        if parts.scheme == "rediss":
            import ssl

            context = ssl.create_default_context()
            if query.get("ssl_cert_reqs", "required").lower() in ("none", "optional"):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE if query["ssl_cert_reqs"].lower() == "none" else ssl.CERT_OPTIONAL
            tls = (context, parts.hostname)
    else:
        raise ValueError(f"not a redis URL: {parts.scheme}://...")
    return {"address": address, "timeout": socket_timeout, "connect_timeout": socket_connect_timeout,
            "tls": tls, "hello": hello}


class RespKV:
    """The key-value client of `wiring.kv()` on Redis: the read path's commands here, the rest via redis-py."""

    def __init__(self, url: str, *, socket_timeout: float | None = 2.0, socket_connect_timeout: float | None = 2.0,
                 health_check_interval: int = 30) -> None:
        self.url = url
        self._options = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_connect_timeout,
                         "health_check_interval": health_check_interval}
        self._connect_args = parse_url(url, socket_timeout, socket_connect_timeout)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._redis_py: Any = None

    # ---- connections -----------------------------------------------------------------------------
    def _take(self) -> tuple[Connection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        conn = Connection(**self._connect_args)
        conn.connect()
        return conn, False

    def _give(self, conn: Connection) -> None:
        with self._lock:
            if conn.sock is not None and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def execute(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Replies of `commands` (one round trip), callbacks applied; error replies stay in the list."""
        conn, reused = self._take()
        try:
            replies = conn.round_trip(commands)
        except ConnectionError:
            if not reused:
                raise
            # the server closed this pooled connection while it was idle (restart, idle timeout): once more, fresh
            conn = Connection(**self._connect_args)
            conn.connect()
            replies = conn.round_trip(commands)
        self._give(conn)
        return [r if isinstance(r, ResponseError) or (cb := CALLBACKS.get(str(c[0]))) is None else cb(r)
                for c, r in zip(commands, replies, strict=True)]

    def _one(self, *command: Any) -> Any:
        reply = self.execute([command])[0]
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    # ---- commands --------------------------------------------------------------------------------
    def get(self, key: Any) -> bytes | None:
        return self._one("GET", key)

    def mget(self, keys: Any, *more: Any) -> list[bytes | None]:
        names = [keys, *more] if isinstance(keys, str | bytes) else [*keys, *more]
        return self._one("MGET", *names)

    def set(self, key: Any, value: Any, ex: int | None = None, px: int | None = None, nx: bool = False,
            xx: bool = False) -> bool | None:
        return self._one(*set_command(key, value, ex, px, nx, xx))

    def delete(self, *keys: Any) -> int:
        return self._one("DEL", *keys) if keys else 0

    def exists(self, *keys: Any) -> int:
        return self._one("EXISTS", *keys)

    def expire(self, key: Any, seconds: int) -> bool:
        return self._one("EXPIRE", key, int(seconds))

    def ttl(self, key: Any) -> int:
        return self._one("TTL", key)

    def incr(self, key: Any, amount: int = 1) -> int:
        return self._one("INCRBY", key, amount)

    def incrbyfloat(self, key: Any, amount: float = 1.0) -> float:
        return self._one("INCRBYFLOAT", key, float(amount))

    def scard(self, key: Any) -> int:
        return self._one("SCARD", key)

    def llen(self, key: Any) -> int:
        return self._one("LLEN", key)

    def lindex(self, key: Any, index: int) -> bytes | None:
        return self._one("LINDEX", key, int(index))

    def ping(self) -> bool:
        return self._one("PING")

    def pipeline(self, transaction: bool = True) -> Any:
        if transaction:   # MULTI/EXEC: redis-py's
            return self._full().pipeline(transaction=True)
        return Pipeline(self)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        if self._redis_py is not None:
            self._redis_py.close()

    # ---- everything else: redis-py ----------------------------------------------------------------
    def _full(self) -> Any:
        if self._redis_py is None:
            import redis

            with self._lock:
                if self._redis_py is None:
                    self._redis_py = redis.Redis.from_url(self.url, **self._options)
        return self._redis_py

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._full(), name)

    def __repr__(self) -> str:
        return f"RespKV({self._connect_args['address']!r})"


def set_command(key: Any, value: Any, ex: int | None, px: int | None, nx: bool, xx: bool) -> tuple[Any, ...]:
    command: list[Any] = ["SET", key, value]
    if ex is not None:
        command += ["EX", int(ex)]
    if px is not None:
        command += ["PX", int(px)]
    if nx:
        command.append("NX")
    if xx:
        command.append("XX")
    return tuple(command)


class Pipeline:
    """Non-transactional pipeline (redis-py's `pipeline(transaction=False)`): calls buffered, one round trip."""

    def __init__(self, kv: RespKV) -> None:
        self._kv = kv
        self._commands: list[tuple[Any, ...]] = []

    def _add(self, *command: Any) -> Pipeline:
        self._commands.append(command)
        return self

    def get(self, key: Any) -> Pipeline:
        return self._add("GET", key)

    def mget(self, keys: Any, *more: Any) -> Pipeline:
        return self._add("MGET", *([keys, *more] if isinstance(keys, str | bytes) else [*keys, *more]))

    def set(self, key: Any, value: Any, ex: int | None = None, px: int | None = None, nx: bool = False,
            xx: bool = False) -> Pipeline:
        return self._add(*set_command(key, value, ex, px, nx, xx))

    def delete(self, *keys: Any) -> Pipeline:
        return self._add("DEL", *keys)

    def expire(self, key: Any, seconds: int) -> Pipeline:
        return self._add("EXPIRE", key, int(seconds))

    def incr(self, key: Any, amount: int = 1) -> Pipeline:
        return self._add("INCRBY", key, amount)

    def incrbyfloat(self, key: Any, amount: float = 1.0) -> Pipeline:
        return self._add("INCRBYFLOAT", key, float(amount))

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        commands, self._commands = self._commands, []
        if not commands:
            return []
        replies = self._kv.execute(commands)
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, ResponseError):
                    raise reply
        return replies

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._commands = []

