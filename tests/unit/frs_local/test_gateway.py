"""The gateway's WorkerPool: a fixed set of threads, results and errors back on the loop, honest `pending`."""

from __future__ import annotations

import asyncio
import threading

import pytest

from frs_local.gateway import WorkerPool


def test_results_errors_and_a_fixed_number_of_threads() -> None:
    async def main() -> None:
        pool = WorkerPool(3, name="t-pool")
        pool.start()
        try:
            names = await asyncio.gather(*(pool.submit(lambda: threading.current_thread().name) for _ in range(30)))
            assert set(names) <= {"t-pool-0", "t-pool-1", "t-pool-2"}   # 30 calls, never a 4th thread
            assert await pool.submit(lambda a, b: a + b, 2, 3) == 5

            def boom() -> None:
                raise ValueError("handler failed")

            with pytest.raises(ValueError, match="handler failed"):
                await pool.submit(boom)
            assert pool.pending == 0
        finally:
            pool.stop()

    asyncio.run(main())


def test_a_caller_that_gives_up_does_not_free_the_worker() -> None:
    async def main() -> None:
        pool = WorkerPool(1)
        pool.start()
        release = threading.Event()
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.submit(release.wait, 5), timeout=0.05)   # the 504 path
            assert pool.pending == 1        # the handler still holds the only worker: back-pressure sees it
            release.set()
            for _ in range(200):
                if pool.pending == 0:
                    break
                await asyncio.sleep(0.01)
            assert pool.pending == 0
        finally:
            pool.stop()

    asyncio.run(main())


def test_request_headers_are_looked_up_by_any_case_first_value_wins() -> None:
    from frs_local.gateway import HttpRequest

    request = HttpRequest("GET", "/api/v1/x?a=1", "HTTP/1.1",
                          [("Host", "h"), ("X-Dup", "first"), ("x-dup", "second"), ("Connection", "close")], b"")
    assert request.header("HOST") == "h" and request.header("x-DUP") == "first"
    assert request.header("content-type") is None
    assert request.path == "/api/v1/x" and request.query == "a=1" and request.keep_alive is False


def test_response_heads_leave_the_framing_headers_to_the_gateway() -> None:
    from frs_local.gateway import _head_lines

    app_headers = [("Content-Type", "application/json"), ("content-length", "9"), ("Date", "x"),
                   ("Connection", "close"), ("Transfer-Encoding", "chunked"), ("X-A", "1")]
    assert _head_lines(200, app_headers) == b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A: 1\r\n"
    assert _head_lines(None, [("x-amzn-RequestId", "r")]) == b"x-amzn-RequestId: r\r\n"
    assert _head_lines(599, []) == b"HTTP/1.1 599 Status\r\n"


def test_a_fast_lane_key_that_fails_turns_the_inline_path_off_not_the_response(monkeypatch) -> None:
    from chalice import Chalice

    from frs_local import events as ev
    from frs_local.gateway import Gateway, HttpRequest, HttpResponse

    app = Chalice("t")

    @app.route("/api/v1/x", methods=["GET"])
    def x():
        return {}

    gw = Gateway(app, "127.0.0.1", 0)

    def broken(path, query):
        raise TypeError("the app's key function takes other arguments now")

    monkeypatch.setattr(gw, "_fast_key", lambda resource: broken)
    request = HttpRequest("GET", "/api/v1/x", "HTTP/1.1", [], b"")
    gw._fast["/api/v1/y"] = object()   # learned before: dropped too  # type: ignore[assignment]
    gw._learn(request, ev.RouteMatch("/api/v1/x", {}), [], HttpResponse(200))
    assert gw.fast_lane is False and gw._fast == {}
