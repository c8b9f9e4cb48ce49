"""`chalice package` with infra/webhooks-queue.sam.json merged: the delivery queue, its consumer, its DLQ.

The consumer (`webhook-deliver`) is the app's own `on_sqs_message` handler; the queue, dead-letter
queue, alarm and IAM policies come from the merge template (chalice declares event sources, never
the queues they read). cfn-lint checks the merged template (CI installs it through the dev extra).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_packaging import ROOT, package

MERGE = ROOT / "infra" / "webhooks-queue.sam.json"


def test_sam_template_has_the_queue_its_consumer_and_the_dead_letter_queue(tmp_path: Path) -> None:
    out = package(tmp_path, "dev", "--merge-template", str(MERGE))
    template = json.loads((out / "sam.json").read_text())
    resources = template["Resources"]
    consumer = resources["WebhookDeliver"]
    props = consumer["Properties"]
    assert consumer["Type"] == "AWS::Serverless::Function"
    assert props["Handler"] == "chalicelib.webhooks.handlers.webhook_deliver"
    (source,) = props["Events"].values()
    assert source["Type"] == "SQS" and source["Properties"]["BatchSize"] == 1
    # the consumer reads this stack's queue, the one the merge template creates under the same name
    assert source["Properties"]["Queue"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-webhooks"}
    queue, dlq = resources["WebhookDeliveryQueue"], resources["WebhookDeliveryDLQ"]
    assert queue["Type"] == dlq["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["QueueName"] == {"Fn::Sub": "${AWS::StackName}-webhooks"}
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["WebhookDeliveryDLQ", "Arn"]}, "maxReceiveCount": 5}
    # a message stays invisible longer than the consumer may run (AWS: visibility >= function timeout)
    assert queue["Properties"]["VisibilityTimeout"] >= props["Timeout"]
    assert consumer["DependsOn"] == ["WebhookQueueConsume"]
    consume = resources["WebhookQueueConsume"]["Properties"]
    assert consume["Roles"] == [{"Ref": "WebhookDeliverRole"}]
    assert "sqs:ReceiveMessage" in consume["PolicyDocument"]["Statement"][0]["Action"]
    senders = {r["Ref"] for r in resources["WebhookQueueSend"]["Properties"]["Roles"]}
    assert senders == {"AnalyzeRole", "ApiHandlerRole", "WebhookDeliverRole", "WebhookSweepRole"}
    for name in ("Analyze", "APIHandler", "WebhookDeliver", "WebhookSweep"):
        env = resources[name]["Properties"]["Environment"]["Variables"]
        assert env["WEBHOOK_QUEUE_URL"] == {"Ref": "WebhookDeliveryQueue"}
        assert env["DATABASE_URL"].startswith("{{resolve:")     # chalice's own variables survive the merge
    sweep = resources["WebhookSweep"]["Properties"]["Events"]
    assert [e["Properties"]["Schedule"] for e in sweep.values()] == ["rate(5 minutes)"]

    try:
        import cfnlint  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("cfn-lint is missing under CI=true (pyproject dev extra)")
        pytest.skip("cfn-lint not installed (pip install -e '.[dev]')")
    lint = subprocess.run([sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
                           str(out / "sam.json")], capture_output=True, text=True, timeout=300)
    print("\ncfn-lint:", lint.returncode, lint.stdout[-2000:])
    assert lint.returncode == 0, lint.stdout + lint.stderr
