#!/usr/bin/env bash
# Package and deploy the Chalice app. See infra/README.md for the AWS resources this expects.
#
#   infra/deploy.sh sam       <stage>   # chalice package -> sam deploy (CloudFormation resolves secrets)
#   infra/deploy.sh terraform <stage>   # chalice package --pkg-format terraform -> terraform apply
#   infra/deploy.sh package   <stage>   # only build out/<stage>/ (offline; CI artifact)
#   infra/deploy.sh migrate             # frs migrate against $DATABASE_URL (bastion/CodeBuild, never a Lambda)
#
# Environment: AWS credentials/region as usual; STACK_NAME (default funding-rate-service-<stage>);
# DEPLOY_BUCKET (S3 bucket for the SAM artifact).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"; stage="${2:-dev}"
out="out/${stage}"
stack="${STACK_NAME:-funding-rate-service-${stage}}"

package() {
  local format="$1"
  rm -rf "${out}"
  if [ "${format}" = "terraform" ]; then
    chalice package --stage "${stage}" --pkg-format terraform "${out}"
  else
    chalice package --stage "${stage}" "${out}"
  fi
  echo "deploy: packaged ${format} for stage ${stage} into ${out}/"
}

case "${cmd}" in
  package)
    package "${3:-cloudformation}"
    ;;
  sam)
    : "${DEPLOY_BUCKET:?set DEPLOY_BUCKET to an S3 bucket for the deployment package}"
    package cloudformation
    # sam.json still holds {{resolve:secretsmanager:...}} / {{resolve:ssm:...}} strings in the Lambda
    # environment: CloudFormation resolves them at deploy time, so no secret is in git or in the artifact.
    sam package --template-file "${out}/sam.json" --s3-bucket "${DEPLOY_BUCKET}" \
      --output-template-file "${out}/packaged.yaml"
    sam deploy --template-file "${out}/packaged.yaml" --stack-name "${stack}" \
      --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset
    aws cloudformation describe-stacks --stack-name "${stack}" \
      --query "Stacks[0].Outputs[?OutputKey=='EndpointURL' || OutputKey=='WebsocketConnectEndpointURL']" --output table
    ;;
  terraform)
    package terraform
    # Terraform does not understand CloudFormation dynamic references: replace them with values read
    # from Secrets Manager / SSM by Terraform itself (an *_override.tf.json merges into chalice.tf.json).
    python3 infra/tf_secrets_override.py "${out}/chalice.tf.json" > "${out}/secrets_override.tf.json"
    # chalice.tf.json pins terraform < 1.4 and the AWS provider >= 3.61, < 5 (chalice 1.34).
    (cd "${out}" && terraform init -input=false && terraform apply -input=false)
    ;;
  migrate)
    : "${DATABASE_URL:?set DATABASE_URL (through RDS Proxy or directly to the writer)}"
    frs migrate
    ;;
  *)
    sed -n '2,12p' "$0"; exit 2
    ;;
esac
