#!/usr/bin/env bash
# Package and deploy the Chalice app. infra/README.md is the guide (AWS resources, costs).
#
#   infra/deploy.sh package   <stage> [terraform]  # offline: out/<stage>/ (SAM) or out/<stage>-tf/ (Terraform)
#   infra/deploy.sh sam       <stage>              # package -> finish_sam.py -> sam deploy
#   infra/deploy.sh terraform <stage>              # package -> finish_terraform.py -> terraform init/apply
#   infra/deploy.sh migrate                        # frs migrate against $DATABASE_URL (bastion/CodeBuild)
#
# Packaging runs on the Lambda runtime's Python (python3.13): directly when this interpreter is 3.12+,
# else inside the trixie chroot of infra/py313.sh (root). Environment:
#   SUBNET_IDS=subnet-a,subnet-b  SECURITY_GROUP_IDS=sg-x   (required for sam/terraform: the Lambda VPC)
#   DEPLOY_BUCKET (sam: S3 bucket for the artifact); STACK_NAME (default funding-rate-service-<stage>)
#   TF_STATE_BUCKET, TF_STATE_REGION (terraform: S3 state; key funding-rate-service/<stage>.tfstate),
#   TF_LOCK_TABLE (optional DynamoDB lock table)
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"; stage="${2:-dev}"
stack="${STACK_NAME:-funding-rate-service-${stage}}"

py() { python3 "$@"; }
on_runtime() {  # run a command on the deployed Python version
  if python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then "$@"
  else infra/py313.sh run "$@"; fi
}

package() {  # package <format> <out dir>: generated files are replaced, nothing else in <out> is deleted
  local format="$1" out="$2"
  mkdir -p "${out}"
  rm -f "${out}/sam.json" "${out}/chalice.tf.json" "${out}/deployment.zip" "${out}/frs.tf.json" "${out}/frs_override.tf.json"
  local tmp="${out}/.package"
  rm -rf "${tmp}"
  if [ "${format}" = "terraform" ]; then
    on_runtime chalice package --stage "${stage}" --pkg-format terraform "${tmp}"
  else
    # the webhook delivery queue + DLQ + alarm (chalice declares the SQS event source, never the queue it reads)
    on_runtime chalice package --stage "${stage}" --merge-template infra/webhooks-queue.sam.json "${tmp}"
  fi
  mv "${tmp}"/* "${out}/" && rmdir "${tmp}"
  # bytecode for every module in the zip, compiled by the runtime's Python: /var/task is read-only, so
  # without it every cold start compiles app.py, chalicelib and the vendored packages (infra/precompile.py)
  on_runtime python3 infra/precompile.py "${out}/deployment.zip"
  if [ "${format}" = "terraform" ]; then
    py infra/finish_terraform.py "${out}" --stage "${stage}"
  else
    py infra/finish_sam.py "${out}/sam.json" --stage "${stage}"
  fi
  echo "deploy: packaged ${format} for stage ${stage} into ${out}/"
}

need_vpc() {
  : "${SUBNET_IDS:?set SUBNET_IDS=subnet-a,subnet-b (private subnets routed through a NAT gateway)}"
  : "${SECURITY_GROUP_IDS:?set SECURITY_GROUP_IDS=sg-... (the Lambda security group)}"
  case "${SUBNET_IDS},${SECURITY_GROUP_IDS}" in
    *REPLACE*|*xxxx*|*'<'*) echo "deploy: refusing placeholder VPC ids: ${SUBNET_IDS} / ${SECURITY_GROUP_IDS}" >&2; exit 1 ;;
  esac
}

case "${cmd}" in
  package)
    if [ "${3:-}" = "terraform" ]; then package terraform "out/${stage}-tf"; else package sam "out/${stage}"; fi
    ;;
  sam)
    : "${DEPLOY_BUCKET:?set DEPLOY_BUCKET to an S3 bucket for the deployment package}"
    need_vpc
    package sam "out/${stage}"
    # sam.json still holds {{resolve:secretsmanager:...}} / {{resolve:ssm:...}} in the Lambda environment:
    # CloudFormation resolves them at deploy time, so no secret is in git or in the artifact.
    sam package --template-file "out/${stage}/sam.json" --s3-bucket "${DEPLOY_BUCKET}" \
      --output-template-file "out/${stage}/packaged.yaml"
    sam deploy --template-file "out/${stage}/packaged.yaml" --stack-name "${stack}" \
      --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
      --parameter-overrides "SubnetIds=${SUBNET_IDS}" "SecurityGroupIds=${SECURITY_GROUP_IDS}" \
        "LogRetentionDays=${LOG_RETENTION_DAYS:-30}"
    aws cloudformation describe-stacks --stack-name "${stack}" --query "Stacks[0].Outputs" --output table
    ;;
  terraform)
    : "${TF_STATE_BUCKET:?set TF_STATE_BUCKET (S3 bucket holding the Terraform state)}"
    need_vpc
    out="out/${stage}-tf"
    package terraform "${out}"
    to_list() { py -c 'import json,sys; print(json.dumps(sys.argv[1].split(",")))' "$1"; }
    backend=(-backend-config="bucket=${TF_STATE_BUCKET}" -backend-config="key=funding-rate-service/${stage}.tfstate"
             -backend-config="region=${TF_STATE_REGION:-${AWS_REGION:-us-east-1}}" -backend-config="encrypt=true")
    [ -n "${TF_LOCK_TABLE:-}" ] && backend+=(-backend-config="dynamodb_table=${TF_LOCK_TABLE}")
    (cd "${out}" && terraform init -input=false "${backend[@]}" \
      && terraform apply -input=false -var "subnet_ids=$(to_list "${SUBNET_IDS}")" \
           -var "security_group_ids=$(to_list "${SECURITY_GROUP_IDS}")")
    ;;
  migrate)
    : "${DATABASE_URL:?set DATABASE_URL (through RDS Proxy or directly to the writer)}"
    frs migrate
    ;;
  *)
    sed -n '2,15p' "$0"; exit 2
    ;;
esac
