"""REST operations behind /api/v1/webhooks (the views in handlers.py are a few lines each).

Every operation needs a webhook API key (X-API-Key, chalicelib.webhooks.keys); an owner sees and
manages only its own webhooks (another owner's id answers 404). The signing secret is in the
creation answer only. The URL is refused with a 400 naming `url` when it is not https (outside
local mode) or when its host resolves to a loopback, private, link-local or metadata address.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.errors import ApiError, bad_parameter
from chalicelib.api.param_models import Query
from chalicelib.core.filters import FilterError
from chalicelib.webhooks import events as ev
from chalicelib.webhooks import keys, safety, signing
from chalicelib.webhooks.events import Event, Plan
from chalicelib.webhooks.formats import FORMATS

EventType = Literal[ev.EVENT_TYPES]  # type: ignore[valid-type]
Format = Literal[FORMATS]  # type: ignore[valid-type]
WEBHOOK_ID = r"^wh_[0-9a-f]{24}$"


# ---- request models -----------------------------------------------------------------------------
class TelegramTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bot_token: str = Field(pattern=r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,80}$", description="Bot API token (never shown again)")
    chat_id: str = Field(pattern=r"^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{5,64}$", description="Chat id or @channel")


class WebhookCreate(BaseModel):
    """A subscription: where, which events, which ones of them (filters), in which format."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=safety.MAX_URL_LENGTH,
                            description="Receiver URL, https (not used by format telegram)")
    events: list[EventType] = Field(min_length=1, max_length=len(ev.EVENT_TYPES),
                                    description="Event types to receive")
    filters: dict[str, Any] = Field(default_factory=dict, description=(
        "The REST opportunity filter (symbol, include_dexes, min_divergence, min_volume_24h, ... with the "
        "same defaults) plus min_apy_change (percentage points, default 5) and min_divergence_change (8 h "
        "fraction, default 0.0001) for opportunity.updated, and rate_threshold_apr (percent per year) for "
        "funding_rate.threshold"))
    format: Format = Field("standard", description="standard (signed JSON), slack, discord or telegram")
    telegram: TelegramTarget | None = None
    description: str | None = Field(None, max_length=200)


class WebhookPath(BaseModel):
    webhook_id: str = Field(pattern=WEBHOOK_ID)


class DeliveriesQuery(Query):
    status: Literal["pending", "delivering", "delivered", "failed", "cancelled"] | None = None
    limit: int = Field(50, ge=1, le=500)


# ---- response models (OpenAPI) ------------------------------------------------------------------
class DeliveryStats(BaseModel):
    delivered: int
    pending: int
    failed: int
    cancelled: int
    consecutive_failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None


class WebhookOut(BaseModel):
    id: str
    url: str
    format: Format
    events: list[str]
    filters: dict[str, Any]
    description: str | None
    telegram_chat_id: str | None
    status: Literal["active", "disabled"]
    disabled_reason: str | None = Field(description="Why the service disabled it (sustained failure, 410 Gone)")
    disabled_at: datetime | None
    created_at: datetime
    delivery_stats: DeliveryStats


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_... signing secret: shown only in this answer")
    url_check: Literal["checked", "unresolved"] = Field(
        description="checked: every address of the host is public; unresolved: the host did not resolve "
                    "from here (each delivery checks again)")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class WebhookDeleted(BaseModel):
    status: Literal["deleted"]
    id: str


class TestQueued(BaseModel):
    status: Literal["queued"]
    event_id: str


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[dict[str, Any]]


class DeliveryList(BaseModel):
    webhook_id: str
    deliveries: list[DeliveryOut]


# ---- operations ---------------------------------------------------------------------------------
def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "url": row["url"], "format": row["format"], "events": list(row["event_types"]),
            "filters": row["filters"], "description": row["description"], "telegram_chat_id": row["telegram_chat_id"],
            "status": row["status"], "disabled_reason": row["disabled_reason"], "disabled_at": row["disabled_at"],
            "created_at": row["created_at"],
            "delivery_stats": {k: int(row.get(k) or 0) for k in ("delivered", "pending", "failed", "cancelled",
                                                                  "consecutive_failures")}
            | {"last_success_at": row["last_success_at"], "last_failure_at": row["last_failure_at"]}}


def create(service: Any, headers: Any, body: WebhookCreate) -> dict[str, Any]:
    owner = keys.authenticate(service.store, headers)
    config = service.config
    if body.format == "telegram":
        if body.telegram is None:
            raise bad_parameter("telegram", "format telegram needs {\"bot_token\", \"chat_id\"}")
        url = config.telegram_api_url
    else:
        if body.telegram is not None:
            raise bad_parameter("telegram", f"only for format telegram, not {body.format}")
        if not body.url:
            raise bad_parameter("url", "a receiver URL is required")
        url = body.url
    try:
        checked = safety.check_url(url, allow_loopback=config.allow_loopback, resolver=service.resolver)
    except safety.UnsafeUrl as exc:
        raise ApiError(400, f"url refused: {exc}", "url", "unsafe_url") from None
    try:
        ev.parse_filters(body.filters)
    except FilterError as err:
        raise bad_parameter(err.parameter, err.detail) from None
    webhook_id, secret = "wh_" + secrets.token_hex(12), signing.new_secret()
    service.store.create_webhook({
        "id": webhook_id, "owner_key_id": owner, "url": url, "format": body.format,
        "event_types": list(dict.fromkeys(body.events)), "filters": ev.filters_to_json(body.filters),
        "description": body.description, "secret": secret,
        "telegram_chat_id": body.telegram.chat_id if body.telegram else None,
        "telegram_bot_token": body.telegram.bot_token if body.telegram else None}, service.clock.now_ms())
    (row,) = service.store.webhooks(owner, webhook_id)
    return {**_public(row), "secret": secret, "url_check": checked}


def list_webhooks(service: Any, headers: Any) -> dict[str, Any]:
    owner = keys.authenticate(service.store, headers)
    return {"webhooks": [_public(r) for r in service.store.webhooks(owner)]}


def _own(service: Any, headers: Any, webhook_id: str) -> tuple[int, dict[str, Any]]:
    owner = keys.authenticate(service.store, headers)
    rows = service.store.webhooks(owner, webhook_id)
    if not rows:
        raise ApiError(404, f"unknown webhook {webhook_id!r}", "webhook_id", "unknown_webhook")
    return owner, rows[0]


def get(service: Any, headers: Any, webhook_id: str) -> dict[str, Any]:
    return _public(_own(service, headers, webhook_id)[1])


def delete(service: Any, headers: Any, webhook_id: str) -> dict[str, Any]:
    owner, _ = _own(service, headers, webhook_id)
    service.store.delete_webhook(owner, webhook_id)
    return {"status": "deleted", "id": webhook_id}


def send_test(service: Any, headers: Any, webhook_id: str) -> dict[str, Any]:
    _, row = _own(service, headers, webhook_id)
    if row["status"] != "active":
        raise ApiError(409, f"webhook is disabled: {row['disabled_reason']}", "webhook_id", "webhook_disabled")
    now = service.clock.now_ms()
    event = Event("evt_test_" + secrets.token_hex(12), ev.TEST_TYPE, now,
                  {"webhook_id": webhook_id, "message": "test event: this webhook is reachable"})
    service.store.record(Plan(deliveries=[(webhook_id, event)]), now)
    service.wake(webhook_id, now)
    return {"status": "queued", "event_id": event.id}


def deliveries(service: Any, headers: Any, webhook_id: str, query: DeliveriesQuery) -> dict[str, Any]:
    _own(service, headers, webhook_id)
    rows = service.store.deliveries(webhook_id, query.status, query.limit)
    return {"webhook_id": webhook_id, "deliveries": [
        {**r, "next_attempt_at": r["next_attempt_at"] if r["status"] in ("pending", "delivering") else None}
        for r in rows]}

