"""Finish the SAM template `chalice package` writes, so it deploys and works on AWS.

    python3 infra/finish_sam.py out/<stage>/sam.json --stage <stage>     (rewrites the file in place)

Generic over whatever functions the template holds (a new venue's collector, a new schedule or
async consumer needs nothing here). For every AWS::Serverless::Function it:

* names it explicitly `<app>-<stage>-<LogicalId>` and gives it a log group of that name with
  `RetentionInDays` (parameter LogRetentionDays); the function DependsOn the group, so Lambda never
  creates it first (Chalice's SAM output sets no FunctionName: CloudFormation picked
  `<stack>-Analyze-<random>`, which no configured name matched);
* replaces each environment value `<app>-<stage>-<chalice function name>` (e.g.
  ANALYSIS_FUNCTION_NAME) with `{"Ref": <that function>}`; a value naming a function that is not
  in the template stops the build. A function's reference to itself is dropped (it would be a
  circular dependency; Lambda sets AWS_LAMBDA_FUNCTION_NAME);
* scopes its role: `lambda:InvokeFunction` to exactly the functions its environment names,
  `execute-api:ManageConnections` to this stack's WebSocket API, `arn:*:<svc>:*:*:` patterns to
  this partition/region/account;
* runs it in the VPC given by the SubnetIds / SecurityGroupIds parameters (RDS Proxy and
  ElastiCache are reachable only there; egress to venues and to the WebSocket management API is
  through the NAT gateway of those subnets, infra/README.md);
* if it is invoked asynchronously (a schedule, or named by another function's environment, which
  `lambda.invoke(InvocationType="Event")`s it): an on-failure destination, the FailedInvocations
  SQS queue, with sqs:SendMessage on its role; each schedule's EventBridge target gets the same
  queue as dead-letter queue and a retry policy.

The REST and WebSocket stages get access logs (JSON, own log group), throttling and tracing.
Any string still containing REPLACE stops the build: placeholders never reach a deployment.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTION = "AWS::Serverless::Function"
QUEUE = "FailedInvocations"
ASYNC_EVENTS = {"Schedule", "CloudWatchEvent", "EventBridgeRule"}
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTime",
    "method": "$context.httpMethod", "path": "$context.path", "route": "$context.routeKey",
    "eventType": "$context.eventType", "status": "$context.status", "length": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "error": "$context.error.message",
}, separators=(",", ":"))
# stated, not defaulted (cfn-lint I3011): deleting the stack deletes its logs and dead letters, so a
# redeploy can create the explicitly named log groups again
DELETE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653]


class TemplateError(ValueError):
    """The template cannot be deployed as it is; the message says what and where."""


def to_cfn_resource_name(name: str) -> str:
    """Chalice's own mapping from a function name to its logical id (chalice.utils)."""
    from chalice.utils import to_cfn_resource_name as chalice_name

    return str(chalice_name(name))


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [s for i, v in enumerate(node) for s in _strings(v, f"{path}[{i}]")]
    return []


def refuse_placeholders(template: dict[str, Any]) -> None:
    found = [f"{p} = {s!r}" for p, s in _strings(template.get("Resources", {})) if "REPLACE" in s]
    if found:
        raise TemplateError("placeholders left in the template (set real values, never deploy these):\n  "
                            + "\n  ".join(found[:20]))


def _sub_arn(resource: Any, websocket_api: str | None) -> Any:
    """`arn:*:svc:*:*:rest` -> Fn::Sub with this partition/region/account (and this WebSocket API)."""
    if isinstance(resource, list):
        return [_sub_arn(r, websocket_api) for r in resource]
    if not isinstance(resource, str):
        return resource
    m = re.match(r"^arn:\*:([a-z0-9-]+):\*:\*:(.*)$", resource)
    if not m:
        return resource
    service, rest = m.groups()
    if service == "execute-api" and websocket_api and rest.startswith("*/"):
        rest = "${" + websocket_api + "}/" + rest[2:]
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{rest}"}


def finish(template: dict[str, Any], *, app: str, stage: str) -> dict[str, Any]:
    t = copy.deepcopy(template)
    refuse_placeholders(t)
    resources: dict[str, Any] = t["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == FUNCTION}
    if not functions:
        raise TemplateError("no AWS::Serverless::Function in the template")
    prefix = f"{app}-{stage}-"
    websocket_api = next((n for n, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Api"
                          and r["Properties"].get("ProtocolType") == "WEBSOCKET"), None)

    params = t.setdefault("Parameters", {})
    params["SubnetIds"] = {"Type": "List<AWS::EC2::Subnet::Id>",
                           "Description": "private subnets (two AZs) whose route table sends 0.0.0.0/0 to a NAT gateway"}
    params["SecurityGroupIds"] = {"Type": "List<AWS::EC2::SecurityGroup::Id>",
                                  "Description": "the Lambda security group (allowed into RDS Proxy :5432 and Redis :6379)"}
    params["LogRetentionDays"] = {"Type": "Number", "Default": 30, "AllowedValues": RETENTION_DAYS}
    params["ApiThrottleRateLimit"] = {"Type": "Number", "Default": 50, "Description": "steady requests/s per stage"}
    params["ApiThrottleBurstLimit"] = {"Type": "Number", "Default": 100}

    # 1. environment values naming a function -> Ref; who invokes whom
    invokes: dict[str, set[str]] = {n: set() for n in functions}
    for name, fn in functions.items():
        variables = fn["Properties"].get("Environment", {}).get("Variables", {})
        for key, value in list(variables.items()):
            if not (isinstance(value, str) and value.startswith(prefix)):
                continue
            target = to_cfn_resource_name(value[len(prefix):])
            if target not in functions:
                raise TemplateError(f"{name}: {key}={value} names no function of this template "
                                    f"(expected logical id {target}; functions: {sorted(functions)})")
            if target == name:
                del variables[key]
                continue
            variables[key] = {"Ref": target}
            invokes[name].add(target)
    invoked = {target for targets in invokes.values() for target in targets}

    # 2. the dead-letter queue for async invocations and EventBridge targets
    resources[QUEUE] = {"Type": "AWS::SQS::Queue", **DELETE, "Properties": {
        "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
        # it is the last stop (read by an operator, 14 days): a redrive queue behind it would be one more
        "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["ES6000"]}}}}
    queue_arn = {"Fn::GetAtt": [QUEUE, "Arn"]}
    resources[f"{QUEUE}Policy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
        "Queues": [{"Ref": QUEUE}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "EventBridgeDeadLetters", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/*"}}}}]}}}

    # 3. per function: name, log group, VPC, async failure handling, role scope
    for name, fn in functions.items():
        props = fn["Properties"]
        function_name = f"{prefix}{name}"
        if len(function_name) > 64:
            raise TemplateError(f"{name}: function name {function_name} is longer than Lambda's 64 characters")
        props["FunctionName"] = function_name
        resources[f"{name}LogGroup"] = {"Type": "AWS::Logs::LogGroup", **DELETE, "Properties": {
            "LogGroupName": f"/aws/lambda/{function_name}", "RetentionInDays": {"Ref": "LogRetentionDays"}}}
        fn["DependsOn"] = sorted({*_as_list(fn.get("DependsOn")), f"{name}LogGroup"})
        props["VpcConfig"] = {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}}

        scheduled = [e for e in props.get("Events", {}).values() if e["Type"] in ASYNC_EVENTS]
        is_async = bool(scheduled) or name in invoked
        for event in scheduled:
            event["Properties"]["DeadLetterConfig"] = {"Arn": queue_arn}
            # a collector retried after its next run would only duplicate it: bounded age and attempts
            event["Properties"]["RetryPolicy"] = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300}
        if is_async:
            props["EventInvokeConfig"] = {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 300,
                                          "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": queue_arn}}}

        role_ref = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
        role = resources.get(role_ref) if role_ref else None
        if role is None or role["Type"] != "AWS::IAM::Role":
            raise TemplateError(f"{name}: expected Role: GetAtt <its AWS::IAM::Role>.Arn, got {props.get('Role')!r}")
        for policy in role["Properties"].get("Policies", []):
            statements = []
            for st in policy["PolicyDocument"]["Statement"]:
                actions = _as_list(st["Action"])
                if "lambda:InvokeFunction" in actions:
                    if not invokes[name]:
                        continue   # invokes nothing: no lambda:InvokeFunction at all
                    st["Resource"] = [{"Fn::GetAtt": [target, "Arn"]} for target in sorted(invokes[name])]
                else:
                    st["Resource"] = _sub_arn(st["Resource"], websocket_api)
                statements.append(st)
            if is_async:
                statements.append({"Sid": "FailedInvocations", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                                   "Resource": queue_arn})
            policy["PolicyDocument"]["Statement"] = statements

    # 4. APIs: access logs, throttling, tracing
    for name, res in list(resources.items()):
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Api":
            group = f"{name}AccessLogs"
            resources[group] = _log_group()
            props["AccessLogSetting"] = {"DestinationArn": {"Fn::GetAtt": [group, "Arn"]},
                                         "Format": ACCESS_LOG_FORMAT}
            props["MethodSettings"] = [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
                                        "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
                                        "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"}}]
            props["TracingEnabled"] = True
        elif res["Type"] == "AWS::ApiGatewayV2::Stage":
            group = f"{name}AccessLogs"
            resources[group] = _log_group()
            props["AccessLogSettings"] = {"DestinationArn": {"Fn::GetAtt": [group, "Arn"]},
                                          "Format": ACCESS_LOG_FORMAT}
            props["DefaultRouteSettings"] = {"ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
                                             "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"}}

    t.setdefault("Outputs", {})["FailedInvocationsQueueUrl"] = {"Value": {"Ref": QUEUE}}
    return t


def _log_group() -> dict[str, Any]:
    return {"Type": "AWS::Logs::LogGroup", **DELETE, "Properties": {"RetentionInDays": {"Ref": "LogRetentionDays"}}}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    app = json.loads((ROOT / ".chalice" / "config.json").read_text())["app_name"]
    try:
        finished = finish(json.loads(args.template.read_text()), app=app, stage=args.stage)
    except TemplateError as exc:
        print(f"finish_sam: {exc}", file=sys.stderr)
        return 1
    args.template.write_text(json.dumps(finished, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
