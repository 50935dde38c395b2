from policy_fixtures import edited, messages, namespace, quota, resource, tenant_stack

POLICY = "tenant-has-gpu-quota"


def test_tenant_with_gpu_quota_passes():
    assert messages(POLICY, *tenant_stack()) == []


def test_tenant_without_quota_fails():
    found = messages(POLICY, namespace())
    assert len(found) == 1 and "requests.nvidia.com/gpu" in found[0]


def test_quota_without_gpu_key_fails():
    q = edited(quota(), ("spec", "hard"), {"requests.cpu": "16"})
    assert messages(POLICY, namespace(), q)


def test_quota_in_another_namespace_does_not_count():
    assert messages(POLICY, namespace(), quota("team-b"))


def test_namespace_without_tenant_label_is_not_judged():
    ns = resource("kubernetes:core/v1:Namespace", "gpu-system", {"metadata": {"name": "gpu-system"}})
    assert messages(POLICY, ns) == []
