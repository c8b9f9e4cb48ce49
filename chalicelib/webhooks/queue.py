"""The delivery queue on AWS: SQS (WEBHOOK_QUEUE_URL), consumed by the `webhook-deliver` Lambda.

A message is a wake-up `{"webhook_id", "wake_at_ms"}`, never the payload: deliveries live in
PostgreSQL, so a lost or duplicated message costs a delay or a no-op, never an event. A message the
consumer keeps failing on (database down) goes to the dead-letter queue after maxReceiveCount
receives (infra/webhooks-queue.sam.json); the sweep re-queues its webhook once PostgreSQL is back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any


class SqsQueue:
    def __init__(self, queue_url: str, client: Callable[[], Any] | None = None) -> None:
        self.queue_url = queue_url
        self._client_factory = client or _sqs
        self._client: Any = None

    def send(self, body: Mapping[str, Any], delay_s: int) -> None:
        if self._client is None:
            self._client = self._client_factory()
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(dict(body)),
                                  DelaySeconds=max(0, min(900, int(delay_s))))


def _sqs() -> Any:
    import boto3  # lazy: only a process that queues pays for it

    return boto3.client("sqs")
