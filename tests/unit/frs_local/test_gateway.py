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
