"""Handler plumbing: JSON responses, the error wrapper every route uses, request timing."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from time import perf_counter
from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiError
from chalicelib.api.metrics import METRICS
from chalicelib.core.serialize import dumps

log = logging.getLogger(__name__)
JSON = {"Content-Type": "application/json"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, str) else dumps(body)
    return Response(body=text, status_code=status, headers={**JSON, **(headers or {})})


def error_response(err: ApiError) -> Response:
    return json_response(err.body(), err.status)


def unavailable(exc: BaseException) -> Response | None:
    """A dependency outage nothing could serve around: 503 + Retry-After, logged once per state change
    (chalicelib.outage), no traceback. None for anything else."""
    from chalicelib import outage

    name = outage.dependency(exc)
    if name is None:
        return None
    outage.down(name, exc)
    err = ApiError(503, f"the {name} is unavailable and this data has no last known copy here; retry in "
                        f"{outage.RETRY_AFTER_S} s", None, f"{name}_unavailable")
    return json_response(err.body(), 503, {"Retry-After": str(outage.RETRY_AFTER_S)})


def _kv() -> Any:
    from chalicelib.api.data import kv

    return kv()


def endpoint(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a view: ApiError -> its JSON error; anything else -> logged 500 with the same shape."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        started = perf_counter()
        try:
            result = fn(*args, **kwargs)
            if isinstance(result, str):   # a rendered JSON body (every cached route): json_response, inlined
                response = Response(body=result, status_code=200, headers={"Content-Type": "application/json"})
            else:
                response = result if isinstance(result, Response) else json_response(result)
        except ApiError as err:
            response = error_response(err)
        except Exception as exc:  # a bug, never bad input: keep the contract's shape, log the traceback
            outage = unavailable(exc)
            if outage is None:
                log.exception("unhandled error in %s", fn.__name__)
            response = outage or error_response(ApiError(500, "internal error; see the service log", None))
        METRICS.request((perf_counter() - started) * 1000)
        METRICS.maybe_flush(_kv)
        return response

    return wrapper
