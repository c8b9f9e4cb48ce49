"""The guarded POST: the address connected to is the one checked (network off: nothing may connect)."""

from __future__ import annotations

import pytest

from chalicelib.webhooks.sender import post
from tests.unit.conftest import NetworkDisabled


def resolver(addresses: list[str]):
    return lambda host, port: addresses


def test_a_host_resolving_to_a_private_address_is_refused_before_connecting() -> None:
    # DNS rebinding: the name passed the registration check, now it answers 10.0.0.5
    out = post("https://hooks.example.com/x", b"{}", {}, timeout_s=1, allow_loopback=False,
               resolver=resolver(["10.0.0.5"]))
    assert not out.ok and out.error == "refused: 10.0.0.5 is a private address" and out.status_code is None


def test_one_private_address_among_public_ones_refuses_the_whole_host() -> None:
    out = post("https://hooks.example.com/x", b"{}", {}, timeout_s=1, allow_loopback=False,
               resolver=resolver(["93.184.216.34", "169.254.169.254"]))
    assert out.error == "refused: 169.254.169.254 is the cloud metadata service"


def test_plain_http_is_refused_outside_local_mode() -> None:
    out = post("http://hooks.example.com/x", b"{}", {}, timeout_s=1, allow_loopback=False,
               resolver=resolver(["93.184.216.34"]))
    assert out.error is not None and out.error.startswith("refused: the scheme must be https")


def test_a_public_address_is_what_gets_connected_to() -> None:
    # the unit tier's socket guard (network off) shows where the connection went: the checked address
    with pytest.raises(NetworkDisabled, match=r"93\.184\.216\.34', 443"):
        post("https://hooks.example.com/x", b"{}", {}, timeout_s=1, allow_loopback=False,
             resolver=resolver(["93.184.216.34"]))
