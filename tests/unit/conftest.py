"""Unit tier: the network is off. Any socket connect raises, so a unit test cannot reach a server."""

from __future__ import annotations

import socket

import pytest


class NetworkDisabled(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def guard(self, address, *args, **kwargs):
        raise NetworkDisabled(f"unit tests run with the network off (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket.socket, "connect_ex", guard)
