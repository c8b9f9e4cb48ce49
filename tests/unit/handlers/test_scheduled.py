"""Schedules generated from the venue registry, the collector cycle, chaining (in-process and Lambda), health, maintenance."""

from __future__ import annotations

import importlib
import json
import time
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import ANY, Stubber
from chalice.app import ScheduledEventConfig
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.cache import keys
from chalicelib.settings import Settings
from chalicelib.venues import REGISTRY
from tests.fakes import FIXTURES_HL, Env, snap

pytestmark = pytest.mark.usefixtures("env")


def hyperliquid_transport(status: int = 200) -> httpx.MockTransport:
    body = json.loads(FIXTURES_HL.read_text())

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/info") and json.loads(request.content) == {"type": "metaAndAssetCtxs"}
        return httpx.Response(status, json=body if status == 200 else {"error": "boom"})

    return httpx.MockTransport(handle)


def use_transport(transport: httpx.MockTransport) -> None:
    wiring.override(collect_kwargs={"client": httpx.Client(transport=transport)})


def schedule_event(client: Client) -> dict[str, Any]:
    return client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                           resources=["arn:aws:events:us-east-1:123456789012:rule/collect"])


def test_one_collector_schedule_per_registered_venue_and_handler_strings_resolve() -> None:
    schedules = {e.name: e for e in app.event_sources if isinstance(e, ScheduledEventConfig)}
    venue_ids = [m.SPEC.id for m in REGISTRY]
    assert sorted(n for n in schedules if n.startswith("collect-")) == sorted(f"collect-{d}" for d in venue_ids)
    for dex in venue_ids:
        assert schedules[f"collect-{dex}"].schedule_expression.to_string() == "rate(1 minute)"
    assert schedules["health-check"].schedule_expression.to_string() == "rate(5 minutes)"
    assert schedules["maintenance"].schedule_expression.to_string() == "cron(17 3 * * ? *)"
    assert [f.name for f in app.pure_lambda_functions] == ["analyze"]
    for config in [*schedules.values(), *app.pure_lambda_functions]:   # what the Lambda runtime will import
        module, attr = config.handler_string.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), attr))


def test_collector_stores_caches_and_runs_the_analysis_in_process(env: Env) -> None:
    now_ms = int(time.time() * 1000)
    env.storage.latest[("paradex", "BTC")] = snap("paradex", "BTC", "0.0009", 8, at_ms=now_ms)
    use_transport(hyperliquid_transport())
    with Client(app) as client:
        summary = client.lambda_.invoke("collect-hyperliquid", schedule_event(client)).payload

    assert summary["status"] == "success" and summary["markets"] == 3
    assert sorted(s.symbol for s in env.storage.ingested) == ["BTC", "ETH", "HPOS"]
    assert [(o.dex, o.status, o.markets) for o in env.storage.outcomes] == [("hyperliquid", "success", 3)]
    cached = json.loads(env.kv.get(keys.latest_rates_dex("hyperliquid")))
    assert {d["symbol"]: d["funding_rate"] for d in cached} == {"BTC": "0.0000125", "ETH": "0.0000125", "HPOS": "0.0000125"}

    analysis = summary["analysis"]
    assert analysis["mode"] == "inprocess"
    result = analysis["result"]
    assert result["sources"]["hyperliquid"] == "redis" and result["sources"]["paradex"] == "database"
    # BTC: hyperliquid 0.0000125/h -> rate_8h 0.0001 (long); paradex 0.0009/8h (short).
    # divergence 0.0008; fees 2*(0.00015+0.00003)=0.00036; net 0.0001*8 - 0.00036 = 0.00044
    (opp,) = env.storage.opportunities[0]
    assert (opp.symbol, opp.long_dex, opp.short_dex) == ("BTC", "hyperliquid", "paradex")
    assert opp.divergence == Decimal("0.0008") and opp.net_profit_percent == Decimal("0.00044")
    assert result["events"] == {"opened": 1, "updated": 0, "closed": 0}


def test_a_redis_outage_after_storing_still_chains_the_analysis(env: Env) -> None:
    import redis

    class RedisDown:
        def __getattr__(self, name: str) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                raise redis.exceptions.TimeoutError("Timeout reading from redis:6379")

            return call

    now_ms = int(time.time() * 1000)
    env.storage.latest[("paradex", "BTC")] = snap("paradex", "BTC", "0.0009", 8, at_ms=now_ms)
    wiring.override(kv=RedisDown())
    use_transport(hyperliquid_transport())
    with Client(app) as client:
        summary = client.lambda_.invoke("collect-hyperliquid", schedule_event(client)).payload
    assert summary["status"] == "success" and summary["markets"] == 3
    assert [(o.dex, o.status, o.markets) for o in env.storage.outcomes] == [("hyperliquid", "success", 3)]
    result = summary["analysis"]["result"]
    assert result["redis"] == "unavailable" and result["sources"]["hyperliquid"] == "database"
    (opp,) = env.storage.opportunities[0]      # net 0.0001*8 - 2*(0.00015+0.00003), as above
    assert (opp.id, opp.net_profit_percent) == ("BTC:hyperliquid:paradex", Decimal("0.00044"))


def test_collector_on_aws_invokes_the_analysis_function_asynchronously(env: Env, monkeypatch) -> None:
    monkeypatch.delenv("FRS_CHAIN")
    wiring.override(settings=Settings.from_env({"USE_REDIS": "false",
                                                "ANALYSIS_FUNCTION_NAME": "funding-rate-service-prod-analyze"}))
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    sent: list[dict[str, Any]] = []
    lambda_client.meta.events.register("provide-client-params.lambda.Invoke", lambda params, **_: sent.append(params))
    stubber = Stubber(lambda_client)
    stubber.add_response("invoke", {"StatusCode": 202}, expected_params={
        "FunctionName": "funding-rate-service-prod-analyze", "InvocationType": "Event", "Payload": ANY})
    wiring.override(lambda_client=lambda_client)
    use_transport(hyperliquid_transport())
    with stubber, Client(app) as client:
        event = schedule_event(client)
        summary = client.lambda_.invoke("collect-hyperliquid", event).payload
        stubber.assert_no_pending_responses()

    assert summary["analysis"] == {"mode": "lambda", "function": "funding-rate-service-prod-analyze", "status": 202}
    payload = json.loads(sent[0]["Payload"])
    assert payload["source"] == "collector" and payload["dex_name"] == "hyperliquid" and payload["markets"] == 3
    assert payload["correlation_id"] == event["id"]         # the analysis logs carry the schedule's id
    assert env.storage.opportunities == []                  # nothing ran in this process


def test_a_failed_venue_is_logged_and_does_not_chain(env: Env) -> None:
    use_transport(hyperliquid_transport(status=400))   # 4xx: not retried
    with Client(app) as client:
        summary = client.lambda_.invoke("collect-hyperliquid", schedule_event(client)).payload
    assert summary["status"] == "failed" and summary["markets"] == 0 and "analysis" not in summary
    assert [(o.status, o.markets) for o in env.storage.outcomes] == [("failed", 0)]
    assert env.storage.outcomes[0].error and "400" in env.storage.outcomes[0].error
    assert env.kv.get(keys.latest_rates_dex("hyperliquid")) is None


def test_health_check_labels_each_venue_from_breaker_and_collection_logs(env: Env) -> None:
    now = int(time.time() * 1000)
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + "Z"  # noqa: E731
    env.storage.health = [
        {"dex_name": "hyperliquid", "error_rate_percent": 0, "consecutive_errors": 0, "last_successful_fetch": iso(now - 30_000)},
        {"dex_name": "paradex", "error_rate_percent": 10.0, "consecutive_errors": 0, "last_successful_fetch": iso(now - 30_000)},
        {"dex_name": "lighter", "error_rate_percent": 0, "consecutive_errors": 0, "last_successful_fetch": iso(now - 30_000)},
        {"dex_name": "edgex", "error_rate_percent": 0, "consecutive_errors": 0, "last_successful_fetch": iso(now - 600_000)},
    ]
    env.kv.set(keys.breaker("lighter"), json.dumps({"state": "open"}))
    calls: list[str] = []

    class CountingKV:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(env.kv, name)

    wiring.override(kv=CountingKV())
    with Client(app) as client:
        report = client.lambda_.invoke("health-check", schedule_event(client)).payload
    assert calls == ["mget"]                # the five breakers in one round trip; nothing written (no reader)
    assert {dex: r["status"] for dex, r in report["dexes"].items()} == {
        **{m.SPEC.id: "down" for m in REGISTRY},   # the other registered venues: never collected here
        "hyperliquid": "healthy",   # fetched 30 s ago, no errors
        "paradex": "degraded",      # 10 % of the last hour's collections failed
        "lighter": "down",          # breaker open
        "grvt": "down",             # no successful collection at all
        "edgex": "degraded",        # last success 10 min ago > 3 intervals of 60 s
    }
    assert report["dexes"]["lighter"]["breaker"] == "open"
    assert env.kv.get(keys.metrics("dex_health")) is None


def test_maintenance_keeps_the_configured_retention(env: Env) -> None:
    with Client(app) as client:
        assert client.lambda_.invoke("maintenance", schedule_event(client)).payload == {"created": 7, "dropped": 0}
    assert env.storage.maintained == [{"ahead_days": 7, "retention_days": 90}]
