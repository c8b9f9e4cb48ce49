"""`chalice package` offline, SAM and Terraform: one schedule per registered DEX, the WebSocket API, the REST API.

Runs the real CLI in a subprocess with dummy AWS credentials (packaging never calls AWS). pip
resolves requirements.txt from the machine's configured indexes/wheel cache. `pytest -s` prints
the resource inventory each format produced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from chalicelib.venues import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
VENUES = sorted(m.SPEC.id for m in REGISTRY)


def package(tmp_path: Path, stage: str, *extra: str) -> Path:
    project = tmp_path / "project"   # a copy, so .chalice/deployments/ in the checkout is never touched
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "bench", ".chalice/deployments", "__pycache__", ".pytest_cache", ".hypothesis",
        ".ruff_cache", ".benchmarks", "*.egg-info", ".frs"))
    out = tmp_path / "out"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "packaging", "AWS_SECRET_ACCESS_KEY": "packaging",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)
    chalice = [sys.executable, "-m", "chalice.cli"] if shutil.which("chalice") is None else ["chalice"]
    subprocess.run([*chalice, "--project-dir", str(project), "package", "--stage", stage, *extra, str(out)],
                   check=True, env=env, capture_output=True, text=True, timeout=600)
    return out


def test_sam_template_has_a_schedule_per_dex_the_websocket_api_and_the_rest_api(tmp_path: Path) -> None:
    out = package(tmp_path, "dev")
    resources = json.loads((out / "sam.json").read_text())["Resources"]
    print("\nSAM resources:", dict(Counter(r["Type"] for r in resources.values())))
    for name, r in resources.items():
        print(f"  {r['Type']:<36} {name}")
    functions = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    schedules = {p["Handler"]: e["Properties"]["Schedule"] for p in functions.values()
                 for e in p.get("Events", {}).values() if e["Type"] == "Schedule"}
    assert {h: s for h, s in schedules.items() if ".collect_" in h} == {
        f"chalicelib.handlers.scheduled.collect_{d}": "rate(1 minute)" for d in VENUES}
    assert schedules["chalicelib.handlers.scheduled.health_check"] == "rate(5 minutes)"
    assert [r["Properties"]["ProtocolType"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"] == [
        "WEBSOCKET"]
    assert sorted(r["Properties"]["RouteKey"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route") == [
        "$connect", "$default", "$disconnect"]
    assert [n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Api"] == ["RestAPI"]
    sizes = {p["Handler"]: (p["MemorySize"], p["Timeout"]) for p in functions.values()}
    assert sizes["app.app"] == (512, 10) and sizes["chalicelib.handlers.scheduled.analyze"] == (512, 60)
    assert sizes["chalicelib.handlers.scheduled.collect_paradex"] == (256, 45)
    assert sizes["app.ws_message"] == (256, 10)
    env = functions["CollectParadex"]["Environment"]["Variables"]
    assert env["ANALYSIS_FUNCTION_NAME"] == "funding-rate-service-dev-analyze"
    assert env["DATABASE_URL"].startswith("{{resolve:secretsmanager:")   # resolved by CloudFormation at deploy
    assert (out / "deployment.zip").stat().st_size > 0


def test_terraform_has_a_rule_per_dex_the_websocket_api_and_the_rest_api(tmp_path: Path) -> None:
    out = package(tmp_path, "prod", "--pkg-format", "terraform")
    tf = json.loads((out / "chalice.tf.json").read_text())
    print("\nTerraform:", json.dumps(tf["terraform"]))
    for kind, named in tf["resource"].items():
        print(f"  {kind:<32} {sorted(named)}")
    rules = tf["resource"]["aws_cloudwatch_event_rule"]
    assert sorted(n for n in rules if n.startswith("collect-")) == [f"collect-{d}-event" for d in VENUES]
    assert {rules[f"collect-{d}-event"]["schedule_expression"] for d in VENUES} == {"rate(1 minute)"}
    (ws_api,) = tf["resource"]["aws_apigatewayv2_api"].values()
    assert ws_api["protocol_type"] == "WEBSOCKET"
    assert list(tf["resource"]["aws_api_gateway_rest_api"]) == ["rest_api"]
    lambdas = tf["resource"]["aws_lambda_function"]
    assert lambdas["collect-grvt"]["vpc_config"]["subnet_ids"] == ["subnet-REPLACE-private-a", "subnet-REPLACE-private-b"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_config_stages_name_the_analysis_function_chalice_will_create(stage: str) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["stages"][stage]["environment_variables"]["ANALYSIS_FUNCTION_NAME"] == (
        f"{config['app_name']}-{stage}-analyze")


def test_the_docker_image_layout_finds_its_migrations(tmp_path: Path, db_url: str) -> None:
    """The Dockerfile installs the package non-editable: sql/ is not beside chalicelib, so `frs migrate`
    (the compose `migrate` service, and `frs local` in the `app` service) needs the image's environment."""
    import re
    import shlex

    dockerfile = (ROOT / "Dockerfile").read_text()
    workdir = re.search(r"^WORKDIR (\S+)$", dockerfile, re.M).group(1)
    image_env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", dockerfile, re.M):
        image_env.update(pair.split("=", 1) for pair in shlex.split(line))
    assert re.search(r"^COPY sql \./sql$", dockerfile, re.M)
    # the image, in tmp_path: <workdir> holds sql/, site-packages holds chalicelib and app.py
    app_dir, site = tmp_path / workdir.strip("/"), tmp_path / "site-packages"
    shutil.copytree(ROOT / "sql", app_dir / "sql")
    shutil.copytree(ROOT / "chalicelib", site / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "app.py", site / "app.py")
    env = {k: v for k, v in os.environ.items() if k not in ("FRS_SQL_DIR", "PYTHONPATH")}
    env.update({k: v.replace(workdir, str(app_dir), 1) if v.startswith(workdir) else v for k, v in image_env.items()})
    env.update({"PYTHONPATH": str(site), "DATABASE_URL": db_url})
    code = ("import sys, chalicelib; assert chalicelib.__file__.startswith(sys.argv[1]), chalicelib.__file__; "
            "from chalicelib.cli import main; sys.exit(main(['migrate']))")
    done = subprocess.run([sys.executable, "-c", code, str(site)], cwd=app_dir, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
