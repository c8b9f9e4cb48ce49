"""Powertools through the middleware: JSON logs with the Lambda context and correlation id, EMF metrics per event."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import observability
from tests.unit.handlers.test_scheduled import hyperliquid_transport, schedule_event, use_transport

ROOT = Path(__file__).resolve().parents[2]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.usefixtures("env")
def test_a_collector_logs_json_with_its_context_and_flushes_emf_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    observability.logger().registered_handler.setStream(sys.stdout)   # the logger may predate this capture
    use_transport(hyperliquid_transport(status=400))
    with Client(app) as client:
        event = schedule_event(client)
        client.lambda_.invoke("collect-hyperliquid", event)
    lines = json_lines(capsys.readouterr().out)
    (collection,) = [ln for ln in lines if ln.get("message") == "collection"]
    assert collection["correlation_id"] == event["id"] and collection["function_name"] == "collect-hyperliquid"
    assert collection["event_kind"] == "schedule" and collection["summary"]["status"] == "failed"
    (emf,) = [ln for ln in lines if "_aws" in ln]
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "FundingRateService"
    assert {m["Name"] for m in directive["Metrics"]} == {"MarketsCollected", "VenueErrors"}
    assert (emf["MarketsCollected"], emf["VenueErrors"]) == ([0.0], [1.0])   # powertools writes value lists


def test_a_schedule_gets_the_middleware_when_lambda_imports_only_its_module() -> None:
    script = textwrap.dedent("""
        import json, sys
        from chalicelib import wiring
        from chalicelib.cache.store import MemoryKV
        import chalicelib.handlers.scheduled as entry          # what handler string ...scheduled.maintenance imports

        class Storage:
            def maintain(self, ahead_days, retention_days):
                return {"created": 1}

        class Context:
            function_name, aws_request_id = "funding-rate-service-prod-maintenance", "req-1"

        wiring.override(storage=Storage(), kv=MemoryKV())
        event = {"version": "0", "id": "evt-42", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "1", "time": "2025-10-06T03:17:00Z", "region": "us-east-1", "resources": [], "detail": {}}
        print("RESULT", json.dumps(entry.maintenance(event, Context())))
        print("APP_IMPORTED", "app" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert "RESULT {\"created\": 1}" in out and "APP_IMPORTED False" in out
    (handled,) = [ln for ln in json_lines(out) if ln.get("message") == "event handled"]
    assert handled["correlation_id"] == "evt-42" and handled["cold_start"] is True
    assert handled["function_name"] == "funding-rate-service-prod-maintenance"


def test_a_route_stages_its_log_keys_until_something_logs(capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, Any] = {}

    def quiet(event: Any) -> str:     # what a served request does: no log line
        seen["staged"] = observability._keys(observability._current.pending)
        return "ok"

    def noisy(event: Any) -> str:     # a request that logs: the staged keys are on its line
        observability.logger().registered_handler.stream = sys.stdout   # setStream would flush a closed capture
        observability.logger().warning("route line")
        return "ok"

    class Request:   # the shape _describe reads from chalice.app.Request
        def __init__(self) -> None:
            self.lambda_context = type("Ctx", (), {"function_name": "api", "aws_request_id": "lambda-1"})()
            self.context = {"requestId": "api-req-7"}

    assert observability.observe(Request(), quiet) == "ok"
    assert seen["staged"]["correlation_id"] == "api-req-7" and seen["staged"]["event_kind"] == "http"
    assert observability._current.pending is None            # nothing left staged after the request
    assert observability.observe(Request(), noisy) == "ok"
    (line,) = [ln for ln in json_lines(capsys.readouterr().out) if ln.get("message") == "route line"]
    assert line["correlation_id"] == "api-req-7" and line["function_request_id"] == "lambda-1"
