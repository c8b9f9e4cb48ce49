"""What a receiver gets: the standard JSON envelope, or a Slack / Discord / Telegram message (pure).

standard  {"id", "type", "timestamp", "data"} (Standard Webhooks' payload shape, plus the id)
slack     {"text"} (incoming webhooks; mrkdwn)          https://api.slack.com/messaging/webhooks
discord   {"content", "allowed_mentions"}                https://discord.com/developers/docs/resources/webhook
telegram  POST <api>/bot<token>/sendMessage {"chat_id", "text"}  https://core.telegram.org/bots/api#sendmessage
Every format carries the Standard Webhooks headers; only `standard` receivers are expected to verify them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib.core.serialize import dumps, iso_ms
from chalicelib.webhooks.events import Event

FORMATS = ("standard", "slack", "discord", "telegram")
MAX_PAYLOAD_BYTES = 64 * 1024
TEXT_LIMITS = {"slack": 3000, "discord": 2000, "telegram": 4096}   # characters each service accepts


def envelope(event: Event) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "timestamp": iso_ms(event.occurred_at_ms), "data": dict(event.data)}


def _pct(value: Any, scale: int = 100, places: int = 4) -> str:
    if value is None:
        return "?"
    return f"{Decimal(str(value)) * scale:.{places}f}%"


def describe(event: Event) -> str:
    """One human line (or two) for chat formats."""
    d: Mapping[str, Any] = event.data
    if event.type.startswith("opportunity."):
        head = f"{d.get('symbol')}: long {d.get('long_dex')} / short {d.get('short_dex')}"
        if event.type == "opportunity.closed":
            return f"Opportunity closed — {head}"
        verb = "opened" if event.type == "opportunity.opened" else "updated"
        return (f"Opportunity {verb} — {head}\ndivergence {_pct(d.get('divergence'))} per 8 h, "
                f"net {_pct(d.get('net_profit_percent'))} over {d.get('hold_hours', 8)} h, "
                f"APY {_pct(d.get('annualized_apy'), 1, 2)}")
    if event.type == "funding_rate.threshold":
        return (f"Funding rate {d.get('dex_name') or d.get('dex')} {d.get('symbol')} went {d.get('direction')} "
                f"{_pct(d.get('threshold_apr'), 1, 2)} APR: now {_pct(d.get('annualized_rate'), 1, 2)} "
                f"(was {_pct(d.get('previous_annualized_rate'), 1, 2)})")
    if event.type.startswith("venue."):
        reason = d.get("reason") or d.get("detail") or ""
        return f"Venue {d.get('dex_name') or d.get('dex')}: {event.type.split('.', 1)[1]}" + (f" — {reason}" if reason else "")
    if event.type == "webhook.test":
        return "Test event from the Funding Rate Service: this webhook is reachable."
    return f"{event.type}: {dumps(dict(d))[:500]}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(fmt: str, event: Event, *, url: str, telegram_chat_id: str | None = None,
           telegram_bot_token: str | None = None) -> tuple[str, bytes]:
    """(URL to POST to, JSON body). Raises ValueError for a payload over MAX_PAYLOAD_BYTES."""
    if fmt == "standard":
        body: Any = envelope(event)
    elif fmt == "slack":
        body = {"text": _cut(describe(event), TEXT_LIMITS["slack"])}
    elif fmt == "discord":
        body = {"content": _cut(describe(event), TEXT_LIMITS["discord"]), "allowed_mentions": {"parse": []}}
    elif fmt == "telegram":
        if not telegram_chat_id or not telegram_bot_token:
            raise ValueError("telegram needs a bot token and a chat id")
        body = {"chat_id": telegram_chat_id, "text": _cut(describe(event), TEXT_LIMITS["telegram"]),
                "disable_web_page_preview": True}
        url = f"{url.rstrip('/')}/bot{telegram_bot_token}/sendMessage"
    else:
        raise ValueError(f"unknown format {fmt!r}")
    raw = dumps(body).encode()
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(raw)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte cap")
    return url, raw
