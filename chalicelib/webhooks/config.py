"""Webhook settings from the environment (names WEBHOOK_*), validated like chalicelib.settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.settings import SettingsError, _bool, _float, _int, _url


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    allow_loopback: bool = False        # WEBHOOKS_ALLOW_LOOPBACK: local mode only (refused in production)
    timeout_s: float = 10.0             # one attempt: connect + send + read
    rate_per_minute: int = 60           # per webhook, token bucket
    rate_burst: int = 20
    queue_url: str | None = None        # SQS queue of delivery messages (AWS)
    telegram_api_url: str = "https://api.telegram.org"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookConfig:
        env = os.environ if env is None else env
        allow = _bool(env, "WEBHOOKS_ALLOW_LOOPBACK", False)
        if allow and (env.get("ENVIRONMENT") or "").strip().lower() == "production":
            raise SettingsError("WEBHOOKS_ALLOW_LOOPBACK=true is for local mode; refused with ENVIRONMENT=production")
        return cls(
            allow_loopback=allow,
            timeout_s=_float(env, "WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.05),
            rate_per_minute=_int(env, "WEBHOOK_RATE_PER_MINUTE", 60, minimum=1, maximum=6000),
            rate_burst=_int(env, "WEBHOOK_RATE_BURST", 20, minimum=1, maximum=1000),
            queue_url=_url(env, "WEBHOOK_QUEUE_URL", None, ("https", "http")),
            telegram_api_url=_url(env, "TELEGRAM_API_URL", "https://api.telegram.org", ("https", "http"))
            or "https://api.telegram.org",
        )
