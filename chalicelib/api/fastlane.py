"""Repeat requests to cached routes, answered from the rendered entry the same request produced before.

A cached route renders its body once per snapshot entry (`CACHE.derived`) and splices the
freshness members in front per request (`rates.with_meta`); what each request still paid was
validating the query (pydantic), resolving the filter and walking the parent entries to reach that
rendered entry. Here the exact request (route, path values, raw query string) remembers the key of
the rendered entry it was answered from; the same request again, while that entry is live in the
memory tier (its parents unchanged: `CACHE.peek`), gets `with_meta(entry)` directly.

Safe because only a request that validated and rendered exactly one entry, returned unchanged
behind the freshness prefix, is remembered: the same raw input validates the same way, and every
check it depends on (symbol and venue names, fees, exclusions) is input to the entry's parents, so a
change drops the entry and the next request takes the full path. Errors are never remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from chalicelib.api.cache import CACHE, Cached

MAX_REQUESTS = 2048   # distinct remembered requests per container (cleared when full)

_rendered: ContextVar[list[Cached] | None] = ContextVar("frs_rendered", default=None)
_memo: dict[tuple[Any, ...], str] = {}


def request_key(view: str, path: dict[str, str] | None, params: Any) -> tuple[Any, ...]:
    """The key a request is remembered under: the view's name, its path values and its query parameters (a
    Chalice MultiDict or a plain mapping; None or empty for none), order-free. The REST views
    (handlers/rest.py) and the local gateway's inline path (frs_local/gateway.py) both compute it here."""
    query = () if not params else tuple(sorted(
        (k, tuple(params.getlist(k)) if hasattr(params, "getlist") else (params[k],)) for k in params))
    return (view, tuple(sorted(path.items())) if path else (), query)


def note(body: Cached) -> None:
    """Called by rates.with_meta for every rendered entry spliced into a response."""
    seen = _rendered.get()
    if seen is not None:
        seen.append(body)


def answer(key: tuple[Any, ...]) -> str | None:
    """The response to a request seen before, if the entry it was rendered from is still live."""
    entry_key = _memo.get(key)
    if entry_key is None:
        return None
    entry = CACHE.live(entry_key)
    if entry is None:
        _memo.pop(key, None)
        return None
    global _render
    if _render is None:
        from chalicelib.api.rates import render_tail  # rates imports this module: resolved once, here

        _render = render_tail
    return _render(CACHE.tail(entry_key, entry), entry.updated_ms, "memory")   # = with_meta(CACHE.peek(entry_key))


_render: Callable[..., str] | None = None


def remember(key: tuple[Any, ...], run: Callable[[], Any]) -> Any:
    """Run the full path; remember which rendered entry answered it when the answer is exactly one."""
    seen: list[Cached] = []
    token = _rendered.set(seen)
    try:
        result = run()
    finally:
        _rendered.reset(token)
    if len(seen) == 1 and seen[0].key and isinstance(result, str) and isinstance(seen[0].value, str) \
            and result.endswith(seen[0].value[1:]):
        if len(_memo) >= MAX_REQUESTS:
            _memo.clear()
        _memo[key] = seen[0].key
    return result


def clear() -> None:
    _memo.clear()


def knows(key: tuple[Any, ...]) -> bool:
    """Whether `key` is remembered (no render, no cache read): the local gateway asks after a full call."""
    return key in _memo
