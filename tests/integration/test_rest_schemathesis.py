"""Property-based run of schemathesis over our own OpenAPI document: no input may produce a 5xx,
and every response has a documented status code and matches its documented schema.

The Chalice app is reached in-process: a tiny WSGI adapter turns each request schemathesis makes
into a chalice.test.Client call (API-Gateway-shaped event), so no port or server is needed.
Bounded (max_examples per operation) so CI stays fast; prints the number of calls made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.integration.test_rest import ADMIN_KEY, Api, make_api

MAX_EXAMPLES = 25


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


def test_no_input_yields_a_5xx(api: Api) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_adapter(api))
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            response = case.call(headers={"X-API-Key": ADMIN_KEY})
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> "
                                f"{response.status_code} {response.text[:200]}")
            try:   # documented status code, and the body matches the documented schema
                case.validate_response(response, checks=[status_code_conformance, response_schema_conformance,
                                                         content_type_conformance])
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup describing it
                failures.append(f"{case.method} {case.formatted_path} {case.query}: {str(exc)[:400]}")

        exercise()
    calls = sum(statuses.values())
    print(f"\nschemathesis: {calls} calls, statuses {dict(sorted(statuses.items()))}, "
          f"5xx: {sum(n for code, n in statuses.items() if code >= 500)}, failures: {len(failures)}")
    assert calls >= 16 * 5
    assert failures == [], "\n".join(failures[:10])
    assert statuses[200] > 0 and statuses[400] > 0
