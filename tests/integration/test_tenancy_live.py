"""`gpufleet tenancy` against the local control plane with the `local` stack deployed by the real engine:
every SubjectAccessReview of the intended matrix and every admission dry-run probe as intended, and a
stack whose intent differs from what is deployed is reported (exit 1).

Uses the session fixture `local_engine` (tests/integration/conftest.py). test_engine_local.py destroys the
stack at its end, so this module deploys it again (pulumi up is idempotent) and destroys it afterwards.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from fleet_fixtures import gpufleet_command, plan_of, stack_config, write_stack_file
from local_engine import output_of

from components.kubernetes import admission
from core.tenancy import access_matrix

pytestmark = pytest.mark.integration

PLAN = plan_of(stack_config("local"))


def tenancy(engine, *args: str) -> subprocess.CompletedProcess:
    kubeconfig = engine.project / ".state" / "local" / "kubeconfig"
    return subprocess.run([gpufleet_command(), "tenancy", *args, "--kubeconfig", str(kubeconfig)], cwd=engine.project,
                          env=engine.env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def deployed(local_engine):
    up = local_engine.pulumi("up", "--yes", "--skip-preview", "--stack", "local", timeout=900)
    assert up.returncode == 0, f"pulumi up failed:\n{output_of(up)}"
    # The quota admission needs the ResourceQuota status the controller manager computes.
    deadline = time.monotonic() + 60
    for tenant in PLAN.tenants:
        while True:
            quota = local_engine.api.get(f"/api/v1/namespaces/{tenant.name}/resourcequotas/gpufleet-quota")
            if quota and "requests.nvidia.com/gpu" in quota.get("status", {}).get("hard", {}):
                break
            assert time.monotonic() < deadline, f"quota status of {tenant.name} never computed: {quota}"
            time.sleep(0.5)
    yield local_engine
    local_engine.pulumi("destroy", "--yes", "--skip-preview", "--stack", "local", timeout=900)


def test_the_deployed_tenancy_is_as_intended(deployed):
    result = tenancy(deployed, "--stack", "local", "--format", "json")
    report = json.loads(result.stdout or "{}")
    bad = [a for a in report.get("access", []) if not a["ok"]] + [p for p in report.get("probes", []) if not p["ok"]]
    bad += [p for p in report.get("policies", []) if not p["ok"]]
    assert result.returncode == 0 and report["mismatches"] == 0, (bad[:20], output_of(result))
    assert len(report["access"]) == len(access_matrix(PLAN))
    assert {p["object"] for p in report["policies"]} >= {
        f"ValidatingAdmissionPolicy {admission.POLICY_NAME}", f"ValidatingAdmissionPolicyBinding {admission.BINDING_NAME}"}
    probes = {(p["namespace"], p["probe"]): p for p in report["probes"]}
    for tenant in PLAN.tenants:
        assert probes[(tenant.name, f"gpu-pod-with-{tenant.gpu_quota}-gpus")]["actual"] == "admitted"
        assert probes[(tenant.name, f"gpu-pod-with-{tenant.gpu_quota + 1}-gpus")]["actual"] == "rejected"
        for name in ("privileged", "host-path", "host-network", "gpu-pod-on-foreign-pool", "critical-pod-on-spot",
                     "mps-env", "gpu-requests-not-limits", "visible-devices-env", "device-mount"):
            assert probes[(tenant.name, name)]["actual"] == "rejected", probes[(tenant.name, name)]
    # No tenant may run pods of a priority class above its own or of Kubernetes' system-* classes.
    for tenant in PLAN.tenants:
        for name in tenant.forbidden_priority_classes:
            assert probes[(tenant.name, f"priority-{name}")]["actual"] == "rejected", probes[(tenant.name, f"priority-{name}")]
    assert {"gpufleet-critical", "system-node-critical"} <= {n for t in PLAN.tenants for n in t.forbidden_priority_classes}
    for daemonset in ("nvidia-device-plugin", "dcgm-exporter"):
        assert probes[("gpu-system", f"{daemonset}-pod")]["actual"] == "admitted", probes[("gpu-system", f"{daemonset}-pod")]


def test_text_report(deployed):
    result = tenancy(deployed, "--stack", "local")
    assert result.returncode == 0, output_of(result)
    assert "ok: 0 mismatches" in result.stdout
    assert "MISMATCH" not in result.stdout


def test_an_intent_that_differs_from_the_cluster_is_reported(deployed, tmp_path):
    """A viewer the cluster never bound, and a pool the namespace annotation does not list: exit 1."""
    config = stack_config("local")
    config["tenants"][0]["access"]["viewers"].append("user:not-bound-anywhere")
    path = write_stack_file(tmp_path / "Pulumi.drifted.yaml", config)
    result = tenancy(deployed, "--config", str(path), "--format", "json")
    assert result.returncode == 1, output_of(result)
    report = json.loads(result.stdout)
    bad = {(a["principal"], a["verb"], a["resource"]) for a in report["access"] if not a["ok"]}
    assert ("user:not-bound-anywhere", "list", "pods") in bad
    assert all(p["ok"] for p in report["probes"])
