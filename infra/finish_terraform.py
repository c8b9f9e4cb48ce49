"""Finish `chalice package --pkg-format terraform` output so `terraform apply` works on AWS.

    python3 infra/finish_terraform.py out/<stage>-tf --stage <stage>

Writes two files beside chalice.tf.json (generic over its functions, like finish_sam.py):

* `frs.tf.json` - only NEW declarations (Terraform forbids new blocks in override files): the S3
  state backend (partial: bucket/key/region come from `terraform init -backend-config`), variables
  subnet_ids / security_group_ids / log_retention_days, the data sources that read the secrets
  (`{{resolve:...}}` in .chalice/config.json is CloudFormation syntax), the FailedInvocations SQS
  queue, a log group with retention per function, an on-failure destination for every function
  invoked asynchronously (schedules; functions named by another function's environment), the
  role policies that let them send there, REST API throttling.
* `frs_override.tf.json` - changes to blocks chalice.tf.json declares: the provider pin (Chalice
  1.34 writes AWS provider `< 5`, whose last release, 4.67, predates python3.12/3.13 in its
  runtime validation; and Terraform `< 1.4`), each function's environment (secrets resolved) and
  VPC, each role policy's InvokeFunction narrowed to the functions named in the environment, each
  EventBridge target's DLQ and retry policy, the WebSocket stage's access logs and throttling.

Refuses any value still containing REPLACE.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REF = re.compile(r"^\{\{resolve:(secretsmanager|ssm):([^:}]+)(?::SecretString:([^}]+))?\}\}$")
AWS_PROVIDER = ">= 5.80, < 6"     # 5.x: python3.13 accepted; < 6: chalice's aws_api_gateway_deployment.stage_name
TERRAFORM = ">= 1.5.0"
QUEUE = "aws_sqs_queue.failed_invocations"


class TerraformError(ValueError):
    pass


def _ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")


def finish(tf: dict[str, Any], *, app: str, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    text = json.dumps(tf)
    if "REPLACE" in text:
        raise TerraformError("placeholders (REPLACE) left in chalice.tf.json: set real values first")
    res = tf["resource"]
    functions: dict[str, Any] = res["aws_lambda_function"]
    by_name = {fn["function_name"]: key for key, fn in functions.items()}
    data: dict[str, dict[str, Any]] = {"aws_secretsmanager_secret_version": {}, "aws_ssm_parameter": {}}
    new_res: dict[str, dict[str, Any]] = {"aws_cloudwatch_log_group": {}, "aws_lambda_function_event_invoke_config": {},
                                          "aws_iam_role_policy": {}}
    over: dict[str, dict[str, Any]] = {"aws_lambda_function": {}, "aws_iam_role_policy": {},
                                       "aws_cloudwatch_event_target": {}}

    invokes: dict[str, set[str]] = {key: set() for key in functions}
    for key, fn in functions.items():
        variables = dict(fn.get("environment", {}).get("variables", {}))
        for var, value in variables.items():
            value = str(value)
            match = REF.match(value)
            if match:
                kind, ref_name, json_key = match.groups()
                ident = _ident(ref_name)
                if kind == "secretsmanager":
                    data["aws_secretsmanager_secret_version"][ident] = {"secret_id": ref_name}
                    expr = f"data.aws_secretsmanager_secret_version.{ident}.secret_string"
                    variables[var] = f"${{jsondecode({expr})[\"{json_key}\"]}}" if json_key else f"${{{expr}}}"
                else:
                    data["aws_ssm_parameter"][ident] = {"name": ref_name}
                    variables[var] = f"${{data.aws_ssm_parameter.{ident}.value}}"
            elif value.startswith(f"{app}-{stage}-"):
                if value not in by_name:
                    raise TerraformError(f"{key}: {var}={value} names no function in chalice.tf.json")
                if by_name[value] != key:
                    invokes[key].add(by_name[value])
        over["aws_lambda_function"][key] = {
            "environment": {"variables": variables},
            "vpc_config": {"subnet_ids": "${var.subnet_ids}", "security_group_ids": "${var.security_group_ids}"},
            # its log group, created first (a reference, since depends_on may not be overridden)
            "logging_config": {"log_format": "Text", "log_group": f"${{aws_cloudwatch_log_group.{_ident(key)}.name}}"},
        }
        new_res["aws_cloudwatch_log_group"][_ident(key)] = {
            "name": f"/aws/lambda/{fn['function_name']}", "retention_in_days": "${var.log_retention_days}"}

    targets = res.get("aws_cloudwatch_event_target", {})
    scheduled = {t["arn"].split(".")[1] for t in targets.values()}   # ${aws_lambda_function.<key>.arn}
    invoked = {k for ks in invokes.values() for k in ks}
    for key in sorted(scheduled | invoked):
        new_res["aws_lambda_function_event_invoke_config"][_ident(key)] = {
            "function_name": f"${{aws_lambda_function.{key}.function_name}}",
            "maximum_retry_attempts": 1, "maximum_event_age_in_seconds": 300,
            "destination_config": {"on_failure": {"destination": f"${{{QUEUE}.arn}}"}}}
        role = functions[key]["role"].split(".")[1]   # ${aws_iam_role.<role>.arn}
        new_res["aws_iam_role_policy"][f"{_ident(key)}_failed_invocations"] = {
            "name": "FailedInvocations", "role": f"${{aws_iam_role.{role}.id}}",
            "policy": json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"${{{QUEUE}.arn}}"}]})}
    for name in targets:
        over["aws_cloudwatch_event_target"][name] = {
            "dead_letter_config": {"arn": f"${{{QUEUE}.arn}}"},
            "retry_policy": {"maximum_retry_attempts": 2, "maximum_event_age_in_seconds": 300}}

    # role policies: InvokeFunction only on what the function's environment names
    for name, rp in res.get("aws_iam_role_policy", {}).items():
        role_arn = "${aws_iam_role." + name + ".arn}"
        key = next((k for k, fn in functions.items() if fn["role"] == role_arn), None)
        doc = json.loads(rp["policy"])
        statements = []
        for st in doc["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if "lambda:InvokeFunction" in actions:
                if key is None or not invokes[key]:
                    continue
                st["Resource"] = [f"${{aws_lambda_function.{t}.arn}}" for t in sorted(invokes[key])]
            statements.append(st)
        doc["Statement"] = statements
        over["aws_iam_role_policy"][name] = {"policy": json.dumps(doc)}

    stages = res.get("aws_apigatewayv2_stage", {})
    if stages:
        over["aws_apigatewayv2_stage"] = {name: {
            "access_log_settings": {"destination_arn": "${aws_cloudwatch_log_group.websocket_access.arn}",
                                    "format": json.dumps({"requestId": "$context.requestId", "route": "$context.routeKey",
                                                          "eventType": "$context.eventType", "status": "$context.status",
                                                          "error": "$context.error.message"})},
            "default_route_settings": {"throttling_rate_limit": "${var.api_throttle_rate_limit}",
                                       "throttling_burst_limit": "${var.api_throttle_burst_limit}"},
        } for name in stages}
        new_res["aws_cloudwatch_log_group"]["websocket_access"] = {
            "name": f"/aws/apigateway/{app}-{stage}-websocket", "retention_in_days": "${var.log_retention_days}"}
    if "aws_api_gateway_rest_api" in res:
        new_res["aws_api_gateway_method_settings"] = {"rest_api": {
            "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}", "stage_name": "api", "method_path": "*/*",
            "settings": {"throttling_rate_limit": "${var.api_throttle_rate_limit}",
                         "throttling_burst_limit": "${var.api_throttle_burst_limit}", "metrics_enabled": True},
            "depends_on": ["aws_api_gateway_deployment.rest_api"]}}

    new_res["aws_sqs_queue"] = {"failed_invocations": {
        "name": f"{app}-{stage}-failed-invocations", "message_retention_seconds": 1209600, "sqs_managed_sse_enabled": True}}
    new_res["aws_sqs_queue_policy"] = {"failed_invocations": {
        "queue_url": f"${{{QUEUE}.id}}",
        "policy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": f"${{{QUEUE}.arn}}"}]})}}

    extra = {
        "terraform": {"backend": {"s3": {}}},
        "variable": {
            "subnet_ids": {"type": "list(string)", "description": "private subnets routed through a NAT gateway"},
            "security_group_ids": {"type": "list(string)", "description": "the Lambda security group"},
            "log_retention_days": {"type": "number", "default": 30},
            "api_throttle_rate_limit": {"type": "number", "default": 50},
            "api_throttle_burst_limit": {"type": "number", "default": 100},
        },
        "data": {k: v for k, v in data.items() if v},
        "resource": {k: v for k, v in new_res.items() if v},
        "output": {"failed_invocations_queue_url": {"value": f"${{{QUEUE}.id}}"}},
    }
    override = {
        "terraform": {"required_version": TERRAFORM,
                      "required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER}}},
        "resource": {k: v for k, v in over.items() if v},
    }
    return extra, override


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    app = json.loads((ROOT / ".chalice" / "config.json").read_text())["app_name"]
    try:
        extra, override = finish(json.loads((args.directory / "chalice.tf.json").read_text()), app=app,
                                 stage=args.stage)
    except TerraformError as exc:
        print(f"finish_terraform: {exc}", file=sys.stderr)
        return 1
    (args.directory / "frs.tf.json").write_text(json.dumps(extra, indent=2) + "\n")
    (args.directory / "frs_override.tf.json").write_text(json.dumps(override, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
