"""The intended access matrix (core.tenancy) and the gpufleet tenancy command's offline parts."""

from __future__ import annotations

import pytest
from fleet_fixtures import STACKS, plan_of, stack_config, write_stack_file

from components.kubernetes.tenant_roles import PROTECTED_RESOURCES, role_rules
from core import tenancy as model
from core.names import TENANT_ADMIN_ROLE, TENANT_EDIT_ROLE
from gpufleet.commands.tenancy import access_rows
from gpufleet.tenancy import probes, writer

LOCAL = plan_of(stack_config("local"))


def cell(cells, principal, verb, resource, namespace):
    (found,) = [c for c in cells if (c.principal, c.verb, c.resource, c.namespace) == (principal, verb, resource, namespace)]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_nobody_writes_fleet_objects_or_leaves_home(stack):
    plan = plan_of(stack_config(stack))
    cells = model.access_matrix(plan)
    assert cells
    for c in cells:
        if c.resource in PROTECTED_RESOURCES and c.verb in ("create", "update", "delete"):
            assert not c.allowed, c
        if c.scope in (model.OTHER_TENANT, model.KUBE_SYSTEM, model.CLUSTER):
            assert not c.allowed, c
        if c.resource == "nodes":
            assert c.scope == model.CLUSTER and not c.allowed, c


def test_levels_in_the_own_namespace():
    cells = model.access_matrix(LOCAL)
    assert cell(cells, "user:vision-lead", "create", "rolebindings", "team-vision").allowed
    assert not cell(cells, "group:vision-devs", "create", "rolebindings", "team-vision").allowed
    assert cell(cells, "group:vision-devs", "get", "secrets", "team-vision").allowed
    assert not cell(cells, "user:vision-auditor", "get", "secrets", "team-vision").allowed
    assert cell(cells, "user:vision-auditor", "list", "pods", "team-vision").allowed
    assert not cell(cells, "user:vision-auditor", "delete", "pods", "team-vision").allowed
    # Nobody reads another tenant's secrets.
    assert not cell(cells, "user:vision-lead", "get", "secrets", "team-research").allowed
    assert not cell(cells, "user:research-lead", "list", "secrets", "team-vision").allowed
    ns = cell(cells, "user:vision-lead", "get", "namespaces", "team-vision")
    assert ns.allowed and ns.name == "team-vision" and ns.group == ""


def test_matrix_size_and_scopes():
    cells = model.access_matrix(LOCAL)
    principals = model.principals(LOCAL)
    named = {p for t in stack_config("local")["tenants"] for ps in t.get("access", {}).values() for p in ps}
    assert set(principals) == named and len(named) == 6
    namespaced = sum(1 for _, namespaced in model.RESOURCES.values() if namespaced)
    scopes = len(LOCAL.tenants) + 2  # tenant namespaces, kube-system, cluster
    per_principal = (namespaced + 1) * scopes * 5 + 5  # + namespaces at each scope, nodes at cluster scope
    assert len(cells) == len(principals) * per_principal
    assert {c.scope for c in cells} == {model.OWN, model.OTHER_TENANT, model.KUBE_SYSTEM, model.CLUSTER}


def test_a_principal_in_two_tenants_gets_the_union():
    config = stack_config("local")
    config["tenants"][1]["access"]["viewers"] = ["user:vision-lead"]
    cells = model.access_matrix(plan_of(config))
    assert cell(cells, "user:vision-lead", "list", "pods", "team-research").allowed
    assert cell(cells, "user:vision-lead", "list", "pods", "team-research").scope == model.OWN
    assert not cell(cells, "user:vision-lead", "get", "secrets", "team-research").allowed


def test_identities():
    assert model.identity("group:devs") == model.Identity("group:devs", "gpufleet-tenancy-probe:devs",
                                                         ("devs", "system:authenticated"))
    arn = "arn:aws:iam::123456789012:role/ml"
    assert model.identity(arn).user == arn and model.identity("user:ann").groups == ("system:authenticated",)


@pytest.mark.parametrize("level,role", [("editors", TENANT_EDIT_ROLE), ("admins", TENANT_ADMIN_ROLE)])
def test_the_intent_matches_the_deployed_role_rules(level, role):
    """The documented intent and the ClusterRoles tenant_roles deploys agree, cell by cell."""
    rules = role_rules()[role]
    for resource, (group, _) in model.RESOURCES.items():
        if resource == "nodes":
            continue
        for verb in model.VERBS:
            assert model.rules_allow(rules, verb, group, resource) == model.granted({level}, resource, verb), (
                role, verb, resource)


def test_rules_allow_wildcards_and_resource_names():
    assert model.rules_allow([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "delete", "apps", "deployments")
    assert not model.rules_allow([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["a"]}],
                                 "get", "", "pods")


def test_access_rows_group_verbs_and_flag_mismatches():
    cells = [dict(principal="user:a", scope="own", namespace="t", resource="pods", verb=v,
                  expected=v == "get", actual=v in ("get", "delete"), ok=(v == "get") == (v in ("get", "delete")))
             for v in model.VERBS]
    assert access_rows(cells) == [["user:a", "own:t", "pods", "get", "get,delete", "MISMATCH"]]


def test_probes_and_writer():
    vision = LOCAL.tenants[0]
    names = [p.name for p in probes(LOCAL, vision)]
    assert "gpu-pod-with-4-gpus" in names and "gpu-pod-with-5-gpus" in names
    assert [p.name for p in probes(LOCAL, vision, 0)][-1] == "gpu-pod-with-1-gpus"
    assert "gpu-pod-with-0-gpus" not in [p.name for p in probes(LOCAL, vision, 0)]
    assert writer(vision).user == "vision-lead"
    config = stack_config("local")
    config["tenants"][0]["access"] = {"editors": ["group:devs"]}
    assert writer(plan_of(config).tenants[0]).groups == ("devs",)
    config["tenants"][0]["access"] = {"viewers": ["user:v"]}
    assert writer(plan_of(config).tenants[0]) is None


def test_cli_bad_input_exits_2(gpufleet, tmp_path):
    result = gpufleet("tenancy", "--stack", "local", "--kubeconfig", str(tmp_path / "missing"))
    assert result.returncode == 2 and "--kubeconfig" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "kc").write_text("apiVersion: v1\nkind: Config\ncontexts: []\ncurrent-context: nope\n")
    result = gpufleet("tenancy", "--stack", "local", "--kubeconfig", str(tmp_path / "kc"))
    assert result.returncode == 2 and "no context named 'nope'" in result.stderr
    result = gpufleet("tenancy", "--stack", "nosuch", "--kubeconfig", str(tmp_path / "kc"))
    assert result.returncode == 2 and "unknown stack" in result.stderr


def test_cli_unreachable_server_exits_2(gpufleet, tmp_path):
    (tmp_path / "kc").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    result = gpufleet("tenancy", "--stack", "local", "--kubeconfig", str(tmp_path / "kc"))
    assert result.returncode == 2 and "cannot reach the API server" in result.stderr, result.stderr


def test_cli_stack_without_tenants_exits_2(gpufleet, tmp_path):
    config = stack_config("local")
    config["tenants"] = []
    path = write_stack_file(tmp_path / "Pulumi.empty.yaml", config)
    result = gpufleet("tenancy", "--config", str(path), "--kubeconfig", str(path))
    assert result.returncode == 2 and "no tenants" in result.stderr, result.stderr
