"""Principals, their RBAC subjects and bindings, and the EKS access entries of IAM principals."""

from __future__ import annotations

import pytest
from fleet_fixtures import spec_of, stack_config

from core.access import eks_access_plan, rbac_subject, role_bindings


@pytest.mark.parametrize(
    "principal, subject",
    [
        ("user:alice", {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}),
        ("group:ml-devs", {"kind": "Group", "name": "ml-devs", "apiGroup": "rbac.authorization.k8s.io"}),
        (
            "arn:aws:iam::111122223333:role/fm-admins",
            {"kind": "User", "name": "arn:aws:iam::111122223333:role/fm-admins", "apiGroup": "rbac.authorization.k8s.io"},
        ),
    ],
)
def test_rbac_subject(principal, subject):
    assert rbac_subject(principal) == subject


def test_not_a_principal_is_refused():
    with pytest.raises(ValueError, match="not a principal"):
        rbac_subject("alice")


def test_role_bindings_map_levels_to_safe_roles():
    spec = spec_of(stack_config("local"))
    bindings = role_bindings(spec.tenants[0])
    assert {level: b["role"] for level, b in bindings.items()} == {
        "admins": "gpufleet-tenant-admin",
        "editors": "gpufleet-tenant-edit",
        "viewers": "view",
    }
    assert bindings["editors"]["subjects"] == [
        {"kind": "Group", "name": "vision-devs", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert "viewers" not in role_bindings(spec.tenants[1])


def test_eks_access_one_entry_per_iam_principal_view_policy_only_for_viewers():
    spec = spec_of(stack_config("prod"))
    plan = {a.principal_arn: a for a in eks_access_plan(spec.tenants)}
    assert sorted(plan) == sorted(
        [
            "arn:aws:iam::111122223333:role/search-serving-admins",
            "arn:aws:iam::111122223333:role/search-oncall",
            "arn:aws:iam::111122223333:role/fm-admins",
            "arn:aws:iam::111122223333:role/fm-researchers",
            "arn:aws:iam::111122223333:role/applied-research",
        ]
    )
    assert all(a.username == a.principal_arn for a in plan.values())
    assert plan["arn:aws:iam::111122223333:role/search-oncall"].policies == {"AmazonEKSViewPolicy": ("search-serving",)}
    assert plan["arn:aws:iam::111122223333:role/fm-admins"].policies == {}


def test_eks_access_principal_in_two_tenants_gets_one_entry():
    config = stack_config("prod")
    arn = "arn:aws:iam::111122223333:role/search-oncall"
    config["tenants"][3]["access"]["viewers"] = [arn]
    plan = [a for a in eks_access_plan(spec_of(config).tenants) if a.principal_arn == arn]
    assert len(plan) == 1
    assert plan[0].policies == {"AmazonEKSViewPolicy": ("search-serving", "analytics")}
