from policy_fixtures import messages, resource, role_binding

POLICY = "tenant-rbac-scoped"


def association(policy="AmazonEKSEditPolicy", scope=None):
    return resource(
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "a",
        {
            "clusterName": "c",
            "principalArn": "arn:aws:iam::111122223333:role/devs",
            "policyArn": f"arn:aws:eks::aws:cluster-access-policy/{policy}",
            "accessScope": scope or {"type": "namespace", "namespaces": ["team-a"]},
        },
    )


def test_namespace_edit_binding_passes():
    assert messages(POLICY, role_binding("edit")) == []


def test_cluster_admin_binding_fails():
    assert "cluster-admin" in messages(POLICY, role_binding("cluster-admin"))[0]


def test_tenant_cluster_role_binding_fails():
    assert messages(POLICY, role_binding("view", kind="ClusterRoleBinding"))


def test_system_cluster_role_binding_passes():
    crb = role_binding("gpufleet-nvidia-device-plugin", kind="ClusterRoleBinding", labels={"app": "x"})
    assert messages(POLICY, crb) == []


def test_namespace_scoped_access_policy_passes():
    assert messages(POLICY, association()) == []


def test_cluster_scoped_access_policy_fails():
    assert "cluster-wide" in messages(POLICY, association(scope={"type": "cluster"}))[0]


def test_cluster_admin_access_policy_fails():
    assert messages(POLICY, association("AmazonEKSClusterAdminPolicy"))
