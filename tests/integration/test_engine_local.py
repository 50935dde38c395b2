"""The real Pulumi engine on the `local` stack against the local control plane (scripts/local-cluster):
up, no drift, the policy pack through the engine (pass, and a seeded violation), destroy.

The tests run in file order and share one cluster and one backend (session fixture `local_engine`):
each step builds on the previous one, as a user's would.
"""

from __future__ import annotations

import json
import sys
import time

import pytest
from fleet_fixtures import plan_of, stack_config, write_stack_file
from local_engine import output_of

from components.kubernetes.meta import SKIP_AWAIT_ANNOTATION
from components.kubernetes.tenant import namespace_labels
from core.access import role_bindings
from core.names import (
    DCGM_EXPORTER_APP,
    DEVICE_PLUGIN_APP,
    POOL_INVENTORY_CONFIGMAP,
    POOL_INVENTORY_KEY,
    PRIORITY_QUOTA,
    SYSTEM_NAMESPACE,
    TENANT_QUOTA,
)

pytestmark = pytest.mark.integration

POLICY_ARGS = ("--policy-pack", "policies", "--policy-pack-config", "policies/config/local.json")
PLAN = plan_of(stack_config("local"))


def _ok(result, what: str) -> str:
    assert result.returncode == 0, f"{what} failed:\n{output_of(result)}"
    return result.stdout + result.stderr


def test_up_deploys_the_kubernetes_layer(local_engine):
    out = _ok(local_engine.pulumi("up", "--yes", "--skip-preview", "--stack", "local"), "pulumi up")
    # The SDK pin (pyproject.toml) and the provider that tools/build.sh builds agree (tools/versions.env).
    assert "is expected to have version" not in out, out
    api = local_engine.api

    for tenant in PLAN.tenants:
        ns = api.get(f"/api/v1/namespaces/{tenant.name}")
        assert ns is not None, f"namespace {tenant.name} missing"
        labels = ns["metadata"]["labels"]
        for key, value in namespace_labels(tenant).items():
            assert labels.get(key) == value, (tenant.name, key, labels)
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

        quotas = {q["metadata"]["name"]: q for q in api.get(f"/api/v1/namespaces/{tenant.name}/resourcequotas")["items"]}
        assert set(quotas) == {TENANT_QUOTA, PRIORITY_QUOTA}, quotas
        assert quotas[TENANT_QUOTA]["spec"]["hard"] == dict(tenant.quota)
        assert quotas[TENANT_QUOTA]["spec"]["hard"]["requests.nvidia.com/gpu"] == str(tenant.gpu_quota)

        bindings = api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{tenant.name}/rolebindings")["items"]
        deployed = {
            (b["roleRef"]["kind"], b["roleRef"]["name"]): b["subjects"] for b in bindings
        }
        for level, want in role_bindings(tenant).items():
            matching = [subjects for (_, role), subjects in deployed.items() if role == want["role"]]
            assert matching == [want["subjects"]], (tenant.name, level, deployed)
        assert all(kind in ("Role", "ClusterRole") for kind, _ in deployed), deployed
        assert ("ClusterRole", "cluster-admin") not in deployed

    for app in (DEVICE_PLUGIN_APP, DCGM_EXPORTER_APP):
        ds = api.get(f"/apis/apps/v1/namespaces/{SYSTEM_NAMESPACE}/daemonsets/{app}")
        assert ds is not None, f"DaemonSet {app} missing"
        # The simulated cluster runs pods (kwok): the engine waited until each DaemonSet was rolled out.
        assert SKIP_AWAIT_ANNOTATION not in (ds["metadata"].get("annotations") or {})
        assert ds["status"]["numberReady"] == ds["status"]["desiredNumberScheduled"] > 0, ds["status"]

    inventory = api.get(f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/configmaps/{POOL_INVENTORY_CONFIGMAP}")
    assert inventory is not None, "pool inventory ConfigMap missing"
    assert json.loads(inventory["data"][POOL_INVENTORY_KEY]) == PLAN.pool_inventory()

    # The stand-in Prometheus Operator CRDs (scripts/local-cluster) accepted the monitoring objects.
    monitoring = f"/apis/monitoring.coreos.com/v1/namespaces/{SYSTEM_NAMESPACE}"
    assert api.get(f"{monitoring}/servicemonitors/{DCGM_EXPORTER_APP}") is not None
    assert api.get(f"{monitoring}/prometheusrules/gpufleet-gpu-alerts") is not None


def test_second_run_has_no_changes(local_engine):
    _ok(local_engine.pulumi("preview", "--expect-no-changes", "--stack", "local"), "pulumi preview --expect-no-changes")


def test_policy_pack_passes_through_the_engine(local_engine):
    out = _ok(local_engine.pulumi("preview", "--stack", "local", *POLICY_ARGS), "pulumi preview with the policy pack")
    assert "gpu-fleet@v0.1.0" in out


def test_policy_pack_rejects_a_seeded_violation(local_engine, gpufleet, tmp_path):
    """A CUDA 12.8 tenant on a pool pinned to driver 550: driver-supports-cuda is mandatory, preview fails.
    The engine runs the pack as `gpufleet pack` writes it (a folder outside the checkout; its
    virtualenv is this one, which has requirements.txt's packages)."""
    pack = tmp_path / "pack"
    written = gpufleet("pack", "--out", str(pack), "--virtualenv", sys.prefix)
    assert written.returncode == 0, written.stderr
    config = stack_config("local")
    research = next(t for t in config["tenants"] if "12.8" in t["cudaVersions"])
    pool = next(p for p in config["nodePools"] if p["name"] == research["pools"][0])
    pool["driverVersion"] = "550.163.01"
    write_stack_file(local_engine.project / "stacks" / "Pulumi.seeded.yaml", config)

    result = local_engine.pulumi(
        "preview", "--stack", "seeded", "--policy-pack", str(pack), "--policy-pack-config", "policies/config/local.json"
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, f"the seeded violation passed:\n{output_of(result)}"
    assert "driver-supports-cuda" in out, output_of(result)
    assert f"tenant '{research['name']}' declares CUDA 12.8" in out, output_of(result)
    assert "550.163.01" in out


def test_the_program_reads_an_unquoted_yaml_time_as_the_engine_passes_it(local_engine, gpufleet):
    """An unquoted time in a stack file is a YAML time, which the engine hands the program as Go's text of it
    (pulumi sdk/go/common/resource/config/object.go: time.Time String(), "2027-01-11 11:30:00 +0000 UTC"). A Capacity
    Block must end at 11:30 UTC and start before its end, so the preview passes only if the program reads the
    instants right; the offline plan reads the same file the same way."""
    config = stack_config("local")
    pool = next(p for p in config["nodePools"] if p["name"] == "training-a100")
    pool.update(capacity="reserved", reservation={
        "type": "capacity-block", "ids": ["cr-0123456789abcdef0"], "instances": pool["maxSize"],
        "start": "2027-01-04T11:30:00Z", "end": "2027-01-11T11:30:00Z"})
    path = write_stack_file(local_engine.project / "stacks" / "Pulumi.reserved.yaml", config)
    text = path.read_text()
    for quoted in ("'2027-01-04T11:30:00Z'", "'2027-01-11T11:30:00Z'"):
        assert quoted in text
        text = text.replace(quoted, quoted.strip("'"))
    path.write_text(text)
    _ok(local_engine.pulumi("preview", "--stack", "reserved"), "pulumi preview of a stack with unquoted times")
    planned = gpufleet("plan", "--config", str(path), "--format", "json", "--as-of", "2027-01-10T11:30:00Z")
    assert planned.returncode == 0, planned.stderr
    [block] = json.loads(planned.stdout)["reservations"]
    assert (block["start"], block["end"], block["daysLeft"]) == ("2027-01-04T11:30:00Z", "2027-01-11T11:30:00Z", 1)


def test_destroy_removes_everything(local_engine):
    _ok(local_engine.pulumi("destroy", "--yes", "--skip-preview", "--stack", "local"), "pulumi destroy")
    api = local_engine.api
    deadline = time.monotonic() + 60
    names = [t.name for t in PLAN.tenants] + [SYSTEM_NAMESPACE]
    while True:
        left = {n: ns["status"].get("phase") for n in names if (ns := api.get(f"/api/v1/namespaces/{n}"))}
        # The namespace controller finishes deletion (nothing in them has finalizers without kubelets).
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert all(phase == "Terminating" for phase in left.values()), left
    assert api.get(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/gpufleet-{DEVICE_PLUGIN_APP}") is None
    stack = json.loads(_ok(local_engine.pulumi("stack", "export", "--stack", "local"), "pulumi stack export"))
    assert not stack["deployment"].get("resources"), stack["deployment"].get("resources")
