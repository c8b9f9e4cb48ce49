"""One HTTP POST to a receiver, guarded: the address is checked at connect time, redirects are not followed.

http.client on purpose: the connection goes to the very address that passed `safety.check_address`
(no second DNS lookup between check and connect, so DNS rebinding cannot slip a private address in),
TLS still verifies the certificate for the host name, one deadline bounds connect + send + read, and
at most MAX_RESPONSE_BYTES of the answer are read. A 3xx is a failure naming the Location: following
it would hand the receiver a way to point us anywhere.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.webhooks import safety

MAX_RESPONSE_BYTES = 16 * 1024
USER_AGENT = "funding-rate-service-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int
    gone: bool = False      # 410: the receiver says the endpoint no longer exists


class _Guarded:
    """Connect to a checked address of `host` (every address tried must pass the safety check)."""

    def __init__(self, host: str, port: int, deadline: float, allow_loopback: bool, resolver: safety.Resolver):
        self.host, self.port, self.deadline = host, port, deadline
        self.allow_loopback, self.resolver = allow_loopback, resolver

    def connect(self) -> socket.socket:
        try:
            addresses = self.resolver(self.host, self.port)
        except (OSError, UnicodeError) as exc:
            raise ConnectionError(f"cannot resolve {self.host}: {exc}") from None
        for address in addresses:        # all must pass, not just the first: no mixed public/private answers
            safety.check_address(address, allow_loopback=self.allow_loopback)
        last: OSError | None = None
        for address in addresses:
            try:
                return socket.create_connection((address, self.port), timeout=_left(self.deadline))
            except OSError as exc:
                last = exc
        raise ConnectionError(f"cannot connect to {self.host}:{self.port}: {last}")


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


class _HTTP(http.client.HTTPConnection):
    guard: _Guarded

    def connect(self) -> None:
        self.sock = self.guard.connect()


class _HTTPS(http.client.HTTPSConnection):
    guard: _Guarded

    def connect(self) -> None:
        raw = self.guard.connect()
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float, allow_loopback: bool,
         resolver: safety.Resolver = safety.resolve, ssl_context: ssl.SSLContext | None = None) -> Outcome:
    started = time.monotonic()
    deadline = started + timeout_s

    def done(ok: bool, code: int | None, error: str | None, excerpt: str | None = None, gone: bool = False) -> Outcome:
        return Outcome(ok, code, error, excerpt, int((time.monotonic() - started) * 1000), gone)

    try:
        scheme, host, port = safety.parse_url(url, allow_loopback=allow_loopback)
    except safety.UnsafeUrl as exc:
        return done(False, None, f"refused: {exc}")
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    cls = _HTTPS if scheme == "https" else _HTTP
    conn: http.client.HTTPConnection
    if cls is _HTTPS:
        conn = _HTTPS(host, port, timeout=timeout_s, context=ssl_context or ssl.create_default_context())
    else:
        conn = _HTTP(host, port, timeout=timeout_s)
    conn.guard = _Guarded(host, port, deadline, allow_loopback, resolver)
    try:
        conn.request("POST", target, body=body, headers={
            **headers, "Content-Type": "application/json", "User-Agent": USER_AGENT, "Connection": "close"})
        if conn.sock is not None:
            conn.sock.settimeout(_left(deadline))
        response = conn.getresponse()
        chunks, size = [], 0
        while size < MAX_RESPONSE_BYTES:
            if conn.sock is not None:
                conn.sock.settimeout(_left(deadline))
            chunk = response.read1(MAX_RESPONSE_BYTES - size) if hasattr(response, "read1") else b""
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        excerpt = b"".join(chunks)[:500].decode("utf-8", "replace")
        code = response.status
        if 200 <= code < 300:
            return done(True, code, None, excerpt)
        if 300 <= code < 400:
            location = response.getheader("Location") or "?"
            return done(False, code, f"HTTP {code} redirect to {location[:300]}: redirects are not followed", excerpt)
        return done(False, code, f"HTTP {code}", excerpt, gone=code == 410)
    except safety.UnsafeUrl as exc:
        return done(False, None, f"refused: {exc}")
    except TimeoutError:
        return done(False, None, f"timed out after {timeout_s:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return done(False, None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        conn.close()
