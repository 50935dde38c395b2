"""Drift on the fleet's guard rails, live: a cluster admin edits the objects that carry the tenancy promise by
hand (as `kubectl edit` does: a patch under its own field manager), and the next `pulumi up --refresh` puts
every one back, deleted objects included.

Why it needs the fleet's `pulumi.com/patchForce` annotation (components/kubernetes/meta.py): Server-Side Apply
gives the fields a hand edit changed to the editor's field manager, and the provider's next apply of them,
without force, fails with a field conflict, and with it the whole update (Kubernetes docs, "Server-Side Apply:
Conflicts"; pulumi/pulumi-kubernetes provider/pkg/await/await.go, patchForce). Refresh first: without it the
engine diffs against its own state and sees nothing (a preview without --refresh reports no changes).

Uses the session fixture `local_engine` (tests/integration/conftest.py); deploys the stack and destroys it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import pytest
from fleet_fixtures import plan_of, stack_config
from local_engine import output_of

from components.kubernetes.admission import BINDING_NAME, POLICY_NAME
from core.names import (
    DEVICE_PLUGIN_CONFIGMAP,
    PRIORITY_CLASSES,
    PRIORITY_QUOTA,
    PSA_ENFORCE_LABEL,
    PSA_WARN_LABEL,
    SYSTEM_NAMESPACE,
    TENANT_LABEL,
    TENANT_QUOTA,
)
from gpufleet.kube import KubeClient

pytestmark = pytest.mark.integration

PLAN = plan_of(stack_config("local"))
CRITICAL = next(t for t in PLAN.tenants if t.priority == "critical").name
BATCH = next(t for t in PLAN.tenants if t.priority == "batch").name
HAND_EDITOR = "kubectl-edit"  # the field manager `kubectl edit` records


@dataclass(frozen=True)
class Edit:
    """A hand edit of one object, and the part of the object it changes (compared before and after)."""

    what: str
    path: str
    patch: Optional[dict]  # None: delete the object
    part: Callable[[dict], object]


EDITS = [
    Edit("raise a tenant's GPU quota", f"/api/v1/namespaces/{CRITICAL}/resourcequotas/{TENANT_QUOTA}",
         {"spec": {"hard": {"requests.nvidia.com/gpu": "64"}}}, lambda o: o["spec"]["hard"]),
    Edit("relax a tenant namespace's Pod Security", f"/api/v1/namespaces/{CRITICAL}",
         {"metadata": {"labels": {PSA_ENFORCE_LABEL: "privileged", PSA_WARN_LABEL: None}}},
         lambda o: {k: v for k, v in o["metadata"]["labels"].items() if k.startswith("pod-security.kubernetes.io/")}),
    Edit("widen a tenant's limit range", f"/api/v1/namespaces/{CRITICAL}/limitranges/gpufleet-limits",
         {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1000"}}]}}, lambda o: o["spec"]),
    Edit("delete a tenant's default-deny network policy",
         f"/apis/networking.k8s.io/v1/namespaces/{CRITICAL}/networkpolicies/gpufleet-default-deny", None,
         lambda o: o["spec"]),
    Edit("add someone to a tenant's editors",
         f"/apis/rbac.authorization.k8s.io/v1/namespaces/{CRITICAL}/rolebindings/gpufleet-editors",
         {"subjects": [{"kind": "User", "name": "intruder", "apiGroup": "rbac.authorization.k8s.io"}]},
         lambda o: o["subjects"]),
    Edit("let a batch tenant run critical pods", f"/api/v1/namespaces/{BATCH}/resourcequotas/{PRIORITY_QUOTA}",
         {"spec": {"hard": {"pods": "100"}}}, lambda o: o["spec"]),
    # Not validationActions: a set-typed list, whose elements added by another manager survive a forced apply
    # (README, "Drift").
    Edit("unbind the tenant pod policy from the tenant namespaces",
         f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/{BINDING_NAME}",
         {"spec": {"matchResources": {"namespaceSelector": {
             "matchExpressions": [{"key": TENANT_LABEL, "operator": "DoesNotExist"}]}}}}, lambda o: o["spec"]),
    Edit("make the tenant pod policy fail open",
         f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{POLICY_NAME}",
         {"spec": {"failurePolicy": "Ignore"}}, lambda o: o["spec"]["failurePolicy"]),
    Edit("make the batch priority class the default",
         f"/apis/scheduling.k8s.io/v1/priorityclasses/{PRIORITY_CLASSES['batch']}",
         {"globalDefault": True, "description": "edited"}, lambda o: (o.get("globalDefault"), o.get("description"))),
    Edit("rewrite the device plugin's sharing config",
         f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/configmaps/{DEVICE_PLUGIN_CONFIGMAP}",
         {"data": {PLAN.pools[0].name: "version: v1\n"}}, lambda o: o["data"]),
]


@pytest.fixture(scope="module")
def deployed(local_engine):
    up = local_engine.pulumi("up", "--yes", "--skip-preview", "--stack", "local", timeout=900)
    assert up.returncode == 0, f"pulumi up failed:\n{output_of(up)}"
    yield local_engine, KubeClient.from_kubeconfig(str(local_engine.api.kubeconfig), local_engine.api.context)
    down = local_engine.pulumi("destroy", "--yes", "--skip-preview", "--stack", "local", timeout=900)
    assert down.returncode == 0, f"pulumi destroy failed:\n{output_of(down)}"


def read(client: KubeClient, path: str) -> dict:
    got = client.get(path)
    assert got.ok, (path, got.status, got.message)
    return got.body


def test_hand_edits_to_the_guard_rails_are_put_back_by_up_refresh(deployed):
    engine, client = deployed
    declared = {e.what: e.part(read(client, e.path)) for e in EDITS}
    for edit in EDITS:
        if edit.patch is None:
            done = client.request("DELETE", edit.path)
        else:
            done = client.merge_patch(edit.path, edit.patch, query={"fieldManager": HAND_EDITOR})
        assert done.ok, (edit.what, done.status, done.message)
        if edit.patch is not None:
            assert edit.part(read(client, edit.path)) != declared[edit.what], f"{edit.what}: the edit changed nothing"

    # Without refresh the engine compares with its own state: no drift seen.
    blind = engine.pulumi("preview", "--stack", "local", "--expect-no-changes", timeout=600)
    assert blind.returncode == 0, output_of(blind)
    # With refresh the preview sees the drift (what the scheduled drift workflow runs) and does not fail on it.
    seen = engine.pulumi("preview", "--refresh", "--stack", "local", "--expect-no-changes", timeout=600)
    assert seen.returncode != 0 and "conflict" not in (seen.stdout + seen.stderr).lower(), output_of(seen)

    restored = engine.pulumi("up", "--refresh", "--yes", "--stack", "local", timeout=900)
    assert restored.returncode == 0, f"pulumi up --refresh failed:\n{output_of(restored)}"
    after = {e.what: e.part(read(client, e.path)) for e in EDITS}
    assert after == declared

    clean = engine.pulumi("preview", "--refresh", "--stack", "local", "--expect-no-changes", timeout=600)
    assert clean.returncode == 0, output_of(clean)


def test_fields_the_fleet_does_not_declare_stay_with_their_editor(deployed):
    """Force takes back the fleet's own fields only: a label an admin adds to a tenant namespace survives."""
    engine, client = deployed
    path = f"/api/v1/namespaces/{CRITICAL}"
    added = client.merge_patch(path, {"metadata": {"labels": {"example.com/cost-center": "42"}}},
                               query={"fieldManager": HAND_EDITOR})
    assert added.ok, added.message
    up = engine.pulumi("up", "--refresh", "--yes", "--skip-preview", "--stack", "local", timeout=900)
    assert up.returncode == 0, output_of(up)
    assert read(client, path)["metadata"]["labels"].get("example.com/cost-center") == "42"
