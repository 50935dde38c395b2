from policy_fixtures import cluster_queue, messages, namespace, node_group

POLICY = "critical-tenant-borrowing-limited"


def stack(priority: str, **quota) -> list:
    return [node_group(), namespace(tenant="a", priority=priority),
            cluster_queue("a", flavors={"train-h100": {"nominalQuota": 8, **quota}})]


def test_critical_tenant_with_a_borrowing_limit_passes():
    assert messages(POLICY, *stack("critical", borrowingLimit=4)) == []
    assert messages(POLICY, *stack("critical", borrowingLimit=0)) == []


def test_critical_tenant_borrowing_without_limit_fails():
    (message,) = messages(POLICY, *stack("critical"))
    assert "critical tenant 'a'" in message and "train-h100" in message and "borrowingLimit" in message


def test_other_tenants_may_borrow_without_limit():
    assert messages(POLICY, *stack("standard")) == []
    assert messages(POLICY, *stack("batch")) == []


def test_a_queue_outside_any_cohort_cannot_borrow_at_all():
    resources = [node_group(), namespace(tenant="a", priority="critical"),
                 cluster_queue("a", cohort=None, flavors={"train-h100": {"nominalQuota": 8}})]
    assert messages(POLICY, *resources) == []
