"""Tenancy, live: the intended access matrix and admission probes, run against an API server.

Access: one SubjectAccessReview per cell of core.tenancy.access_matrix (user and
groups in the review, no impersonation). Admission: server-side dry-run pod creates in every
tenant namespace, impersonating one of the tenant's writers, that must be admitted or rejected
(quota, Pod Security, the TenantAdmission policy). The probes are pure data (probes()), so the
offline tests evaluate the same pods against the policy's CEL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

from components.kubernetes import admission
from core.names import (
    CAPACITY_LABEL,
    CONTAINER_DEVICES_DIR,
    POOL_LABEL,
    PRIORITY_CLASSES,
    SPOT,
    SPOT_TAINT_KEY,
    SYSTEM_NAMESPACE,
    TENANT_QUOTA,
    TENANT_TAINT_KEY,
    VISIBLE_DEVICES_ENV,
)
from core.plan import FleetPlan, Taint, TenantPlan
from core.tenancy import Access, access_matrix, identity

from .kube import Impersonate, KubeClient

SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
VAP_PATH = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
VAPB_PATH = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"
PROBE_IMAGE = "registry.k8s.io/pause:3.10"
QUOTA_MARKER = "exceeded quota"
PSA_MARKER = "PodSecurity"
MARKERS = admission.RULE_MARKERS


@dataclass
class Probe:
    """A pod to create (dry run) in a tenant namespace and what should happen to it."""

    tenant: str
    name: str
    pod: dict
    admitted: bool
    reason: str = ""  # a substring of the rejection message, when rejected


@dataclass
class ProbeResult:
    tenant: str
    namespace: str
    probe: str
    as_user: str
    expected: str
    actual: str
    ok: bool
    message: str = ""


@dataclass
class Report:
    server: str
    stack: str
    access: list[dict] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    policies: list[dict] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        return (
            sum(not a["ok"] for a in self.access)
            + sum(not p.ok for p in self.probes)
            + sum(not p["ok"] for p in self.policies)
        )

    def as_dict(self) -> dict:
        return {
            "stack": self.stack,
            "server": self.server,
            "mismatches": self.mismatches,
            "policies": self.policies,
            "access": self.access,
            "probes": [asdict(p) for p in self.probes],
        }


# --- probes (pure) ------------------------------------------------------------------------------


def _container(resources: Optional[dict] = None, **extra) -> dict:
    container = {
        "name": "probe",
        "image": PROBE_IMAGE,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if resources:
        container["resources"] = resources
    container.update(extra)
    return container


def _pod(name: str, namespace: str, containers: list[dict], **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"gpufleet-probe-{name}", "namespace": namespace, "labels": {"gpufleet.io/probe": name}},
        "spec": {"containers": containers, "restartPolicy": "Never", **spec},
    }


def _gpus(resource: str, count: int, request: Optional[int] = None) -> dict:
    return {"limits": {resource: str(count)}, "requests": {resource: str(count if request is None else request)}}


def _foreign_pool(plan: FleetPlan, tenant: TenantPlan) -> str:
    others = [p.name for p in plan.pools if p.name not in tenant.pools]
    return others[0] if others else "gpufleet-no-such-pool"


def probes(plan: FleetPlan, tenant: TenantPlan, remaining_gpus: Optional[int] = None) -> list[Probe]:
    """Pods that must be admitted and pods that must be rejected in the tenant's namespace.

    remaining_gpus: what the quota still allows (default: the whole gpuQuota, an idle namespace).
    """
    ns = tenant.name
    first = tenant.placements[0]
    resource = first.gpu_resources[0]
    placement = {"nodeSelector": first.node_selector, "tolerations": [dict(t) for t in first.tolerations]}
    own_class = tenant.priority_class
    room = tenant.gpu_quota if remaining_gpus is None else remaining_gpus
    gpu_pod = lambda name, count=1, request=None, **spec_extra: _pod(  # noqa: E731
        name, ns, [_container(_gpus(resource, count, request))], **{**placement, "priorityClassName": own_class, **spec_extra}
    )
    spot = Taint(SPOT_TAINT_KEY, SPOT, "NoSchedule").as_toleration()
    found = [
        Probe(ns, "cpu-pod", _pod("cpu-pod", ns, [_container()]), True),
        Probe(ns, "gpu-pod-on-own-pool", gpu_pod("gpu-pod-on-own-pool"), True),
        Probe(ns, "gpu-requests-not-limits", gpu_pod("gpu-requests-not-limits", 2, 1), False, "equal"),
        Probe(ns, "privileged", _pod("privileged", ns, [_container(securityContext={"privileged": True})]), False, PSA_MARKER),
        Probe(ns, "host-network", _pod("host-network", ns, [_container()], hostNetwork=True), False, PSA_MARKER),
        Probe(
            ns,
            "host-path",
            _pod("host-path", ns, [_container()], volumes=[{"name": "host", "hostPath": {"path": "/"}}]),
            False,
            PSA_MARKER,
        ),
        Probe(
            ns,
            "gpu-pod-on-foreign-pool",
            gpu_pod("gpu-pod-on-foreign-pool", nodeSelector={POOL_LABEL: _foreign_pool(plan, tenant)}),
            False,
            MARKERS["pool-selected"],
        ),
        Probe(ns, "gpu-pod-without-pool", gpu_pod("gpu-pod-without-pool", nodeSelector={}), False, MARKERS["pool-selected"]),
        Probe(
            ns,
            "gpu-pod-tolerates-foreign-taints",
            gpu_pod("gpu-pod-tolerates-foreign-taints",
                    tolerations=[*placement["tolerations"], {"key": TENANT_TAINT_KEY, "operator": "Exists"}]),
            False,
            MARKERS["pool-tolerations"],
        ),
        Probe(
            ns,
            "critical-pod-on-spot",
            _pod("critical-pod-on-spot", ns, [_container()], priorityClassName=PRIORITY_CLASSES["critical"],
                 tolerations=[spot], nodeSelector={CAPACITY_LABEL: SPOT}),
            False,
            MARKERS["critical-spot"],
        ),
        Probe(
            ns,
            "mps-env",
            _pod("mps-env", ns, [_container(env=[{"name": "CUDA_MPS_PIPE_DIRECTORY", "value": "/tmp/mps"}])]),
            False,
            MARKERS["mps"],
        ),
        Probe(
            ns,
            "visible-devices-env",
            _pod("visible-devices-env", ns, [_container(env=[{"name": VISIBLE_DEVICES_ENV, "value": "all"}])]),
            False,
            MARKERS["visible-devices"],
        ),
        Probe(
            ns,
            "device-mount",
            _pod("device-mount", ns, [_container(volumeMounts=[{"name": "scratch", "mountPath": f"{CONTAINER_DEVICES_DIR}/0"}])],
                 volumes=[{"name": "scratch", "emptyDir": {}}]),
            False,
            MARKERS["visible-devices"],
        ),
        Probe(
            ns,
            "mps-resource",
            _pod("mps-resource", ns, [_container({"limits": {"nvidia.com/mps": "1"}, "requests": {"nvidia.com/mps": "1"}})]),
            False,
            MARKERS["mps"],
        ),
    ]
    found += [
        Probe(ns, f"priority-{name}", _pod(f"priority-{name}", ns, [_container()], priorityClassName=name), False, QUOTA_MARKER)
        for name in tenant.forbidden_priority_classes
    ]
    if room > 0:
        found.append(Probe(ns, f"gpu-pod-with-{room}-gpus", gpu_pod("gpu-pod-at-quota", room), True))
    found.append(Probe(ns, f"gpu-pod-with-{room + 1}-gpus", gpu_pod("gpu-pod-over-quota", room + 1), False, QUOTA_MARKER))
    return found


def writer(tenant: TenantPlan) -> Optional[Impersonate]:
    """Whom the probes run as: the tenant's first admin or editor (None: the kubeconfig's own user)."""
    for principal in [*tenant.access.admins, *tenant.access.editors]:
        who = identity(principal)
        groups = tuple(g for g in who.groups if g != "system:authenticated")
        return Impersonate(who.user, groups)
    return None


# --- live -----------------------------------------------------------------------------------------


def review(client: KubeClient, cell: Access) -> tuple[Optional[bool], str]:
    who = identity(cell.principal)
    attributes = {"verb": cell.verb, "group": cell.group, "resource": cell.resource}
    if cell.namespace:
        attributes["namespace"] = cell.namespace
    if cell.name:
        attributes["name"] = cell.name
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": who.user, "groups": list(who.groups), "resourceAttributes": attributes},
    }
    reply = client.post(SAR_PATH, body)
    if not reply.ok:
        return None, f"SubjectAccessReview failed: {reply.status} {reply.message}"
    return bool(reply.body.get("status", {}).get("allowed")), reply.body.get("status", {}).get("reason", "")


def remaining_gpus(client: KubeClient, tenant: TenantPlan) -> tuple[Optional[int], str]:
    """What the tenant's quota still allows of its first pool's first GPU resource (None when unknown)."""
    resource = f"requests.{tenant.placements[0].gpu_resources[0]}"
    reply = client.get(f"/api/v1/namespaces/{tenant.name}/resourcequotas/{TENANT_QUOTA}")
    if not reply.ok:
        return None, f"ResourceQuota {tenant.name}/{TENANT_QUOTA}: {reply.status} {reply.message}"
    status = reply.body.get("status", {})
    if resource not in status.get("hard", {}):
        return None, f"ResourceQuota {tenant.name}/{TENANT_QUOTA} has no status for {resource} yet"
    hard, used = int(status["hard"][resource]), int(status.get("used", {}).get(resource, "0"))
    return hard - used, ""


def run_probe(client: KubeClient, probe: Probe, as_user: Optional[Impersonate], fallback_user: str) -> ProbeResult:
    namespace = probe.pod["metadata"]["namespace"]
    reply = client.post(f"/api/v1/namespaces/{namespace}/pods", probe.pod, impersonate=as_user, dry_run=True)
    actual = "admitted" if reply.ok else "rejected"
    expected = "admitted" if probe.admitted else "rejected"
    ok = actual == expected and (reply.ok or not probe.reason or probe.reason in reply.message)
    message = reply.message if not reply.ok else ""
    if actual == expected and not ok:
        message = f"rejected for another reason (expected '{probe.reason}'): {message}"
    who = as_user.user if as_user else fallback_user
    return ProbeResult(probe.tenant, namespace, probe.name, who, expected, actual, ok, message)


def system_probes(client: KubeClient, user: str) -> list[ProbeResult]:
    """The fleet's own DaemonSets (device plugin, dcgm-exporter) need host access: a pod from each
    template must still be admitted in their namespace, whose Pod Security level allows it."""
    reply = client.get(f"/apis/apps/v1/namespaces/{SYSTEM_NAMESPACE}/daemonsets")
    if not reply.ok:
        return [ProbeResult(SYSTEM_NAMESPACE, SYSTEM_NAMESPACE, "list-daemonsets", user, "admitted", "rejected", False, reply.message)]
    results = []
    for daemonset in reply.body.get("items", []):
        name = daemonset["metadata"]["name"]
        template = daemonset["spec"]["template"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-probe", "namespace": SYSTEM_NAMESPACE, "labels": template["metadata"].get("labels", {})},
            "spec": template["spec"],
        }
        results.append(run_probe(client, Probe(SYSTEM_NAMESPACE, f"{name}-pod", pod, admitted=True), None, user))
    return results


def check_policies(client: KubeClient) -> list[dict]:
    """The admission policy and binding exist, and the API server type-checked the CEL without warnings."""
    results = []
    reply = client.get(f"{VAP_PATH}/{admission.POLICY_NAME}")
    warnings = []
    if reply.ok:
        checking = reply.body.get("status", {}).get("typeChecking") or {}
        warnings = [w.get("warning", "") for w in checking.get("expressionWarnings") or []]
    results.append({
        "object": f"ValidatingAdmissionPolicy {admission.POLICY_NAME}",
        "ok": reply.ok and not warnings,
        "message": reply.message if not reply.ok else "; ".join(warnings),
    })
    reply = client.get(f"{VAPB_PATH}/{admission.BINDING_NAME}")
    results.append({
        "object": f"ValidatingAdmissionPolicyBinding {admission.BINDING_NAME}",
        "ok": reply.ok,
        "message": reply.message if not reply.ok else "",
    })
    return results


def run_live(
    client: KubeClient, plan: FleetPlan, stack: str, progress: Callable[[str], None] = lambda _: None
) -> Report:
    report = Report(server=client.server, stack=stack)
    report.policies = check_policies(client)
    cells = access_matrix(plan)
    progress(f"{len(cells)} access reviews")
    for cell in cells:
        actual, reason = review(client, cell)
        report.access.append({**cell.as_dict(), "expected": cell.allowed, "actual": actual,
                              "ok": actual == cell.allowed, "reason": reason})
    for tenant in plan.tenants:
        if not tenant.pools:
            continue
        room, problem = remaining_gpus(client, tenant)
        if room is None:
            report.policies.append({"object": f"ResourceQuota {tenant.name}/{TENANT_QUOTA}", "ok": False, "message": problem})
        as_user = writer(tenant)
        for probe in probes(plan, tenant, room):
            report.probes.append(run_probe(client, probe, as_user, client.user_name or "kubeconfig user"))
    report.probes += system_probes(client, client.user_name or "kubeconfig user")
    return report
