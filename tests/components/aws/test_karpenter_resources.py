"""Karpenter under Pulumi's mocks: what the prod stack (three Karpenter pools) registers for it, against what
Karpenter's release says (the vendored getting-started CloudFormation template and chart, read independently of
components/aws/karpenter_release.py here)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from fleet_fixtures import ROOT, stack_run

from core.karpenter import NODEPOOL_LABEL
from core.names import KARPENTER_NAMESPACE, KARPENTER_SERVICE_ACCOUNT, POOL_LABEL, SYSTEM_POOL

VENDOR = ROOT / "components" / "aws" / "vendor" / "karpenter"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@pytest.fixture(scope="module")
def prod():
    return stack_run("prod")


def of_type(run, type_):
    return [r for r in run.custom_resources if r.type == type_]


def upstream_template() -> str:
    return (VENDOR / "getting-started" / "cloudformation.yaml").read_text()


def test_karpenter_pools_are_node_pools_and_the_others_node_groups(prod):
    karpenter = {p.name for p in prod.plan.karpenter_pools}
    assert karpenter == {"training-h100", "training-a100", "batch-a10g"}
    groups = {r.inputs["labels"][POOL_LABEL] for r in of_type(prod, NODE_GROUP)}
    assert groups == {SYSTEM_POOL} | {p.name for p in prod.plan.pools} - karpenter
    assert {r.inputs["metadata"]["name"] for r in of_type(prod, NODE_POOL)} == karpenter
    assert {r.inputs["metadata"]["name"] for r in of_type(prod, NODE_CLASS)} == karpenter


def test_every_event_the_controller_handles_reaches_the_queue(prod):
    """The five rules of the release's template (SpotInterruptionRule, RebalanceRule, InstanceStateChangeRule,
    ScheduledChangeRule, CapacityReservationInterruptionRule), each with the queue as its target."""
    patterns = [json.loads(r.inputs["eventPattern"]) for r in of_type(prod, "aws:cloudwatch/eventRule:EventRule")]
    assert sorted(p["detail-type"][0] for p in patterns) == sorted(re.findall(r"- (EC2 .*|AWS Health Event)\n",
                                                                              upstream_template()))
    assert len(patterns) == 5
    (queue,) = of_type(prod, "aws:sqs/queue:Queue")
    assert queue.inputs["name"] == prod.plan.cluster.name
    assert queue.inputs["messageRetentionSeconds"] == 300 and queue.inputs["sqsManagedSseEnabled"] is True
    targets = of_type(prod, "aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 5 and {t.inputs["arn"] for t in targets} == {f"arn:aws:mock::000000000000:{queue.name}"}
    (policy,) = of_type(prod, "aws:sqs/queuePolicy:QueuePolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements[0]["Principal"]["Service"] == ["events.amazonaws.com", "sqs.amazonaws.com"]
    assert statements[1]["Effect"] == "Deny" and statements[1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_controller_gets_every_permission_of_the_release_scoped_to_this_cluster(prod):
    policies = {r.name: json.loads(r.inputs["policy"]) for r in of_type(prod, "aws:iam/policy:Policy")}
    granted = {a for doc in policies.values() for s in doc["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    # Every action the template's controller policies name (the quoted service:Action strings of its documents).
    # (Not condition keys such as "ec2:CreateAction": a key is followed by a colon.)
    upstream = set(re.findall(r'"((?:ec2|iam|eks|sqs|ssm|pricing|arc-zonal-shift):[A-Za-z]+)"(?!\s*:)', upstream_template()))
    assert granted == upstream and len(policies) == 6
    text = json.dumps(policies)
    assert "${" not in text and "kubernetes.io/cluster/gpufleet-prod" in text and ":cluster/gpufleet-prod" in text
    assert "arn:aws:ec2:us-east-1:" in text and ":000000000000:instance-profile/*" in text
    roles = {r.name: r for r in of_type(prod, "aws:iam/role:Role")}
    assert json.loads(roles["gpufleet-prod-karpenter-controller"].inputs["assumeRolePolicy"])["Statement"][0] == {
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
    # The association works through the EKS Pod Identity Agent add-on, which injects the role's credentials.
    assert "eks-pod-identity-agent" in {a.inputs["addonName"] for a in of_type(prod, "aws:eks/addon:Addon")}
    (association,) = of_type(prod, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert association.inputs["namespace"] == KARPENTER_NAMESPACE
    assert association.inputs["serviceAccount"] == KARPENTER_SERVICE_ACCOUNT
    assert association.inputs["roleArn"].endswith("gpufleet-prod-karpenter-controller")


def test_the_nodes_role_may_join_and_read_the_bundle(prod):
    entries = [r for r in of_type(prod, "aws:eks/accessEntry:AccessEntry") if r.inputs["type"] == "EC2_LINUX"]
    assert [e.inputs["principalArn"] for e in entries] == ["arn:aws:mock::000000000000:gpufleet-prod-karpenter-nodes-node"]
    node_classes = of_type(prod, NODE_CLASS)
    assert {c.inputs["spec"]["role"] for c in node_classes} == {"gpufleet-prod-karpenter-nodes-node"}
    bundle = [r for r in of_type(prod, "aws:iam/rolePolicy:RolePolicy") if r.name == "gpufleet-prod-karpenter-nodes-bundle-read"]
    assert len(bundle) == 1 and '"s3:GetObject"' in bundle[0].inputs["policy"]


def test_the_controller_runs_on_the_system_pool_with_the_clusters_settings(prod):
    (deployment,) = [d for d in of_type(prod, DEPLOYMENT) if d.inputs["metadata"]["namespace"] == KARPENTER_NAMESPACE]
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == KARPENTER_SERVICE_ACCOUNT
    assert pod["nodeSelector"][POOL_LABEL] == SYSTEM_POOL
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [{"key": NODEPOOL_LABEL, "operator": "DoesNotExist"}]
    (container,) = pod["containers"]
    assert container["image"] == "public.ecr.aws/karpenter/controller:1.13.0"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CLUSTER_NAME"] == "gpufleet-prod" and env["CLUSTER_ENDPOINT"] == "https://mock.eks.local"
    assert env["INTERRUPTION_QUEUE"] == "gpufleet-prod"
    assert "NodeRepair=true" in env["FEATURE_GATES"] and "ReservedCapacity=true" in env["FEATURE_GATES"]
    # Every gate the chart's template names is set (templates/deployment.yaml FEATURE_GATES).
    chart_gates = {"ReservedCapacity", "SpotToSpotConsolidation", "NodeRepair", "NodeOverlay", "StaticCapacity"}
    assert {g.split("=")[0] for g in env["FEATURE_GATES"].split(",")} == chart_gates
    assert container["securityContext"]["runAsNonRoot"] is True and container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_controller_is_granted_the_charts_rules(prod):
    def chart(file):
        text = "\n".join(line for line in (VENDOR / "chart" / file).read_text().splitlines() if "{{" not in line)
        return [d for d in yaml.safe_load_all(text) if d and d["kind"] in ("ClusterRole", "Role")]

    upstream = sorted(json.dumps(d["rules"], sort_keys=True)
                      for f in ("clusterrole-core.yaml", "clusterrole.yaml", "role.yaml") for d in chart(f))
    ours = [r for r in prod.custom_resources if r.type in ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                                                          "kubernetes:rbac.authorization.k8s.io/v1:Role")
            and r.inputs["metadata"]["name"].startswith("karpenter")]
    assert sorted(json.dumps(r.inputs["rules"], sort_keys=True) for r in ours) == upstream
    assert len(upstream) == 4
    dns = [r for r in ours if r.inputs["metadata"].get("namespace") == "kube-system"]
    assert [r.inputs["rules"][0]["resourceNames"] for r in dns] == [["kube-dns"]]


def test_the_release_crds_are_installed_before_the_controller(prod):
    crds = [r for r in of_type(prod, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
            if r.inputs["spec"]["group"] in ("karpenter.sh", "karpenter.k8s.aws")]
    assert sorted(c.inputs["metadata"]["name"] for c in crds) == [
        "ec2nodeclasses.karpenter.k8s.aws", "nodeclaims.karpenter.sh", "nodeoverlays.karpenter.sh", "nodepools.karpenter.sh"]
    (deployment,) = [d for d in of_type(prod, DEPLOYMENT) if d.inputs["metadata"]["namespace"] == KARPENTER_NAMESPACE]
    assert {c.urn for c in crds} <= set(deployment.dependencies)


def test_an_efa_pool_launches_in_one_subnet_and_a_placement_group(prod):
    classes = {c.inputs["metadata"]["name"]: c.inputs["spec"] for c in of_type(prod, NODE_CLASS)}
    assert len(classes["training-a100"]["subnetSelectorTerms"]) == 1 and classes["training-a100"]["placementGroupSelector"]
    assert len(classes["batch-a10g"]["subnetSelectorTerms"]) == 3 and "placementGroupSelector" not in classes["batch-a10g"]
