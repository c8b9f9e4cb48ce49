"""Builds the WebhookService from the environment (called by chalicelib.wiring only)."""

from __future__ import annotations

from typing import Any

from chalicelib.webhooks.config import WebhookConfig
from chalicelib.webhooks.service import NoQueue, Queue, WebhookService
from chalicelib.webhooks.store import WebhookStore


def build(db: Any, queue: Queue | None = None, clock: Any = None) -> WebhookService:
    config = WebhookConfig.from_env()
    if queue is None:
        if config.queue_url:
            from chalicelib.webhooks.queue import SqsQueue

            queue = SqsQueue(config.queue_url)
        else:
            queue = NoQueue()
    return WebhookService(WebhookStore(db), queue, config, clock=clock)
