"""Create in LocalStack (or any AWS-API endpoint) what an AWS stage of the service reads:

* SSM `/frs/<stage>/admin_api_key` (SecureString; the REST layer's admin routes read it with
  ssm:GetParameter, ADMIN_API_KEY_SSM_PARAM) - a random key unless one exists or ADMIN_API_KEY is set;
* SSM `/frs/<stage>/redis_url` (String; `{{resolve:ssm:...}}` in .chalice/config.json) from FRS_REDIS_URL;
* SQS `funding-rate-service-<stage>-failed-invocations` (the dead-letter / on-failure queue of the
  schedules and the async analyze invoke, infra/finish_sam.py).

    AWS_ENDPOINT_URL=http://localhost:4566 python infra/localstack_setup.py --stage dev

Idempotent. Not created: the Secrets Manager database secret (LocalStack's free tier has it, but
nothing local resolves `{{resolve:secretsmanager:...}}`: only CloudFormation does), the WebSocket API
(API Gateway v2 is not in the free tier; `frs local` serves WebSocket and @connections instead).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

APP = "funding-rate-service"


def setup(stage: str, *, redis_url: str, admin_key: str | None = None, client: Any = None) -> dict[str, str]:
    import boto3

    make = client or boto3.client
    ssm, sqs = make("ssm"), make("sqs")
    created: dict[str, str] = {}
    key_name = f"/frs/{stage}/admin_api_key"
    try:
        ssm.get_parameter(Name=key_name)
        if admin_key:
            ssm.put_parameter(Name=key_name, Value=admin_key, Type="SecureString", Overwrite=True)
    except ssm.exceptions.ParameterNotFound:
        ssm.put_parameter(Name=key_name, Value=admin_key or secrets.token_urlsafe(32), Type="SecureString")
    created["admin_api_key"] = key_name
    ssm.put_parameter(Name=f"/frs/{stage}/redis_url", Value=redis_url, Type="String", Overwrite=True)
    created["redis_url"] = f"/frs/{stage}/redis_url"
    queue = sqs.create_queue(QueueName=f"{APP}-{stage}-failed-invocations",
                             Attributes={"MessageRetentionPeriod": "1209600"})
    created["failed_invocations_queue"] = queue["QueueUrl"]
    return created


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="seed LocalStack with the service's SSM parameters and SQS queue")
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    if not os.environ.get("AWS_ENDPOINT_URL"):
        print("localstack_setup: set AWS_ENDPOINT_URL (e.g. http://localhost:4566); refusing to touch real AWS",
              file=sys.stderr)
        return 2
    done = setup(args.stage, redis_url=os.environ.get("FRS_REDIS_URL", "redis://localhost:6379/0"),
                 admin_key=os.environ.get("ADMIN_API_KEY"))
    for what, where in done.items():
        print(f"{what}: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
