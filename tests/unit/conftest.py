"""Unit tier: the network is off. Any socket connect raises, so a unit test cannot reach a server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.fakes import FEES, REGION, Env, FakeStorage, RecordingPusher


class NetworkDisabled(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def guard(self, address, *args, **kwargs):
        raise NetworkDisabled(f"unit tests run with the network off (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket.socket, "connect_ex", guard)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """wiring overridden with in-memory fakes (FakeStorage, MemoryKV, RecordingPusher), AWS env for moto."""
    from chalicelib import wiring
    from chalicelib.cache.store import MemoryKV
    from chalicelib.settings import Settings
    from chalicelib.transport.breaker import reset_memory

    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("FRS_CHAIN", "inprocess")
    reset_memory()
    e = Env(Settings.from_env({"USE_REDIS": "false"}), FakeStorage(fees=dict(FEES)), MemoryKV(), RecordingPusher())
    wiring.override(settings=e.settings, storage=e.storage, kv=e.kv, pusher=e.pusher)
    yield e
    wiring.reset()
    reset_memory()
