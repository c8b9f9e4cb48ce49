"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine here): services, URLs, ports, health."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_services_and_their_images() -> None:
    assert set(SERVICES) == {"db", "redis", "migrate", "app", "localstack", "localstack-setup"}
    assert SERVICES["db"]["image"] == "timescale/timescaledb:latest-pg15"
    assert SERVICES["redis"]["image"] == "redis:7"
    assert SERVICES["localstack"]["profiles"] == ["localstack"]           # optional: not in a plain `up`
    assert SERVICES["localstack-setup"]["profiles"] == ["localstack"]
    assert all("profiles" not in SERVICES[s] for s in ("db", "redis", "migrate", "app"))


def test_the_app_runs_the_local_stack_reachable_from_the_host() -> None:
    app = SERVICES["app"]
    command = app["command"]
    assert command[:3] == ["frs", "local", "--replay"]
    port = int(command[command.index("--port") + 1])
    assert command[command.index("--host") + 1] == "0.0.0.0"             # reachable through the port mapping
    assert f"{port}:{port}" in app["ports"]
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    assert cmd and yaml.safe_load(cmd.group(1)) == command                 # image default == compose command
    assert f"EXPOSE {port}" in DOCKERFILE
    assert f"127.0.0.1:{port}/api/v1/health" in " ".join(app["healthcheck"]["test"])


def test_urls_point_at_the_services_with_their_credentials() -> None:
    db_env = SERVICES["db"]["environment"]
    for service in ("app", "migrate"):
        url = urlsplit(SERVICES[service]["environment"]["DATABASE_URL"])
        assert (url.scheme, url.hostname, url.port) == ("postgresql", "db", 5432)
        assert (url.username, url.password, url.path.lstrip("/")) == (
            db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"], db_env["POSTGRES_DB"])
    redis_url = urlsplit(SERVICES["app"]["environment"]["REDIS_URL"])
    assert (redis_url.scheme, redis_url.hostname, redis_url.port) == ("redis", "redis", 6379)
    assert SERVICES["app"]["environment"]["FRS_CHAIN"] == "inprocess"


def test_start_order_waits_on_health_and_the_migration() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck"
    assert SERVICES["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # retried (in the command and by compose): a fresh volume's database may still be settling
    assert SERVICES["migrate"]["command"][:2] == ["sh", "-c"] and "frs migrate && exit 0" in SERVICES["migrate"]["command"][2]
    assert SERVICES["migrate"]["restart"].startswith("on-failure")


def test_every_dockerfile_copy_source_exists() -> None:
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_terraform_finish_reads_the_secrets_the_cloudformation_references_name() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("finish_terraform", ROOT / "infra" / "finish_terraform.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tf = {"resource": {"aws_lambda_function": {"analyze": {
        "function_name": "funding-rate-service-prod-analyze", "role": "${aws_iam_role.analyze_role.arn}",
        "environment": {"variables": {
            "DATABASE_URL": "{{resolve:secretsmanager:frs/prod/database:SecretString:url}}",
            "REDIS_URL": "{{resolve:ssm:/frs/prod/redis_url}}", "LOG_LEVEL": "INFO"}}}}}}
    extra, override = module.finish(tf, app="funding-rate-service", stage="prod")
    assert extra["data"] == {"aws_secretsmanager_secret_version": {"frs_prod_database": {"secret_id": "frs/prod/database"}},
                             "aws_ssm_parameter": {"frs_prod_redis_url": {"name": "/frs/prod/redis_url"}}}
    assert "data" not in override          # new blocks never go into an override file
    assert override["resource"]["aws_lambda_function"]["analyze"]["environment"]["variables"] == {
        "DATABASE_URL": '${jsondecode(data.aws_secretsmanager_secret_version.frs_prod_database.secret_string)["url"]}',
        "REDIS_URL": "${data.aws_ssm_parameter.frs_prod_redis_url.value}", "LOG_LEVEL": "INFO"}
