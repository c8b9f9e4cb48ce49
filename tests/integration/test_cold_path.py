"""The route Lambda's cold path (issue 18): a fresh interpreter imports app.py and answers its first cached read
from the real Redis without importing pydantic, redis-py, psycopg or any venue module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import redis

from chalicelib.cache import keys
from chalicelib.core.codec import snapshot_to_dict
from chalicelib.core.models import MarketSnapshot
from chalicelib.core.serialize import dumps

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "redis", "psycopg", "boto3", "httpx", "aws_lambda_powertools", "chalicelib.venues.hyperliquid",
         "chalicelib.venues.base")


def test_first_cached_read_imports_nothing_heavy(db_url: str, redis_url: str) -> None:
    now_ms = int(time.time() * 1000)
    snaps = [MarketSnapshot(dex="hyperliquid", symbol="BTC", dex_symbol="BTC", funding_rate=Decimal("0.0001"),
                            funding_interval_hours=Decimal(1), mark_price=Decimal(100000), fetched_at_ms=now_ms),
             MarketSnapshot(dex="paradex", symbol="BTC", dex_symbol="BTC-USD-PERP", funding_rate=Decimal("0.0004"),
                            funding_interval_hours=Decimal(8), mark_price=Decimal(100010), fetched_at_ms=now_ms)]
    client = redis.Redis.from_url(redis_url)
    client.set(keys.latest_rates(), dumps([snapshot_to_dict(s) for s in snaps]), ex=60)   # as the analysis writes it
    client.close()
    script = textwrap.dedent("""
        import json, sys
        import app
        event = {"resource": "/api/v1/funding-rates", "path": "/api/v1/funding-rates", "httpMethod": "GET",
                 "headers": {"Host": "localhost"}, "multiValueHeaders": {}, "queryStringParameters": {"basis": "8h"},
                 "multiValueQueryStringParameters": {"basis": ["8h"]}, "pathParameters": None, "stageVariables": None,
                 "requestContext": {"resourcePath": "/api/v1/funding-rates", "httpMethod": "GET", "path": "/api/v1/funding-rates",
                                    "requestId": "r1", "stage": "api", "identity": {"sourceIp": "127.0.0.1"}},
                 "body": None, "isBase64Encoded": False}
        response = app.app(event, None)
        print(json.dumps({"response": response, "modules": sorted(sys.modules)}))
    """)
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    response, modules = result["response"], set(result["modules"])
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"], parse_float=Decimal)
    assert body["source"] == "redis"
    # 8 h basis: hyperliquid 0.0001 per 1 h interval x 8 = 0.0008; paradex 0.0004 per 8 h interval x 1 = 0.0004
    assert body["data"] == {"BTC": {"hyperliquid": Decimal("0.0008"), "paradex": Decimal("0.0004")}}
    assert [m for m in HEAVY if m in modules] == []
