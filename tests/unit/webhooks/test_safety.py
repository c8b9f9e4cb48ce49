"""Receiver URL checks: https only, public addresses only (loopback only when local mode allows it)."""

from __future__ import annotations

import pytest

from chalicelib.webhooks.safety import UnsafeUrl, check_address, check_url


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"cannot resolve {host}")
        return table[host]
    return resolve


@pytest.mark.parametrize(("address", "why"), [
    ("10.1.2.3", "private"), ("192.168.0.10", "private"), ("172.16.5.4", "private"),
    ("169.254.169.254", "cloud metadata"), ("169.254.10.1", "link-local"), ("127.0.0.1", "loopback"),
    ("::1", "loopback"), ("fd00:ec2::254", "AWS metadata"), ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"),
    ("::ffff:10.0.0.1", "private"), ("100.100.100.200", "Alibaba metadata"), ("100.64.0.1", "public"),
    ("224.0.0.1", "multicast"),
])
def test_non_public_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_address(address, allow_loopback=False)


def test_public_addresses_pass_and_loopback_only_with_the_local_flag() -> None:
    check_address("93.184.216.34", allow_loopback=False)
    check_address("2606:2800:220:1:248:1893:25c8:1946", allow_loopback=False)
    check_address("127.0.0.1", allow_loopback=True)
    with pytest.raises(UnsafeUrl, match="private"):
        check_address("10.0.0.1", allow_loopback=True)   # local mode admits loopback, not the LAN


def test_every_resolved_address_must_be_public() -> None:
    table = {"hooks.example.com": ["93.184.216.34"], "mixed.example.com": ["93.184.216.34", "10.0.0.7"],
             "internal.example.com": ["169.254.169.254"]}
    assert check_url("https://hooks.example.com/x", allow_loopback=False, resolver=resolver(table)) == "checked"
    with pytest.raises(UnsafeUrl, match=r"10\.0\.0\.7 is a private"):
        check_url("https://mixed.example.com/x", allow_loopback=False, resolver=resolver(table))
    with pytest.raises(UnsafeUrl, match="metadata"):
        check_url("https://internal.example.com/", allow_loopback=False, resolver=resolver(table))


def test_unresolvable_hosts_are_accepted_as_unresolved_but_literal_addresses_are_judged() -> None:
    empty = resolver({})
    assert check_url("https://nowhere.example/", allow_loopback=False, resolver=empty) == "unresolved"
    with pytest.raises(UnsafeUrl, match="metadata"):
        check_url("https://169.254.169.254/latest/meta-data/", allow_loopback=False, resolver=empty)


@pytest.mark.parametrize(("url", "why"), [
    ("http://hooks.example.com/x", "https"), ("ftp://hooks.example.com/", "https"),
    ("https://user:pw@hooks.example.com/", "credentials"), ("https:///path", "no host"),
    ("http://127.0.0.1:9000/hook", "https"), ("https://hooks.example.com:99999/", "valid URL"),
    ("https://hooks.example.com/" + "a" * 2048, "longer than"),
])
def test_url_shapes_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_url(url, allow_loopback=False, resolver=resolver({"hooks.example.com": ["93.184.216.34"]}))


def test_local_mode_allows_plain_http_to_loopback_only() -> None:
    table = {"127.0.0.1": ["127.0.0.1"], "localhost": ["127.0.0.1"], "lan.example": ["192.168.1.5"]}
    assert check_url("http://127.0.0.1:9000/hook", allow_loopback=True, resolver=resolver(table)) == "checked"
    assert check_url("http://localhost:9000/hook", allow_loopback=True, resolver=resolver(table)) == "checked"
    with pytest.raises(UnsafeUrl, match="https"):
        check_url("http://lan.example/hook", allow_loopback=True, resolver=resolver(table))
    with pytest.raises(UnsafeUrl, match="loopback"):
        check_url("https://localhost/hook", allow_loopback=False, resolver=resolver(table))
