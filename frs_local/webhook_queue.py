"""The webhook delivery queue without AWS: an in-process SQS stand-in for `frs local` and the tests.

Messages wait until due (SQS DelaySeconds) on the clock it is given, then go to the app's own
`webhook-deliver` handler as SQS-shaped events (Records[].body, messageId, attributes), the event
Lambda would receive. A handler that raises gets the message back after VISIBILITY_S, and after
MAX_RECEIVES receives it is moved to `dead` (the dead-letter queue). `start()` runs a worker thread
(frs local); tests call `drain()` after advancing a test clock, so backoff needs no real sleeping.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("frs.local.webhooks")
VISIBILITY_S = 30
MAX_RECEIVES = 5   # = the SQS redrive policy's maxReceiveCount (infra/webhooks-queue.sam.json)
QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:funding-rate-service-webhooks"


class _RealClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


def sqs_event(body: str, message_id: str, receives: int, sent_ms: int) -> dict[str, Any]:
    """The event an SQS-triggered Lambda receives for one message (batch size 1)."""
    return {"Records": [{
        "messageId": message_id, "receiptHandle": f"local-{message_id}-{receives}", "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives), "SentTimestamp": str(sent_ms),
                       "SenderId": "local", "ApproximateFirstReceiveTimestamp": str(sent_ms)},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # SQS's own checksum
        "eventSource": "aws:sqs", "eventSourceARN": QUEUE_ARN, "awsRegion": "us-east-1"}]}


class LocalQueue:
    def __init__(self, handler: Callable[[dict[str, Any], Any], Any], clock: Any = None) -> None:
        self.handler = handler
        self.clock = clock or _RealClock()
        self._heap: list[tuple[int, int, str, str, int, int]] = []   # due, seq, id, body, receives, sent
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._drain_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = False
        self.dead: list[dict[str, Any]] = []
        self.handled = 0

    # the Queue port of chalicelib.webhooks.service
    def send(self, body: Mapping[str, Any], delay_s: int) -> None:
        now = self.clock.now_ms()
        with self._cond:
            heapq.heappush(self._heap, (now + max(0, int(delay_s)) * 1000, next(self._seq), str(uuid.uuid4()),
                                        json.dumps(dict(body)), 0, now))
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def next_due_ms(self) -> int | None:
        with self._cond:
            return self._heap[0][0] if self._heap else None

    def drain(self, limit: int = 10_000) -> int:
        """Hand every message due now (also ones queued meanwhile and due) to the handler; returns how many."""
        done = 0
        with self._drain_lock:
            while done < limit:
                with self._cond:
                    if not self._heap or self._heap[0][0] > self.clock.now_ms():
                        return done
                    _, _, mid, body, receives, sent = heapq.heappop(self._heap)
                receives += 1
                try:
                    from frs_local.events import lambda_context

                    self.handler(sqs_event(body, mid, receives, sent), lambda_context("webhook-deliver", timeout_s=60))
                except Exception as exc:
                    log.warning("webhook-deliver failed on message %s (receive %d): %s: %s", mid, receives,
                                type(exc).__name__, exc)
                    if receives >= MAX_RECEIVES:
                        self.dead.append({"messageId": mid, "body": body, "error": f"{type(exc).__name__}: {exc}"})
                    else:
                        with self._cond:
                            heapq.heappush(self._heap, (self.clock.now_ms() + VISIBILITY_S * 1000, next(self._seq),
                                                        mid, body, receives, sent))
                done += 1
                self.handled += 1
        return done

    def kick(self) -> None:
        """Wake the worker (after a test advanced its clock)."""
        with self._cond:
            self._cond.notify_all()

    # ---- worker thread (frs local) --------------------------------------------------------------
    def start(self) -> LocalQueue:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="webhook-queue", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop:
            self.drain()
            with self._cond:
                if self._stop:
                    return
                due = self._heap[0][0] if self._heap else None
                wait = 1.0 if due is None else min(1.0, max(0.0, (due - self.clock.now_ms()) / 1000))
                self._cond.wait(timeout=wait or 0.01)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop = True
        self.kick()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def install(app: Any, clock: Any = None, *, start: bool = True) -> LocalQueue:
    """Wire a LocalQueue feeding the app's `webhook-deliver` handler as the webhooks' queue."""
    from chalicelib import wiring

    queue = LocalQueue(app.handler_map["webhook-deliver"], clock)
    wiring.override(webhook_queue=queue)
    return queue.start() if start else queue
