"""Receiver URL safety: the service must not become a way into private networks (issue 17 §4).

Rules: https only (plain http only for an allowed loopback receiver in local mode); no credentials
in the URL; every address the host resolves to must be a public unicast address: loopback,
private (RFC 1918, ULA), link-local (169.254/16 holds the cloud metadata service), CGNAT
(100.64/10 holds Alibaba's), multicast, reserved, unspecified and IPv4-mapped forms of those are
refused. `allow_loopback` (local mode, explicit) admits 127.0.0.0/8 and ::1, nothing else.
The same check runs at registration (when the host resolves) and at every connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
Resolver = Callable[[str, int], list[str]]
# metadata endpoints named for the error message (all of them are non-global anyway)
METADATA = {"169.254.169.254": "cloud metadata service", "fd00:ec2::254": "AWS metadata service (IPv6)",
            "100.100.100.200": "Alibaba metadata service"}


class UnsafeUrl(ValueError):
    """The receiver URL or an address it resolves to is refused; the message says why."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (raises socket.gaierror when it does not resolve)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_address(address: str, *, allow_loopback: bool) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip.is_loopback:
        if allow_loopback:
            return
        raise UnsafeUrl(f"{address} is a loopback address (allowed only in local mode with "
                        "WEBHOOKS_ALLOW_LOOPBACK=true)")
    if str(ip) in METADATA:
        raise UnsafeUrl(f"{address} is the {METADATA[str(ip)]}")
    for flag, what in (("is_unspecified", "unspecified"), ("is_link_local", "link-local"),
                       ("is_multicast", "multicast"), ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, flag):
            raise UnsafeUrl(f"{address} is a {what} address")
    if not ip.is_global:
        raise UnsafeUrl(f"{address} is not a public address")


def parse_url(url: str, *, allow_loopback: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL shape; UnsafeUrl otherwise (no DNS here)."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrl("the scheme must be https")
    if not parts.hostname:
        raise UnsafeUrl("no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not accepted")
    host = parts.hostname
    if parts.scheme == "http":
        literal_loopback = _is_literal_loopback(host) or host == "localhost"
        if not (allow_loopback and literal_loopback):
            raise UnsafeUrl("the scheme must be https (plain http only for a loopback receiver in local mode)")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _is_literal_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_loopback: bool, resolver: Resolver = resolve) -> str:
    """Registration check. Returns "checked" (every address public) or "unresolved" (the host does
    not resolve from here: accepted, the connection-time check decides). Raises UnsafeUrl."""
    _, host, port = parse_url(url, allow_loopback=allow_loopback)
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError):
        try:   # a literal address never needs DNS
            check_address(host, allow_loopback=allow_loopback)
        except ValueError as exc:
            if isinstance(exc, UnsafeUrl):
                raise
            return "unresolved"
        return "checked"
    for address in addresses:
        check_address(address, allow_loopback=allow_loopback)
    return "checked"
