from fleet_fixtures import stack_run
from policy_fixtures import cluster_queue, cohort, inventory, inventory_pool, messages, namespace, node_group

POLICY = "queues-within-capacity"


def queues(a: int, b: int, idle: int) -> list:
    # p5.48xlarge: 8 GPUs x maxSize 2 = 16 units in train-h100
    return [
        node_group(), namespace(tenant="a"), namespace(tenant="b"),
        cluster_queue("a", flavors={"train-h100": {"nominalQuota": a}}),
        cluster_queue("b", flavors={"train-h100": {"nominalQuota": b}}),
        cohort(idle={"train-h100": idle}),
    ]


def test_the_example_stacks_queues_fit():
    for stack in ("prod",):
        run = stack_run(stack)
        assert messages(POLICY, *run.resources) == []


def test_nominal_quotas_and_the_cohorts_idle_quota_within_the_pool_pass():
    assert messages(POLICY, *queues(8, 4, 4)) == []


def test_nominal_quotas_above_the_pool_fail():
    (message,) = messages(POLICY, *queues(8, 8, 1))
    assert "pool 'train-h100'" in message and "17 GPU units" in message and "16 at max size" in message


def test_a_cohort_lending_gpus_that_are_not_there_fails():
    (message,) = messages(POLICY, *queues(8, 8, 8))
    assert "Cohort 'shared'" in message


def test_lending_more_than_nominal_fails():
    resources = [node_group(), namespace(tenant="a"),
                 cluster_queue("a", flavors={"train-h100": {"nominalQuota": 4, "lendingLimit": 6}})]
    (message,) = messages(POLICY, *resources)
    assert "lends more than its nominal quota of train-h100/nvidia.com/gpu" in message


def test_borrowing_limit_without_cohort_fails():
    resources = [node_group(), namespace(tenant="a"),
                 cluster_queue("a", cohort=None, flavors={"train-h100": {"nominalQuota": 4, "borrowingLimit": 2}})]
    (message,) = messages(POLICY, *resources)
    assert "without a cohort" in message


def test_time_slicing_pools_count_replicas_from_the_inventory():
    # g6.xlarge: 1 L4 x maxSize 2 x 4 replicas = 8 units
    pool = inventory_pool("ts", instanceTypes=["g6.xlarge"], gpu="L4", maxSize=2,
                          sharing={"mode": "time-slicing", "replicas": 4})
    ok = [inventory(pool), namespace(tenant="a", pools=("ts",)), cluster_queue("a", flavors={"ts": {"nominalQuota": 8}})]
    assert messages(POLICY, *ok) == []
    over = [inventory(pool), namespace(tenant="a", pools=("ts",)), cluster_queue("a", flavors={"ts": {"nominalQuota": 9}})]
    assert len(messages(POLICY, *over)) == 1
