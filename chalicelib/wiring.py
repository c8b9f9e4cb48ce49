"""Composition root: the only module that knows every concrete class. Lazy and cached per container.

Handlers and services ask for `storage()`, `kv()`, `pusher()`, `settings()`; nothing is built
at import time, so a Lambda pays only for what its function touches. Tests call `override(...)`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, cast

from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:  # the ports are types only here
    from chalicelib.core.ports import Pusher, Storage

_overrides: dict[str, Any] = {}
_built: dict[str, Any] = {}


def settings() -> Settings:
    return _overrides.get("settings") or get_settings()


def storage() -> Storage:
    """chalicelib.storage.repository.PgStorage on $DATABASE_URL (one reused connection, reconnects)."""
    if "storage" in _overrides:
        return cast("Storage", _overrides["storage"])
    if "storage" not in _built:
        from chalicelib.storage.repository import PgStorage

        url = settings().database_url
        if not url:
            from chalicelib.settings import SettingsError

            raise SettingsError("DATABASE_URL is not set: expected postgresql://user@host:port/dbname")
        built: Storage = PgStorage(url)   # mypy: PgStorage implements every storage port
        _built["storage"] = built
    return cast("Storage", _built["storage"])


def kv() -> Any:
    """Redis client (cache/resp.RespKV; redis-py behind it for the commands it does not speak) when
    REDIS_URL/USE_REDIS allow, else the in-memory fallback."""
    if "kv" in _overrides:
        return _overrides["kv"]
    if "kv" not in _built:
        from chalicelib.cache.store import make_kv

        _built["kv"] = make_kv(settings())
    return _built["kv"]


def kv_for(given: Settings) -> Any:
    """The key-value client for settings a caller was handed (a CLI's own): kv() when they name the
    same Redis, else one client per URL, built here once per process."""
    if given.redis_url == settings().redis_url:
        return kv()

    def build() -> Any:
        from chalicelib.cache.store import make_kv

        return make_kv(given)

    return get(f"kv:{given.redis_url}", build)


def pusher() -> Pusher:
    """WebSocket pusher over apigatewaymanagementapi (endpoint from WS_MANAGEMENT_URL)."""
    if "pusher" in _overrides:
        return cast("Pusher", _overrides["pusher"])
    if "pusher" not in _built:
        from chalicelib.transport.push import make_pusher

        built: Pusher = make_pusher(settings())   # mypy: ApiGatewayPusher implements Pusher
        _built["pusher"] = built
    return cast("Pusher", _built["pusher"])


def webhooks() -> Any:
    """chalicelib.webhooks.service.WebhookService: storage()'s PostgreSQL connection, the delivery queue
    (override webhook_queue=, e.g. the local in-process queue; else SQS at WEBHOOK_QUEUE_URL)."""
    if "webhooks" in _overrides:
        return _overrides["webhooks"]
    if "webhooks" not in _built:
        from chalicelib.webhooks.runtime import build

        db = getattr(storage(), "db", None)
        if db is None:
            from chalicelib.storage.db import Database

            db = Database(settings().database_url or "")
        _built["webhooks"] = build(db, _overrides.get("webhook_queue"), _overrides.get("clock"))
    elif "webhook_queue" in _overrides:   # a queue installed after the first build (frs local)
        _built["webhooks"].queue = _overrides["webhook_queue"]
    return _built["webhooks"]


def event_sink() -> Any:
    """Where the analysis emits its events: webhooks().emit, resolved at the first event (a storage
    without a PostgreSQL connection, a test fake, has no webhooks: nothing is emitted)."""
    if "event_sink" in _overrides:
        return _overrides["event_sink"]

    def emit(events: Any) -> Any:
        return webhooks().emit(events) if getattr(storage(), "db", None) is not None else {}

    return emit


def override(**components: Any) -> None:
    """Replace components (settings=, storage=, kv=, pusher=, webhooks=, webhook_queue=, clock=, event_sink=, ...)."""
    _overrides.update(components)


def get(name: str, factory: Any) -> Any:
    """A named component built once by `factory()` (for pieces not listed above)."""
    if name in _overrides:
        return _overrides[name]
    if name not in _built:
        _built[name] = factory()
    return _built[name]


def reset() -> None:
    """Forget overrides and built components (tests; the local stack after changing env)."""
    for component in _built.values():
        close = getattr(component, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
    _built.clear()
    _overrides.clear()
