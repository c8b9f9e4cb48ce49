"""API errors: one JSON shape for every failure, `{"error", "detail", "parameter"}`.

400 = a path/query parameter is malformed or unknown, 404 = unknown dex/symbol (named),
422 = well-formed JSON body failing validation, 401/403 = admin key missing/wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # a served request never imports pydantic (cold start)
    from pydantic import ValidationError

REASONS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
           405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
           422: "unprocessable_entity", 500: "internal_error", 503: "service_unavailable"}


class ApiError(Exception):
    """Raised anywhere below a handler; the handler wrapper turns it into a JSON response."""

    def __init__(self, status: int, detail: str, parameter: str | None = None, error: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.parameter = parameter
        self.error = error or REASONS.get(status, "error")

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail, "parameter": self.parameter}


def bad_parameter(parameter: str, detail: str) -> ApiError:
    return ApiError(400, detail, parameter, "invalid_parameter")


def not_found(parameter: str, value: str, what: str) -> ApiError:
    return ApiError(404, f"unknown {what} {value!r}", parameter, f"unknown_{what}")


def from_validation(exc: ValidationError, *, status: int = 400, prefix: str = "") -> ApiError:
    """The first pydantic error, naming the parameter (query/path) or the body field path."""
    first = exc.errors(include_url=False)[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "__root__"]
    if status == 400:   # a query/path parameter: the name the client sent, not "include_dexes.1"
        loc = loc[:1]
    name = ".".join(loc) if loc else None
    if first.get("type") == "extra_forbidden":
        where = "body field" if status == 422 else "query parameter"
        return ApiError(status, f"unknown {where} {name!r}", prefix + (name or ""),
                        "unknown_parameter" if status == 400 else "unprocessable_entity")
    msg = first.get("msg", "invalid value")
    if first.get("type") == "value_error":   # our own validators: "<name> <their sentence>"
        msg = f"{name} {msg.removeprefix('Value error, ')}" if name else msg.removeprefix("Value error, ")
    value = first.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) and len(repr(value)) < 80 else ""
    error = "invalid_parameter" if status == 400 else "unprocessable_entity"
    return ApiError(status, f"{msg}{shown}", (prefix + name) if name else ("body" if status == 422 else None), error)
