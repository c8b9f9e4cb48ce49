"""Property-based run of schemathesis over our own OpenAPI document with ALL of its checks: no input may
produce a 5xx, every response has a documented status code and matches its documented schema, and no
schema-valid request is rejected (ST202 positive_data_acceptance). Constraints across parameters that a
per-parameter schema cannot state (same-dex compare, period with start_time, windows over 366 days, min over
max, fee tiers) are stated in the document as `x-constraints`; generated cases are made to keep them
(`repair`), so a server rule missing from the document fails the run.

The Chalice app is reached in-process: a tiny WSGI adapter turns each request schemathesis makes
into a chalice.test.Client call (API-Gateway-shaped event), so no port or server is needed.
Bounded (max_examples per operation) so CI stays fast; prints the number of calls made.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.integration.test_rest import ADMIN_KEY, Api, make_api

MAX_EXAMPLES = 25


def _num(value: Any) -> Decimal:
    return Decimal(str(value).strip().rstrip("%"))


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def satisfies(constraints: list[dict[str, Any]], query: dict[str, Any], body: Any) -> bool:
    """Does a request keep the operation's `x-constraints` (what one parameter's schema cannot say)?
    The document states them; this reads them from it and implements each kind from its description."""
    body = body if isinstance(body, dict) else {}
    for c in constraints:
        kind, names = c["kind"], c.get("parameters", [])
        values = [query.get(n) for n in names]
        if kind == "ordered" and None not in values and _num(values[0]) > _num(values[1]):
            return False
        if kind == "distinct" and None not in values and str(values[0]).strip().lower() == str(values[1]).strip().lower():
            return False
        if kind == "exclusive" and None not in values:
            return False
        if kind == "together" and (values[0] is None) != (values[1] is None):
            return False
        if kind == "window":
            start, end = _ts(query.get(c["start"])), _ts(query.get(c["end"])) or datetime.now(UTC)
            if start is not None and (start >= end - timedelta(seconds=5) or end - start > timedelta(days=c["max_days"])):
                return False
        if kind == "nonempty_if" and body.get(c["flag"]) is True and not body.get(c["items"]):
            return False
        if kind == "variant":
            chosen = body.get(c["flag"], "standard") == c["value"]
            if (chosen and not body.get(c["then"])) or (not chosen and (not body.get(c["else"])
                                                                        or body.get(c["then"]) is not None)):
                return False
        if kind == "public_url" and body.get("format", "standard") != "telegram" and body.get(c["parameter"]) \
                and not _public_https(str(body[c["parameter"]])):
            return False
        if kind == "query_object" and not all(k in c["thresholds"] and _nonnegative(v)
                                              for k, v in (body.get(c["items"]) or {}).items()):
            return False   # (REST filter keys are exercised by tests/integration/test_webhooks*.py, not generated)
        if kind == "tiers":
            tiers = body.get(c["items"]) or []
            lo, hi = c["min"], c["max"]
            if any(t.get(hi) is not None and _num(t[hi]) <= _num(t[lo]) for t in tiers):
                return False
            if any(p.get(hi) is None or _num(t[lo]) < _num(p[hi]) for p, t in pairwise(tiers)):
                return False
    return True


def _public_https(url: str) -> bool:
    """The shape webhooks/safety.py accepts without DNS: https, a host name (not an address literal), no
    credentials, a valid port."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        _ = parts.port   # raises on a bad port
    except ValueError:
        return False
    host = parts.hostname or ""
    return (parts.scheme == "https" and bool(re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", host)) and not
            re.fullmatch(r"[0-9.]+", host) and host != "localhost" and parts.username is None and
            parts.password is None and len(url) <= 2048)


def _nonnegative(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


RECEIVER = "https://hooks.example.com/frs"
TELEGRAM = {"bot_token": "123456:" + "A" * 30, "chat_id": "12345"}


def repair(case: Any, constraints: list[dict[str, Any]], defaults: dict[str, Any]) -> Any:
    """Make a generated case keep the stated constraints by dropping (or matching) the offending parameter:
    a filter alone is unsatisfiable (a random 2001-2099 start_time is rarely within 366 days before now)."""
    query = case.query if isinstance(case.query, dict) else None
    body = case.body if isinstance(case.body, dict) else None
    for c in constraints:
        kind, names = c["kind"], c.get("parameters", [])
        on_body = kind in ("tiers", "nonempty_if", "variant", "public_url", "query_object")
        if not on_body and query is not None and not satisfies([c], {**defaults, **query}, body):
            if kind == "ordered":                       # the max raised to the min (the min may be a default)
                query[names[1]] = {**defaults, **query}[names[0]]
            elif kind == "window":                      # start_time may be required (backtest): one day before end
                end = _ts(query.get(c["end"])) or datetime.now(UTC)
                query[c["start"]] = (end - timedelta(days=1)).isoformat().replace("+00:00", "Z")
            elif kind == "distinct":                    # dex2 may be required (compare): another name
                query[names[1]] = str(query[names[0]]).strip()[:48] + "2"
            elif kind == "together":
                query.pop(names[0], None)
                query.pop(names[1], None)
            else:                                       # exclusive: the second one goes
                query.pop(names[1], None)
        if on_body and body is not None and not satisfies([c], {}, body):
            if kind == "variant":                       # the target the chosen format needs, the other one gone
                if body.get(c["flag"], "standard") == c["value"]:
                    body[c["then"]] = TELEGRAM
                else:
                    body.pop(c["then"], None)
                    body[c["else"]] = RECEIVER
            elif kind == "public_url":
                body[c["parameter"]] = RECEIVER
            elif kind == "query_object":                # generated keys are rarely parameters: the thresholds kept
                body[c["items"]] = {k: v for k, v in body[c["items"]].items()
                                    if k in c["thresholds"] and _nonnegative(v)}
            else:
                body[c.get("flag", "has_fee_tiers")] = False
                body.pop(c["items"], None)
    return case


def wsgi_adapter(api: Api) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        r = api.client.http.request(environ["REQUEST_METHOD"], path + (f"?{query}" if query else ""),
                                    headers=headers, body=body)
        start_response(f"{r.status_code} -", list(r.headers.items()))
        return [r.body]

    return app


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[Api]:
    yield from make_api(db_url, redis_url)


def webhook_key() -> str:
    """A real webhook API key (the /webhooks routes take one, not the admin key), issued as `frs webhook-key` does."""
    from chalicelib import wiring
    from chalicelib.webhooks.keys import new_key

    key, key_id, digest = new_key()
    wiring.webhooks().store.insert_key(key_id, digest, "schemathesis")
    return key


def test_no_input_yields_a_5xx(api: Api) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_adapter(api))
    hook_key = webhook_key()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    document = api.get("/api/v1/openapi.json")[1]
    for result in schema.get_all_operations():
        operation = result.ok()
        spec = document["paths"][operation.path][operation.method.lower()]
        constraints = spec.get("x-constraints", [])
        defaults = {p["name"]: p["schema"]["default"] for p in spec.get("parameters", [])
                    if p["in"] == "query" and "default" in p["schema"]}

        key = {"X-API-Key": hook_key if operation.path.startswith("/api/v1/webhooks") else ADMIN_KEY}

        def keeps(case: Any, constraints: list[dict[str, Any]] = constraints, defaults: dict[str, Any] = defaults) -> Any:
            return repair(case, constraints, defaults)

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy().map(keeps))
        def exercise(case: Any) -> None:
            response = case.call(headers=key)   # noqa: B023 (exercise() runs within this iteration)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> "
                                f"{response.status_code} {response.text[:200]}")
            try:   # ALL of schemathesis' checks: status, schema, headers, and "schema-valid request rejected"
                case.validate_response(response, headers=key)   # noqa: B023
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup describing it
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200}: "
                                f"{str(exc)[:600]}")

        exercise()
    calls = sum(statuses.values())
    print(f"\nschemathesis: {calls} calls, statuses {dict(sorted(statuses.items()))}, "
          f"5xx: {sum(n for code, n in statuses.items() if code >= 500)}, failures: {len(failures)}")
    assert calls >= 16 * 5
    assert failures == [], "\n".join(failures[:30])
    # every case keeps the schema and the stated x-constraints: none may be refused as malformed (ST202)
    assert statuses[200] > 0 and statuses[400] == statuses[422] == 0
    assert statuses[403] == 0, "a route refused its key: the webhook routes must be exercised past authentication"
