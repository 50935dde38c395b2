"""TenantAdmission: the ValidatingAdmissionPolicy objects under mocks, every CEL expression parsed, and the
rules evaluated on pods with a CEL interpreter (celpy) standing in for the API server's."""

from __future__ import annotations

import celpy
import celpy.celtypes as ct
import pytest
from fleet_fixtures import STACKS, plan_of, stack_config, stack_run

from components.kubernetes import admission
from components.kubernetes.tenant import namespace_annotations
from core.names import POOL_LABEL, POOLS_ANNOTATION, TENANT_LABEL
from gpufleet.tenancy import probes

ENV = celpy.Environment()


def _resources(run, kind):
    return [r.inputs for r in run.custom_resources if r.type.startswith("kubernetes:") and r.inputs["kind"] == kind]


@pytest.mark.parametrize("stack", STACKS)
def test_policy_and_binding_registered(stack):
    run = stack_run(stack)
    (policy,) = [p for p in _resources(run, "ValidatingAdmissionPolicy") if p["metadata"]["name"] == admission.POLICY_NAME]
    (binding,) = [b for b in _resources(run, "ValidatingAdmissionPolicyBinding")
                  if b["spec"]["policyName"] == admission.POLICY_NAME]
    assert policy["apiVersion"] == binding["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert policy["metadata"]["name"] == admission.POLICY_NAME
    assert policy["spec"]["failurePolicy"] == "Fail"
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]
    selector = {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
    assert policy["spec"]["matchConstraints"]["namespaceSelector"] == selector
    assert binding["spec"] == {"policyName": admission.POLICY_NAME, "validationActions": ["Deny"],
                               "matchResources": {"namespaceSelector": selector}}
    assert all("message" in v or "messageExpression" in v for v in policy["spec"]["validations"])
    # The pool taints in the policy are the spec's.
    taints = next(v for v in policy["spec"]["variables"] if v["name"] == "poolTaints")["expression"]
    assert taints == admission.cel_literal(admission.pool_taint_table(run.plan.pools))


@pytest.mark.parametrize("stack", STACKS)
def test_every_expression_parses(stack):
    for expression in admission.expressions(admission.pool_taint_table(stack_run(stack).plan.pools)):
        ENV.compile(expression)  # raises CELParseError


def test_a_broken_expression_is_caught():
    with pytest.raises(celpy.CELParseError):
        ENV.compile("variables.gpuPod && (")


def test_cel_literal_quotes_and_nests():
    assert admission.cel_literal({"a": ['x"y', True, 2]}) == '{"a": ["x\\"y", true, 2]}'
    assert ENV.program(ENV.compile(admission.cel_literal({"k": ["v\\w"]}))).evaluate({})["k"][0] == "v\\w"


# --- the rules, evaluated --------------------------------------------------------------------------

def _quantity(value):
    return ct.StringType(str(value))


# The Kubernetes CEL libraries the policy uses, as far as the tests need them (quantities stay strings:
# the test pods spell equal quantities the same way).
FUNCTIONS = {
    "split": lambda s, sep: ct.ListType([ct.StringType(x) for x in str(s).split(str(sep))]),
    "join": lambda items, sep: ct.StringType(str(sep).join(str(x) for x in items)),
    "quantity": _quantity,
    "compareTo": lambda a, b: ct.IntType((str(a) > str(b)) - (str(a) < str(b))),
}


def denials(plan, namespace: dict, pod: dict, operation: str = "CREATE") -> list[str]:
    """The messages of the validations the pod fails, as the API server would evaluate them."""
    activation = {
        "object": celpy.json_to_cel(pod),
        "namespaceObject": celpy.json_to_cel(namespace),
        "request": celpy.json_to_cel({"operation": operation}),
    }
    values = {}
    for variable in admission.variables(admission.pool_taint_table(plan.pools)):
        program = ENV.program(ENV.compile(variable["expression"]), functions=FUNCTIONS)
        values[ct.StringType(variable["name"])] = program.evaluate({**activation, "variables": ct.MapType(values)})
    activation["variables"] = ct.MapType(values)
    failed = []
    for validation in admission.validations():
        result = ENV.program(ENV.compile(validation["expression"]), functions=FUNCTIONS).evaluate(activation)
        assert isinstance(result, ct.BoolType), (validation["expression"], result)
        if not result:
            message = validation.get("message", "")
            if "messageExpression" in validation:
                message = str(ENV.program(ENV.compile(validation["messageExpression"]), functions=FUNCTIONS).evaluate(activation))
            failed.append(message)
    return failed


def namespace_of(tenant) -> dict:
    return {"metadata": {"name": tenant.name, "labels": {TENANT_LABEL: tenant.name},
                         "annotations": namespace_annotations(tenant)}}


LOCAL = plan_of(stack_config("local"))
VISION = LOCAL.tenant("team-vision")      # critical, on-demand inference-l4
RESEARCH = LOCAL.tenant("team-research")  # batch, spot training-a100


def gpu_pod(pool_name: str, **spec) -> dict:
    return {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}}],
            "nodeSelector": {POOL_LABEL: pool_name},
            "tolerations": LOCAL.pool(pool_name).tolerations,
            **spec,
        },
    }


def test_compliant_gpu_pods_pass():
    assert denials(LOCAL, namespace_of(VISION), gpu_pod("inference-l4")) == []
    assert denials(LOCAL, namespace_of(RESEARCH), gpu_pod("training-a100")) == []
    # The API server adds node.kubernetes.io tolerations itself.
    pod = gpu_pod("inference-l4")
    pod["spec"]["tolerations"].append({"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                       "effect": "NoExecute", "tolerationSeconds": 300})
    assert denials(LOCAL, namespace_of(VISION), pod) == []


def test_pool_by_node_affinity():
    affinity = lambda values: {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {  # noqa: E731
        "nodeSelectorTerms": [{"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": values}]}]}}}
    pod = gpu_pod("inference-l4", nodeSelector={}, affinity=affinity(["inference-l4"]))
    assert denials(LOCAL, namespace_of(VISION), pod) == []
    pod = gpu_pod("inference-l4", nodeSelector={}, affinity=affinity(["inference-l4", "training-a100"]))
    assert any(admission.RULE_MARKERS["pool-selected"] in m for m in denials(LOCAL, namespace_of(VISION), pod))


def test_foreign_pool_and_no_pool_are_denied_with_the_allowed_pools():
    (message,) = denials(LOCAL, namespace_of(VISION), gpu_pod("inference-l4", nodeSelector={POOL_LABEL: "training-a100"}))
    assert "must select one of its pools (inference-l4)" in message and "got training-a100" in message
    assert "team-vision" in message
    assert any(admission.RULE_MARKERS["pool-selected"] in m for m in denials(LOCAL, namespace_of(VISION), gpu_pod("inference-l4", nodeSelector={})))


def test_foreign_tolerations_are_denied():
    pod = gpu_pod("inference-l4")
    pod["spec"]["tolerations"].append({"key": "gpufleet.io/capacity", "operator": "Equal", "value": "spot", "effect": "NoSchedule"})
    assert any(admission.RULE_MARKERS["pool-tolerations"] in m for m in denials(LOCAL, namespace_of(VISION), pod))
    everything = gpu_pod("inference-l4", tolerations=[{"operator": "Exists"}])
    assert any(admission.RULE_MARKERS["pool-tolerations"] in m for m in denials(LOCAL, namespace_of(VISION), everything))


def test_critical_pods_stay_off_spot():
    pod = gpu_pod("training-a100", priorityClassName="gpufleet-critical")
    assert [m for m in denials(LOCAL, namespace_of(RESEARCH), pod) if admission.RULE_MARKERS["critical-spot"] in m]
    assert denials(LOCAL, namespace_of(RESEARCH), gpu_pod("training-a100", priorityClassName="gpufleet-batch")) == []
    cpu = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}], "priorityClassName": "gpufleet-critical",
                                               "nodeSelector": {"gpufleet.io/capacity": "spot"}}}
    assert len(denials(LOCAL, namespace_of(VISION), cpu)) == 1


def test_gpu_requests_must_equal_limits():
    pod = gpu_pod("inference-l4")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": "1"}}
    assert any(admission.RULE_MARKERS["gpu-requests-limits"] in m for m in denials(LOCAL, namespace_of(VISION), pod))
    pod["spec"]["containers"][0]["resources"] = {"requests": {"nvidia.com/gpu": "1"}}
    assert any(admission.RULE_MARKERS["gpu-requests-limits"] in m for m in denials(LOCAL, namespace_of(VISION), pod))


def test_mps_is_denied():
    env = gpu_pod("inference-l4")
    env["spec"]["containers"][0]["env"] = [{"name": "CUDA_MPS_PIPE_DIRECTORY", "value": "/tmp/mps"}]
    annotated = gpu_pod("inference-l4")
    annotated["metadata"]["annotations"] = {"nvidia.com/mps": "true"}
    for pod in (env, annotated):
        assert any(admission.RULE_MARKERS["mps"] in m for m in denials(LOCAL, namespace_of(VISION), pod))


@pytest.mark.parametrize("mount", ["/var/run/nvidia-container-devices/0", "/run/nvidia-container-devices/all",
                                   "//var/run/nvidia-container-devices/", "/var/run/nvidia-container-devices"])
def test_tenants_may_not_choose_their_own_gpus(mount):
    """NVIDIA_VISIBLE_DEVICES=all in a pod sees every GPU of the node where the runtime honours it
    (NVIDIA/k8s-device-plugin issue 1605, NVIDIA/gpu-operator issue 700); a /dev/null mount under
    /var/run/nvidia-container-devices is the volume-mounts channel the runtime reads devices from."""
    marker = admission.RULE_MARKERS["visible-devices"]
    env = gpu_pod("inference-l4")
    env["spec"]["containers"][0]["env"] = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
    mounted = gpu_pod("inference-l4")
    mounted["spec"]["containers"][0]["volumeMounts"] = [{"name": "x", "mountPath": mount}]
    in_init = gpu_pod("inference-l4")
    in_init["spec"]["initContainers"] = [{"name": "init", "image": "x", "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "0"}]}]
    for pod in (env, mounted, in_init):
        assert any(marker in m for m in denials(LOCAL, namespace_of(VISION), pod))
    fine = gpu_pod("inference-l4")
    fine["spec"]["containers"][0]["env"] = [{"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute"}]
    fine["spec"]["containers"][0]["volumeMounts"] = [{"name": "x", "mountPath": "/var/run/data"}]
    assert denials(LOCAL, namespace_of(VISION), fine) == []


def test_node_name_only_on_create():
    pod = gpu_pod("inference-l4", nodeName="inference-l4-0")
    assert any(admission.RULE_MARKERS["node-name"] in m for m in denials(LOCAL, namespace_of(VISION), pod))
    assert denials(LOCAL, namespace_of(VISION), pod, operation="UPDATE") == []


def test_a_namespace_without_pools_allows_no_gpu_pod():
    namespace = namespace_of(VISION)
    namespace["metadata"]["annotations"][POOLS_ANNOTATION] = ""
    assert denials(LOCAL, namespace, gpu_pod("inference-l4"))


@pytest.mark.parametrize("tenant", [VISION, RESEARCH], ids=lambda t: t.name)
def test_the_live_probes_meet_the_policy(tenant):
    """The pods `gpufleet tenancy` sends: those the policy must reject, it rejects for the stated rule."""
    markers = set(admission.RULE_MARKERS.values())
    for probe in probes(LOCAL, tenant):
        failed = denials(LOCAL, namespace_of(tenant), probe.pod)
        if probe.reason in markers:
            # The API server reports the first validation that fails: that one must be the probe's.
            assert failed and probe.reason in failed[0], (probe.name, failed)
        elif probe.admitted:
            assert failed == [], (probe.name, failed)
