"""`chalice package` offline, then the infra/ finishing steps, checked as AWS would read the result.

Runs the real CLI in a subprocess with dummy AWS credentials (packaging never calls AWS); pip
resolves requirements.txt from the configured indexes. Tests marked `deploy` need the deployed
runtime (python3.12+; CI runs them in the python3.13 chroot of infra/py313.sh, see .ci/run): the
template's Runtime is the packaging interpreter's, and cfn-lint's E2533 judges it. On an older
Python they are deselected by pyproject's addopts and fail if selected.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chalicelib.venues import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
VENUES = sorted(m.SPEC.id for m in REGISTRY)
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
APP = CONFIG["app_name"]
STAGES = sorted(CONFIG["stages"])
sys.path.insert(0, str(ROOT / "infra"))
import finish_sam  # noqa: E402
import finish_terraform  # noqa: E402

# boto3 calls the Lambda code makes -> the IAM action each needs (a call missing here fails the scan test)
AWS_CALLS = {
    ("lambda", "invoke"): "lambda:InvokeFunction",
    ("ssm", "get_parameter"): "ssm:GetParameter",
    ("apigatewaymanagementapi", "post_to_connection"): "execute-api:ManageConnections",
    ("apigatewaymanagementapi", "delete_connection"): "execute-api:ManageConnections",
    ("apigatewaymanagementapi", "get_connection"): "execute-api:ManageConnections",
    ("sqs", "send_message"): "sqs:SendMessage",
    ("sqs", "send_message_batch"): "sqs:SendMessage",
    ("sqs", "receive_message"): "sqs:ReceiveMessage",
    ("sqs", "delete_message"): "sqs:DeleteMessage",
    ("sqs", "delete_message_batch"): "sqs:DeleteMessage",
    ("sqs", "get_queue_url"): "sqs:GetQueueUrl",
    ("secretsmanager", "get_secret_value"): "secretsmanager:GetSecretValue",
}


SQS_SENDERS = {"Analyze", "APIHandler", "WebhookDeliver", "WebhookSweep"}


def package(tmp_path: Path, stage: str, *extra: str) -> Path:
    project = tmp_path / "project"   # a copy, so .chalice/deployments/ in the checkout is never touched
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "bench", ".chalice/deployments", "__pycache__", ".pytest_cache", ".hypothesis",
        ".ruff_cache", ".benchmarks", "*.egg-info", ".frs", "node_modules", "out"))
    out = tmp_path / "out"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "packaging", "AWS_SECRET_ACCESS_KEY": "packaging",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)
    chalice = [sys.executable, "-m", "chalice.cli"] if shutil.which("chalice") is None else ["chalice"]
    subprocess.run([*chalice, "--project-dir", str(project), "package", "--stage", stage, *extra, str(out)],
                   check=True, env=env, capture_output=True, text=True, timeout=600)
    return out


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """stage -> {"raw": chalice's sam.json, "finished": after infra/finish_sam.py, "dir": out dir}"""
    built = {}
    for stage in STAGES:
        out = package(tmp_path_factory.mktemp(f"sam-{stage}"), stage, "--merge-template",
                      str(ROOT / "infra" / "webhooks-queue.sam.json"))   # as infra/deploy.sh packages it
        raw = json.loads((out / "sam.json").read_text())
        built[stage] = {"raw": raw, "finished": finish_sam.finish(raw, app=APP, stage=stage), "dir": out}
    return built


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: r["Properties"] for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def test_sam_template_has_a_schedule_per_dex_the_websocket_api_and_the_rest_api(sam: dict[str, Any]) -> None:
    resources = sam["dev"]["finished"]["Resources"]
    print("\nSAM resources:", dict(Counter(r["Type"] for r in resources.values())))
    functions = _functions(sam["dev"]["finished"])
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
    assert env["DATABASE_URL"].startswith("{{resolve:secretsmanager:")   # resolved by CloudFormation at deploy
    assert (sam["dev"]["dir"] / "deployment.zip").stat().st_size > 0


def test_raw_chalice_output_names_no_function_so_the_finish_step_is_needed(sam: dict[str, Any]) -> None:
    """The defect finish_sam.py exists for: no FunctionName, so a configured name never resolved."""
    raw = _functions(sam["prod"]["raw"])
    assert all("FunctionName" not in p for p in raw.values())
    assert raw["CollectParadex"]["Environment"]["Variables"]["ANALYSIS_FUNCTION_NAME"] == f"{APP}-prod-analyze"


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_name_an_environment_names_exists_and_iam_is_scoped_to_it(sam: dict[str, Any],
                                                                                  stage: str) -> None:
    template = sam[stage]["finished"]
    resources = template["Resources"]
    functions = _functions(template)
    assert len({p["FunctionName"] for p in functions.values()}) == len(functions)
    for name, props in functions.items():
        assert props["FunctionName"] == f"{APP}-{stage}-{name}"
        # no literal `<app>-<stage>-...` left: each became a Ref to a function of this template
        refs = set()
        for key, value in props["Environment"]["Variables"].items():
            assert not (isinstance(value, str) and value.startswith(f"{APP}-")), (name, key, value)
            if isinstance(value, dict):   # a Ref to a resource of this template (a function, the webhook queue)
                assert set(value) == {"Ref"} and value["Ref"] in resources, (name, key, value)
                if value["Ref"] in functions:
                    refs.add(value["Ref"])
        role = resources[props["Role"]["Fn::GetAtt"][0]]
        statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        invoke = [s["Resource"] for s in statements if "lambda:InvokeFunction" in s["Action"]]
        # InvokeFunction on exactly the functions its environment names (ARN from the template), nothing else
        assert invoke == ([[{"Fn::GetAtt": [r, "Arn"]} for r in sorted(refs)]] if refs else []), name
        assert props["VpcConfig"] == {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}}
        log_group = resources[f"{name}LogGroup"]["Properties"]
        assert log_group["LogGroupName"] == f"/aws/lambda/{props['FunctionName']}"
    # the chain itself: every collector names the analysis function, which exists
    for dex in VENUES:
        collector = functions["Collect" + dex.capitalize()]
        assert collector["Environment"]["Variables"]["ANALYSIS_FUNCTION_NAME"] == {"Ref": "Analyze"}


@pytest.mark.parametrize("stage", STAGES)
def test_async_functions_have_failure_destinations_and_schedules_a_dlq(sam: dict[str, Any], stage: str) -> None:
    template = sam[stage]["finished"]
    functions = _functions(template)
    queue = {"Fn::GetAtt": ["FailedInvocations", "Arn"]}
    invoked = {v["Ref"] for p in functions.values() for v in p["Environment"]["Variables"].values()
               if isinstance(v, dict)}
    for name, props in functions.items():
        events = [e for e in props.get("Events", {}).values() if e["Type"] == "Schedule"]
        for event in events:
            assert event["Properties"]["DeadLetterConfig"] == {"Arn": queue}
        if events or name in invoked:
            assert props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": queue}
        else:
            assert "EventInvokeConfig" not in props, name   # REST / WebSocket handlers are invoked synchronously
    assert "Analyze" in invoked and "EventInvokeConfig" in functions["Analyze"]


def _code_aws_calls() -> set[tuple[str, str]]:
    """(service, method) of each boto3 call in the code that runs on Lambda (chalicelib minus local/, app.py)."""
    found: set[tuple[str, str]] = set()
    files = [p for p in (ROOT / "chalicelib").rglob("*.py") if "local" not in p.relative_to(ROOT).parts[1:2]]
    for path in [*files, ROOT / "app.py"]:
        text = path.read_text()
        services = set(re.findall(r"""\.client\(\s*["']([a-z0-9-]+)["']""", text))
        for service in services:
            known = {m for s, m in AWS_CALLS if s == service}
            assert known, f"{path}: boto3 client {service!r} is not in AWS_CALLS (add its calls and IAM actions)"
            found |= {(service, m) for m in known if re.search(rf"\.{m}\(", text)}
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_iam_covers_each_aws_call_the_code_makes(sam: dict[str, Any], stage: str) -> None:
    calls = _code_aws_calls()
    # today's code: chained invoke, admin key, WebSocket push
    assert {("lambda", "invoke"), ("ssm", "get_parameter"), ("apigatewaymanagementapi", "post_to_connection")} <= calls
    needed = {AWS_CALLS[c] for c in calls}
    resources = sam[stage]["finished"]["Resources"]
    for name, props in _functions(sam[stage]["finished"]).items():
        role_id = props["Role"]["Fn::GetAtt"][0]
        role = resources[role_id]
        # the role's inline policies and the standalone policies attached to it (infra/webhooks-queue.sam.json)
        documents = [p["PolicyDocument"] for p in role["Properties"]["Policies"]] + [
            r["Properties"]["PolicyDocument"] for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]]
        allowed = {a for d in documents for s in d["Statement"]
                   for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
        # the webhook queue is written by the functions that reach chalicelib.webhooks (the analysis' emit,
        # the webhook API, the consumer and the sweep); collectors and the other schedules never call SQS
        needed_here = needed if name in SQS_SENDERS else {a for a in needed if not a.startswith("sqs:")}
        # an SQS-triggered function (Chalice on_sqs_message): Lambda's poller acts with the function's role
        if any(e["Type"] == "SQS" for e in props.get("Events", {}).values()):
            needed_here = needed_here | {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
        missing = needed_here - allowed - ({"lambda:InvokeFunction"} if name == "Analyze" else set())
        assert not missing, f"{name}: role lacks {sorted(missing)}"
        ssm = [s["Resource"] for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
               if "ssm:GetParameter" in s["Action"]]
        assert ssm == [{"Fn::Sub": f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/frs/{stage}/*"}]
        assert CONFIG["stages"][stage]["environment_variables"]["ADMIN_API_KEY_SSM_PARAM"].startswith(f"/frs/{stage}/")


def test_placeholders_are_refused(sam: dict[str, Any]) -> None:
    raw = json.loads(json.dumps(sam["prod"]["raw"]))
    raw["Resources"]["Analyze"]["Properties"]["VpcConfig"] = {"SubnetIds": ["subnet-REPLACE-private-a"]}
    with pytest.raises(finish_sam.TemplateError, match=r"Analyze\.Properties\.VpcConfig\.SubnetIds\[0\]"):
        finish_sam.finish(raw, app=APP, stage="prod")
    assert "REPLACE" not in json.dumps(CONFIG)


def test_a_name_that_points_at_nothing_stops_the_build(sam: dict[str, Any]) -> None:
    raw = json.loads(json.dumps(sam["dev"]["raw"]))
    raw["Resources"]["CollectParadex"]["Properties"]["Environment"]["Variables"]["ANALYSIS_FUNCTION_NAME"] = (
        f"{APP}-dev-analyse")
    with pytest.raises(finish_sam.TemplateError, match="names no function"):
        finish_sam.finish(raw, app=APP, stage="dev")


@pytest.mark.deploy
@pytest.mark.parametrize("stage", STAGES)
def test_template_on_the_deploy_runtime_lints_clean(sam: dict[str, Any], stage: str, tmp_path: Path) -> None:
    """cfn-lint (all rules incl. informational, E2533 runtime lifecycle) + the serverless rules: 0 findings."""
    assert sys.version_info >= (3, 12), "deploy tests run on the Lambda runtime: infra/py313.sh run pytest -m deploy"
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    finished = sam[stage]["finished"]
    assert {p["Runtime"] for p in _functions(finished).values()} == {runtime}
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(finished, indent=2))
    lint = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]
    done = subprocess.run([*lint, "--append-rules", "cfn_lint_serverless.rules",
                           "--include-checks", "I", "--format", "parseable", "--", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "" and done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # the wheels in the zip are the runtime's (pydantic-core, psycopg-binary are compiled)
    import zipfile

    names = zipfile.ZipFile(sam[stage]["dir"] / "deployment.zip").namelist()
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}-x86_64"
    assert any(n.startswith("pydantic_core/_pydantic_core.") and tag in n for n in names), tag


def test_terraform_finish_adds_no_block_in_an_override_and_pins_a_provider_for_the_runtime(tmp_path: Path) -> None:
    out = package(tmp_path, "prod", "--pkg-format", "terraform")
    tf = json.loads((out / "chalice.tf.json").read_text())
    rules = tf["resource"]["aws_cloudwatch_event_rule"]
    assert sorted(n for n in rules if n.startswith("collect-")) == [f"collect-{d}-event" for d in VENUES]
    (ws_api,) = tf["resource"]["aws_apigatewayv2_api"].values()
    assert ws_api["protocol_type"] == "WEBSOCKET"
    assert tf["terraform"]["required_providers"]["aws"]["version"] == ">= 3.61.0, < 5"   # chalice's pin

    assert finish_terraform.main([str(out), "--stage", "prod"]) == 0
    extra = json.loads((out / "frs.tf.json").read_text())
    override = json.loads((out / "frs_override.tf.json").read_text())
    # Terraform: an override file may only change what the main files declare
    assert set(override) <= {"terraform", "resource"}
    for kind, blocks in override["resource"].items():
        assert set(blocks) <= set(tf["resource"][kind]), kind
    assert override["terraform"]["required_providers"]["aws"]["version"] == ">= 5.80, < 6"
    # new declarations (data sources, variables, backend) live in a normal file, none clashing with chalice's
    assert extra["terraform"] == {"backend": {"s3": {}}}
    for kind, blocks in extra["resource"].items():
        assert not set(blocks) & set(tf["resource"].get(kind, {})), kind
    for kind, blocks in extra["data"].items():
        assert not set(blocks) & set(tf["data"].get(kind, {})), kind
    functions = tf["resource"]["aws_lambda_function"]
    for key, fn in override["resource"]["aws_lambda_function"].items():
        variables = fn["environment"]["variables"]
        assert "{{resolve:" not in json.dumps(variables)
        assert variables["DATABASE_URL"] == (
            '${jsondecode(data.aws_secretsmanager_secret_version.frs_prod_database.secret_string)["url"]}')
        assert variables["ANALYSIS_FUNCTION_NAME"] == functions["analyze"]["function_name"] == f"{APP}-prod-analyze"
        assert fn["vpc_config"] == {"subnet_ids": "${var.subnet_ids}", "security_group_ids": "${var.security_group_ids}"}
        assert fn["logging_config"]["log_group"] == f"${{aws_cloudwatch_log_group.{key.replace('-', '_')}.name}}"
        assert "depends_on" not in fn   # Terraform: "The depends_on argument may not be overridden"
    policy = json.loads(override["resource"]["aws_iam_role_policy"]["collect-paradex_role"]["policy"])
    assert [s["Resource"] for s in policy["Statement"] if "lambda:InvokeFunction" in s["Action"]] == [
        ["${aws_lambda_function.analyze.arn}"]]
    invoke_configs = extra["resource"]["aws_lambda_function_event_invoke_config"]
    # every function invoked asynchronously: the chained analysis and each schedule's target (collectors,
    # health check, maintenance, settlements, webhook sweep: whatever the app declares)
    scheduled = {re.search(r"aws_lambda_function\.([\w-]+)\.arn", t["arn"]).group(1)
                 for t in tf["resource"]["aws_cloudwatch_event_target"].values()}
    assert {f"collect_{d}" for d in VENUES} | {"health_check", "maintenance"} <= {k.replace("-", "_") for k in scheduled}
    assert sorted(invoke_configs) == sorted({"analyze", *(k.replace("-", "_") for k in scheduled)})
    for target in override["resource"]["aws_cloudwatch_event_target"].values():
        assert target["dead_letter_config"] == {"arn": "${aws_sqs_queue.failed_invocations.arn}"}


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


def test_terraform_reads_the_finished_configuration(tmp_path: Path) -> None:
    """`terraform validate` needs the AWS provider, which comes only from registry.terraform.io (not
    reachable here; no registry this project may use ships it, nor a Terraform >= 1.5 CLI: PyPI's
    terraform-binary* wrappers stop at 0.11 / 1.0.3, Debian does not package it). What a local CLI does
    without providers is still worth running: `terraform init -backend=false` parses every file and
    rejects override-file mistakes (new blocks, overridden depends_on) before it fetches providers."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform CLI on PATH (not obtainable from PyPI/Debian/npm; see docstring)")
    out = package(tmp_path, "prod", "--pkg-format", "terraform")
    assert finish_terraform.main([str(out), "--stage", "prod"]) == 0
    done = subprocess.run([terraform, "init", "-backend=false", "-input=false", "-no-color"], cwd=out,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TF_IN_AUTOMATION": "1"})
    text = done.stdout + done.stderr
    # either it initialised (a provider mirror is configured) or it stopped at the provider download
    assert done.returncode == 0 or "registry.terraform.io" in text, text[-3000:]
    assert "Unsupported Terraform Core version" not in text
    for bad in ("may not be overridden", "Missing base", "Duplicate", "Unsupported argument", "Invalid"):
        assert bad not in text, text[-3000:]


def test_precompile_puts_bytecode_the_runtime_uses_beside_every_module(sam: dict[str, Any], tmp_path: Path) -> None:
    """infra/precompile.py (run by infra/deploy.sh after `chalice package`): Lambda cannot write __pycache__ in
    /var/task, so without it every cold start compiles app.py, chalicelib and the vendored packages."""
    import zipfile

    sys.path.insert(0, str(ROOT / "infra"))
    try:
        import precompile
    finally:
        sys.path.remove(str(ROOT / "infra"))
    package_zip = tmp_path / "deployment.zip"
    shutil.copy(sam["dev"]["dir"] / "deployment.zip", package_zip)
    with zipfile.ZipFile(package_zip) as z:
        # `chalice package` copies a checkout's __pycache__: the python3.13 CI run put timestamp-checked .pyc files
        # for 35 of our modules in the zip, which precompile must REPLACE (a stale-looking one is recompiled from
        # source at every cold start); one it made itself (unchecked-hash) would be kept
        before = {n: z.read(n) for n in z.namelist() if n.endswith(".pyc")}
    ours = {n for n, data in before.items() if precompile.unchecked(data)}
    count, skipped = precompile.precompile(str(package_zip))
    names = set(zipfile.ZipFile(package_zip).namelist())
    sources = {n for n in names if n.endswith(".py")}
    tag = sys.implementation.cache_tag
    assert count == len(sources) - len(skipped) - len(ours) and count > 100
    with zipfile.ZipFile(package_zip) as z:
        assert len(z.namelist()) == len(set(z.namelist()))                      # replaced, not added twice
        assert all(precompile.unchecked(z.read(precompile.pyc_name(n))) for n in sources if n not in skipped)
    assert f"__pycache__/app.{tag}.pyc" in names and f"chalicelib/api/__pycache__/params.{tag}.pyc" in names
    assert {n for n in sources if precompile.pyc_name(n) not in names} == set(skipped)
    assert precompile.precompile(str(package_zip))[0] == 0            # run twice: nothing added twice
    # the runtime loads the bytecode, not the source: change the source after compiling, the old code runs
    task = tmp_path / "task"
    zipfile.ZipFile(package_zip).extractall(task)
    (task / "chalicelib" / "api" / "params.py").write_text("raise RuntimeError('compiled from source')\n")
    (task / "probe.py").write_text("import app, chalicelib.api.params as p; print(p.OpportunityQuery.__name__, p.__file__)\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(task)}
    done = subprocess.run([sys.executable, "-c", "import probe"], cwd=task, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["OpportunityQuery", str(task / "chalicelib" / "api" / "params.py")]
