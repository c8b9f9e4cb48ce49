"""docker-compose.yml against the Compose Specification schema, and the LocalStack seeding script.

The schema is the compose-spec JSON schema bundled in npm `dclint` 3.1.0 (infra/node;
.ci/run installs it); Docker itself is not available here, so `docker compose config` cannot run.
The seeding script runs against moto (the AWS APIs only), the same calls it makes against LocalStack.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "infra" / "node" / "node_modules" / "dclint" / "schemas" / "compose.schema.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
sys.path.insert(0, str(ROOT / "infra"))
import localstack_setup  # noqa: E402


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _errors(doc: dict[str, Any]) -> list[str]:
    import jsonschema

    if not SCHEMA.exists():
        if IN_CI:
            pytest.fail(f"compose-spec schema missing under CI=true: {SCHEMA} (npm ci --prefix infra/node)")
        pytest.skip("run: npm ci --prefix infra/node")
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_matches_the_compose_spec() -> None:
    assert _errors(_compose()) == []


def test_the_schema_check_catches_a_broken_file() -> None:
    broken = _compose()
    broken["services"]["migrate"]["restart"] = ["no"]            # a string in the spec
    broken["services"]["db"]["healthcheck"]["retry"] = 3         # no such key (retries)
    assert len(_errors(broken)) == 2


def test_compose_start_order_survives_a_fresh_volume() -> None:
    services = _compose()["services"]
    db_check = " ".join(services["db"]["healthcheck"]["test"])
    assert "-h 127.0.0.1" in db_check      # TCP: the init server (Unix socket only) cannot pass it
    migrate = services["migrate"]
    assert migrate["restart"].startswith("on-failure") and "frs migrate" in " ".join(migrate["command"])
    assert services["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["localstack-setup"]["depends_on"]["localstack"] == {"condition": "service_healthy"}


def test_localstack_setup_creates_what_the_stage_reads() -> None:
    import boto3
    from moto import mock_aws

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = config["stages"]["dev"]["environment_variables"]
    with mock_aws():
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        first = localstack_setup.setup("dev", redis_url="redis://redis:6379/0", client=session.client)
        again = localstack_setup.setup("dev", redis_url="redis://redis:6379/0", client=session.client)
        ssm = session.client("ssm")
        key = ssm.get_parameter(Name=env["ADMIN_API_KEY_SSM_PARAM"], WithDecryption=True)["Parameter"]
        redis_ref = env["REDIS_URL"]   # {{resolve:ssm:/frs/dev/redis_url}}
        redis = ssm.get_parameter(Name=redis_ref[len("{{resolve:ssm:"):-2])["Parameter"]["Value"]
        queues = session.client("sqs").list_queues()["QueueUrls"]
    assert first == again                       # idempotent: the same names, the key kept
    assert key["Type"] == "SecureString" and len(key["Value"]) >= 32
    assert redis == "redis://redis:6379/0"
    assert [q.rsplit("/", 1)[1] for q in queues] == ["funding-rate-service-dev-failed-invocations"]


def test_localstack_setup_refuses_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert localstack_setup.main(["--stage", "dev"]) == 2
