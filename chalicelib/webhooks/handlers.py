"""Blueprint `webhooks`: the delivery-queue consumer and the sweep (the /api/v1/webhooks routes are rows of
the one route table, chalicelib/api/routes.py, served by the REST blueprint).

Lambda functions: `webhook-deliver` consumes the SQS
queue WEBHOOK_QUEUE_NAME (batch of 1: a receiver's slowness holds one message, not ten), with its
dead-letter queue declared in infra/webhooks-queue.sam.json; `webhook-sweep` (every 5 min)
re-queues webhooks whose wake-up message was lost. Locally frs_local.webhook_queue feeds
`webhook_deliver` SQS-shaped events in-process.
"""

from __future__ import annotations

import json
import os
from typing import Any

from chalice import Blueprint, Rate

from chalicelib import wiring
from chalicelib.observability import observe

webhooks = Blueprint(__name__)
V1 = "/api/v1"
# Read at import, like the collector interval. SAM puts the name into `Fn::Sub: arn:...:sqs:...:<name>`,
# so the default resolves to this stack's queue (infra/webhooks-queue.sam.json names it the same way);
# Terraform output needs a literal name: WEBHOOK_QUEUE_NAME=funding-rate-service-<stage>-webhooks.
QUEUE_NAME = os.environ.get("WEBHOOK_QUEUE_NAME") or "${AWS::StackName}-webhooks"


def _observed(handler: Any) -> Any:
    """As in handlers/scheduled.py: on Lambda the handler string points here, app.py's middleware is not loaded."""
    handler.middleware_handlers = [observe]
    return handler


@_observed
@webhooks.on_sqs_message(queue=QUEUE_NAME, batch_size=1, name="webhook-deliver")
def webhook_deliver(event: Any) -> list[dict[str, Any]]:
    """One wake-up message -> that webhook's due deliveries. An exception (database down) leaves the
    message to SQS: received again after the visibility timeout, dead-lettered after maxReceiveCount."""
    service = wiring.webhooks()
    return [service.handle_message(json.loads(record.body)) for record in event]


@_observed
@webhooks.schedule(Rate(5, unit=Rate.MINUTES), name="webhook-sweep")
def webhook_sweep(event: Any) -> dict[str, int]:
    return dict(wiring.webhooks().sweep())
