"""KarpenterController: Karpenter's AWS controller on the cluster, as its release's chart installs it
(aws/karpenter-provider-aws charts/karpenter) but as typed resources, no chart fetched at deploy time: the CRDs and
the RBAC rules are read from files vendored from the same release (karpenter_release), the Deployment follows
templates/deployment.yaml with the chart's defaults.

Choices of the fleet, not the chart's defaults:
- it runs on the system pool (never on a node it launched: karpenter.sh/nodepool DoesNotExist, as the chart), two
  replicas spread over nodes where they can be, one disrupted at a time;
- feature gates: NodeRepair on (the AWS provider replaces a node whose AcceleratedHardwareReady condition, set by
  the EKS node monitoring agent, stays False for 10 minutes: pkg/cloudprovider/cloudprovider.go RepairPolicies),
  ReservedCapacity on (the default), the rest off;
- its pod runs under the restricted pod security level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from core.facts import load_facts
from core.karpenter import NODEPOOL_LABEL
from core.names import KARPENTER_NAMESPACE, KARPENTER_SERVICE_ACCOUNT, POOL_LABEL, SYSTEM_POOL

from ..kubernetes.meta import app_labels, image, object_meta, restricted_container_security, selector_labels, \
    workload_annotations
from . import karpenter_release as release

APP = "karpenter"
CONTAINER = "controller"
METRICS_PORT, HEALTH_PORT = 8080, 8081  # the chart's controller.metrics.port, controller.healthProbe.port
RUN_AS = 65532  # the image's nonroot user (templates/deployment.yaml)
# Settings the controller reads (pkg/operator/options/options.go of core and provider; FEATURE_GATES as the chart
# spells it, every gate named).
FEATURE_GATES = {"ReservedCapacity": True, "SpotToSpotConsolidation": False, "NodeRepair": True, "NodeOverlay": False,
                 "StaticCapacity": False}
DNS_NAMESPACE = "kube-system"  # the -dns Role: the controller reads the kube-dns Service for the cluster DNS IP
RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}  # the chart's documented sizing


def feature_gates() -> str:
    return ",".join(f"{gate}={str(on).lower()}" for gate, on in FEATURE_GATES.items())


def controller_env(cluster_name: str, cluster_endpoint: str, queue: str) -> list[dict]:
    """The chart's environment for the controller container with the fleet's settings."""
    return [
        {"name": "KUBERNETES_MIN_VERSION", "value": "1.19.0-0"},
        {"name": "KARPENTER_SERVICE", "value": APP},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "METRICS_PORT", "value": str(METRICS_PORT)},
        {"name": "HEALTH_PROBE_PORT", "value": str(HEALTH_PORT)},
        {"name": "SYSTEM_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "CPU_REQUESTS", "valueFrom": {"resourceFieldRef": {"containerName": CONTAINER, "divisor": "1m",
                                                                    "resource": "requests.cpu"}}},
        {"name": "MEMORY_LIMIT", "valueFrom": {"resourceFieldRef": {"containerName": CONTAINER, "divisor": "0",
                                                                    "resource": "limits.memory"}}},
        {"name": "FEATURE_GATES", "value": feature_gates()},
        {"name": "CLUSTER_NAME", "value": cluster_name},
        {"name": "CLUSTER_ENDPOINT", "value": cluster_endpoint},
        {"name": "INTERRUPTION_QUEUE", "value": queue},
    ]


def controller_pod_spec(cluster_name: str, cluster_endpoint: str, queue: str) -> dict:
    facts = load_facts().software
    return {
        "serviceAccountName": KARPENTER_SERVICE_ACCOUNT,
        "automountServiceAccountToken": True,
        "securityContext": {"fsGroup": RUN_AS, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "priorityClassName": "system-cluster-critical",
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"kubernetes.io/os": "linux", POOL_LABEL: SYSTEM_POOL},
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": NODEPOOL_LABEL, "operator": "DoesNotExist"}]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                    "labelSelector": {"matchLabels": selector_labels(APP)}},
            }]},
        },
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "containers": [{
            "name": CONTAINER,
            "image": image(facts.karpenter_image, facts.karpenter_version),
            "securityContext": {**restricted_container_security(), "runAsNonRoot": True, "runAsUser": RUN_AS,
                                "runAsGroup": RUN_AS},
            "env": controller_env(cluster_name, cluster_endpoint, queue),
            "ports": [
                {"name": "http-metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                {"name": "http", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            ],
            "livenessProbe": {"initialDelaySeconds": 30, "timeoutSeconds": 30,
                              "httpGet": {"path": "/healthz", "port": "http"}},
            "readinessProbe": {"initialDelaySeconds": 5, "timeoutSeconds": 30,
                               "httpGet": {"path": "/readyz", "port": "http"}},
            "resources": RESOURCES,
        }],
    }


def crd_documents() -> tuple[dict, ...]:
    """The release's CRDs (EC2NodeClass, NodePool, NodeClaim, NodeOverlay), in file name order."""
    return tuple(yaml.safe_load((release.VENDOR / "crds" / path.name).read_text(encoding="utf-8"))
                 for path in sorted((release.VENDOR / "crds").glob("*.yaml")))


@dataclass(frozen=True)
class KarpenterControllerArgs:
    cluster_name: pulumi.Input[str]
    cluster_endpoint: pulumi.Input[str]
    interruption_queue: pulumi.Input[str]
    """The interruption queue's name."""
    await_workloads: bool = True


class KarpenterController(pulumi.ComponentResource):
    """Karpenter's CRDs, namespace, service account, RBAC, controller Deployment, metrics Service and PDB."""

    def __init__(self, name: str, args: KarpenterControllerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gpufleet:karpenter:KarpenterController", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.crds = [
            k8s.apiextensions.v1.CustomResourceDefinition(
                crd["metadata"]["name"],
                metadata=object_meta(crd["metadata"]["name"], annotations=crd["metadata"].get("annotations")),
                spec=crd["spec"],
                opts=child,
            )
            for crd in crd_documents()
        ]
        ns = k8s.core.v1.Namespace(KARPENTER_NAMESPACE, metadata=object_meta(KARPENTER_NAMESPACE), opts=child)
        namespace = ns.metadata.name
        account = k8s.core.v1.ServiceAccount(
            KARPENTER_SERVICE_ACCOUNT, metadata=object_meta(KARPENTER_SERVICE_ACCOUNT, namespace), opts=child
        )
        subjects = [{"kind": "ServiceAccount", "name": KARPENTER_SERVICE_ACCOUNT, "namespace": KARPENTER_NAMESPACE}]
        grants = [  # (kind, name, namespace, rules): the chart's roles, by its names (fullname karpenter)
            ("ClusterRole", f"{APP}-core", None, release.chart_rules("clusterrole-core.yaml", "ClusterRole")),
            ("ClusterRole", APP, None, release.chart_rules("clusterrole.yaml", "ClusterRole")),
            ("Role", APP, namespace, release.chart_rules("role.yaml", "Role")),
            ("Role", f"{APP}-dns", DNS_NAMESPACE, release.chart_rules("role.yaml", "Role", DNS_NAMESPACE)),
        ]
        bindings = []
        for kind, role_name, role_namespace, rules in grants:
            role_type = k8s.rbac.v1.ClusterRole if kind == "ClusterRole" else k8s.rbac.v1.Role
            binding_type = k8s.rbac.v1.ClusterRoleBinding if kind == "ClusterRole" else k8s.rbac.v1.RoleBinding
            key = f"{role_name}-{kind.lower()}"
            role = role_type(key, metadata=object_meta(role_name, role_namespace), rules=rules, opts=child)
            bindings.append(binding_type(
                key,
                metadata=object_meta(role_name, role_namespace),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role_name},
                subjects=subjects,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role, account]),
            ))
        labels = app_labels(APP)
        pod_spec = pulumi.Output.all(args.cluster_name, args.cluster_endpoint, args.interruption_queue).apply(
            lambda v: controller_pod_spec(*v)
        )
        self.deployment = k8s.apps.v1.Deployment(
            APP,
            metadata=object_meta(APP, namespace, labels, workload_annotations(args.await_workloads)),
            spec={
                "replicas": 2,
                "revisionHistoryLimit": 10,
                "strategy": {"rollingUpdate": {"maxUnavailable": 1}},
                "selector": {"matchLabels": selector_labels(APP)},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.crds, account, *bindings]),
        )
        k8s.core.v1.Service(
            APP,
            metadata=object_meta(APP, namespace),
            spec={"type": "ClusterIP", "selector": selector_labels(APP),
                  "ports": [{"name": "http-metrics", "port": METRICS_PORT, "targetPort": "http-metrics", "protocol": "TCP"}]},
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            APP,
            metadata=object_meta(APP, namespace),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(APP)}},
            opts=child,
        )
        self.register_outputs({"namespace": namespace, "version": load_facts().software.karpenter_version})
