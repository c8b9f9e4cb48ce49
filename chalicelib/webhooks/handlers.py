"""Blueprint `webhooks`: the /api/v1/webhooks routes, the delivery-queue consumer and the sweep.

Lambda functions: the routes run in the REST `api_handler`; `webhook-deliver` consumes the SQS
queue WEBHOOK_QUEUE_NAME (batch of 1: a receiver's slowness holds one message, not ten), with its
dead-letter queue declared in infra/webhooks-queue.sam.json; `webhook-sweep` (every 5 min)
re-queues webhooks whose wake-up message was lost. Locally chalicelib.local.webhook_queue feeds
`webhook_deliver` SQS-shaped events in-process.
"""

from __future__ import annotations

import json
import os
from typing import Any

from chalice import Blueprint, Rate

from chalicelib import wiring
from chalicelib.api import params as p
from chalicelib.api.http import endpoint, json_response
from chalicelib.observability import observe

webhooks = Blueprint(__name__)
V1 = "/api/v1"
# Read at import, like the collector interval. SAM puts the name into `Fn::Sub: arn:...:sqs:...:<name>`,
# so the default resolves to this stack's queue (infra/webhooks-queue.sam.json names it the same way);
# Terraform output needs a literal name: WEBHOOK_QUEUE_NAME=funding-rate-service-<stage>-webhooks.
QUEUE_NAME = os.environ.get("WEBHOOK_QUEUE_NAME") or "${AWS::StackName}-webhooks"


def _api() -> Any:
    from chalicelib.webhooks import api

    return api


def _path(webhook_id: str) -> str:
    return p.parse_path(_api().WebhookPath, webhook_id=webhook_id).webhook_id


def _headers() -> Any:
    return webhooks.current_request.headers


@webhooks.route(f"{V1}/webhooks", methods=["POST"])
@endpoint
def create_webhook():
    api = _api()
    p.parse_query(p.NoQuery, webhooks.current_request.query_params)
    body = p.parse_body(webhooks.current_request.raw_body, api.WebhookCreate)
    return json_response(api.create(wiring.webhooks(), _headers(), body), 201)


@webhooks.route(f"{V1}/webhooks", methods=["GET"])
@endpoint
def list_webhooks():
    p.parse_query(p.NoQuery, webhooks.current_request.query_params)
    return _api().list_webhooks(wiring.webhooks(), _headers())


@webhooks.route(f"{V1}/webhooks/{{webhook_id}}", methods=["GET"])
@endpoint
def get_webhook(webhook_id):
    return _api().get(wiring.webhooks(), _headers(), _path(webhook_id))


@webhooks.route(f"{V1}/webhooks/{{webhook_id}}", methods=["DELETE"])
@endpoint
def delete_webhook(webhook_id):
    return _api().delete(wiring.webhooks(), _headers(), _path(webhook_id))


@webhooks.route(f"{V1}/webhooks/{{webhook_id}}/test", methods=["POST"])
@endpoint
def test_webhook(webhook_id):
    return json_response(_api().send_test(wiring.webhooks(), _headers(), _path(webhook_id)), 202)


@webhooks.route(f"{V1}/webhooks/{{webhook_id}}/deliveries", methods=["GET"])
@endpoint
def webhook_deliveries(webhook_id):
    api = _api()
    query = p.parse_query(api.DeliveriesQuery, webhooks.current_request.query_params)
    return api.deliveries(wiring.webhooks(), _headers(), _path(webhook_id), query)


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
