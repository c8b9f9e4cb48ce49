"""HTTP transport for venue collections: deadline, retries with full-jitter backoff, Retry-After, budget.

A `Fetcher` performs a venue module's `Request`s against one base URL with a shared httpx client:

- every attempt's timeout is capped by the venue's overall deadline (COLLECTION_TIMEOUT_SECONDS);
- timeouts, connection errors, 429 and 5xx are retried with exponential backoff and full jitter
  (delay = uniform(0, min(max_delay, base * 2**n))), or exactly `Retry-After` (seconds or an HTTP
  date) when the venue sends it; a wait that would pass the deadline is not started;
- other 4xx are not retried; a 2xx body that is not JSON is a `FetchError("malformed JSON from <url>: ...")`;
- each attempt spends one token of the venue's request budget; when none is left the request is
  skipped (`FetchError.budget`), never delayed;
- `fetch_many` runs requests with bounded concurrency (spec.max_concurrency threads);
- a request with `cache_seconds > 0` (Paradex /v1/markets, ~4 MB, changes rarely) is answered from a
  per-process cache while fresh: no HTTP, no budget token; only successful JSON answers are cached.

Clock, sleep and randomness are injected so tests run instantly and deterministically.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from chalicelib.transport.budget import TokenBucket
from chalicelib.venues.base import Request


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3              # total tries per request
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    request_timeout_s: float = 10.0


class FetchError(Exception):
    """One request failed for good; `reason` is what the operator reads."""

    def __init__(self, reason: str, *, url: str, attempts: int = 0, status: int | None = None,
                 budget: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.url, self.attempts, self.status, self.budget = reason, url, attempts, status, budget


class Deadline:
    """Seconds left until the venue's collection must be done (monotonic clock)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.end = clock() + seconds

    def remaining(self) -> float:
        return self.end - self._clock()


def retry_after_seconds(value: str | None, now_epoch_s: float) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_epoch_s)


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


class ResponseCache:
    """Decoded answers of `Request.cache_seconds` requests, keyed by method + URL + params + body; one per
    process (RESPONSE_CACHE), so a warm Lambda or a long-running `frs collect` reuses them across cycles."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Any]] = {}
        self._bodies: dict[str, tuple[bytes, Any]] = {}   # Request.reuse_unchanged: last body and its decoding
        self._lock = threading.Lock()

    @staticmethod
    def key(url: str, request: Request) -> str:
        return json.dumps([request.method, url, sorted(request.params.items()), request.json], default=str)

    def get(self, key: str, now: float) -> tuple[bool, Any]:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] <= now:
                self._items.pop(key, None)
                return False, None
            return True, item[1]

    def put(self, key: str, value: Any, expires: float) -> None:
        with self._lock:
            self._items[key] = (expires, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bodies.clear()

    def decode(self, key: str, content: bytes) -> Any:
        """A `reuse_unchanged` answer: the previous decoding when the bytes are the very same (compared whole, so
        never stale), else decoded and remembered. Callers never mutate payloads (venue parsers are pure)."""
        with self._lock:
            last = self._bodies.get(key)
        if last is not None and last[0] == content:
            return last[1]
        value = json.loads(content, parse_float=Decimal)
        with self._lock:
            self._bodies[key] = (content, value)
        return value


RESPONSE_CACHE = ResponseCache()


class Fetcher:
    def __init__(self, client: httpx.Client, base_url: str, *, deadline: Deadline, policy: RetryPolicy | None = None,
                 budget: TokenBucket | None = None, sleep: Callable[[float], None] = time.sleep,
                 wall: Callable[[], float] = time.time, rng: random.Random | None = None,
                 max_concurrency: int = 8, cache: ResponseCache | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client, self.base_url = client, base_url.rstrip("/")
        self.deadline, self.policy, self.budget = deadline, policy or RetryPolicy(), budget
        self.sleep, self.wall, self.rng = sleep, wall, rng or random.Random()
        self.max_concurrency = max(1, max_concurrency)
        self.cache, self.monotonic = cache if cache is not None else RESPONSE_CACHE, monotonic
        self.requests_made = 0
        self.cache_hits = 0
        self._lock = threading.Lock()

    def url(self, request: Request) -> str:
        return self.base_url + request.path

    def get_json(self, request: Request) -> Any:
        """Decoded JSON of one request (from the cache while a cache_seconds answer is fresh), retried per
        the policy; FetchError when it cannot be had."""
        if request.cache_seconds <= 0:
            return self._fetch(request)
        key = ResponseCache.key(self.url(request), request)
        hit, value = self.cache.get(key, self.monotonic())
        if hit:
            with self._lock:
                self.cache_hits += 1
            return value
        value = self._fetch(request)
        self.cache.put(key, value, self.monotonic() + request.cache_seconds)
        return value

    def _fetch(self, request: Request) -> Any:
        url = self.url(request)
        last = "no attempt made"
        for attempt in range(1, self.policy.attempts + 1):
            remaining = self.deadline.remaining()
            if remaining <= 0:
                raise FetchError(f"deadline exceeded before attempt {attempt} of {url} (last: {last})",
                                 url=url, attempts=attempt - 1)
            if self.budget is not None and not self.budget.take():
                raise FetchError(f"request budget exhausted before {url}", url=url, attempts=attempt - 1, budget=True)
            with self._lock:
                self.requests_made += 1
            retry_after: float | None = None
            try:
                response = self.client.request(
                    request.method, url, params=request.params or None, json=request.json,
                    timeout=min(self.policy.request_timeout_s, remaining))
            except httpx.TimeoutException as exc:
                last = f"timeout ({type(exc).__name__}) from {url}"
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__} from {url}: {exc}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        # JSON numbers with a fraction become Decimal from their own text (what venues/base.to_decimal
                        # would make of them, without a float round trip: bench/venues_parse.py)
                        if request.reuse_unchanged:
                            return self.cache.decode(ResponseCache.key(url, request), response.content)
                        return json.loads(response.content, parse_float=Decimal)
                    except ValueError as exc:
                        raise FetchError(f"malformed JSON from {url}: {exc}", url=url, attempts=attempt,
                                         status=status) from None
                if not _retryable_status(status):
                    raise FetchError(f"HTTP {status} from {url}: {response.text[:200]}", url=url,
                                     attempts=attempt, status=status)
                last = f"HTTP {status} from {url}"
                retry_after = retry_after_seconds(response.headers.get("Retry-After"), self.wall())
            if attempt == self.policy.attempts:
                break
            delay = retry_after if retry_after is not None else self.rng.uniform(
                0, min(self.policy.max_delay_s, self.policy.base_delay_s * 2 ** (attempt - 1)))
            if delay >= self.deadline.remaining():
                what = f"Retry-After {delay:g} s" if retry_after is not None else f"backoff {delay:.2f} s"
                raise FetchError(f"{last}; {what} would pass the collection deadline (after {attempt} attempts)",
                                 url=url, attempts=attempt)
            self.sleep(delay)
        raise FetchError(f"{last} after {self.policy.attempts} attempts", url=url, attempts=self.policy.attempts)

    def fetch_many(self, requests: Sequence[Request]) -> tuple[dict[str, Any], dict[str, FetchError]]:
        """(payloads by key, errors by key), running up to max_concurrency requests at once."""
        payloads: dict[str, Any] = {}
        errors: dict[str, FetchError] = {}

        def one(request: Request) -> None:
            try:
                payloads[request.key] = self.get_json(request)
            except FetchError as exc:
                errors[request.key] = exc

        if len(requests) <= 1 or self.max_concurrency == 1:
            for request in requests:
                one(request)
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests))) as pool:
                list(pool.map(one, requests))
        return payloads, errors


def make_client(max_connections: int = 8) -> httpx.Client:
    """A client for one venue's collection: keep-alive pool sized to its concurrency."""
    return httpx.Client(limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                        headers={"User-Agent": "funding-rate-service/0.1", "Accept": "application/json"},
                        follow_redirects=False)
