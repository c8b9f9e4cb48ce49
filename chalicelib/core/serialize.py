"""JSON encoding of Decimal / datetime and epoch-ms timestamps (record shapes: core/codec.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def json_default(obj: Any) -> Any:
    """json.dumps(default=...): Decimal -> JSON number, datetime -> ISO 8601 UTC 'Z'."""
    if isinstance(obj, Decimal):
        if obj == obj.to_integral_value() and abs(obj) < Decimal(10) ** 15:
            return int(obj)
        return float(obj)
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=UTC)
        return obj.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=json_default, separators=(",", ":"))
