"""cache/resp.py against a fake socket: the bytes sent, the replies parsed, failures classified as outages."""

from __future__ import annotations

import io
from typing import Any

import pytest

from chalicelib.cache import resp
from chalicelib.cache.store import is_outage


class FakeSocket:
    """Records what is sent; answers from a scripted byte string (b"" = the server closed the connection)."""

    def __init__(self, replies: bytes, fail_send: BaseException | None = None) -> None:
        self.sent = b""
        self._replies = replies
        self.fail_send = fail_send
        self.closed = False
        self.timeout: Any = None

    def sendall(self, data: bytes) -> None:
        if self.fail_send is not None:
            raise self.fail_send
        self.sent += data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._replies))

    def settimeout(self, value: Any) -> None:
        self.timeout = value

    def setsockopt(self, *args: Any) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def client_with(monkeypatch: pytest.MonkeyPatch, *sockets: FakeSocket, url: str = "redis://cache:6380") -> resp.RespKV:
    queue = list(sockets)
    made: list[tuple[Any, Any]] = []

    def create_connection(address: Any, timeout: Any = None) -> FakeSocket:
        made.append((address, timeout))
        if not queue:
            raise ConnectionRefusedError(111, "Connection refused")
        return queue.pop(0)

    monkeypatch.setattr(resp.socket, "create_connection", create_connection)
    kv = resp.RespKV(url, socket_timeout=2.0, socket_connect_timeout=1.5)
    kv.made = made  # type: ignore[attr-defined]
    return kv


def test_encode_is_a_resp_array_of_bulk_strings() -> None:
    # SET k v EX 60: 5 items; "60" is 2 bytes, the float 0.5 is sent as repr: "0.5" (3 bytes)
    assert resp.encode(("SET", "k", b"v", "EX", 60)) == b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n60\r\n"
    assert resp.encode(("INCRBYFLOAT", "m", 0.5)) == b"*3\r\n$11\r\nINCRBYFLOAT\r\n$1\r\nm\r\n$3\r\n0.5\r\n"
    assert resp.encode(("SET", "é", "ü")) == b"*3\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$2\r\n\xc3\xbc\r\n"  # UTF-8 lengths
    with pytest.raises(TypeError):
        resp.encode(("SET", "k", True))


def test_get_mget_set_and_their_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    replies = (b"$5\r\nhello\r\n"            # GET a -> b"hello"
               b"$-1\r\n"                    # GET missing -> None
               b"*3\r\n$1\r\n1\r\n$-1\r\n$0\r\n\r\n"   # MGET -> [b"1", None, b""]
               b"+OK\r\n"                    # SET -> True
               b"$-1\r\n"                    # SET NX refused -> None
               b":2\r\n"                     # DEL -> 2
               b"$4\r\n1.25\r\n"             # INCRBYFLOAT -> 1.25
               b":1\r\n:-2\r\n+PONG\r\n")   # EXPIRE -> True, TTL -> -2, PING -> True
    sock = FakeSocket(replies)
    kv = client_with(monkeypatch, sock)
    assert kv.get("a") == b"hello"
    assert kv.get("missing") is None
    assert kv.mget(["x", "y"], "z") == [b"1", None, b""]
    assert kv.set("k", "v", ex=60) is True
    assert kv.set("k", "v", nx=True, px=1500) is None
    assert kv.delete("a", "b") == 2
    assert kv.incrbyfloat("m", 1.25) == 1.25
    assert kv.expire("k", 180) is True
    assert kv.ttl("gone") == -2
    assert kv.ping() is True
    assert sock.sent == b"".join(resp.encode(c) for c in [
        ("GET", "a"), ("GET", "missing"), ("MGET", "x", "y", "z"), ("SET", "k", "v", "EX", 60),
        ("SET", "k", "v", "PX", 1500, "NX"), ("DEL", "a", "b"), ("INCRBYFLOAT", "m", 1.25), ("EXPIRE", "k", 180),
        ("TTL", "gone"), ("PING",)])
    assert kv.made == [((b"cache", 6380), 1.5)]   # one connection, reused (host as ASCII bytes); connect timeout
    assert sock.timeout == 2.0                    # then the socket timeout for every read


def test_pipeline_is_one_round_trip_and_raises_the_first_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sock = FakeSocket(b"$4\r\n3.75\r\n:1\r\n" b"+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind\r\n")
    kv = client_with(monkeypatch, sock)
    pipe = kv.pipeline(transaction=False)
    assert pipe.incrbyfloat("frs:m", 3.75).expire("frs:m", 180).execute() == [3.75, True]
    assert sock.sent == resp.encode(("INCRBYFLOAT", "frs:m", 3.75)) + resp.encode(("EXPIRE", "frs:m", 180))
    pipe.set("a", "1").get("a")
    with pytest.raises(resp.ResponseError, match="WRONGTYPE"):
        pipe.execute()
    assert kv.pipeline(transaction=False).execute() == []   # nothing buffered: nothing sent


def test_error_reply_raises_and_the_connection_stays_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    sock = FakeSocket(b"-ERR unknown command\r\n$1\r\nv\r\n")
    kv = client_with(monkeypatch, sock)
    with pytest.raises(resp.ResponseError) as info:
        kv.get("k")
    assert not is_outage(info.value)              # a bad command is not an outage
    assert kv.get("k") == b"v"
    assert kv.made == [((b"cache", 6380), 1.5)]


def test_refused_connection_is_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    kv = client_with(monkeypatch)   # no sockets: every connect is refused
    with pytest.raises(ConnectionError) as info:
        kv.get("k")
    assert is_outage(info.value)


def test_timeout_is_an_outage_and_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    first = FakeSocket(b"$1\r\nv\r\n")
    kv = client_with(monkeypatch, first)
    assert kv.get("k") == b"v"
    first.fail_send = TimeoutError("timed out")
    with pytest.raises(TimeoutError) as info:
        kv.get("k")
    assert is_outage(info.value) and first.closed
    assert len(kv.made) == 1                       # no second connection for a timeout


def test_a_pooled_connection_closed_by_the_server_is_retried_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = FakeSocket(b"$1\r\nv\r\n")            # answers once, then the server closes it (EOF)
    fresh = FakeSocket(b"$1\r\nw\r\n")
    kv = client_with(monkeypatch, stale, fresh)
    assert kv.get("k") == b"v"
    assert kv.get("k") == b"w"                     # EOF on the pooled one: the same command on a new connection
    assert stale.closed and fresh.sent == resp.encode(("GET", "k"))
    with pytest.raises(ConnectionError):          # EOF on a NEW connection is the server going away: raised
        client_with(monkeypatch, FakeSocket(b"")).get("k")


def test_truncated_bulk_reply_is_a_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    kv = client_with(monkeypatch, FakeSocket(b"$10\r\nabc"))
    with pytest.raises(ConnectionError):
        kv.get("k")


@pytest.mark.parametrize(("url", "address", "hello", "tls"), [
    ("redis://localhost", ("localhost", 6379), [], False),
    ("redis://:s3cret@cache.internal:6380/2", ("cache.internal", 6380), [("AUTH", "s3cret"), ("SELECT", 2)], False),
    ("redis://app:p%40ss@h:1", ("h", 1), [("AUTH", "app", "p@ss")], False),
    ("rediss://master.abc.cache.amazonaws.com:6379", ("master.abc.cache.amazonaws.com", 6379), [], True),
    ("unix:///tmp/redis.sock?db=3", "/tmp/redis.sock", [("SELECT", 3)], False),
])
def test_urls(url: str, address: Any, hello: list[Any], tls: bool) -> None:
    args = resp.parse_url(url, 2.0, 1.0)
    assert (args["address"], args["hello"], args["tls"] is not None) == (address, hello, tls)
    if tls:
        import ssl

        context, hostname = args["tls"]
        assert hostname == "master.abc.cache.amazonaws.com"
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname   # ElastiCache: verified


def test_tls_verification_can_be_turned_off_by_url() -> None:
    import ssl

    context, _ = resp.parse_url("rediss://h:6379?ssl_cert_reqs=none", 2.0, 1.0)["tls"]
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_other_commands_go_to_redis_py_built_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    built: list[tuple[str, dict[str, Any]]] = []

    class FakeRedis:
        @classmethod
        def from_url(cls, url: str, **options: Any) -> FakeRedis:
            built.append((url, options))
            return cls()

        def publish(self, channel: str, message: str) -> int:
            return 7

    monkeypatch.setitem(sys.modules, "redis", type(sys)("redis"))
    sys.modules["redis"].Redis = FakeRedis  # type: ignore[attr-defined]
    kv = resp.RespKV("redis://h:1", socket_timeout=2.0, socket_connect_timeout=2.0)
    assert built == []
    assert kv.publish("frs:ch", "x") == 7
    assert kv.publish("frs:ch", "y") == 7
    assert built == [("redis://h:1", {"socket_timeout": 2.0, "socket_connect_timeout": 2.0,
                                      "health_check_interval": 30})]
    with pytest.raises(AttributeError):
        kv._private  # noqa: B018
