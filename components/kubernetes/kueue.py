"""Kueue: the queue manager that admits the tenants' GPU Jobs, deployed as upstream installs it.

Upstream's release manifests (sigs.k8s.io/kueue config/default, kustomize with namespace kueue-system and
prefix kueue-) are rebuilt here as typed resources, no chart or manifest fetched at deploy time: the CRDs,
the manager's ClusterRole and the webhook configurations are read from files vendored from the same release
(vendor/kueue/SOURCE.md), the rest follows config/components/manager and config/default.

Choices of the fleet, not upstream's defaults:
- Only batch/v1 Jobs are queued (integrations.frameworks [batch/job]) and only the webhooks of Kueue's own
  objects and of Jobs are registered: every Kueue webhook fails closed (failurePolicy Fail), and the Pod,
  Deployment and StatefulSet ones would make every pod of the cluster depend on the manager.
- Fair sharing is on (the fairSharing block enables it; config v1beta2 has no enable field:
  pkg/scheduler/preemption/fairsharing/strategy.go Enabled), with both of upstream's preemption strategies.
- The on-demand visibility API is off (featureGates VisibilityOnDemand: false): it needs an APIService and a
  second serving certificate; `kubectl get workloads` shows the queue instead.
- The manager runs on the system pool where the fleet has one, with the fleet's container security.
The internal certificate manager stays on: it fills the webhook Secret and injects the CA bundle into the
webhook configurations and the CRDs' conversion webhooks (pkg/util/cert/cert.go), fields the fleet never sets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from core.facts import load_facts
from core.names import KUEUE_NAMESPACE, POOL_LABEL, SYSTEM_POOL

from .meta import app_labels, image, object_meta, restricted_container_security, selector_labels, workload_annotations

VENDOR = Path(__file__).resolve().parent / "vendor" / "kueue"
# libyaml's safe loader where PyYAML has it: the CRDs are 1.6 MB of YAML, read on every run of the program.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
APP = "kueue"
PREFIX = "kueue-"
SERVICE_ACCOUNT = f"{PREFIX}controller-manager"
WEBHOOK_SERVICE = f"{PREFIX}webhook-service"
WEBHOOK_SECRET = f"{PREFIX}webhook-server-cert"
CONFIG_MAP = f"{PREFIX}manager-config"
CONFIG_FILE = "controller_manager_config.yaml"
# The cert rotator injects its CA into configurations named after the webhook service (pkg/util/cert/cert.go).
MUTATING_WEBHOOKS = f"{PREFIX}mutating-webhook-configuration"
VALIDATING_WEBHOOKS = f"{PREFIX}validating-webhook-configuration"
WEBHOOK_PORT, METRICS_PORT, HEALTH_PORT = 9443, 8443, 8081
CERT_DIR = "/tmp/k8s-webhook-server/serving-certs"  # apis/config/v1beta2/defaults.go DefaultWebhookCertDir
# The CRDs whose versions convert through the manager's /convert (config/components/crd/kustomization.yaml).
CONVERTED_CRDS = ("clusterqueues", "cohorts", "localqueues", "multikueueclusters", "workloads")
# The webhooks the fleet registers: Kueue's own objects and batch/v1 Jobs (the one framework it enables).
QUEUED_FRAMEWORKS = ("batch/job",)
WEBHOOK_GROUPS = frozenset({"kueue.x-k8s.io", "batch"})
FAIR_SHARING = {"preemptionStrategies": ["LessThanOrEqualToFinalShare", "LessThanInitialShare"]}


@functools.cache
def vendored(relative: str) -> tuple[dict, ...]:
    """The documents of a vendored file (vendor/kueue/<relative>)."""
    return tuple(d for d in yaml.load_all((VENDOR / relative).read_text(encoding="utf-8"), Loader=SAFE_LOADER) if d)


def crd_documents() -> tuple[dict, ...]:
    """Every vendored CRD, in file name order."""
    return tuple(doc for path in sorted((VENDOR / "crds").glob("*.yaml")) for doc in vendored(f"crds/{path.name}"))


def crd_spec(crd: dict) -> dict:
    """The CRD's spec; the converted ones call the manager's /convert (config/components/crd/patches)."""
    spec = dict(crd["spec"])
    if spec["names"]["plural"] in CONVERTED_CRDS:
        spec["conversion"] = {
            "strategy": "Webhook",
            "webhook": {
                "clientConfig": {"service": {"namespace": KUEUE_NAMESPACE, "name": WEBHOOK_SERVICE, "path": "/convert"}},
                "conversionReviewVersions": ["v1"],
            },
        }
    return spec


def manager_rules() -> list[dict]:
    """The manager's ClusterRole rules, as the release grants them (config/components/rbac/role.yaml)."""
    (role,) = vendored("rbac/role.yaml")
    return role["rules"]


def webhooks(kind: str) -> list[dict]:
    """The release's webhooks of `kind` (MutatingWebhookConfiguration or ValidatingWebhookConfiguration) for
    Kueue's objects and Jobs, calling the manager's Service (config/components/webhook/manifests.yaml)."""
    (config,) = [d for d in vendored("webhook/manifests.yaml") if d["kind"] == kind]
    chosen = []
    for hook in config["webhooks"]:
        if not {g for rule in hook["rules"] for g in rule["apiGroups"]} <= WEBHOOK_GROUPS:
            continue
        service = {**hook["clientConfig"]["service"], "name": WEBHOOK_SERVICE, "namespace": KUEUE_NAMESPACE}
        chosen.append({**hook, "clientConfig": {"service": service}})
    return chosen


def manager_config() -> dict:
    """The manager's Configuration (apis/config/v1beta2/configuration_types.go; parsed strictly)."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": KUEUE_NAMESPACE,
        "health": {"healthProbeBindAddress": f":{HEALTH_PORT}"},
        "metrics": {"bindAddress": f":{METRICS_PORT}"},
        "webhook": {"port": WEBHOOK_PORT},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "internalCertManagement": {
            "enable": True, "webhookServiceName": WEBHOOK_SERVICE, "webhookSecretName": WEBHOOK_SECRET,
        },
        # As the release's sample configuration (config/components/manager/controller_manager_config.yaml):
        # with the defaults (client QPS 20, burst 30; one worker per kind) 200 Jobs took 2.7x as long to run
        # (benchmarks/README.md, "Kueue admission latency").
        "controller": {"groupKindConcurrency": {
            "Job.batch": 5, "Workload.kueue.x-k8s.io": 5, "LocalQueue.kueue.x-k8s.io": 1, "Cohort.kueue.x-k8s.io": 1,
            "ClusterQueue.kueue.x-k8s.io": 1, "ResourceFlavor.kueue.x-k8s.io": 1,
        }},
        "clientConnection": {"qps": 50, "burst": 100},
        "manageJobsWithoutQueueName": False,
        "integrations": {"frameworks": list(QUEUED_FRAMEWORKS)},
        "fairSharing": FAIR_SHARING,
        "featureGates": {"VisibilityOnDemand": False},
    }


def manager_pod_spec(system_pool: bool) -> dict:
    """config/components/manager/manager.yaml with config/default's webhook, metrics and config patches."""
    facts = load_facts().software
    spec = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "terminationGracePeriodSeconds": 10,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "manager",
                "image": image(facts.kueue_image, facts.kueue_version),
                "command": ["/manager"],
                "args": [f"--config=/{CONFIG_FILE}", "--zap-log-level=2"],
                "ports": [
                    {"name": "webhook-server", "containerPort": WEBHOOK_PORT, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                    {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
                ],
                "securityContext": restricted_container_security(),
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": HEALTH_PORT}, "initialDelaySeconds": 15, "periodSeconds": 20},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": HEALTH_PORT}, "initialDelaySeconds": 5, "periodSeconds": 10},
                "resources": {"limits": {"cpu": "2", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "512Mi"}},
                "volumeMounts": [
                    {"name": "cert", "mountPath": CERT_DIR, "readOnly": True},
                    {"name": "config", "mountPath": f"/{CONFIG_FILE}", "subPath": CONFIG_FILE},
                ],
            }
        ],
        "volumes": [
            {"name": "cert", "secret": {"secretName": WEBHOOK_SECRET, "defaultMode": 420}},
            {"name": "config", "configMap": {"name": CONFIG_MAP}},
        ],
    }
    if system_pool:
        spec["nodeSelector"] = {POOL_LABEL: SYSTEM_POOL}
    return spec


@dataclass(frozen=True)
class KueueArgs:
    system_pool: bool
    """The fleet has a system pool: the manager runs there (an existing cluster's own nodes otherwise)."""
    await_workloads: bool = True
    """Whether `pulumi up` waits for the manager to be ready (false where no kubelet runs pods)."""


class Kueue(pulumi.ComponentResource):
    """Kueue's CRDs, namespace, RBAC, configuration, manager Deployment, webhook Service and configurations."""

    def __init__(self, name: str, args: KueueArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gpufleet:kueue:Kueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.crds = [
            k8s.apiextensions.v1.CustomResourceDefinition(
                crd["metadata"]["name"],
                metadata=object_meta(crd["metadata"]["name"], annotations=crd["metadata"].get("annotations")),
                spec=crd_spec(crd),
                opts=child,
            )
            for crd in crd_documents()
        ]
        ns = k8s.core.v1.Namespace(
            KUEUE_NAMESPACE,
            metadata=object_meta(KUEUE_NAMESPACE),
            opts=child,
        )
        namespace = ns.metadata.name
        account = k8s.core.v1.ServiceAccount(
            SERVICE_ACCOUNT, metadata=object_meta(SERVICE_ACCOUNT, namespace), opts=child
        )
        subjects = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": KUEUE_NAMESPACE}]
        role = k8s.rbac.v1.ClusterRole(
            f"{PREFIX}manager-role", metadata=object_meta(f"{PREFIX}manager-role"), rules=manager_rules(), opts=child
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{PREFIX}manager-rolebinding",
            metadata=object_meta(f"{PREFIX}manager-rolebinding"),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{PREFIX}manager-role"},
            subjects=subjects,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role, account]),
        )
        # Namespaced: leader election (config/components/rbac/leader_election_role.yaml) and the cert rotator's
        # Secret (manager_secrets_role.yaml: no create, the Secret below exists first).
        namespaced_rules = {
            f"{PREFIX}leader-election-role": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
            ],
            f"{PREFIX}manager-secrets-role": [
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "update", "watch"]},
            ],
        }
        for role_name, rules in namespaced_rules.items():
            ns_role = k8s.rbac.v1.Role(role_name, metadata=object_meta(role_name, namespace), rules=rules, opts=child)
            k8s.rbac.v1.RoleBinding(
                f"{role_name}binding",
                metadata=object_meta(f"{role_name}binding", namespace),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
                subjects=subjects,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ns_role, account]),
            )
        secret = k8s.core.v1.Secret(WEBHOOK_SECRET, metadata=object_meta(WEBHOOK_SECRET, namespace), opts=child)
        config = k8s.core.v1.ConfigMap(
            CONFIG_MAP,
            metadata=object_meta(CONFIG_MAP, namespace),
            data={CONFIG_FILE: yaml.safe_dump(manager_config(), sort_keys=False)},
            opts=child,
        )
        labels = app_labels(APP)
        service = k8s.core.v1.Service(
            WEBHOOK_SERVICE,
            metadata=object_meta(WEBHOOK_SERVICE, namespace),
            spec={
                "selector": selector_labels(APP),
                "ports": [{"port": 443, "protocol": "TCP", "targetPort": WEBHOOK_PORT}],
            },
            opts=child,
        )
        # Before the manager is ready, not after: its cert rotator waits until it has injected the CA into both
        # configurations (pkg/util/cert/cert.go), and the manager is only ready then.
        hooks = pulumi.ResourceOptions(parent=self, depends_on=[service])
        mutating = k8s.admissionregistration.v1.MutatingWebhookConfiguration(
            MUTATING_WEBHOOKS,
            metadata=object_meta(MUTATING_WEBHOOKS),
            webhooks=webhooks("MutatingWebhookConfiguration"),
            opts=hooks,
        )
        validating = k8s.admissionregistration.v1.ValidatingWebhookConfiguration(
            VALIDATING_WEBHOOKS,
            metadata=object_meta(VALIDATING_WEBHOOKS),
            webhooks=webhooks("ValidatingWebhookConfiguration"),
            opts=hooks,
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"{PREFIX}controller-manager",
            metadata=object_meta(
                f"{PREFIX}controller-manager", namespace, labels, workload_annotations(args.await_workloads)
            ),
            spec={
                "replicas": 1,
                "selector": {"matchLabels": selector_labels(APP)},
                "template": {"metadata": {"labels": labels}, "spec": manager_pod_spec(args.system_pool)},
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*self.crds, secret, config, account, service, mutating, validating]
            ),
        )
        self.register_outputs({"namespace": namespace, "version": load_facts().software.kueue_version})
