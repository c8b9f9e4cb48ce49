"""The in-process SQS stand-in: delays on the given clock, SQS-shaped events, redelivery, dead letters."""

from __future__ import annotations

import json

from frs_local.webhook_queue import MAX_RECEIVES, VISIBILITY_S, LocalQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def now_ms(self) -> int:
        return self.now


def test_messages_wait_for_their_delay_and_arrive_sqs_shaped() -> None:
    clock, seen = Clock(), []
    queue = LocalQueue(lambda event, context: seen.append(event), clock)
    queue.send({"webhook_id": "wh_a", "wake_at_ms": 5}, delay_s=3)
    queue.send({"webhook_id": "wh_b", "wake_at_ms": 1}, delay_s=0)
    assert queue.drain() == 1
    clock.now += 2999
    assert queue.drain() == 0
    clock.now += 1
    assert queue.drain() == 1
    (rec_b,), (rec_a,) = (e["Records"] for e in seen)
    assert json.loads(rec_b["body"]) == {"webhook_id": "wh_b", "wake_at_ms": 1}
    assert rec_a["eventSource"] == "aws:sqs" and rec_a["attributes"]["ApproximateReceiveCount"] == "1"


def test_a_failing_handler_gets_the_message_again_then_it_is_dead_lettered() -> None:
    clock, receives = Clock(), []

    def handler(event, context):
        receives.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        raise RuntimeError("database down")

    queue = LocalQueue(handler, clock)
    queue.send({"webhook_id": "wh_a", "wake_at_ms": 0}, delay_s=0)
    queue.drain()
    for _ in range(MAX_RECEIVES):
        clock.now += VISIBILITY_S * 1000
        queue.drain()
    assert receives == ["1", "2", "3", "4", "5"]
    assert queue.pending() == 0 and len(queue.dead) == 1 and queue.dead[0]["error"] == "RuntimeError: database down"
