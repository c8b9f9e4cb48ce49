"""Powertools JSON logs, EMF metrics and X-Ray tracing for every handler, through one Chalice middleware.

`observe` is registered with `app.register_middleware(observe, "all")`, so routes, schedules,
the analysis lambda and the WebSocket handlers all get: the Lambda context appended to the
log keys (function name, request id, cold start), a correlation id (API Gateway request id,
EventBridge event id, or the `correlation_id` a collector passes to the analysis it chains),
a segment when tracing is on, and one EMF metrics flush after the event.

Powertools is imported on the first event that needs it, not at `import app`: a route's cold
start pays for it only once it logs (bench/coldstart.py measures both).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

SERVICE = "funding-rate-service"
NAMESPACE = "FundingRateService"
METRIC_NAMES = ("MarketsCollected", "VenueErrors", "Opportunities", "WsPushes")

_state: dict[str, Any] = {"cold": True, "pending_metrics": False}
_build_lock = threading.Lock()   # the local scheduler runs handlers on threads; powertools init is not thread-safe
_current = threading.local()     # the event each thread is handling (Lambda: one at a time; local: one per thread)


def logger() -> Any:
    """The service's powertools Logger (JSON to stdout), built on first use."""
    if "logger" not in _state:
        with _build_lock:
            if "logger" not in _state:
                from aws_lambda_powertools import Logger

                level = os.environ.get("LOG_LEVEL", "INFO").upper()
                _state["logger"] = Logger(service=SERVICE, level=level)
    log = _state["logger"]
    pending = getattr(_current, "pending", None)
    if pending:   # a route's keys, staged by `observe` until something logs
        _current.pending = None
        log.append_keys(**_keys(pending))
    return log


def _keys(staged: tuple[str, bool, Any, str | None]) -> dict[str, Any]:
    kind, cold, context, cid = staged
    return {"event_kind": kind, "cold_start": cold, "function_name": getattr(context, "function_name", None),
            "function_request_id": getattr(context, "aws_request_id", None), "correlation_id": cid}


def _metrics() -> Any:
    if "metrics" not in _state:
        with _build_lock:
            if "metrics" not in _state:
                from aws_lambda_powertools import Metrics

                _state["metrics"] = Metrics(namespace=NAMESPACE, service=SERVICE)
    return _state["metrics"]


def _tracer() -> Any | None:
    """A powertools Tracer inside Lambda when aws_xray_sdk is importable and tracing is not disabled.

    requirements.txt leaves aws_xray_sdk out (it would ship a second botocore); Lambda active
    tracing ("xray": true in .chalice/config.json) still traces every invocation without it.
    """
    if "tracer" not in _state:
        import importlib.util

        enabled = (bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
                   and os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() not in ("1", "true")
                   and importlib.util.find_spec("aws_xray_sdk") is not None)
        tracer = None
        if enabled:
            from aws_lambda_powertools import Tracer

            tracer = Tracer(service=SERVICE)
        _state["tracer"] = tracer
    return _state["tracer"]


def metric(name: str, value: float, unit: str = "Count") -> None:
    """Add one EMF data point; flushed by `observe` after the event (or by `flush_metrics`)."""
    from aws_lambda_powertools.metrics import MetricUnit

    _metrics().add_metric(name=name, unit=getattr(MetricUnit, unit), value=value)
    _state["pending_metrics"] = True


def report(message: str, summary: dict[str, Any], **metrics: float) -> dict[str, Any]:
    """Log a job's summary as one JSON line and add its EMF metrics; returns the summary."""
    for name, value in metrics.items():
        metric(name, value)
    logger().info(message, extra={"summary": summary})
    return summary


def flush_metrics() -> None:
    if _state.get("pending_metrics"):
        _state["pending_metrics"] = False
        _metrics().flush_metrics()


def _describe(event: Any) -> tuple[str, Any, str | None]:
    """(kind, lambda context, correlation id) of any Chalice event object."""
    raw: dict[str, Any] = {}
    context = getattr(event, "context", None)
    if hasattr(event, "lambda_context"):  # chalice.app.Request
        context = event.lambda_context
        raw = event.context or {}
        return "http", context, raw.get("requestId")
    to_dict = getattr(event, "to_dict", None)
    raw = to_dict() if callable(to_dict) else {}
    ctx = raw.get("requestContext") if isinstance(raw, dict) else None
    if isinstance(ctx, dict) and "connectionId" in ctx:
        return f"ws:{ctx.get('routeKey')}", context, ctx.get("requestId") or ctx.get("connectionId")
    if isinstance(raw, dict) and raw.get("detail-type") == "Scheduled Event":
        return "schedule", context, raw.get("id")
    if isinstance(raw, dict) and raw.get("correlation_id"):
        return "lambda", context, str(raw["correlation_id"])
    return "lambda", context, getattr(context, "aws_request_id", None)


def correlation_id() -> str | None:
    """The id of the event being handled (a collector hands it to the analysis it chains)."""
    return getattr(_current, "correlation_id", None)


_NO_CONTEXT = object()


def observe(event: Any, get_response: Any) -> Any:
    """Chalice middleware ("all"): context + correlation id on the logs, a trace segment, metrics flush.

    A route (kind "http") logs nothing unless something goes wrong, so its log keys are only
    staged here and appended when the service logger is first asked for during the request
    (`logger()`): a served request then never builds powertools (cold start) nor pays for the
    keys (handler overhead, bench/api.py). Every other event logs a line, so it appends at once.
    """
    context = getattr(event, "lambda_context", _NO_CONTEXT)
    if context is not _NO_CONTEXT:   # chalice.app.Request: a route, the hot path (issue 18)
        return _observe_route(event, context, get_response)
    kind, context, cid = _describe(event)
    outer = correlation_id()   # an in-process chained analysis nests inside its collector
    _current.correlation_id = cid
    cold, _state["cold"] = _state["cold"], False
    staged = (kind, cold, context, cid)
    lazy = kind == "http"
    _current.pending = staged if lazy else None
    if not lazy:
        logger().append_keys(**_keys(staged))
    started = time.perf_counter()
    tracer = _tracer()
    try:
        if tracer is None:
            return get_response(event)
        with tracer.provider.in_subsegment(f"## {kind}") as segment:
            segment.put_annotation("kind", kind)
            return get_response(event)
    finally:
        if not lazy:  # routes log through the REST layer; events get one line each
            logger().info("event handled", extra={"event_kind": kind,
                                                  "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        flush_metrics()
        _current.correlation_id = outer
        staged_unused = getattr(_current, "pending", None) is not None
        _current.pending = None
        if not staged_unused:   # keys were appended: put the outer event's correlation id back
            logger().set_correlation_id(outer)


def _observe_route(request: Any, context: Any, get_response: Any) -> Any:
    """`observe` for a route: the same state changes as the general path with kind "http", lazy keys, no line."""
    raw = request.context
    cid = raw.get("requestId") if raw else None
    current = _current
    outer = getattr(current, "correlation_id", None)
    current.correlation_id = cid
    cold = _state["cold"]
    if cold:
        _state["cold"] = False
    current.pending = ("http", cold, context, cid)
    try:
        tracer = _state["tracer"] if "tracer" in _state else _tracer()
        if tracer is None:
            return get_response(request)
        with tracer.provider.in_subsegment("## http") as segment:
            segment.put_annotation("kind", "http")
            return get_response(request)
    finally:
        if _state["pending_metrics"]:
            flush_metrics()
        current.correlation_id = outer
        staged_unused = current.pending is not None
        current.pending = None
        if not staged_unused:
            logger().set_correlation_id(outer)
