"""Circuit breaker transitions with state in a plain dict (what Redis/PostgreSQL would hold)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.transport.breaker import BreakerState, CircuitBreaker, DictStore, StorageStore

T0 = 1_700_000_000.0   # 2023-11-14T22:13:20Z


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make(data: dict, clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("grvt", DictStore(data), threshold=3, reset_seconds=60, clock=clock)


def test_closed_open_half_open_closed():
    data: dict = {}
    clock = Clock()
    b = make(data, clock)
    assert b.check() is None
    b.record(False)
    b.record(False)
    assert data["grvt"] == {"state": "closed", "failures": 2, "since": None}
    assert b.check() is None                                   # 2 < threshold 3: still collecting
    b.record(False)
    assert data["grvt"] == {"state": "open", "failures": 3, "since": T0}
    clock.now = T0 + 59
    assert b.check() == "circuit open until 2023-11-14T22:14:20Z"   # T0 + 60 s
    clock.now = T0 + 60
    assert b.check() is None                                   # reset elapsed: this caller is the trial
    assert data["grvt"]["state"] == "half_open"
    assert make(data, clock).check() == "circuit half-open: trial collection running since 2023-11-14T22:14:20Z"
    b.record(True)
    assert data["grvt"] == {"state": "closed", "failures": 0, "since": None}


def test_failed_trial_reopens_for_another_period():
    data = {"grvt": {"state": "open", "failures": 3, "since": T0}}
    clock = Clock()
    clock.now = T0 + 61
    b = make(data, clock)
    assert b.check() is None
    b.record(False)
    assert data["grvt"] == {"state": "open", "failures": 4, "since": T0 + 61}
    assert b.check() == "circuit open until 2023-11-14T22:15:21Z"


def test_success_resets_the_failure_count():
    data: dict = {}
    b = make(data, Clock())
    b.record(False)
    b.record(False)
    b.record(True)
    b.record(False)
    assert data["grvt"]["failures"] == 1 and data["grvt"]["state"] == "closed"


def test_state_survives_a_fresh_breaker_object():
    data: dict = {}
    clock = Clock()
    for _ in range(3):
        make(data, clock).record(False)
    assert make(data, clock).check() == "circuit open until 2023-11-14T22:14:20Z"


class FakePg:
    """The storage helper's breaker_get/breaker_set, as a dict of rows."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def breaker_get(self, dex):
        return self.rows.get(dex)

    def breaker_set(self, dex, state, failures, opened_at):
        self.rows[dex] = {"state": state, "failures": failures, "opened_at": opened_at}


def test_storage_store_round_trips_through_breaker_get_set():
    pg = FakePg()
    store = StorageStore(pg)
    store.save("edgex", BreakerState("open", 3, T0))
    assert pg.rows["edgex"] == {"state": "open", "failures": 3, "opened_at": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)}
    assert store.load("edgex") == BreakerState("open", 3, T0)
    assert store.load("paradex") is None


class _FakeRedis:
    """get/set(ex=) over a dict: stands for the Lambda's own wiring.kv() client."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str, ex: int | None = None) -> None:
        self.data[key] = value


def test_the_callers_redis_client_is_reused_not_a_second_connection():
    from chalicelib.cache import keys
    from chalicelib.settings import Settings
    from chalicelib.transport import breaker as br

    settings = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:1/0", "CIRCUIT_FAILURE_THRESHOLD": "2"})
    kv = _FakeRedis()
    b = br.breaker_for("grvt", settings, kv=kv)
    b.record(False)
    # one failure below the threshold of 2: closed, failures 1, written through the caller's client
    assert '"failures": 1' in kv.data[keys.breaker("grvt")] and '"closed"' in kv.data[keys.breaker("grvt")]
    assert not hasattr(br, "_REDIS")   # it has no client cache of its own: wiring.kv() is the only one
