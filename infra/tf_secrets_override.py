"""Turn the CloudFormation dynamic references in chalice.tf.json into Terraform data sources.

`.chalice/config.json` keeps secrets out of git as `{{resolve:secretsmanager:NAME:SecretString:KEY}}`
and `{{resolve:ssm:NAME}}`, which CloudFormation resolves at deploy time. Terraform does not, so
this prints an override file (`*_override.tf.json`, merged by Terraform into chalice.tf.json) that
reads the same secrets/parameters and sets each Lambda's environment from them.

    python3 infra/tf_secrets_override.py out/prod/chalice.tf.json > out/prod/secrets_override.tf.json
"""

from __future__ import annotations

import json
import re
import sys

REF = re.compile(r"^\{\{resolve:(secretsmanager|ssm):([^:}]+)(?::SecretString:([^}]+))?\}\}$")


def override(tf: dict) -> dict:
    data: dict[str, dict] = {"aws_secretsmanager_secret_version": {}, "aws_ssm_parameter": {}}
    functions: dict[str, dict] = {}
    for name, fn in tf["resource"]["aws_lambda_function"].items():
        variables = dict(fn.get("environment", {}).get("variables", {}))
        changed = False
        for key, value in variables.items():
            match = REF.match(str(value))
            if not match:
                continue
            kind, ref_name, json_key = match.groups()
            ident = re.sub(r"[^A-Za-z0-9_]", "_", ref_name).strip("_")
            if kind == "secretsmanager":
                data["aws_secretsmanager_secret_version"][ident] = {"secret_id": ref_name}
                expr = f"data.aws_secretsmanager_secret_version.{ident}.secret_string"
                variables[key] = f"${{jsondecode({expr})[\"{json_key}\"]}}" if json_key else f"${{{expr}}}"
            else:
                data["aws_ssm_parameter"][ident] = {"name": ref_name}
                variables[key] = f"${{data.aws_ssm_parameter.{ident}.value}}"
            changed = True
        if changed:
            functions[name] = {"environment": {"variables": variables}}
    return {"data": {k: v for k, v in data.items() if v}, "resource": {"aws_lambda_function": functions}}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(override(json.load(handle)), indent=2))
